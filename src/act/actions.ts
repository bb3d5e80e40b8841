/**
 * The only code in breachkit that changes the host: carry out a containment plan through the
 * Docker Engine API (and, for kill mode, signals to verified host pids). Every step is logged
 * in the bundle's collection log with `changedHost` and its undo, whether it worked or not.
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import type { BundleWriter } from "../evidence/types.js";
import { containerFromCgroup } from "../observe/proc/cgroup.js";
import { parseStat } from "../observe/proc/stat.js";
import { errorMessage } from "../util/result.js";
import type { ActionRecord, ContainPlan, PlannedStep } from "./contain-plan.js";
import type { DockerActions } from "./docker-actions.js";

/** Who a pid was when the plan was made: a later signal goes only to the same process. */
export interface PidIdentity {
  pid: number;
  /** Clock ticks after boot (field 22 of /proc/<pid>/stat): pid reuse changes it. */
  starttime: number;
  /** The executable's hash in the snapshot the plan was made from. */
  sha256: string;
  containerId: string;
}

async function readStat(pid: number) {
  try {
    return parseStat((await readFile(`/proc/${pid}/stat`, "latin1")).slice(0, 4096));
  } catch {
    return null;
  }
}

async function containerOf(pid: number): Promise<string | null> {
  try {
    return (
      containerFromCgroup((await readFile(`/proc/${pid}/cgroup`, "utf8")).slice(0, 65536))?.id ??
      null
    );
  } catch {
    return null;
  }
}

/**
 * Record the identity of a process to be killed, right after the snapshot. Null (with why)
 * when it cannot be pinned down: such a pid is never signalled.
 */
export async function captureIdentity(
  pid: number,
  sha256: string | null,
  containerId: string,
): Promise<{ identity: PidIdentity } | { error: string }> {
  if (sha256 === null) return { error: `pid ${pid}: its executable could not be hashed` };
  const stat = await readStat(pid);
  if (stat === null) return { error: `pid ${pid} is gone` };
  if ((await containerOf(pid)) !== containerId) {
    return { error: `pid ${pid} is no longer in the target container` };
  }
  return { identity: { pid, starttime: stat.starttime, sha256, containerId } };
}

const GONE = (pid: number) => `pid ${pid} is gone`;

/** Why the pid is no longer the process that was planned for, or null when it still is. */
export async function identityMismatch(id: PidIdentity): Promise<string | null> {
  const stat = await readStat(id.pid);
  if (stat === null || stat.state === "Z" || stat.state === "X") return GONE(id.pid);
  if (stat.starttime !== id.starttime) {
    return `pid ${id.pid} was reused by another process (start time changed)`;
  }
  if ((await containerOf(id.pid)) !== id.containerId) {
    return `pid ${id.pid} is not in the target container any more`;
  }
  let sha: string;
  try {
    sha = await sha256OfProcExe(id.pid);
  } catch (e) {
    return `pid ${id.pid}: its executable cannot be read (${errorMessage(e)})`;
  }
  if (sha !== id.sha256) return `pid ${id.pid} runs a different executable now`;
  return null;
}

/**
 * /proc/<pid>/exe is a magic link that reads the running binary even when its file is deleted
 * (sha256OfFile opens with O_NOFOLLOW, which this link needs to be followed for).
 */
function sha256OfProcExe(pid: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const hash = createHash("sha256");
    const stream = createReadStream(`/proc/${pid}/exe`);
    stream.on("data", (chunk) => hash.update(chunk));
    stream.on("error", reject);
    stream.on("end", () => resolve(hash.digest("hex")));
  });
}

async function gone(pid: number, starttime: number, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const stat = await readStat(pid);
    if (stat === null || stat.starttime !== starttime || stat.state === "Z" || stat.state === "X") {
      return true;
    }
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

export interface ExecuteOptions {
  docker: DockerActions;
  bundle: BundleWriter;
  /** For kill mode: the identities captured after the snapshot, by pid. */
  identities: ReadonlyMap<number, PidIdentity>;
  /** Grace period of `docker stop` before SIGKILL. */
  stopTimeoutSec: number;
  now?: () => Date;
}

/**
 * Run every step in order. A failing step is recorded and the next one still runs: a
 * container half-isolated is better than one left fully connected because the first
 * disconnect failed.
 */
export async function executePlan(
  plan: ContainPlan,
  opts: ExecuteOptions,
): Promise<ActionRecord[]> {
  const now = opts.now ?? (() => new Date());
  const records: ActionRecord[] = [];
  for (const step of plan.steps) {
    const startedAt = now().toISOString();
    let error: string | null = null;
    let changed = true;
    try {
      const skipped = await runStep(step, plan, opts);
      if (skipped !== null) {
        error = skipped;
        changed = false;
      }
    } catch (e) {
      error = errorMessage(e);
      changed = false;
    }
    const record: ActionRecord = {
      kind: step.kind,
      description: step.description,
      command: step.command,
      undo: step.undo,
      startedAt,
      endedAt: now().toISOString(),
      ok: error === null,
      error,
      ...(step.pid !== undefined ? { pid: step.pid } : {}),
      ...(step.network !== undefined ? { network: step.network } : {}),
    };
    records.push(record);
    opts.bundle.log({
      step: "contain",
      action: step.command,
      result: error === null ? "ok" : "error",
      durationMs: Date.parse(record.endedAt) - Date.parse(startedAt),
      ...(error !== null ? { error } : {}),
      changedHost: changed,
      details: {
        description: step.description,
        undo: step.undo,
        startedAt,
        containerId: plan.target.id,
      },
    });
  }
  return records;
}

/** Carries out one step; returns why it was skipped, or null when done. Throws on failure. */
async function runStep(
  step: PlannedStep,
  plan: ContainPlan,
  opts: ExecuteOptions,
): Promise<string | null> {
  const id = plan.target.id;
  switch (step.kind) {
    case "restart-policy":
      await opts.docker.updateRestartPolicy(id, "no");
      return null;
    case "pause":
      await opts.docker.pause(id);
      return null;
    case "disconnect":
      await opts.docker.disconnectNetwork(id, step.network ?? "");
      return null;
    case "stop":
      await opts.docker.stop(id, { timeoutSec: opts.stopTimeoutSec });
      return null;
    case "kill": {
      const pid = step.pid ?? -1;
      const identity = opts.identities.get(pid);
      if (!identity) return `pid ${pid} was not pinned down after the snapshot: not signalled`;
      const mismatch = await identityMismatch(identity);
      // Gone already is what the step wanted; anything else means the pid is not ours to signal.
      if (mismatch === GONE(pid)) return null;
      if (mismatch !== null) return `${mismatch}: not signalled`;
      process.kill(pid, "SIGKILL");
      if (!(await gone(pid, identity.starttime, 5000))) {
        throw new Error(`pid ${pid} did not end within 5 s of SIGKILL`);
      }
      return null;
    }
  }
}
