/**
 * Every JSON output of the CLI by name, with its zod model and its JSON Schema. The JSON
 * Schemas are generated from the models (zod's toJSONSchema): `breachkit schema NAME` prints one,
 * and the files under schemas/ in the package are the same text (a test compares them).
 */
import { z } from "../util/zod.js";
import { AuditOutputSchema } from "./audit-output.js";
import {
  BackupDrillOutputSchema,
  BackupOutputSchema,
  BackupPruneOutputSchema,
  BackupStatusOutputSchema,
  RestoreOutputSchema,
} from "./backup-output.js";
import { BaselineOutputSchema } from "./baseline-output.js";
import { CollectOutputSchema } from "./collect-output.js";
import { ContainOutputSchema } from "./contain-output.js";
import { ErrorOutputSchema } from "./error-output.js";
import { FleetOutputSchema } from "./fleet-output.js";
import { ReportOutputSchema } from "./report-model.js";
import { ScanOutputSchema } from "./scan-output.js";
import { ScheduleOutputSchema } from "./schedule-output.js";
import {
  AUDIT_SCHEMA_VERSION,
  BACKUP_DRILL_SCHEMA_VERSION,
  BACKUP_PRUNE_SCHEMA_VERSION,
  BACKUP_SCHEMA_VERSION,
  BACKUP_STATUS_SCHEMA_VERSION,
  BASELINE_SCHEMA_VERSION,
  COLLECT_SCHEMA_VERSION,
  CONTAIN_SCHEMA_VERSION,
  ERROR_SCHEMA_VERSION,
  FLEET_SCHEMA_VERSION,
  REPORT_SCHEMA_VERSION,
  RESTORE_SCHEMA_VERSION,
  SCAN_SCHEMA_VERSION,
  SCHEDULE_SCHEMA_VERSION,
  SNAPSHOT_SCHEMA_VERSION,
  TRIAGE_SCHEMA_VERSION,
  UPDATE_SCHEMA_VERSION,
  VERIFY_SCHEMA_VERSION,
  WATCH_SCHEMA_VERSION,
} from "./schema-version.js";
import { SnapshotSchema } from "./snapshot.js";
import { TriageOutputSchema } from "./triage-output.js";
import { UpdateOutputSchema } from "./update-output.js";
import { VerifyOutputSchema } from "./verify-output.js";
import { WatchSampleSchema } from "./watch-sample.js";

/**
 * The names `breachkit schema` takes, one per command with a --json output, and `error`: what
 * any of them prints instead when it fails.
 */
export const OUTPUT_NAMES = [
  "snapshot",
  "triage",
  "collect",
  "scan",
  "contain",
  "verify",
  "fleet",
  "audit",
  "report",
  "watch",
  "update",
  "baseline",
  "schedule",
  "backup",
  "backup-status",
  "backup-prune",
  "backup-drill",
  "restore",
  "error",
] as const;
export type OutputName = (typeof OUTPUT_NAMES)[number];

export const OUTPUT_MODELS: Record<
  OutputName,
  { schema: z.ZodType; version: number; title: string }
> = {
  snapshot: {
    schema: SnapshotSchema,
    version: SNAPSHOT_SCHEMA_VERSION,
    title: "breachkit snapshot --json (also snapshot.json in every bundle)",
  },
  triage: {
    schema: TriageOutputSchema,
    version: TRIAGE_SCHEMA_VERSION,
    title: "breachkit triage --json",
  },
  collect: {
    schema: CollectOutputSchema,
    version: COLLECT_SCHEMA_VERSION,
    title: "breachkit collect --json",
  },
  scan: { schema: ScanOutputSchema, version: SCAN_SCHEMA_VERSION, title: "breachkit scan --json" },
  contain: {
    schema: ContainOutputSchema,
    version: CONTAIN_SCHEMA_VERSION,
    title: "breachkit contain --json (a dry run, or the containment report)",
  },
  fleet: {
    schema: FleetOutputSchema,
    version: FLEET_SCHEMA_VERSION,
    title: "breachkit fleet --json (also case.json in the case directory)",
  },
  verify: {
    schema: VerifyOutputSchema,
    version: VERIFY_SCHEMA_VERSION,
    title: "breachkit verify --json",
  },
  audit: {
    schema: AuditOutputSchema,
    version: AUDIT_SCHEMA_VERSION,
    title: "breachkit audit --json (also audit.json in its --out bundle)",
  },
  report: {
    schema: ReportOutputSchema,
    version: REPORT_SCHEMA_VERSION,
    title: "breachkit report --json (what was written; the incident record is record.json)",
  },
  watch: {
    schema: WatchSampleSchema,
    version: WATCH_SCHEMA_VERSION,
    title: "breachkit watch --json and --record FILE: one sample per line (NDJSON)",
  },
  update: {
    schema: UpdateOutputSchema,
    version: UPDATE_SCHEMA_VERSION,
    title:
      "breachkit update --json (--check, a --dry-run plan, or the update record, also update.json in the bundle)",
  },
  baseline: {
    schema: BaselineOutputSchema,
    version: BASELINE_SCHEMA_VERSION,
    title: "breachkit baseline save|diff --json",
  },
  schedule: {
    schema: ScheduleOutputSchema,
    version: SCHEDULE_SCHEMA_VERSION,
    title:
      "breachkit schedule install|remove|status|run --json (run: also schedule.json in each run's bundle)",
  },
  backup: {
    schema: BackupOutputSchema,
    version: BACKUP_SCHEMA_VERSION,
    title: "breachkit backup --json",
  },
  "backup-status": {
    schema: BackupStatusOutputSchema,
    version: BACKUP_STATUS_SCHEMA_VERSION,
    title: "breachkit backup status --json",
  },
  "backup-prune": {
    schema: BackupPruneOutputSchema,
    version: BACKUP_PRUNE_SCHEMA_VERSION,
    title: "breachkit backup prune --json",
  },
  "backup-drill": {
    schema: BackupDrillOutputSchema,
    version: BACKUP_DRILL_SCHEMA_VERSION,
    title: "breachkit backup drill --json",
  },
  restore: {
    schema: RestoreOutputSchema,
    version: RESTORE_SCHEMA_VERSION,
    title: "breachkit restore --json",
  },
  error: {
    schema: ErrorOutputSchema,
    version: ERROR_SCHEMA_VERSION,
    title: "what any breachkit command run with --json prints on stdout when it fails (exit 2)",
  },
};

/** The JSON Schema (draft 2020-12) of an output, as the tool prints it (io: output). */
export function jsonSchemaOf(name: OutputName): Record<string, unknown> {
  const m = OUTPUT_MODELS[name];
  const generated = z.toJSONSchema(m.schema, { target: "draft-2020-12", io: "output" });
  const { $schema, ...rest } = generated as Record<string, unknown>;
  return {
    $schema,
    $id: `urn:breachkit:schema:${name}:${m.version}`,
    title: m.title,
    ...rest,
  };
}

/** The text of a schema file (schemas/NAME.schema.json) and of `breachkit schema NAME`. */
export function jsonSchemaText(name: OutputName): string {
  return `${JSON.stringify(jsonSchemaOf(name), null, 2)}\n`;
}
