/**
 * Errors that end a command. Each carries a stable code and a message that tells the
 * user what to do; the CLI's top level catches them once and maps them to exit code 2.
 */
export type ErrorCode =
  | "USAGE"
  | "PERMISSION"
  | "ENGINE_DOWN"
  | "NOT_FOUND"
  | "AMBIGUOUS"
  | "BAD_INPUT"
  | "IO"
  | "INTERRUPTED"
  | "TOOL_MISSING"
  | "INTERNAL";

export class BreachkitError extends Error {
  readonly code: ErrorCode;
  /** What the user should do about it, shown under the message. */
  readonly hint: string | undefined;
  constructor(code: ErrorCode, message: string, hint?: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "BreachkitError";
    this.code = code;
    this.hint = hint;
  }
}

export const EXIT_OK = 0;
/** Findings at or above the threshold, or (contain) not contained, or (verify) not intact. */
export const EXIT_FINDINGS = 1;
/** Could not do the job. */
export const EXIT_ERROR = 2;
