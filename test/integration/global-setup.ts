/**
 * Integration tests need a Docker engine. When none answers, start `dockerd` in the background
 * (its output goes to a log file, never to the test output: a daemon holding the runner's pipe
 * would keep CI from finishing) and stop it, by pid, when the run ends. The lab is torn down at
 * the end of the run as a safety net, whatever the test files did.
 */
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { labDown } from "../../lab/lab-core.js";

const START_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 30_000;

async function engineAnswers(): Promise<boolean> {
  try {
    const r = await execa("docker", ["version", "--format", "{{.Server.Version}}"], {
      reject: false,
      timeout: 10_000,
      stdin: "ignore",
    });
    return r.exitCode === 0 && r.stdout.trim() !== "";
  } catch {
    return false; // no docker CLI at all
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function tail(path: string, lines = 20): string {
  try {
    return readFileSync(path, "utf8").split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

async function startDockerd(): Promise<{ pid: number; logPath: string }> {
  const host = process.env.DOCKER_HOST;
  if (host && !host.startsWith("unix://")) {
    throw new Error(
      `no Docker engine answers at DOCKER_HOST=${host}; start it, or unset DOCKER_HOST`,
    );
  }
  const dir = await mkdtemp(join(tmpdir(), "breachkit-dockerd-"));
  const logPath = join(dir, "dockerd.log");
  const fd = openSync(logPath, "a");
  const args = host ? ["--host", host] : [];
  const child = spawn("dockerd", args, { detached: true, stdio: ["ignore", fd, fd] });
  closeSync(fd);
  const failed = new Promise<Error>((resolve) => child.once("error", resolve));
  const exited = new Promise<string>((resolve) =>
    child.once("exit", (code, signal) => resolve(`dockerd exited (${signal ?? code})`)),
  );
  child.unref();
  const deadline = Date.now() + START_TIMEOUT_MS;
  let problem: string | null = null;
  while (problem === null) {
    if (await engineAnswers()) return { pid: child.pid ?? -1, logPath };
    const early = await Promise.race([
      failed.then(
        (e) => `cannot start dockerd: ${e.message} (install docker.io: scripts/setup.sh)`,
      ),
      exited,
      sleep(500).then(() => null),
    ]);
    if (early !== null) problem = early;
    else if (Date.now() > deadline)
      problem = `dockerd did not answer within ${START_TIMEOUT_MS / 1000} s`;
  }
  if (child.pid !== undefined && alive(child.pid)) await stopPid(child.pid);
  throw new Error(`${problem}\n--- ${logPath} (last lines) ---\n${tail(logPath)}`);
}

async function stopPid(pid: number): Promise<void> {
  if (!alive(pid)) return;
  process.kill(pid, "SIGTERM");
  const deadline = Date.now() + STOP_TIMEOUT_MS;
  while (alive(pid) && Date.now() < deadline) await sleep(200);
  if (alive(pid)) process.kill(pid, "SIGKILL");
}

export default async function setup(): Promise<() => Promise<void>> {
  let started: { pid: number; logPath: string } | null = null;
  if (!(await engineAnswers())) started = await startDockerd();
  return async () => {
    try {
      await labDown();
    } catch (err) {
      process.stderr.write(
        `lab teardown failed: ${err instanceof Error ? err.message : String(err)}\n`,
      );
    }
    if (started !== null && started.pid > 0) {
      await stopPid(started.pid);
      // The daemon's log is kept only when it would not stop.
      if (!alive(started.pid)) await rm(dirname(started.logPath), { recursive: true, force: true });
    }
  };
}
