/** What `breachkit triage --json` prints: the verdict, the findings and the bundle. */
import { z } from "../util/zod.js";
import { FindingSchema, SeveritySchema } from "./finding.js";
import { TRIAGE_SCHEMA_VERSION } from "./schema-version.js";

export { TRIAGE_SCHEMA_VERSION };

const CountsSchema = z.object({
  info: z.number().int(),
  low: z.number().int(),
  medium: z.number().int(),
  high: z.number().int(),
  critical: z.number().int(),
});

export const VerdictSchema = z.object({
  /**
   * compromised: a direct sign of compromise somewhere; at-risk: misconfigurations only (the
   * Docker socket mounted...), no sign that anyone used them; suspicious; clean.
   */
  level: z.enum(["compromised", "at-risk", "suspicious", "clean"]),
  /** Places with findings at medium or above, worst first. */
  places: z.array(
    z.object({
      where: z.string(),
      containerId: z.string().nullable(),
      worst: SeveritySchema,
      counts: CountsSchema,
      /** compromised (a direct sign), at-risk (a misconfiguration only) or suspicious. */
      state: z.enum(["compromised", "at-risk", "suspicious"]),
    }),
  ),
  /** Findings at or above the --fail-on threshold (false positives excluded). */
  atOrAboveThreshold: z.number().int().nonnegative(),
  threshold: SeveritySchema,
  headline: z.string(),
});

export const TriageOutputSchema = z.object({
  schemaVersion: z.literal(TRIAGE_SCHEMA_VERSION),
  verdict: VerdictSchema,
  findings: z.array(FindingSchema),
  bundle: z.object({
    path: z.string(),
    /** SHA-256 of the quick bundle's manifest; null when judging a saved bundle (--bundle). */
    manifestSha256: z.string().nullable(),
    complete: z.boolean(),
    /** true with --bundle: a saved bundle was judged, the host was not read. */
    offline: z.boolean(),
    /**
     * The bundle's manifest and SEAL were checked before it was judged. false: it does not
     * verify (a file changed, missing or added, or the SEAL broken) and the findings judge
     * data that may have been altered; `integrityProblem` says what is wrong.
     */
    verified: z.boolean(),
    integrityProblem: z.string().nullable(),
  }),
  logsHunted: z.array(z.string()),
  logBytes: z.number().int().nonnegative(),
  /** What could not be read: snapshot gaps ({source, message}) and log gaps ({path, message}). */
  gaps: z.array(
    z.union([
      z.object({ source: z.string(), message: z.string() }),
      z.object({ path: z.string(), message: z.string() }),
    ]),
  ),
  durationMs: z.number().nonnegative(),
});
export type TriageOutput = z.infer<typeof TriageOutputSchema>;
