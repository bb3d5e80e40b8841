/**
 * The version of the Snapshot model (model/snapshot.ts), apart from its schemas: taking a
 * snapshot needs the number, not the zod schemas, which only reading one back does.
 */
export const SNAPSHOT_SCHEMA_VERSION = 1;
