/**
 * The version of each JSON output's model, apart from its schemas: writing an output needs the
 * number, not the zod schemas, which only reading one back (or `breachkit schema`) does.
 * Raise a number when a field is removed, renamed or changes meaning; adding a field does not.
 */
export const SNAPSHOT_SCHEMA_VERSION = 1;
export const TRIAGE_SCHEMA_VERSION = 1;
export const COLLECT_SCHEMA_VERSION = 1;
export const SCAN_SCHEMA_VERSION = 1;
export const CONTAIN_SCHEMA_VERSION = 1;
export const VERIFY_SCHEMA_VERSION = 1;
export const ERROR_SCHEMA_VERSION = 1;
export const FLEET_SCHEMA_VERSION = 1;
export const AUDIT_SCHEMA_VERSION = 1;
export const REPORT_SCHEMA_VERSION = 1;
export const WATCH_SCHEMA_VERSION = 1;
export const UPDATE_SCHEMA_VERSION = 1;
export const BASELINE_SCHEMA_VERSION = 1;
export const SCHEDULE_SCHEMA_VERSION = 1;
export const BACKUP_SCHEMA_VERSION = 1;
export const BACKUP_STATUS_SCHEMA_VERSION = 1;
export const BACKUP_PRUNE_SCHEMA_VERSION = 1;
export const BACKUP_DRILL_SCHEMA_VERSION = 1;
export const RESTORE_SCHEMA_VERSION = 1;
