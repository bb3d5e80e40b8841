/**
 * `breachkit audit`: what it observed (plain types handed from observe to judge) and what it
 * prints with --json (the zod model, registered in output-schemas.ts).
 */
import { z } from "../util/zod.js";
import { FindingSchema, SeveritySchema } from "./finding.js";
import { AUDIT_SCHEMA_VERSION } from "./schema-version.js";

export { AUDIT_SCHEMA_VERSION };

export const AUDIT_AREAS = [
  "ssh",
  "daemon",
  "containers",
  "images",
  "prevention",
  "lynis",
] as const;
export type AuditArea = (typeof AUDIT_AREAS)[number];

// ------------------------------------------------------------ observations (observe -> judge)

/** One authorized key, with what the hygiene checks need. */
export interface AuditKey {
  user: string;
  path: string;
  line: number;
  type: string;
  /** RSA modulus / DSA p / ECDSA curve size in bits; null when unknown. */
  bits: number | null;
  fingerprint: string;
  options: string;
}

export interface AuditUser {
  name: string;
  uid: number;
  shell: string;
  loginShell: boolean;
  password: "set" | "locked" | "empty" | "unknown";
}

/** The effective sshd configuration for one connection (user, host, address). */
export interface SshContextValues {
  user: string;
  host: string;
  addr: string;
  source: "sshd -T" | "parser";
  values: Record<string, string[]>;
  origins: Record<string, { file: string; line: number; match?: string }>;
}

/** SSH as seen in one place: the host, a --root disk, or a container with sshd. */
export interface SshObservation {
  where: string;
  containerId: string | null;
  /** sshd_config and what it includes; empty when there is none. */
  configFiles: string[];
  /** sshd installed (a binary at /usr/sbin/sshd in that root). */
  sshdInstalled: boolean;
  /** sshd would refuse this configuration (include loop, bad line): why. */
  fatal: string | null;
  contexts: SshContextValues[];
  users: AuditUser[];
  keys: AuditKey[];
  /** Where sshd -T and the parser disagreed on the live host (should be empty). */
  disagreements: string[];
}

// ------------------------------------------------------------ output (--json)

export const AuditScoreSchema = z.object({
  area: z.enum(AUDIT_AREAS),
  /** 0 (worst) to 100; null when the area was not checked (no engine, no sshd, no --lynis). */
  score: z.number().int().min(0).max(100).nullable(),
  checked: z.boolean(),
  counts: z.object({
    info: z.number().int(),
    low: z.number().int(),
    medium: z.number().int(),
    high: z.number().int(),
    critical: z.number().int(),
  }),
});

export const AuditOutputSchema = z.object({
  schemaVersion: z.literal(AUDIT_SCHEMA_VERSION),
  host: z.string(),
  /** --root DIR: a dead server's disk was audited instead of the live host. */
  root: z.string().nullable(),
  startedAt: z.string(),
  durationMs: z.number().nonnegative(),
  overall: z.number().int().min(0).max(100),
  scores: z.array(AuditScoreSchema),
  threshold: SeveritySchema,
  /** Findings at or above --fail-on. */
  atOrAboveThreshold: z.number().int().nonnegative(),
  /** Ranked: severity, then area, then place. Each carries facts.fix, facts.cost, facts.area (and facts.cis). */
  findings: z.array(FindingSchema),
  ssh: z.array(
    z.object({
      where: z.string(),
      configFiles: z.array(z.string()),
      contexts: z.array(
        z.object({ user: z.string(), host: z.string(), addr: z.string(), source: z.string() }),
      ),
      disagreements: z.array(z.string()),
    }),
  ),
  containersChecked: z.number().int().nonnegative(),
  lynis: z
    .object({
      hardeningIndex: z.number().nullable(),
      warnings: z.number().int(),
      suggestions: z.number().int(),
      status: z.string(),
    })
    .nullable(),
  gaps: z.array(z.object({ source: z.string(), message: z.string() })),
  sarif: z.string().nullable(),
  bundle: z.object({ path: z.string(), manifestSha256: z.string() }).nullable(),
});
export type AuditOutput = z.infer<typeof AuditOutputSchema>;

// ------------------------------------------------------------ Docker observations

/** A value and where it was read: "daemon.json:7", "dockerd --icc=false", "/info SecurityOptions". */
export interface Sourced<T> {
  value: T;
  from: string;
  file?: string;
  line?: number;
}

export interface DaemonObservation {
  engineAvailable: boolean;
  engineError: string | null;
  /** The raw /info answer (loose), null when the engine did not answer. */
  info: Record<string, unknown> | null;
  /** Options of the default bridge network (icc lives there). */
  bridgeOptions: Record<string, string> | null;
  daemonJson: {
    path: string;
    /** Parsed object; null when absent or not JSON. */
    parsed: Record<string, unknown> | null;
    /** Why it could not be used (not JSON, too big, unreadable); null when fine or absent. */
    error: string | null;
    exists: boolean;
    mode: number | null;
    uid: number | null;
    gid: number | null;
    /** Top-level key -> 1-based line where it appears. */
    lines: Record<string, number>;
  };
  /** dockerd's command line, from /proc/<pid>/cmdline; null when not running or not found. */
  cmdline: { pid: number; args: string[] } | null;
  socket: { path: string; mode: number; uid: number; gid: number; group: string | null } | null;
}

export interface ContainerObservation {
  id: string;
  name: string;
  /** The inspect document (engine) or config.v2.json + hostconfig.json (a --root disk). */
  inspect: Record<string, unknown>;
  source: "engine" | "disk";
  /** The image as inspected: its creation time; null when unknown. */
  imageCreated: string | null;
  /** The image id the container's tag points to now (a newer pull), null when unknown. */
  tagNowPointsTo: string | null;
  /** App versions read from the container's own files (or its image tag, or env). */
  apps: AppVersion[];
  /** The container's filesystem as this host sees it (/proc/<pid>/root), null when not running. */
  fsRoot: string | null;
}

export interface AppVersion {
  /** Product id as in rules/advisories.json: gitlab, wordpress, confluence, jenkins, roundcube, nextcloud. */
  product: string;
  version: string;
  /** "gitlab-ee" / "gitlab-ce" when the files say. */
  edition?: string;
  /** Where it was read: a file inside the container (path), the image tag, or an env variable. */
  from: "file" | "image-tag" | "env";
  evidence: string;
}

// ------------------------------------------------------------ prevention

export interface PreventionObservation {
  /** Lines that schedule breachkit: file, line, text. */
  schedules: { file: string; line: number; text: string }[];
  unattended: {
    /** null: not a Debian/Ubuntu system (no apt). */
    apt: boolean;
    installed: boolean;
    enabled: boolean;
    file: string | null;
    line: number | null;
  };
  backup: {
    /** breachkit's config names a restic repository (backup.repo). */
    configured: boolean;
    repo: string | null;
    /** Time of the newest snapshot (ISO), null when none or unknown. */
    latest: string | null;
    error: string | null;
    configError: string | null;
  };
  firewall: {
    tool: "iptables-save" | "nft" | null;
    /** Rules that filter what comes in to the host (INPUT chain / input hook). */
    inputRules: number;
    inputPolicy: string | null;
    error: string | null;
  } | null;
  /** TCP listeners on every address in the host's network namespace: port -> addresses. */
  listeners: { port: number; address: string }[];
}
