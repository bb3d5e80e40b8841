/**
 * Judge what a bundle holds: the snapshot rules plus log hunting over the logs the bundle
 * copied. Live triage and `triage --bundle DIR` both call this on a bundle directory, so
 * the same evidence gives the same findings, and every log hit cites a file of the bundle.
 */
import { readdir, readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import type { Finding } from "../model/finding.js";
import { sortFindings } from "../model/finding.js";
import type { Snapshot } from "../model/snapshot.js";
import { parseSnapshot } from "../model/snapshot.js";
import { BreachkitError } from "../util/errors.js";
import { errorMessage } from "../util/result.js";
import { z } from "../util/zod.js";
import type { Allowlist, RuleContext } from "./context.js";
import { type HuntOptions, huntLogs, type LogSource } from "./hunt/index.js";
import { judge } from "./index.js";
import type { IocSet } from "./ioc/ioc-set.js";
import { memoryLeads } from "./memory/leads.js";
import type { RuleSet } from "./rule-set.js";

export interface JudgeBundleOptions {
  /** Lists and hunting rules: shipped, or with a user's --rules directory. */
  rules: RuleSet;
  iocs?: IocSet | undefined;
  baseline?: Snapshot | null | undefined;
  allowlist?: Allowlist | undefined;
  /** Defaults to the snapshot's time, so a bundle judged later judges the same. */
  now?: Date;
  /**
   * Bundle files (relative paths) a size limit cut. Live triage passes them, judging before
   * the manifest is written; otherwise they are read from the bundle's manifest.json.
   */
  truncated?: readonly string[];
  /** Hunting bounds (tests use small ones); the defaults hunt every line. */
  hunt?: HuntOptions;
}

export interface JudgeBundleResult {
  snapshot: Snapshot;
  findings: Finding[];
  /** Log files hunted, relative to the bundle, and their total size. */
  logsHunted: string[];
  logBytes: number;
  gaps: { path: string; message: string }[];
}

/** The bundle's own name for a container directory: see collect's safePathComponent. */
type DirToContainer = (dir: string) => { where: string; containerId: string | null };

async function walk(dir: string, out: string[] = [], depth = 0): Promise<string[]> {
  if (depth > 8) return out;
  let entries: import("node:fs").Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) await walk(p, out, depth + 1);
    else if (e.isFile()) out.push(p);
  }
  return out;
}

const CONTAINER_LOG = /(-json\.log(\.\d+)?|\.log|logs?\.api\.txt|container\.log(\.\d+)?)$/;
const HOST_LOG =
  /(^|\/)(auth\.log|syslog|messages|secure|daemon\.log|docker\.log|kern\.log|dockerd\.log|journal[^/]*\.txt|[^/]*\.log)(\.\d+)?$/;

/** Find the text logs a bundle holds, attributed to their place. */
export async function bundleLogSources(dir: string, byDir: DirToContainer): Promise<LogSource[]> {
  const sources: LogSource[] = [];
  for (const file of await walk(join(dir, "containers"))) {
    const rel = relative(join(dir, "containers"), file);
    const [cdir, ...rest] = rel.split("/");
    const name = rest.join("/");
    if (!cdir || !CONTAINER_LOG.test(name) || name.endsWith(".json")) continue;
    sources.push({ path: file, ...byDir(cdir) });
  }
  for (const file of await walk(join(dir, "host"))) {
    const rel = relative(dir, file);
    if (/\.(gz|xz|bz2|zst|json)$/.test(rel) || /(wtmp|btmp|lastlog)/.test(rel)) continue;
    if (!HOST_LOG.test(rel)) continue;
    sources.push({ path: file, where: "host", containerId: null });
  }
  return sources.sort((a, b) => a.path.localeCompare(b.path));
}

export function dirMapper(snap: Snapshot, safe: (name: string) => string): DirToContainer {
  const map = new Map(snap.containers.map((c) => [safe(c.name), c]));
  return (d) => {
    const c = map.get(d);
    return c ? { where: c.name, containerId: c.id } : { where: d, containerId: null };
  };
}

const ManifestCutsSchema = z.object({
  files: z.array(z.object({ path: z.string(), truncated: z.boolean() }).loose()),
});

/** The files the bundle's manifest says a size limit cut; none without a readable manifest. */
async function manifestCuts(dir: string): Promise<string[]> {
  try {
    const parsed = ManifestCutsSchema.safeParse(
      JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")),
    );
    return parsed.success ? parsed.data.files.filter((f) => f.truncated).map((f) => f.path) : [];
  } catch {
    return [];
  }
}

export async function readBundleSnapshot(dir: string): Promise<Snapshot> {
  let text: string;
  try {
    text = await readFile(join(dir, "snapshot.json"), "utf8");
  } catch (e) {
    throw new BreachkitError(
      "BAD_INPUT",
      `${dir} has no readable snapshot.json (${errorMessage(e)})`,
      "point --bundle at a directory made by breachkit collect, triage or contain",
    );
  }
  try {
    return parseSnapshot(text);
  } catch (e) {
    throw new BreachkitError(
      "BAD_INPUT",
      `${join(dir, "snapshot.json")} is not a valid snapshot: ${errorMessage(e).slice(0, 300)}`,
      "run breachkit verify on the bundle; it may be damaged or from another version",
    );
  }
}

export async function judgeBundle(
  dir: string,
  safe: (name: string) => string,
  opts: JudgeBundleOptions,
): Promise<JudgeBundleResult> {
  const snapshot = await readBundleSnapshot(dir);
  const ctx: RuleContext = {
    now: opts.now ?? new Date(snapshot.takenAt),
    lists: opts.rules.lists,
    iocs: opts.iocs,
    baseline: opts.baseline ?? null,
    allowlist: opts.allowlist,
  };
  const findings = judge(snapshot, ctx);
  const sources = await bundleLogSources(dir, dirMapper(snapshot, safe));
  const hunted = await huntLogs(sources, opts.rules.hunt, {
    iocs: opts.iocs,
    ...(opts.hunt ? { hunt: opts.hunt } : {}),
  });
  // Cite files relative to the bundle: the bundle is what a reader has in hand.
  const rel = (p: string) => (p.startsWith(dir) ? relative(dir, p) : p);
  // A log the copy cut lacks its newest lines, where an attack usually is: say so in the
  // verdict's gaps, not only in the manifest.
  const cut = new Set(opts.truncated ?? (await manifestCuts(dir)));
  const cutGaps = sources
    .map((s) => rel(s.path))
    .filter((p) => cut.has(p))
    .map((path) => ({
      path,
      message:
        "the bundle holds only the start of this log (a size limit cut the copy): its newest lines were not hunted",
    }));
  const leads = await memoryLeads(dir);
  const logFindings = hunted.findings.map((f) => ({
    ...f,
    evidence: f.evidence.map((e) => (e.file ? { ...e, file: rel(e.file) } : e)),
  }));
  return {
    snapshot,
    findings: sortFindings([...findings, ...logFindings, ...leads.findings]),
    logsHunted: sources.map((s) => rel(s.path)),
    logBytes: hunted.bytes,
    gaps: [...cutGaps, ...hunted.gaps.map((g) => ({ ...g, path: rel(g.path) })), ...leads.gaps],
  };
}

export const AllowlistFileSchema = z.object({
  entries: z.array(
    z
      .object({
        sha256: z
          .string()
          .regex(/^[0-9a-f]{64}$/)
          .optional(),
        path: z.string().optional(),
        parent: z.string().optional(),
        rule: z.string().optional(),
        reason: z.string().min(1),
      })
      .refine((e) => e.sha256 || e.path || e.parent, "an entry needs sha256, path or parent"),
  ),
});

/** Read an allowlist file (JSON, documented in rules/README.md). */
export async function readAllowlist(path: string): Promise<Allowlist> {
  let data: unknown;
  try {
    data = JSON.parse(await readFile(path, "utf8"));
  } catch (e) {
    throw new BreachkitError(
      "BAD_INPUT",
      `cannot read allowlist ${path}: ${errorMessage(e)}`,
      'an allowlist is JSON: {"entries":[{"sha256":"…","reason":"…"}]}',
    );
  }
  const parsed = AllowlistFileSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new BreachkitError(
      "BAD_INPUT",
      `allowlist ${path}: ${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid"}`,
      "each entry needs a reason and one of sha256, path or parent",
    );
  }
  const entries = parsed.data.entries.map((e) => {
    const out: import("./context.js").AllowEntry = { reason: e.reason };
    if (e.sha256) out.sha256 = e.sha256;
    if (e.path) out.path = e.path;
    if (e.parent) out.parent = e.parent;
    if (e.rule) out.rule = e.rule;
    return out;
  });
  return { entries };
}
