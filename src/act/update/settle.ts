/**
 * After a recreate: is the new container well? With a healthcheck, until the engine says
 * healthy (or unhealthy, or the deadline); without one, it must keep running, without restarts,
 * for the whole settle period.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { DockerEngine } from "../../observe/docker/engine.js";
import { errorMessage } from "../../util/result.js";

export interface SettleResult {
  ok: boolean;
  /** healthy | unhealthy | starting | running | exited | restarting | gone ... */
  status: string;
  waitedMs: number;
  detail: string | null;
}

interface StateLike {
  Status?: string;
  Running?: boolean;
  Restarting?: boolean;
  ExitCode?: number;
  Health?: { Status?: string; Log?: { ExitCode?: number; Output?: string }[] | null } | null;
}

export async function waitSettled(
  engine: DockerEngine,
  id: string,
  opts: { settleMs: number; pollMs?: number; signal?: AbortSignal },
): Promise<SettleResult> {
  const t0 = Date.now();
  const poll = opts.pollMs ?? 250;
  let restarts: number | null = null;
  for (;;) {
    let state: StateLike;
    let restartCount = 0;
    try {
      const inspect = (await engine.inspectContainer(id)) as {
        State?: StateLike;
        RestartCount?: number;
      };
      state = inspect.State ?? {};
      restartCount = inspect.RestartCount ?? 0;
    } catch (e) {
      return { ok: false, status: "gone", waitedMs: Date.now() - t0, detail: errorMessage(e) };
    }
    const waited = Date.now() - t0;
    restarts ??= restartCount;
    const health = state.Health?.Status;
    const lastLog = state.Health?.Log?.at(-1);
    const healthDetail = lastLog
      ? `last healthcheck: exit ${lastLog.ExitCode ?? "?"}${lastLog.Output ? `, ${lastLog.Output.trim().slice(0, 300)}` : ""}`
      : null;
    if (!state.Running || state.Restarting || restartCount !== restarts) {
      const status =
        state.Restarting || restartCount !== restarts ? "restarting" : (state.Status ?? "exited");
      return {
        ok: false,
        status,
        waitedMs: waited,
        detail: `the new container is ${status}${state.ExitCode ? ` (exit code ${state.ExitCode})` : ""}`,
      };
    }
    if (health === "healthy")
      return { ok: true, status: "healthy", waitedMs: waited, detail: healthDetail };
    if (health === "unhealthy")
      return { ok: false, status: "unhealthy", waitedMs: waited, detail: healthDetail };
    if (waited >= opts.settleMs) {
      if (health === undefined || health === "none") {
        return {
          ok: true,
          status: "running",
          waitedMs: waited,
          detail: `kept running for ${Math.round(waited / 1000)} s`,
        };
      }
      return {
        ok: false,
        status: health,
        waitedMs: waited,
        detail: `not healthy within ${Math.round(opts.settleMs / 1000)} s${healthDetail ? ` (${healthDetail})` : ""}`,
      };
    }
    if (opts.signal?.aborted) {
      return {
        ok: false,
        status: health ?? "running",
        waitedMs: waited,
        detail: "interrupted while waiting",
      };
    }
    await sleep(poll);
  }
}
