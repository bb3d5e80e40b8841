/**
 * Every change breachkit makes through the Docker Engine API: pause, unpause, stop, start,
 * kill, network disconnect and connect, restart policy. The read-only client in
 * observe/docker/engine.ts shares the transport but sends GET only; the source-rules test
 * holds that POST and DELETE requests are built here and nowhere else.
 */

import { EngineError } from "../observe/docker/engine-error.js";
import {
  type Call,
  type DockerEngineOptions,
  EngineTransport,
  ERROR_BODY_MAX,
  engineOptionsFromEnv,
  imageRef,
  ref,
} from "../observe/docker/engine-transport.js";
import { CreateResponseSchema, UpdateResponseSchema } from "../observe/docker/engine-types.js";

export type RestartPolicyName = "no" | "always" | "unless-stopped" | "on-failure";

export class DockerActions {
  readonly #transport: EngineTransport;

  constructor(options: DockerEngineOptions) {
    this.#transport = new EngineTransport(options);
  }

  /** The engine DOCKER_HOST names, as the read client finds it. */
  static fromEnv(
    env: Readonly<Record<string, string | undefined>>,
    options: Omit<DockerEngineOptions, "socketPath"> = {},
  ): DockerActions {
    return new DockerActions(engineOptionsFromEnv(env, options));
  }

  /** Freeze all its processes (freezer cgroup). CONFLICT when already paused or not running. */
  async pause(id: string): Promise<void> {
    await this.change({ method: "POST", path: `/containers/${ref(id)}/pause` });
  }

  async unpause(id: string): Promise<void> {
    await this.change({ method: "POST", path: `/containers/${ref(id)}/unpause` });
  }

  /** SIGTERM, then SIGKILL after `timeoutSec`. false when it was already stopped. */
  async stop(id: string, options: { timeoutSec?: number } = {}): Promise<boolean> {
    const t = options.timeoutSec ?? 10;
    return this.change({
      method: "POST",
      path: `/containers/${ref(id)}/stop`,
      query: { t },
      timeoutMs: t * 1000 + this.#transport.timeoutMs,
    });
  }

  /** false when it was already running. */
  async start(id: string): Promise<boolean> {
    return this.change({ method: "POST", path: `/containers/${ref(id)}/start` });
  }

  /** Send a signal to the container's init process (default SIGKILL). */
  async kill(id: string, signal = "SIGKILL"): Promise<void> {
    await this.change({ method: "POST", path: `/containers/${ref(id)}/kill`, query: { signal } });
  }

  /** Change the restart policy in place, so a stopped container is not brought back. Warnings. */
  async updateRestartPolicy(
    id: string,
    name: RestartPolicyName,
    maximumRetryCount = 0,
  ): Promise<string[]> {
    const answer = await this.#transport.json(
      {
        method: "POST",
        path: `/containers/${ref(id)}/update`,
        body: { RestartPolicy: { Name: name, MaximumRetryCount: maximumRetryCount } },
      },
      UpdateResponseSchema,
    );
    return answer.Warnings ?? [];
  }

  async disconnectNetwork(
    id: string,
    network: string,
    options: { force?: boolean } = {},
  ): Promise<void> {
    await this.change({
      method: "POST",
      path: `/networks/${ref(network)}/disconnect`,
      body: { Container: ref(id), Force: options.force ?? false },
    });
  }

  /** The undo of disconnectNetwork. */
  async connectNetwork(id: string, network: string): Promise<void> {
    await this.change({
      method: "POST",
      path: `/networks/${ref(network)}/connect`,
      body: { Container: ref(id) },
    });
  }

  /**
   * Pull `repository` at `tagOrDigest` (a digest pins the exact image) and wait for the end;
   * the engine reports a failed pull inside its progress stream, which is read to the end.
   * `registryAuth` is the X-Registry-Auth header (base64 JSON), when the registry needs one.
   */
  async pullImage(
    repository: string,
    tagOrDigest: string,
    options: { registryAuth?: string | undefined; timeoutMs?: number } = {},
  ): Promise<void> {
    const call: Call = {
      method: "POST",
      path: "/images/create",
      query: { fromImage: imageRef(repository), tag: tagOrDigest },
      ...(options.registryAuth ? { headers: { "X-Registry-Auth": options.registryAuth } } : {}),
    };
    const stream = await this.#transport.stream(call);
    let tail = "";
    let failure: string | null = null;
    let bytes = 0;
    const deadline = Date.now() + (options.timeoutMs ?? 600_000);
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      const lines = (tail + chunk.toString("utf8")).split("\n");
      tail = lines.pop() ?? "";
      for (const line of lines) failure ??= pullError(line);
      if (Date.now() > deadline) {
        stream.destroy();
        throw new EngineError("TIMEOUT", `pulling ${repository}@${tagOrDigest} took too long`);
      }
      if (bytes > 64 * 1024 * 1024) {
        stream.destroy();
        throw new EngineError("TOO_LARGE", "the pull's progress stream is too large");
      }
    }
    failure ??= pullError(tail);
    if (failure !== null) {
      throw new EngineError("HTTP", `pulling ${repository}@${tagOrDigest} failed: ${failure}`);
    }
  }

  /** Point `repo:tag` at an image (docker tag). */
  async tagImage(image: string, repo: string, tag: string): Promise<void> {
    await this.change({
      method: "POST",
      path: `/images/${imageRef(image)}/tag`,
      query: { repo: imageRef(repo), tag },
    });
  }

  /** Create a container from a full create body (Config fields, HostConfig, NetworkingConfig). */
  async createContainer(
    name: string,
    body: Record<string, unknown>,
  ): Promise<{ id: string; warnings: string[] }> {
    const answer = await this.#transport.json(
      { method: "POST", path: "/containers/create", query: { name: ref(name) }, body },
      CreateResponseSchema,
    );
    return { id: answer.Id, warnings: answer.Warnings ?? [] };
  }

  /** docker rm [-f]; never its volumes (v=0): data outlives the container. */
  async removeContainer(id: string, options: { force?: boolean } = {}): Promise<void> {
    await this.change({
      method: "DELETE",
      path: `/containers/${ref(id)}`,
      query: { force: options.force ?? false, v: false },
    });
  }

  async renameContainer(id: string, newName: string): Promise<void> {
    await this.change({
      method: "POST",
      path: `/containers/${ref(id)}/rename`,
      query: { name: ref(newName) },
    });
  }

  /** Connect with an endpoint configuration (aliases, static addresses), as `docker network connect --alias --ip`. */
  async connectNetworkWith(
    id: string,
    network: string,
    endpointConfig: Record<string, unknown>,
  ): Promise<void> {
    await this.change({
      method: "POST",
      path: `/networks/${ref(network)}/connect`,
      body: { Container: ref(id), EndpointConfig: endpointConfig },
    });
  }

  /** A state change: true when done, false when the engine says it was already so (304). */
  private async change(call: Call): Promise<boolean> {
    let status = 0;
    await this.#transport.raw(call, ERROR_BODY_MAX, (res) => {
      status = res.statusCode ?? 0;
    });
    return status !== 304;
  }
}

/** The error of one line of a pull's progress stream, or null. */
function pullError(line: string): string | null {
  const t = line.trim();
  if (t === "") return null;
  try {
    const j = JSON.parse(t) as { error?: unknown; errorDetail?: { message?: unknown } };
    if (typeof j.error === "string") return j.error.slice(0, 500);
    if (typeof j.errorDetail?.message === "string") return j.errorDetail.message.slice(0, 500);
  } catch {
    return null;
  }
  return null;
}
