/** What `breachkit scan --json` prints. */
import { z } from "../util/zod.js";
import { FindingSchema } from "./finding.js";
import { SCAN_SCHEMA_VERSION } from "./schema-version.js";

export { SCAN_SCHEMA_VERSION };

const ToolNameSchema = z.enum(["packages", "clamav", "rkhunter", "chkrootkit", "lynis", "yara"]);

export const ScanGapSchema = z.object({
  tool: ToolNameSchema,
  what: z.string(),
  reason: z.string(),
});

export const ScanOutputSchema = z.object({
  schemaVersion: z.literal(SCAN_SCHEMA_VERSION),
  tools: z.array(
    z.object({
      tool: ToolNameSchema,
      /** ok: ran to the end; the others did not (missing, timeout, error, skipped). */
      status: z.enum(["ok", "missing", "timeout", "error", "skipped"]),
      summary: z.string(),
      durationMs: z.number().nonnegative(),
      /** Its output was cut at the size bound, or it stopped early: the parse is partial. */
      incomplete: z.boolean(),
    }),
  ),
  /** At least one tool ran to the end; false makes scan exit 2. */
  ranToEnd: z.boolean(),
  findings: z.array(FindingSchema),
  gaps: z.array(ScanGapSchema),
  /** The evidence bundle written with --out, or null. */
  bundle: z.string().nullable(),
});
export type ScanOutput = z.infer<typeof ScanOutputSchema>;
