/**
 * What `breachkit backup`, `backup status`, `backup prune`, `backup drill` and `restore`
 * print with --json (backup.json in a bundle). The repository's password never appears: only
 * the repository's location and the password file's path.
 */

import { z } from "../util/zod.js";
import {
  BACKUP_DRILL_SCHEMA_VERSION,
  BACKUP_PRUNE_SCHEMA_VERSION,
  BACKUP_SCHEMA_VERSION,
  BACKUP_STATUS_SCHEMA_VERSION,
  RESTORE_SCHEMA_VERSION,
} from "./schema-version.js";

export {
  BACKUP_DRILL_SCHEMA_VERSION,
  BACKUP_PRUNE_SCHEMA_VERSION,
  BACKUP_SCHEMA_VERSION,
  BACKUP_STATUS_SCHEMA_VERSION,
  RESTORE_SCHEMA_VERSION,
};

const RepoSchema = z.object({
  /** As restic takes it (a path, sftp:..., rest:...). */
  location: z.string(),
  passwordFile: z.string(),
  /** Where it was named: --repo, the config file, or RESTIC_REPOSITORY. */
  from: z.enum(["option", "config", "env"]),
});

/** One change breachkit made to the host, with how to undo it. */
export const HostActionSchema = z.object({
  time: z.string(),
  action: z.string(),
  containerId: z.string(),
  result: z.enum(["ok", "error"]),
  error: z.string().nullable(),
  undo: z.string().nullable(),
});
export type HostAction = z.infer<typeof HostActionSchema>;

export const HookRunSchema = z.object({
  label: z.string(),
  argv: z.array(z.string()),
  exitCode: z.number().int().nullable(),
  signal: z.string().nullable(),
  timedOut: z.boolean(),
  durationMs: z.number(),
  /** The last lines it wrote (host text: shown sanitised). */
  output: z.string(),
  ok: z.boolean(),
});
export type HookRun = z.infer<typeof HookRunSchema>;

export const BackupPathSchema = z.object({
  /** "volume" or "bind". */
  type: z.string(),
  /** The volume's name (null for a bind mount). */
  volume: z.string().nullable(),
  /** Host path read (volume Mountpoint or bind Source). */
  source: z.string(),
  destination: z.string(),
});

export const SkippedPathSchema = z.object({
  source: z.string(),
  destination: z.string(),
  reason: z.string(),
});

export const ResticSummarySchema = z.object({
  snapshotId: z.string(),
  filesNew: z.number(),
  filesChanged: z.number(),
  filesUnmodified: z.number(),
  dataAdded: z.number(),
  totalFilesProcessed: z.number(),
  totalBytesProcessed: z.number(),
  totalDuration: z.number(),
});
export type ResticSummary = z.infer<typeof ResticSummarySchema>;

export const BACKUP_STATUSES = ["ok", "incomplete", "failed", "planned", "nothing"] as const;

export const ContainerBackupSchema = z.object({
  id: z.string(),
  name: z.string(),
  image: z.string(),
  /** The image's digest (RepoDigests) or, for a local image, its id. */
  imageDigest: z.string(),
  /** How the read was made consistent. */
  consistency: z.enum(["pause", "stop", "none"]),
  paths: z.array(BackupPathSchema),
  skipped: z.array(SkippedPathSchema),
  tags: z.array(z.string()),
  /**
   * ok: a snapshot was made; incomplete: a snapshot was made but restic could not read some
   * files; failed: no snapshot (a hook or restic failed); planned: --dry-run; nothing: no data.
   */
  status: z.enum(BACKUP_STATUSES),
  error: z.string().nullable(),
  warnings: z.array(z.string()),
  pre: HookRunSchema.nullable(),
  post: HookRunSchema.nullable(),
  summary: ResticSummarySchema.nullable(),
  actions: z.array(HostActionSchema),
  /** The container's state after breachkit was done with it. */
  after: z.object({ running: z.boolean(), paused: z.boolean() }).nullable(),
  durationMs: z.number(),
});
export type ContainerBackup = z.infer<typeof ContainerBackupSchema>;

export const BackupOutputSchema = z.object({
  schemaVersion: z.literal(BACKUP_SCHEMA_VERSION),
  repo: RepoSchema,
  host: z.string(),
  dryRun: z.boolean(),
  startedAt: z.string(),
  durationMs: z.number(),
  containers: z.array(ContainerBackupSchema),
  /** Why the run stopped before every container was done (repository unusable...). */
  fatal: z.string().nullable(),
  /** The sealed bundle (--out) holding backup.json and the log of every host change. */
  bundle: z.string().nullable(),
});
export type BackupOutput = z.infer<typeof BackupOutputSchema>;

export const SnapshotRefSchema = z.object({
  id: z.string(),
  shortId: z.string(),
  time: z.string(),
  hostname: z.string(),
  paths: z.array(z.string()),
  tags: z.array(z.string()),
});
export type SnapshotRef = z.infer<typeof SnapshotRefSchema>;

export const BackupStatusOutputSchema = z.object({
  schemaVersion: z.literal(BACKUP_STATUS_SCHEMA_VERSION),
  repo: RepoSchema,
  now: z.string(),
  maxAgeSeconds: z.number(),
  containers: z.array(
    z.object({
      name: z.string(),
      /** Whether the container exists on this host now (null: the engine was not asked). */
      present: z.boolean().nullable(),
      snapshots: z.number().int(),
      last: SnapshotRefSchema.nullable(),
      ageSeconds: z.number().nullable(),
      /** No snapshot, or the last one older than maxAgeSeconds. */
      stale: z.boolean(),
    }),
  ),
});
export type BackupStatusOutput = z.infer<typeof BackupStatusOutputSchema>;

export const BackupPruneOutputSchema = z.object({
  schemaVersion: z.literal(BACKUP_PRUNE_SCHEMA_VERSION),
  repo: RepoSchema,
  policy: z.object({ daily: z.number(), weekly: z.number(), monthly: z.number() }),
  dryRun: z.boolean(),
  groups: z.array(
    z.object({
      container: z.string(),
      host: z.string(),
      keep: z.array(z.string()),
      remove: z.array(z.string()),
      /** What breachkit's own reading of the policy keeps; a difference is reported. */
      planned: z.array(z.string()),
      agrees: z.boolean(),
    }),
  ),
  pruned: z.boolean(),
  error: z.string().nullable(),
});
export type BackupPruneOutput = z.infer<typeof BackupPruneOutputSchema>;

export const FileMismatchSchema = z.object({ path: z.string(), reason: z.string() });

export const BackupDrillOutputSchema = z.object({
  schemaVersion: z.literal(BACKUP_DRILL_SCHEMA_VERSION),
  repo: RepoSchema,
  startedAt: z.string(),
  durationMs: z.number(),
  containers: z.array(
    z.object({
      name: z.string(),
      snapshot: SnapshotRefSchema,
      files: z.number().int(),
      bytes: z.number(),
      mismatches: z.array(FileMismatchSchema),
      ok: z.boolean(),
      error: z.string().nullable(),
    }),
  ),
  check: z.object({
    subset: z.string(),
    ok: z.boolean(),
    output: z.string(),
  }),
  ok: z.boolean(),
  /** The sealed bundle (--out) holding backup-drill.json. */
  bundle: z.string().nullable(),
});
export type BackupDrillOutput = z.infer<typeof BackupDrillOutputSchema>;

export const RestoreOutputSchema = z.object({
  schemaVersion: z.literal(RESTORE_SCHEMA_VERSION),
  repo: RepoSchema,
  container: z.string(),
  snapshot: SnapshotRefSchema,
  /** How the snapshot was chosen. */
  selectedBy: z.enum(["snapshot", "before", "before-incident", "latest"]),
  /** The time limit asked for (--before, or the incident's earliest evidence time). */
  before: z.string().nullable(),
  target: z.object({
    kind: z.enum(["dir", "volume"]),
    path: z.string(),
    volume: z.string().nullable(),
  }),
  files: z.number().int(),
  bytes: z.number(),
  executables: z.number().int(),
  clamav: z.object({
    status: z.enum(["clean", "hits", "error", "skipped"]),
    dbDir: z.string().nullable(),
    hits: z.array(z.object({ path: z.string(), signature: z.string() })),
    error: z.string().nullable(),
  }),
  iocHashes: z.number().int(),
  iocHits: z.array(z.object({ path: z.string(), sha256: z.string(), origin: z.string() })),
  /** false: a hit (or a check that could not run); do not hand the data over as it is. */
  safe: z.boolean(),
  reasons: z.array(z.string()),
  durationMs: z.number(),
});
export type RestoreOutput = z.infer<typeof RestoreOutputSchema>;
