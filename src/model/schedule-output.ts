/** What `breachkit schedule install|remove|status|run --json` print, and the records they keep. */
import { z } from "../util/zod.js";
import { SeveritySchema } from "./finding.js";
import { SCHEDULE_SCHEMA_VERSION } from "./schema-version.js";
import { GapSchema } from "./snapshot.js";

export { SCHEDULE_SCHEMA_VERSION };

export const SCHEDULE_JOBS = ["triage", "audit", "scan", "update-check"] as const;
export const ScheduleJobSchema = z.enum(SCHEDULE_JOBS);
export type ScheduleJob = z.infer<typeof ScheduleJobSchema>;
export const SCHEDULE_EVERY = ["1h", "6h", "daily"] as const;
export const ScheduleEverySchema = z.enum(SCHEDULE_EVERY);
export type ScheduleEvery = z.infer<typeof ScheduleEverySchema>;

/** What install wrote (kept in the state directory): remove removes exactly this. */
export const InstallRecordSchema = z.object({
  schemaVersion: z.literal(SCHEDULE_SCHEMA_VERSION),
  writer: z.enum(["systemd", "cron"]),
  every: ScheduleEverySchema,
  jobs: z.array(ScheduleJobSchema),
  installedAt: z.string(),
  /** The command line the timer or cron runs. */
  command: z.array(z.string()),
  /** Every file written, with the SHA-256 of what was written. */
  files: z.array(z.object({ path: z.string(), sha256: z.string() })),
  /** Units enabled with systemctl (disabled again by remove). */
  enabled: z.array(z.string()),
});
export type InstallRecord = z.infer<typeof InstallRecordSchema>;

export const JobResultSchema = z.object({
  name: ScheduleJobSchema,
  /** ok: ran (exit 0 or 1); failed: exit 2 or killed; skipped: the command is unknown to this breachkit. */
  status: z.enum(["ok", "failed", "skipped"]),
  exitCode: z.number().int().nullable(),
  durationMs: z.number(),
  findings: z.number().int().nonnegative(),
  /** The job's bundle (triage, audit, scan with --out), relative to the run directory. */
  bundle: z.string().nullable(),
  note: z.string().nullable(),
});
export type JobResult = z.infer<typeof JobResultSchema>;

export const NotificationResultSchema = z.object({
  channel: z.string(),
  ok: z.boolean(),
  /** "250 OK", "HTTP 200", or what went wrong (timeout, refused). */
  detail: z.string(),
  durationMs: z.number(),
  findings: z.number().int().nonnegative(),
});
export type NotificationResult = z.infer<typeof NotificationResultSchema>;

export const NotifiedSchema = z.object({
  fingerprint: z.string(),
  severity: SeveritySchema,
  title: z.string(),
  where: z.string(),
});

const InstallOutput = z.object({
  schemaVersion: z.literal(SCHEDULE_SCHEMA_VERSION),
  command: z.literal("schedule install"),
  writer: z.enum(["systemd", "cron"]),
  every: ScheduleEverySchema,
  jobs: z.array(ScheduleJobSchema),
  files: z.array(z.string()),
  /** Programs run (systemctl daemon-reload, enable --now ...). */
  steps: z.array(z.string()),
  record: z.string(),
});

const RemoveOutput = z.object({
  schemaVersion: z.literal(SCHEDULE_SCHEMA_VERSION),
  command: z.literal("schedule remove"),
  files: z.array(z.string()),
  /** Files install wrote that were changed since: left in place. */
  kept: z.array(z.string()),
  steps: z.array(z.string()),
});

export const RunSummarySchema = z.object({
  dir: z.string(),
  startedAt: z.string(),
  result: z.enum(["ok", "findings", "partial"]),
  newFindings: z.number().int().nonnegative(),
  openFindings: z.number().int().nonnegative(),
});

const StatusOutput = z.object({
  schemaVersion: z.literal(SCHEDULE_SCHEMA_VERSION),
  command: z.literal("schedule status"),
  installed: InstallRecordSchema.nullable(),
  nextRun: z.string().nullable(),
  /** Newest first. */
  runs: z.array(RunSummarySchema),
});

export const RunOutputSchema = z.object({
  schemaVersion: z.literal(SCHEDULE_SCHEMA_VERSION),
  command: z.literal("schedule run"),
  dir: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  /** ok: nothing open at or above the threshold; findings: some; partial: a job failed. */
  result: z.enum(["ok", "findings", "partial"]),
  jobs: z.array(JobResultSchema),
  threshold: SeveritySchema,
  /** Drift findings since the baseline (null: no baseline). */
  driftSinceBaseline: z.number().int().nonnegative().nullable(),
  /** Findings (at or above the threshold) that the previous run did not have. */
  newSincePrevious: z.number().int().nonnegative(),
  previousRun: z.string().nullable(),
  /** Findings at or above the threshold, by fingerprint, open in this run. */
  openFingerprints: z.array(z.string()),
  /** Open findings at or above the threshold. */
  open: z.number().int().nonnegative(),
  /** Findings notified for the first time in this run. */
  notified: z.array(NotifiedSchema),
  notifications: z.array(NotificationResultSchema),
  /** Runs removed by --keep. */
  pruned: z.array(z.string()),
  gaps: z.array(GapSchema),
});
export type RunOutput = z.infer<typeof RunOutputSchema>;

export const ScheduleOutputSchema = z.union([
  InstallOutput,
  RemoveOutput,
  StatusOutput,
  RunOutputSchema,
]);
export type ScheduleOutput = z.infer<typeof ScheduleOutputSchema>;
