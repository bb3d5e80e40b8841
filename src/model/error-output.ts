/**
 * What any command run with --json prints on stdout when it cannot do the job (exit 2): a
 * script piping `breachkit X --json | jq` gets an object that says why, not an empty stream.
 * The same message and hint go to stderr for a person.
 */
import { z } from "../util/zod.js";
import { ERROR_SCHEMA_VERSION } from "./schema-version.js";

export { ERROR_SCHEMA_VERSION };

/** The stable codes of src/util/errors.ts; USAGE also covers a bad option or argument. */
export const ERROR_CODES = [
  "USAGE",
  "PERMISSION",
  "ENGINE_DOWN",
  "NOT_FOUND",
  "AMBIGUOUS",
  "BAD_INPUT",
  "IO",
  "INTERRUPTED",
  "TOOL_MISSING",
  "INTERNAL",
] as const;

export const ErrorOutputSchema = z.object({
  schemaVersion: z.literal(ERROR_SCHEMA_VERSION),
  error: z.object({
    code: z.enum(ERROR_CODES),
    message: z.string(),
    /** What to do about it, or null when there is nothing better than the message. */
    hint: z.string().nullable(),
  }),
});

export type ErrorOutput = z.infer<typeof ErrorOutputSchema>;
