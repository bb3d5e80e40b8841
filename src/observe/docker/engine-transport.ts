/**
 * The Docker Engine API over the Unix socket, with node:http only (no docker CLI, no SDK): the
 * one transport under the read-only client (observe/docker/engine.ts, GET only) and the
 * actions (act/docker-actions.ts, the only code that sends POST or DELETE; the source-rules
 * test holds that). Design choices, each for a reason:
 * - Unversioned paths (`/containers/json`, not `/v1.41/...`): the engine then speaks its own
 *   version. Engine 29 refuses clients older than API 1.44, Debian's 20.10 speaks at most 1.41;
 *   the fields read here exist in both.
 * - One connection per call (`agent: false`): nothing lingers after a command, streamed answers
 *   own their socket, and a Unix socket connects in microseconds. At most `maxConcurrent` JSON
 *   calls run at once so a snapshot of 500 containers does not open 500 sockets.
 * - JSON answers have a deadline and a size bound; streamed answers (logs, export, archive) have
 *   an idle timeout instead, because a 1 GiB log legitimately takes a while.
 * - Container and network references are checked against Docker's name and id alphabet before
 *   they go into a path (`ref`): a name typed by the admin or read from the host cannot walk the
 *   API (`../`) or inject query parameters.
 */
import http, { type IncomingMessage } from "node:http";
import { PassThrough, pipeline, type Readable, type Transform } from "node:stream";
import type { z } from "zod";
import { Limiter } from "../../util/limiter.js";
import { EngineError } from "./engine-error.js";

export const DEFAULT_SOCKET = "/var/run/docker.sock";

export interface DockerEngineOptions {
  socketPath: string;
  /** Deadline for a whole JSON call (default 15 s). */
  timeoutMs?: number;
  /** Longest silence allowed inside a streamed answer (default 60 s). */
  streamIdleTimeoutMs?: number;
  /** Largest JSON answer accepted (default 64 MiB: the container list of a big host). */
  maxJsonBytes?: number;
  /** JSON calls in flight at once (default 8). */
  maxConcurrent?: number;
}

export type Method = "GET" | "POST" | "DELETE";
export type Query = Record<string, string | number | boolean | undefined>;

export interface Call {
  method: Method;
  path: string;
  query?: Query;
  body?: unknown;
  /** Overrides the client's JSON deadline (stop waits for the container's own grace period). */
  timeoutMs?: number;
  /** Extra request headers (X-Registry-Auth of a pull). */
  headers?: Record<string, string>;
}

// Docker's own alphabets: names [a-zA-Z0-9][a-zA-Z0-9_.-]*, ids hex. Anything else cannot name
// an object, so it is refused before it reaches a URL.
const REF = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
export const ERROR_BODY_MAX = 64 * 1024;

export class EngineTransport {
  readonly socketPath: string;
  /** As DOCKER_HOST spells it: `unix:///var/run/docker.sock`. */
  readonly endpoint: string;
  readonly timeoutMs: number;
  private readonly streamIdleTimeoutMs: number;
  readonly maxJsonBytes: number;
  private readonly limiter: Limiter;

  constructor(options: DockerEngineOptions) {
    this.socketPath = options.socketPath;
    this.endpoint = `unix://${options.socketPath}`;
    this.timeoutMs = options.timeoutMs ?? 15_000;
    this.streamIdleTimeoutMs = options.streamIdleTimeoutMs ?? 60_000;
    this.maxJsonBytes = options.maxJsonBytes ?? 64 * 1024 * 1024;
    this.limiter = new Limiter(options.maxConcurrent ?? 8);
  }

  /** A JSON answer, parsed and checked against `schema`. */
  async json<S extends z.ZodType>(
    call: Call,
    schema: S,
    onResponse?: (res: IncomingMessage) => void,
  ): Promise<z.output<S>> {
    const body = await this.raw(call, this.maxJsonBytes, onResponse);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch (e) {
      throw new EngineError("PROTOCOL", `${describe(call)}: the engine's answer is not JSON`, {
        cause: e,
      });
    }
    const result = schema.safeParse(parsed);
    if (!result.success) {
      throw new EngineError(
        "PROTOCOL",
        `${describe(call)}: unexpected answer shape (${result.error.issues[0]?.message ?? "invalid"})`,
      );
    }
    return result.data;
  }

  /** The whole answer body, at most `max` bytes. */
  raw(call: Call, max: number, onResponse?: (res: IncomingMessage) => void): Promise<Buffer> {
    return this.limiter.run(async () => {
      const { res, done } = await this.send(call, { deadlineMs: call.timeoutMs ?? this.timeoutMs });
      onResponse?.(res);
      try {
        return await readBounded(res, max, call);
      } catch (e) {
        throw this.socketError(e, call);
      } finally {
        done();
      }
    });
  }

  /**
   * A streamed answer, through `transform` when given. Whatever fails on the way (the socket,
   * the idle timer, the demuxer) reaches the reader as one EngineError, and a reader that gives
   * up closes the socket.
   */
  async stream(call: Call, transform?: Transform): Promise<Readable> {
    const { res, done } = await this.send(call, { idleMs: this.streamIdleTimeoutMs });
    const out = new EngineErrors((e) => this.socketError(e, call));
    if (transform) pipeline(res, transform, out, done);
    else pipeline(res, out, done);
    return out;
  }

  /**
   * Sends the call; resolves with a 2xx/304 answer, rejects with an EngineError otherwise. The
   * timer is cleared by `done`, or by the socket closing.
   */
  private send(
    call: Call,
    limit: { deadlineMs: number } | { idleMs: number },
  ): Promise<{ res: IncomingMessage; done: () => void }> {
    return new Promise((resolve, reject) => {
      const payload = call.body === undefined ? undefined : Buffer.from(JSON.stringify(call.body));
      const options: http.RequestOptions & { servername: string } = {
        socketPath: this.socketPath,
        // Named, so that the agent does not test "docker" against its IPv4 and IPv6
        // patterns on every call (a TLS server name it never uses: 1-5 ms each, measured).
        servername: "docker",
        method: call.method,
        path: withQuery(call.path, call.query),
        agent: false,
        headers: {
          Host: "docker",
          "Content-Type": "application/json",
          "Content-Length": payload?.length ?? 0,
          ...call.headers,
        },
      };
      const req = http.request(options);
      let res: IncomingMessage | undefined;
      const fail = (error: EngineError) => {
        if (res) res.destroy(error);
        else req.destroy(error);
      };
      let timer: NodeJS.Timeout | undefined;
      if ("deadlineMs" in limit) {
        timer = setTimeout(() => fail(timeoutError(call, limit.deadlineMs)), limit.deadlineMs);
      } else {
        req.setTimeout(limit.idleMs, () => fail(timeoutError(call, limit.idleMs)));
      }
      const done = () => {
        if (timer) clearTimeout(timer);
        req.setTimeout(0);
      };
      req.on("error", (e) => {
        done();
        reject(this.socketError(e, call));
      });
      req.on("response", (answer) => {
        res = answer;
        const status = answer.statusCode ?? 0;
        if ((status >= 200 && status < 300) || status === 304) {
          resolve({ res: answer, done });
          return;
        }
        readBounded(answer, ERROR_BODY_MAX, call)
          .then((body) => reject(httpError(call, status, body)))
          .catch((e: unknown) => reject(this.socketError(e, call)))
          .finally(done);
      });
      req.end(payload);
    });
  }

  private socketError(e: unknown, call: Call): EngineError {
    if (e instanceof EngineError) return e;
    const code = (e as NodeJS.ErrnoException | undefined)?.code;
    const cause = { cause: e };
    if (code === "EACCES" || code === "EPERM") {
      return new EngineError(
        "PERMISSION",
        `permission denied on the Docker socket ${this.socketPath}`,
        {
          ...cause,
          hint: "Run breachkit as root (reading a breached host needs it anyway).",
        },
      );
    }
    if (code?.startsWith("HPE_")) {
      // Node's HTTP parser: something answers on the socket, but not with HTTP.
      return new EngineError(
        "PROTOCOL",
        `${describe(call)}: the answer is not HTTP (${code})`,
        cause,
      );
    }
    if (code === "ECONNRESET" || code === "EPIPE" || code === "ERR_STREAM_PREMATURE_CLOSE") {
      return new EngineError(
        "DOWN",
        `the Docker engine closed the connection during ${describe(call)}`,
        {
          ...cause,
          hint: "The engine may have stopped or restarted: check it is running and try again.",
        },
      );
    }
    return new EngineError(
      "DOWN",
      `no Docker engine answers at ${this.endpoint} (${code ?? String(e)}): start the Docker engine, or set DOCKER_HOST to its socket`,
      {
        ...cause,
        hint: "Start the Docker engine (systemctl start docker, or dockerd), or set DOCKER_HOST=unix:///path/to/docker.sock to where it listens.",
      },
    );
  }
}

/**
 * The engine DOCKER_HOST names (`unix:///path`), else /var/run/docker.sock. Remote transports
 * are refused: evidence is collected on the host itself, and a tcp:// engine without TLS
 * would hand the collection to whoever sits on the network. DOCKER_CONTEXT is not read.
 */
export function engineOptionsFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  options: Omit<DockerEngineOptions, "socketPath"> = {},
): DockerEngineOptions {
  const host = env.DOCKER_HOST?.trim();
  if (!host) return { ...options, socketPath: DEFAULT_SOCKET };
  if (host.startsWith("unix://")) {
    const path = host.slice("unix://".length);
    if (path.startsWith("/")) return { ...options, socketPath: path };
  }
  throw new EngineError(
    "UNSUPPORTED",
    `DOCKER_HOST=${host} is not supported: breachkit reaches the engine of this host over its Unix socket only`,
    {
      hint: "breachkit talks to the engine on this host only: set DOCKER_HOST=unix:///path/to/docker.sock or unset it.",
    },
  );
}

/**
 * The engine address the user asked for, as they spelled it (even one refused above), so a
 * message names what was asked and never a socket that was not tried.
 */
export function requestedEndpoint(env: Readonly<Record<string, string | undefined>>): string {
  return env.DOCKER_HOST?.trim() || `unix://${DEFAULT_SOCKET}`;
}

/** A pass-through whose errors are EngineErrors, whatever destroyed the pipeline. */
class EngineErrors extends PassThrough {
  constructor(private readonly toEngineError: (e: unknown) => EngineError) {
    super();
  }
  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    callback(error ? this.toEngineError(error) : null);
  }
}

export function ref(idOrName: string): string {
  const bare = idOrName.startsWith("/") ? idOrName.slice(1) : idOrName;
  if (!REF.test(bare)) {
    throw new EngineError(
      "NOT_FOUND",
      `no such object: ${JSON.stringify(idOrName)} is not a Docker name or id`,
    );
  }
  return bare;
}

// An image reference as a path: Docker's reference alphabet ([host[:port]/]path[:tag][@digest],
// or an id), no "..", no query or fragment.
const IMAGE_REF = /^[a-zA-Z0-9][a-zA-Z0-9_.:/@-]*$/;

export function imageRef(idOrRef: string): string {
  if (!IMAGE_REF.test(idOrRef) || idOrRef.includes("..") || idOrRef.length > 512) {
    throw new EngineError(
      "NOT_FOUND",
      `no such image: ${JSON.stringify(idOrRef.slice(0, 200))} is not a Docker image reference or id`,
    );
  }
  return idOrRef;
}

function withQuery(path: string, query: Query | undefined): string {
  if (!query) return path;
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    params.set(key, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
  }
  const text = params.toString();
  return text ? `${path}?${text}` : path;
}

function describe(call: Call): string {
  return `${call.method} ${call.path}`;
}

function timeoutError(call: Call, ms: number): EngineError {
  return new EngineError(
    "TIMEOUT",
    `the Docker engine did not answer ${describe(call)} within ${ms / 1000} s`,
    {
      hint: "The engine may be overloaded or hung: check `docker info`, or retry with a longer timeout.",
    },
  );
}

function httpError(call: Call, status: number, body: Buffer): EngineError {
  // The engine's errors are {"message": "..."}; keep a short raw excerpt when they are not.
  let message = body.toString("utf8").slice(0, 500).trim();
  try {
    const parsed: unknown = JSON.parse(body.toString("utf8"));
    if (typeof parsed === "object" && parsed !== null && "message" in parsed) {
      message = String(parsed.message);
    }
  } catch {}
  const text = `${describe(call)}: ${message || `HTTP ${status}`}`;
  if (status === 404) return new EngineError("NOT_FOUND", text, { status });
  if (status === 409) return new EngineError("CONFLICT", text, { status });
  // 401 comes from an authorization plugin; a plain 403 is Docker refusing an operation
  // (disconnecting the host network), which is not a permission problem of the user.
  if (status === 401) return new EngineError("PERMISSION", text, { status });
  return new EngineError("HTTP", text, { status });
}

async function readBounded(res: IncomingMessage, max: number, call: Call): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of res as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) {
      const error = new EngineError(
        "TOO_LARGE",
        `${describe(call)}: the engine's answer exceeds ${max} bytes`,
      );
      res.destroy(error);
      throw error;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks, size);
}
