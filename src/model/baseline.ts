/**
 * A baseline: the record of a host's known-good state (`breachkit baseline save`), and the
 * drift found against it (`baseline diff`, `triage --baseline`, `schedule run`).
 *
 * The record is a flat list of items, each `kind` + `place` ("host" or a container's name) +
 * `key` (what identifies it: a user name, "tcp 0.0.0.0:22", a path) + `value` (what may change
 * under the same key: a hash, an image id). Drift is then a set difference, linear in the
 * number of items, and one diff serves every kind.
 */
import { createHash } from "node:crypto";
import { z } from "../util/zod.js";
import { BASELINE_SCHEMA_VERSION } from "./schema-version.js";
import { GapSchema } from "./snapshot.js";

export { BASELINE_SCHEMA_VERSION };

export const BASELINE_FORMAT = "breachkit-baseline";

/** What a baseline holds, one kind per thing the issue names. */
export const BASELINE_KINDS = [
  "uid0", // a UID 0 account (key: user name)
  "sudo", // a sudo rule (key: file: rule text)
  "key", // an authorized SSH key (key: user fingerprint)
  "listen", // a listening socket (key: proto address:port)
  "suid", // a SUID/SGID file (key: path; value: mode owner sha256)
  "container", // a container (key: name; value: image id; facts: privileged, mounts, ports)
  "image", // an image tag (key: repo:tag; value: image id)
  "cron", // a cron entry (key: file: line)
  "unit", // a systemd unit or timer file (key: path; value: sha256)
  "module", // a loaded kernel module (key: name)
  "exe", // an executable running (key: path; value: sha256)
] as const;
export type BaselineKind = (typeof BASELINE_KINDS)[number];
export const BaselineKindSchema = z.enum(BASELINE_KINDS);

export const BaselineItemSchema = z.object({
  kind: BaselineKindSchema,
  /** "host", or the container's name. */
  place: z.string(),
  key: z.string(),
  /** What may change under the same key (a hash, an image id); "" when nothing does. */
  value: z.string(),
  /** Facts shown with a drift finding (owner, mode, shell, mounts ...). */
  facts: z.record(z.string(), z.string()),
});
export type BaselineItem = z.infer<typeof BaselineItemSchema>;

export const BaselineStateSchema = z.object({
  takenAt: z.string(),
  host: z.string(),
  /** "/" for the live host, or the --root directory host files were read from. */
  root: z.string(),
  /** The kinds that were observed (a kind not here is not compared). */
  kinds: z.array(BaselineKindSchema),
  /** Places whose inside (accounts, files, sockets, executables) was read: host and running containers. */
  placesRead: z.array(z.string()),
  items: z.array(BaselineItemSchema),
  gaps: z.array(GapSchema),
});
export type BaselineState = z.infer<typeof BaselineStateSchema>;

/** The file `baseline save` writes: the state, sealed by the SHA-256 of its canonical text. */
export const BaselineRecordSchema = z.object({
  format: z.literal(BASELINE_FORMAT),
  schemaVersion: z.literal(BASELINE_SCHEMA_VERSION),
  tool: z.object({ name: z.string(), version: z.string() }),
  state: BaselineStateSchema,
  /** SHA-256 (hex) of JSON.stringify(state): a changed byte of the state breaks it. */
  seal: z.string().regex(/^[0-9a-f]{64}$/),
});
export type BaselineRecord = z.infer<typeof BaselineRecordSchema>;

/** The seal of a state: SHA-256 of its JSON text. */
export function sealOf(state: BaselineState): string {
  return createHash("sha256").update(JSON.stringify(state)).digest("hex");
}

export function makeRecord(
  state: BaselineState,
  tool: { name: string; version: string },
): BaselineRecord {
  return {
    format: BASELINE_FORMAT,
    schemaVersion: BASELINE_SCHEMA_VERSION,
    tool,
    state,
    seal: sealOf(state),
  };
}
