/** What `breachkit fleet --json` prints, and the case manifest (case.json) it writes. */
import { z } from "../util/zod.js";
import { FindingSchema } from "./finding.js";
import { FLEET_SCHEMA_VERSION } from "./schema-version.js";

export { FLEET_SCHEMA_VERSION };

export const FLEET_HOST_STATES = [
  "ok",
  "unreachable",
  "host-key-refused",
  "auth-failed",
  "timed-out",
  "command-failed",
  "exe-altered",
  "bundle-not-intact",
] as const;

export const FleetHostSchema = z.object({
  /** The inventory's name (also the host's folder under hosts/). */
  name: z.string(),
  address: z.string(),
  port: z.number().int().nullable(),
  user: z.string().nullable(),
  groups: z.array(z.string()),
  state: z.enum(FLEET_HOST_STATES),
  /** Why, when not ok. */
  reason: z.string().nullable(),
  /** The remote command's exit code, when it ran. */
  exitCode: z.number().int().nullable(),
  /** Its last stderr lines (host data). */
  stderrTail: z.array(z.string()),
  /**
   * How the executable got to the run's private directory on the host: "gzip" (compressed once
   * per run, decompressed on the host, which then hashed the decompressed file), "plain" (as
   * it is: --copy plain, or a host without gzip), or "kept" (--keep-exe: the copy kept on the
   * host, copied into the run's directory and hashed there in this run); null when it did not.
   */
  copy: z.enum(["gzip", "plain", "kept"]).nullable(),
  /**
   * --keep-exe only (null without it, or when the host was not reached): what was found in
   * ~/.cache/breachkit/exe on the host and what was done.
   */
  keep: z
    .object({
      /**
       * none: no kept copy; ok: reused, its SHA-256 computed on the host in this run equal to
       * exeSha256; refused: not a regular file of the ssh user's with mode 0700 in directories
       * of its with mode 0700, or a symbolic link (not used; a fresh copy sent); altered: its
       * SHA-256 differs (not run; set aside on the host, a fresh copy sent: a finding,
       * fleet.kept-exe-altered).
       */
      found: z.enum(["none", "ok", "refused", "altered"]),
      /** Why refused, or why nothing was stored. */
      detail: z.string().nullable(),
      /** The kept copy's SHA-256 as the host computed it in this run (ok, altered). */
      foundSha256: z.string().nullable(),
      /** Where the refused or altered kept file was moved on the host (not deleted). */
      setAside: z.string().nullable(),
      /** A fresh copy, verified on the host, was stored there for later runs. */
      stored: z.boolean(),
    })
    .nullable()
    .optional(),
  /** The executable's SHA-256 as the host computed it after the copy. */
  remoteSha256: z.string().nullable(),
  /** The bundle fetched and verified here, relative to the case directory. */
  bundle: z
    .object({
      path: z.string(),
      /** SHA-256 of its manifest.json, as recomputed here. */
      manifestSha256: z.string(),
      seal: z.enum(["ok", "missing", "mismatch"]),
      intact: z.boolean(),
      complete: z.boolean(),
      /** The host name the bundle's manifest gives (host data). */
      host: z.string(),
    })
    .nullable(),
  findings: z.number().int().nonnegative(),
  durationMs: z.number().int().nonnegative(),
  /**
   * Per step: connect, check (--keep-exe: the kept copy checked, copied and hashed), copy, run,
   * fetch+clean (the bundle fetched and the directory removed in one round trip) or fetch and
   * clean (after a command that did not end by itself, or a failed step).
   */
  steps: z.array(z.object({ step: z.string(), ms: z.number().int().nonnegative() })),
});
export type FleetHost = z.infer<typeof FleetHostSchema>;

/** A finding of one host (or, source "fleet", across hosts), with the inventory name. */
export const FleetFindingSchema = FindingSchema.extend({ host: z.string() });
export type FleetFinding = z.infer<typeof FleetFindingSchema>;

export const FleetOutputSchema = z.object({
  schemaVersion: z.literal(FLEET_SCHEMA_VERSION),
  format: z.literal("breachkit-case"),
  tool: z.object({ name: z.string(), version: z.string() }),
  inventory: z.string(),
  command: z.string(),
  args: z.array(z.string()),
  /** The case directory (absolute). */
  case: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  /** SHA-256 of the executable copied to every host, computed in this run. */
  exeSha256: z.string(),
  hosts: z.array(FleetHostSchema),
  counts: z.record(z.string(), z.number().int()),
  /** Every host's findings, and the fleet rules' (source "fleet"), worst first. */
  findings: z.array(FleetFindingSchema),
});
export type FleetOutput = z.infer<typeof FleetOutputSchema>;
