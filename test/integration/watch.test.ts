/**
 * breachkit watch against the lab and the real engine: the live view driven through tmux
 * (send-keys, capture-pane), containers started and removed (by id, only our own) while it
 * runs, the engine going away behind a proxy, and the NDJSON stream checked against its
 * published schema.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  copyFileSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Ajv2020 } from "ajv/dist/2020.js";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { WatchSample } from "../../src/model/watch-sample.js";
import { startDockerProxy } from "../helpers/docker-proxy.js";
import { type LabInfo, labDown, labUp } from "../helpers/lab.js";

const BIN = join(process.cwd(), "dist/cli/bin.cjs");
const TMUX = `bk-watch-${process.pid}`;
const tmp = mkdtempSync(join(tmpdir(), "bk-watch-it-"));
let lab: LabInfo;
const ours: string[] = [];

async function tmux(...args: string[]): Promise<string> {
  const r = await execa("tmux", ["-L", TMUX, ...args], { reject: false, stdin: "ignore" });
  if (r.exitCode !== 0) throw new Error(`tmux ${args[0]}: ${r.stderr}`);
  return r.stdout;
}

const pane = () => tmux("capture-pane", "-p", "-t", "w");

async function until<T>(
  what: string,
  ms: number,
  probe: () => Promise<T | null | undefined | false>,
): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    const v = await probe().catch((e: unknown) => {
      last = e;
      return null;
    });
    if (v) return v;
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what} ${last ? String(last) : ""}`);
    await sleep(100);
  }
}

/** watch --json as a child, its samples collected as they come. */
function watchJson(args: string[], env: Record<string, string> = {}) {
  const child: ChildProcess = spawn("node", [BIN, "watch", "--json", ...args], {
    env: { ...process.env, NO_COLOR: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const samples: WatchSample[] = [];
  const lines: string[] = [];
  let buf = "";
  let stderr = "";
  child.stdout!.on("data", (d: Buffer) => {
    buf += d.toString("utf8");
    let i = buf.indexOf("\n");
    while (i >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      lines.push(line);
      samples.push(JSON.parse(line) as WatchSample);
      i = buf.indexOf("\n");
    }
  });
  child.stderr!.on("data", (d: Buffer) => {
    stderr += d.toString("utf8");
  });
  const exited = new Promise<{ code: number | null; signal: string | null }>((r) =>
    child.once("exit", (code, signal) => r({ code, signal })),
  );
  const next = (what: string, ms: number, pred: (s: WatchSample) => boolean, from = 0) =>
    until(what, ms, async () => samples.slice(from).find(pred));
  return { child, samples, lines, exited, next, stderr: () => stderr };
}

beforeAll(async () => {
  await execa("npm", ["run", "build"]);
  lab = await labUp({ scenario: "contained", trojanSeconds: 300 });
}, 300_000);

afterAll(async () => {
  await execa("tmux", ["-L", TMUX, "kill-server"], { reject: false });
  for (const id of ours) await execa("docker", ["rm", "--force", id], { reject: false });
  await labDown();
  rmSync(tmp, { recursive: true, force: true });
}, 120_000);

describe("watch on a terminal (tmux, 80x24)", () => {
  it("shows the flooding container on top with its alarm, drills into wate, and q leaves a clean terminal", async () => {
    await tmux(
      "new-session",
      "-d",
      "-x",
      "80",
      "-y",
      "24",
      "-s",
      "w",
      "-e",
      "NO_COLOR=1",
      "bash --norc --noprofile",
    );
    await tmux("send-keys", "-t", "w", `node ${BIN} watch; echo EXIT=$?`, "Enter");
    const started = Date.now();
    // The top row by packets/s is the flooding container, its flood alarm below.
    const screen = await until("bk-lab-gitlab on top with its flood alarm", 3000, async () => {
      const text = await pane();
      const lines = text.split("\n");
      const top = lines[3] ?? "";
      return top.startsWith(">bk-lab-gitlab ") &&
        lines.some((l) => / HIGH watch\.flood +bk-lab-gitlab: sends /.test(l))
        ? text
        : null;
    });
    const took = Date.now() - started;
    expect(took).toBeLessThanOrEqual(3000);
    expect(screen.split("\n")[2]).toMatch(/PLACE\s+CPU%/);
    // Enter: the selected (top) row, drilled in: wate with its deleted executable.
    await tmux("send-keys", "-t", "w", "Enter");
    const detail = await until("wate in the drill-in", 5000, async () => {
      const text = await pane();
      return text.split("\n").find((l) => / wate +\/tmp\/wate \(deleted\)/.test(l)) ?? null;
    });
    expect(detail).toContain(String(lab.trojans[0]!.hostPid));
    // p pauses the display: the clock stops
    await tmux("send-keys", "-t", "w", "p");
    const paused = await until("PAUSED", 2000, async () =>
      (await pane()).includes("PAUSED") ? pane() : null,
    );
    await sleep(1500);
    expect((await pane()).split("\n")[0]).toBe(paused.split("\n")[0]);
    // q: back to the shell, main screen, cursor shown, nothing of the view left
    await tmux("send-keys", "-t", "w", "q");
    const after = await until("the shell again", 5000, async () => {
      const text = await pane();
      return /EXIT=[01]\n/.test(`${text}\n`) ? text : null;
    });
    expect(after).not.toContain("breachkit watch");
    expect(after).not.toContain("Alarms");
    expect(await tmux("display", "-p", "-t", "w", "#{alternate_on} #{cursor_flag}")).toBe("0 1");
  }, 30_000);
  it("restores the terminal when it crashes (an uncaught error) and on SIGTERM", async () => {
    const crash = join(tmp, "crash.cjs");
    writeFileSync(crash, 'setTimeout(() => { throw new Error("boom from the test"); }, 1500);\n');
    await tmux("send-keys", "-t", "w", "clear", "Enter");
    await tmux("send-keys", "-t", "w", `node -r ${crash} ${BIN} watch; echo CRASHED=$?`, "Enter");
    await until("the view", 5000, async () => (await pane()).includes("PLACE"));
    const after = await until("the shell after the crash", 10_000, async () => {
      const text = await pane();
      return /CRASHED=\d+/.test(text) ? text : null;
    });
    expect(after).toContain("boom from the test");
    expect(after).not.toContain("Alarms");
    expect(after).not.toContain("CRASHED=0");
    expect(await tmux("display", "-p", "-t", "w", "#{alternate_on} #{cursor_flag}")).toBe("0 1");
    // SIGTERM (a kill from another terminal): the view ends and restores the terminal too
    await tmux("send-keys", "-t", "w", "clear", "Enter");
    await tmux("send-keys", "-t", "w", `node ${BIN} watch; echo TERMED=$?`, "Enter");
    await until("the view", 5000, async () => (await pane()).includes("PLACE"));
    // the shell's child running watch: ours, found by its parent and checked by its command line
    const shell = Number(await tmux("display", "-p", "-t", "w", "#{pane_pid}"));
    const children = readFileSync(`/proc/${shell}/task/${shell}/children`, "utf8")
      .trim()
      .split(/\s+/)
      .map(Number);
    const watchPid = children.find((pid) =>
      readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`${BIN}\u0000watch`),
    );
    expect(watchPid).toBeGreaterThan(0);
    process.kill(watchPid!, "SIGTERM");
    const termed = await until("the shell after SIGTERM", 10_000, async () => {
      const text = await pane();
      return /TERMED=\d+/.test(text) ? text : null;
    });
    expect(termed).not.toContain("Alarms");
    expect(await tmux("display", "-p", "-t", "w", "#{alternate_on} #{cursor_flag}")).toBe("0 1");
  }, 30_000);
});

describe("watch --json", () => {
  it("picks up a container started while it runs and drops it when removed; judges a new process", async () => {
    const w = watchJson(["--interval", "0.3"]);
    try {
      await w.next("a first sample", 10_000, () => true);
      const name = `bk-watch-test-${process.pid}`;
      const id = (
        await execa("docker", [
          "run",
          "-d",
          "--network",
          "none",
          "--name",
          name,
          lab.image.ref,
          "sleep",
          "300",
        ])
      ).stdout.trim();
      ours.push(id);
      const from = w.samples.length;
      // at the next tick by its cgroup (its short id), named as soon as the engine lists it
      await w.next(
        "the new container",
        3000,
        (s) => s.rows.some((r) => r.containerId === id),
        from,
      );
      const named = await w.next("its name", 5000, (s) =>
        s.rows.some((r) => r.containerId === id && r.place === name),
      );
      expect(named.rows.find((r) => r.containerId === id)).toMatchObject({
        network: "own",
        processes: 1,
      });
      // a process started from a temp directory whose file is then deleted
      const exe = join(tmp, "bk-sleepy");
      copyFileSync("/bin/sleep", exe);
      const sleeper = spawn(exe, ["20"], { stdio: "ignore" });
      await sleep(50);
      unlinkSync(exe);
      try {
        const alarm = await w.next("the new process's alarm", 5000, (s) =>
          s.alarms.some((a) => a.place === "host" && a.text.includes("bk-sleepy")),
        );
        const rules = alarm.alarms.filter((a) => a.text.includes("bk-sleepy")).map((a) => a.rule);
        expect(rules.some((r) => r === "process.exe-in-tmp" || r === "process.deleted-exe")).toBe(
          true,
        );
      } finally {
        sleeper.kill("SIGKILL");
      }
      await execa("docker", ["rm", "--force", id]);
      const gone = w.samples.length;
      await w.next(
        "the container gone",
        5000,
        (s) => !s.rows.some((r) => r.containerId === id),
        gone,
      );
    } finally {
      w.child.kill("SIGTERM");
    }
    const end = await w.exited;
    expect(end.signal, w.stderr()).toBeNull();
    expect([0, 1]).toContain(end.code);
  }, 60_000);

  it("goes on when the engine goes away: the error in the samples, readings from the kernel", async () => {
    const proxy = await startDockerProxy();
    const w = watchJson(["--interval", "0.3"], { DOCKER_HOST: proxy.dockerHost });
    try {
      await w.next("names through the proxy", 10_000, (s) =>
        s.rows.some((r) => r.place === "bk-lab-gitlab"),
      );
      await proxy.close();
      const from = w.samples.length;
      const broken = await w.next("the engine's error", 10_000, (s) => !!s.engineError, from);
      const gitlab = broken.rows.find((r) => r.place === "bk-lab-gitlab");
      expect(gitlab?.txPacketsPerSec).toBeGreaterThan(1000);
      const count = w.samples.length;
      await w.next("more samples", 5000, () => true, count);
    } finally {
      w.child.kill("SIGTERM");
      await proxy.close().catch(() => {});
    }
    const end = await w.exited;
    expect(end.signal, w.stderr()).toBeNull();
    expect(end.code).toBe(1); // the flood is a high alarm
  }, 60_000);

  it("writes 30 samples valid against schemas/watch.schema.json, and --record keeps them", async () => {
    const rec = join(tmp, "watch.ndjson");
    const r = await execa(
      "node",
      [BIN, "watch", "--json", "--interval", "0.1", "--count", "30", "--record", rec],
      {
        reject: false,
        env: { NO_COLOR: "1" },
      },
    );
    expect(r.exitCode, r.stderr).toBe(1); // the lab floods
    const lines = r.stdout.trim().split("\n");
    expect(lines).toHaveLength(30);
    const ajv = new Ajv2020({ strict: false });
    const validate = ajv.compile(
      JSON.parse(readFileSync(join(process.cwd(), "schemas/watch.schema.json"), "utf8")),
    );
    for (const line of lines) {
      const sample = JSON.parse(line) as WatchSample;
      expect(validate(sample), JSON.stringify(validate.errors)).toBe(true);
      expect(sample.rows.some((row) => row.place === "bk-lab-gitlab")).toBe(true);
    }
    expect(readFileSync(rec, "utf8").trim().split("\n")).toEqual(lines);
  }, 60_000);

  it("--once prints one table and exits", async () => {
    const r = await execa("node", [BIN, "watch", "--once", "--interval", "0.5"], {
      reject: false,
      env: { NO_COLOR: "1" },
    });
    expect(r.stdout.split("\n")[3]).toMatch(/^>bk-lab-gitlab /);
    expect(r.stdout).not.toContain("\u001b");
    expect(r.exitCode).toBe(1);
  }, 30_000);
});
