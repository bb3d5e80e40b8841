/**
 * The sleeping processes the benchmarks start to load the process table: ours, by pid, and
 * only ours. They are ended through their child handles (Node never signals a reaped pid, so
 * no pid reuse), SIGTERM first, SIGKILL after a grace period, and waited for until reaped.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";

const SETTLE_MS = 10_000;

export const exited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

export class Sleepers {
  private readonly children = new Map<number, ChildProcess>();

  get size(): number {
    return this.children.size;
  }

  /** Start `n` `sleep SECONDS` processes and wait until every one has been spawned. */
  async start(n: number, seconds: number): Promise<void> {
    const started: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const child = spawn("sleep", [String(seconds)], { stdio: "ignore" });
      started.push(
        new Promise((resolve, reject) => {
          child.once("spawn", () => {
            if (child.pid !== undefined) this.children.set(child.pid, child);
            resolve();
          });
          child.once("error", reject);
        }),
      );
    }
    await Promise.all(started);
  }

  /** Signal exactly the children started here, and wait until Node has reaped them. */
  async stop(): Promise<void> {
    const children = [...this.children.values()];
    this.children.clear();
    const waits = children.map(
      (c) =>
        new Promise<void>((resolve) => (exited(c) ? resolve() : c.once("exit", () => resolve()))),
    );
    for (const c of children) if (!exited(c)) c.kill("SIGTERM");
    const settled = await Promise.race([
      Promise.all(waits).then(() => true),
      sleep(SETTLE_MS, false, { ref: false }),
    ]);
    if (!settled) {
      for (const c of children) if (!exited(c)) c.kill("SIGKILL");
      await Promise.all(waits);
    }
  }
}
