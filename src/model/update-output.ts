/**
 * What `breachkit update` prints with --json: `--check` (every container's image against its
 * registry), and an update run (or its --dry-run plan), which is also update.json in the bundle.
 */
import { z } from "../util/zod.js";
import { UPDATE_SCHEMA_VERSION } from "./schema-version.js";

export { UPDATE_SCHEMA_VERSION };

export const UPDATE_STATUSES = [
  "current",
  "update-available",
  "pulled-not-running",
  "pinned",
  "digest-pinned",
  "local-only",
  "gap",
] as const;
export const UpdateStatusSchema = z.enum(UPDATE_STATUSES);
export type UpdateStatus = z.infer<typeof UpdateStatusSchema>;

export const RegistryGapSchema = z.object({
  /** unreachable | timeout | tls | unauthorized | not-found | server-error | http | malformed | refused | reference */
  kind: z.string(),
  reason: z.string(),
});

export const ComposeInfoSchema = z.object({
  project: z.string(),
  service: z.string(),
  workingDir: z.string().nullable(),
  configFiles: z.array(z.string()),
});
export type ComposeInfo = z.infer<typeof ComposeInfoSchema>;

export const UpdateCheckRowSchema = z.object({
  id: z.string(),
  name: z.string(),
  state: z.string(),
  /** The reference in the container's configuration, as written. */
  image: z.string(),
  imageId: z.string(),
  repoDigests: z.array(z.string()),
  imageCreated: z.string().nullable(),
  imageAgeDays: z.number().nullable(),
  registry: z.string().nullable(),
  repository: z.string().nullable(),
  tag: z.string().nullable(),
  /** The digest the running image has in this repository (from RepoDigests). */
  localDigest: z.string().nullable(),
  /** The registry's digest for the tag, now. */
  remoteDigest: z.string().nullable(),
  remoteMediaType: z.string().nullable(),
  /** true: the remote digest is the SHA-256 of manifest bytes received in this run (GET). */
  remoteVerified: z.boolean(),
  status: UpdateStatusSchema,
  /** The image the tag names locally, when it is not the one the container runs. */
  newerPulled: z.object({ imageId: z.string(), created: z.string().nullable() }).nullable(),
  /** Newer semantic-version tags in the repository: reported, never switched to. */
  newerTags: z.array(z.string()),
  compose: ComposeInfoSchema.nullable(),
  gap: RegistryGapSchema.nullable(),
  notes: z.array(z.string()),
});
export type UpdateCheckRow = z.infer<typeof UpdateCheckRowSchema>;

export const UpdateCheckSchema = z.object({
  checkedAt: z.string(),
  durationMs: z.number(),
  engine: z.object({ version: z.string().nullable(), apiVersion: z.string().nullable() }),
  credentials: z.object({ configFile: z.string().nullable(), problem: z.string().nullable() }),
  containers: z.array(UpdateCheckRowSchema),
  counts: z.record(z.string(), z.number().int()),
});
export type UpdateCheck = z.infer<typeof UpdateCheckSchema>;

export const UpdateActionSchema = z.object({
  time: z.string(),
  /** What was done, as a docker command would say it. */
  action: z.string(),
  ok: z.boolean(),
  changedHost: z.boolean(),
  /** How to undo it by hand, or null when nothing is to undo. */
  undo: z.string().nullable(),
  error: z.string().nullable(),
});
export type UpdateAction = z.infer<typeof UpdateActionSchema>;

export const UpdateOutcomeSchema = z.enum([
  "planned",
  "updated",
  "rolled-back",
  "skipped",
  "failed",
]);
export type UpdateOutcome = z.infer<typeof UpdateOutcomeSchema>;

const SideSchema = z.object({
  containerId: z.string(),
  imageId: z.string(),
  digest: z.string().nullable(),
});

export const UpdateResultSchema = z.object({
  name: z.string(),
  image: z.string(),
  outcome: UpdateOutcomeSchema,
  /** Why it was skipped, failed or rolled back; what was done otherwise. */
  reason: z.string(),
  /** "engine-api", "docker compose" or "docker-compose": how it was recreated. */
  method: z.string().nullable(),
  before: SideSchema,
  /** What runs under the name at the end (the old container again after a rollback). */
  after: SideSchema.nullable(),
  /** The new image's health while it was given its chance. */
  health: z
    .object({ status: z.string(), waitedMs: z.number(), detail: z.string().nullable() })
    .nullable(),
  actions: z.array(UpdateActionSchema),
});
export type UpdateResult = z.infer<typeof UpdateResultSchema>;

export const UpdateRunSchema = z.object({
  dryRun: z.boolean(),
  startedAt: z.string(),
  endedAt: z.string(),
  host: z.string(),
  settleSeconds: z.number(),
  results: z.array(UpdateResultSchema),
  /** Compose tool found on PATH ("docker compose", "docker-compose"), or null. */
  composeTool: z.string().nullable(),
  notes: z.array(z.string()),
  check: UpdateCheckSchema,
});
export type UpdateRun = z.infer<typeof UpdateRunSchema>;

export const UpdateOutputSchema = z.union([
  UpdateCheckSchema.extend({
    schemaVersion: z.literal(UPDATE_SCHEMA_VERSION),
    mode: z.literal("check"),
  }),
  UpdateRunSchema.extend({
    schemaVersion: z.literal(UPDATE_SCHEMA_VERSION),
    mode: z.literal("update"),
    bundle: z.string().nullable(),
    manifestSha256: z.string().nullable(),
  }),
]);
export type UpdateOutput = z.infer<typeof UpdateOutputSchema>;
