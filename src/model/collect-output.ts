/** What `breachkit collect --json` prints: the summary of the sealed bundle it made. */
import { z } from "../util/zod.js";
import { MemoryDumpSchema } from "./memory-dump.js";
import { COLLECT_SCHEMA_VERSION } from "./schema-version.js";

export { COLLECT_SCHEMA_VERSION };

export const StepErrorSchema = z.object({
  step: z.string(),
  action: z.string(),
  error: z.string(),
});

export const CollectedExecutableSchema = z.object({
  pid: z.number().int(),
  comm: z.string().nullable(),
  containerId: z.string().nullable(),
  containerName: z.string().nullable(),
  exePath: z.string().nullable(),
  /** Why it was copied: a suspicious-process reason, or "requested" (--pid). */
  reason: z.string(),
  /** Bundle path of the copy, or null when it could not be copied. */
  file: z.string().nullable(),
  sha256: z.string().nullable(),
  size: z.number().int().nullable(),
  snapshotSha256: z.string().nullable(),
  error: z.string().nullable(),
});

export const ContainerRecordSchema = z.object({
  id: z.string(),
  name: z.string(),
  dir: z.string(),
  logDriver: z.string(),
  logFiles: z.array(z.string()),
  apiLog: z.string().nullable(),
});

export const CollectOutputSchema = z.object({
  schemaVersion: z.literal(COLLECT_SCHEMA_VERSION),
  /** The bundle directory. */
  bundle: z.string(),
  complete: z.boolean(),
  incompleteReason: z.string().nullable(),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  /** SHA-256 of manifest.json (what SEAL holds). */
  seal: z.string(),
  archive: z.object({ path: z.string(), sha256: z.string(), size: z.number() }).nullable(),
  archiveError: z.string().nullable(),
  /** Files cut by a size limit. */
  truncated: z.array(z.string()),
  errors: z.array(StepErrorSchema),
  executables: z.array(CollectedExecutableSchema),
  containers: z.array(ContainerRecordSchema),
  /** Processes whose memory was dumped (--memory, --memory-suspicious), in the order dumped. */
  memory: z.array(MemoryDumpSchema),
  durationMs: z.number().nonnegative(),
});
export type CollectOutput = z.infer<typeof CollectOutputSchema>;
