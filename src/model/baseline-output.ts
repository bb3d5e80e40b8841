/** What `breachkit baseline save|diff --json` print. */
import { z } from "../util/zod.js";
import { BaselineKindSchema } from "./baseline.js";
import { FindingSchema } from "./finding.js";
import { BASELINE_SCHEMA_VERSION } from "./schema-version.js";
import { GapSchema } from "./snapshot.js";

const CountsSchema = z.record(z.string(), z.number().int().nonnegative());

export const BaselineSaveOutputSchema = z.object({
  schemaVersion: z.literal(BASELINE_SCHEMA_VERSION),
  command: z.literal("baseline save"),
  /** The file written. */
  path: z.string(),
  /** SHA-256 of the state saved: write it down, it proves the baseline later. */
  seal: z.string(),
  takenAt: z.string(),
  host: z.string(),
  root: z.string(),
  /** Items saved, by kind. */
  counts: CountsSchema,
  gaps: z.array(GapSchema),
});

export const BaselineDiffOutputSchema = z.object({
  schemaVersion: z.literal(BASELINE_SCHEMA_VERSION),
  command: z.literal("baseline diff"),
  baseline: z.object({ path: z.string(), takenAt: z.string(), seal: z.string(), host: z.string() }),
  takenAt: z.string(),
  /** The kinds compared (observed both then and now). */
  compared: z.array(BaselineKindSchema),
  findings: z.array(FindingSchema),
  /** Items of the baseline that are gone, by kind (not findings). */
  removed: CountsSchema,
  /** Findings at or above --fail-on. */
  atOrAboveThreshold: z.number().int().nonnegative(),
  gaps: z.array(GapSchema),
  durationMs: z.number(),
});

export const BaselineOutputSchema = z.union([BaselineSaveOutputSchema, BaselineDiffOutputSchema]);
export type BaselineSaveOutput = z.infer<typeof BaselineSaveOutputSchema>;
export type BaselineDiffOutput = z.infer<typeof BaselineDiffOutputSchema>;
