/**
 * Every change breachkit makes through the Docker Engine API: pause, unpause, stop, start,
 * kill, network disconnect and connect, restart policy. The read-only client in
 * observe/docker/engine.ts shares the transport but sends GET only; the source-rules test
 * holds that POST and DELETE requests are built here and nowhere else.
 */
import {
  type Call,
  type DockerEngineOptions,
  EngineTransport,
  ERROR_BODY_MAX,
  engineOptionsFromEnv,
  ref,
} from "../observe/docker/engine-transport.js";
import { UpdateResponseSchema } from "../observe/docker/engine-types.js";

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

  /** A state change: true when done, false when the engine says it was already so (304). */
  private async change(call: Call): Promise<boolean> {
    let status = 0;
    await this.#transport.raw(call, ERROR_BODY_MAX, (res) => {
      status = res.statusCode ?? 0;
    });
    return status !== 304;
  }
}
