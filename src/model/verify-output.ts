/** What `breachkit verify --json` prints: the verification report of a bundle. */
import { z } from "../util/zod.js";
import { VERIFY_SCHEMA_VERSION } from "./schema-version.js";

export { VERIFY_SCHEMA_VERSION };

const FileFactsSchema = z.object({ sha256: z.string(), size: z.number().int().nonnegative() });

export const VerifyOutputSchema = z.object({
  schemaVersion: z.literal(VERIFY_SCHEMA_VERSION),
  /** The path given. */
  path: z.string(),
  kind: z.enum(["directory", "archive"]),
  /** SHA-256 of the archive file itself, to compare with the one printed when it was made. */
  archiveSha256: z.string().nullable(),
  intact: z.boolean(),
  seal: z.enum(["ok", "missing", "mismatch"]),
  /** SHA-256 of manifest.json as found. */
  manifestSha256: z.string(),
  /** What SEAL says the manifest's SHA-256 is; null when SEAL is missing. */
  sealedSha256: z.string().nullable(),
  complete: z.boolean(),
  incompleteReason: z.string().nullable(),
  tool: z.object({ name: z.string(), version: z.string() }),
  host: z.string(),
  /** The command line recorded when the bundle was made. */
  command: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  changed: z.array(
    z.object({
      path: z.string(),
      problem: z.string(),
      expected: FileFactsSchema.optional(),
      actual: FileFactsSchema.optional(),
    }),
  ),
  missing: z.array(z.string()),
  added: z.array(z.string()),
});
export type VerifyOutput = z.infer<typeof VerifyOutputSchema>;
