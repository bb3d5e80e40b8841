import { BreachkitError, type ErrorCode } from "../../util/errors.js";

/**
 * Why a call to the Docker Engine failed. Callers branch on `code`: a snapshot turns DOWN into
 * a gap, contain turns NOT_FOUND into "unknown container", collect records TIMEOUT and moves on.
 */
export type EngineErrorCode =
  /** The socket is missing or refuses connections: no engine is running there. */
  | "DOWN"
  /** The socket exists but this user may not connect (not root, not in the docker group). */
  | "PERMISSION"
  | "NOT_FOUND"
  /** The engine refused because of the object's state (pause a paused container, top of a stopped one). */
  | "CONFLICT"
  /** Any other non-2xx answer. */
  | "HTTP"
  | "TIMEOUT"
  /** A JSON answer larger than the client's bound. */
  | "TOO_LARGE"
  /** An answer that is not what the API promises (bad JSON, a broken log stream). */
  | "PROTOCOL"
  /** DOCKER_HOST names a transport this client does not speak (tcp://, ssh://, npipe://). */
  | "UNSUPPORTED";

export class EngineError extends Error {
  readonly code: EngineErrorCode;
  /** HTTP status when the engine answered, else null. */
  readonly status: number | null;
  /** What the user should do about it. */
  readonly hint: string | undefined;
  constructor(
    code: EngineErrorCode,
    message: string,
    options: { status?: number; hint?: string; cause?: unknown } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "EngineError";
    this.code = code;
    this.status = options.status ?? null;
    this.hint = options.hint;
  }
}

const TO_BREACHKIT: Record<EngineErrorCode, ErrorCode> = {
  DOWN: "ENGINE_DOWN",
  PERMISSION: "PERMISSION",
  NOT_FOUND: "NOT_FOUND",
  CONFLICT: "BAD_INPUT",
  HTTP: "IO",
  TIMEOUT: "IO",
  TOO_LARGE: "IO",
  PROTOCOL: "IO",
  UNSUPPORTED: "USAGE",
};

/** For a command that cannot go on without the engine: the CLI's top level shows it once. */
export function toBreachkitError(e: EngineError): BreachkitError {
  return new BreachkitError(TO_BREACHKIT[e.code], e.message, e.hint, { cause: e });
}

export function isEngineError(e: unknown, code?: EngineErrorCode): e is EngineError {
  return e instanceof EngineError && (code === undefined || e.code === code);
}
