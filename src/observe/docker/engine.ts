/**
 * The read-only Docker Engine client: every call is a GET (inspect, list, logs, export, top,
 * changes). Changing the host (pause, stop, kill, disconnect, restart policy) is act's
 * business (act/docker-actions.ts) over the same transport (engine-transport.ts), so that
 * nothing that observes can change what it observes.
 */
import type { Readable } from "node:stream";
import { demuxDockerStream } from "./demux.js";
import {
  type DockerEngineOptions,
  EngineTransport,
  engineOptionsFromEnv,
  imageRef,
  ref,
} from "./engine-transport.js";
import {
  ChangesSchema,
  type ContainerInspect,
  ContainerInspectSchema,
  type ContainerSummary,
  ContainerSummarySchema,
  type ContainerTop,
  ContainerTopSchema,
  type EngineInfo,
  EngineInfoSchema,
  type EngineVersion,
  EngineVersionSchema,
  type FileChange,
  type ImageInspect,
  ImageInspectSchema,
  type NetworkSummary,
  NetworkSummarySchema,
} from "./engine-types.js";

export { DEFAULT_SOCKET, type DockerEngineOptions } from "./engine-transport.js";

export interface LogsOptions {
  /** Unix seconds or a Date: only lines at or after it. */
  since?: Date | number;
  /** Unix seconds or a Date: only lines before it. */
  until?: Date | number;
  /** Prefix each line with the engine's RFC 3339 nano timestamp (default true: evidence). */
  timestamps?: boolean;
  stdout?: boolean;
  stderr?: boolean;
  /** Whether the container has a TTY, when the caller already inspected it (saves a call). */
  tty?: boolean;
}

export class DockerEngine {
  readonly socketPath: string;
  /** As DOCKER_HOST spells it: `unix:///var/run/docker.sock`. */
  readonly endpoint: string;
  // Private: a holder of the read client cannot reach the transport to send anything else.
  readonly #transport: EngineTransport;

  constructor(options: DockerEngineOptions) {
    this.#transport = new EngineTransport(options);
    this.socketPath = this.#transport.socketPath;
    this.endpoint = this.#transport.endpoint;
  }

  /** The engine DOCKER_HOST names (see engineOptionsFromEnv); remote transports refused. */
  static fromEnv(
    env: Readonly<Record<string, string | undefined>>,
    options: Omit<DockerEngineOptions, "socketPath"> = {},
  ): DockerEngine {
    return new DockerEngine(engineOptionsFromEnv(env, options));
  }

  /** "OK" when the engine answers. */
  async ping(): Promise<string> {
    const body = await this.#transport.raw({ method: "GET", path: "/_ping" }, 1024);
    return body.toString("utf8");
  }

  async version(): Promise<EngineVersion> {
    return this.#transport.json({ method: "GET", path: "/version" }, EngineVersionSchema);
  }

  async info(): Promise<EngineInfo> {
    return this.#transport.json({ method: "GET", path: "/info" }, EngineInfoSchema);
  }

  /**
   * /info, with the API version the engine speaks: every answer of the Engine API names it
   * in its Api-Version header (null when this one did not).
   */
  async infoAndApiVersion(): Promise<{ info: EngineInfo; apiVersion: string | null }> {
    let apiVersion: string | null = null;
    const info = await this.#transport.json(
      { method: "GET", path: "/info" },
      EngineInfoSchema,
      (res) => {
        const h = res.headers["api-version"];
        apiVersion = typeof h === "string" && h !== "" ? h : null;
      },
    );
    return { info, apiVersion };
  }

  async listContainers(options: { all?: boolean } = {}): Promise<ContainerSummary[]> {
    return this.#transport.json(
      { method: "GET", path: "/containers/json", query: { all: options.all ?? false } },
      ContainerSummarySchema.array(),
    );
  }

  /** The raw inspect document (map it with `toContainer`, redact it with `redactInspect`). */
  async inspectContainer(idOrName: string): Promise<ContainerInspect> {
    return this.#transport.json(
      { method: "GET", path: `/containers/${ref(idOrName)}/json` },
      ContainerInspectSchema,
    );
  }

  /** Paths added, changed or deleted in the writable layer since creation (no hashes, no times). */
  async containerChanges(id: string): Promise<FileChange[]> {
    // The engine walks the whole writable layer: slow on a big one.
    return this.#transport.json(
      {
        method: "GET",
        path: `/containers/${ref(id)}/changes`,
        timeoutMs: this.#transport.timeoutMs * 4,
      },
      ChangesSchema,
    );
  }

  /** `ps` run by the engine on the host (not inside the container); CONFLICT when not running. */
  async containerTop(id: string, psArgs?: string): Promise<ContainerTop> {
    const top = await this.#transport.json(
      { method: "GET", path: `/containers/${ref(id)}/top`, query: { ps_args: psArgs } },
      ContainerTopSchema,
    );
    return { titles: top.Titles, processes: top.Processes ?? [] };
  }

  /**
   * The container's log as the engine serves it, demultiplexed to the bytes the container wrote
   * (stdout and stderr interleaved in arrival order). Not the raw log file: the json-file driver
   * has already replaced invalid UTF-8 with U+FFFD when it stored the line.
   */
  async containerLogs(id: string, options: LogsOptions = {}): Promise<Readable> {
    const tty = options.tty ?? hasTty(await this.inspectContainer(id));
    return this.#transport.stream(
      {
        method: "GET",
        path: `/containers/${ref(id)}/logs`,
        query: {
          stdout: options.stdout ?? true,
          stderr: options.stderr ?? true,
          timestamps: options.timestamps ?? true,
          since: options.since === undefined ? undefined : unixTime(options.since),
          until: options.until === undefined ? undefined : unixTime(options.until),
        },
      },
      tty ? undefined : demuxDockerStream(),
    );
  }

  /** The container's filesystem as a tar (volumes not included). */
  async exportContainer(id: string): Promise<Readable> {
    return this.#transport.stream({ method: "GET", path: `/containers/${ref(id)}/export` });
  }

  /** A tar of `path` inside the container (a file or a directory). */
  async getArchive(id: string, path: string): Promise<Readable> {
    return this.#transport.stream({
      method: "GET",
      path: `/containers/${ref(id)}/archive`,
      query: { path },
    });
  }

  /**
   * An image's inspect (`Id`, `RepoDigests`, `RepoTags`, `Created`, `Config`), by id or by a
   * reference (`127.0.0.1:5000/app:1`); NOT_FOUND when the engine has no such image.
   */
  async inspectImage(idOrRef: string): Promise<ImageInspect> {
    return this.#transport.json(
      { method: "GET", path: `/images/${imageRef(idOrRef)}/json` },
      ImageInspectSchema,
    );
  }

  async listNetworks(): Promise<NetworkSummary[]> {
    return this.#transport.json({ method: "GET", path: "/networks" }, NetworkSummarySchema.array());
  }
}

function hasTty(inspect: ContainerInspect): boolean {
  const config = inspect.Config;
  return (
    typeof config === "object" && config !== null && (config as { Tty?: unknown }).Tty === true
  );
}

/** The engine's timestamp form "seconds.nanoseconds", exact to the millisecond of a Date. */
function unixTime(t: Date | number): string {
  const ms = t instanceof Date ? t.getTime() : Math.round(t * 1000);
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  return `${seconds}.${String(nanos).padStart(9, "0")}`;
}
