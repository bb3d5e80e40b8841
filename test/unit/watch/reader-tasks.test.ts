import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { WatchReader } from "../../../src/observe/watch/reader.js";

/** A /proc of a few processes on the host (no containers), with its loadavg. */
function fakeProc(): { root: string; add(pid: number): void; loadavg(text: string): void } {
  const root = mkdtempSync(join(tmpdir(), "bk-watch-proc-"));
  const add = (pid: number) => {
    const d = join(root, String(pid));
    mkdirSync(join(d, "ns"), { recursive: true });
    const rest = Array.from({ length: 49 }, (_, i) => (i === 18 ? "1000" : "0")).join(" ");
    writeFileSync(join(d, "stat"), `${pid} (sleep) S 1 ${pid} ${pid} ${rest}\n`);
    writeFileSync(join(d, "cgroup"), "0::/user.slice\n");
    symlinkSync("/usr/bin/sleep", join(d, "exe"));
    symlinkSync("net:[4026531992]", join(d, "ns", "net"));
  };
  return {
    root,
    add,
    loadavg: (text) => writeFileSync(join(root, "loadavg"), text),
  };
}

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) rmSync(r, { recursive: true, force: true });
});

async function hostProcesses(r: WatchReader): Promise<number> {
  const reading = await r.tick();
  return reading.places.find((p) => p.containerId === null)?.processes ?? -1;
}

describe("WatchReader: /proc listed only when a task came or went", () => {
  it("keeps the pids it holds while loadavg's task count and last pid stay, and lists again when either moves", async () => {
    const p = fakeProc();
    roots.push(p.root);
    p.add(1);
    p.add(200);
    p.loadavg("0.00 0.01 0.05 1/300 200\n");
    const r = new WatchReader({ procRoot: p.root, engine: null, selfPid: 999999, clockTicks: 100 });
    expect(await hostProcesses(r)).toBe(2);
    // The first two ticks after a new pid re-read its exe, so /proc is listed then.
    expect(await hostProcesses(r)).toBe(2);
    expect(await hostProcesses(r)).toBe(2);
    // A pid that appears while the stamp is the same is not listed: the stamp says no task came.
    p.add(201);
    expect(await hostProcesses(r)).toBe(2);
    // The last pid moved: listed again, the new process is seen (and reported as new).
    p.loadavg("0.00 0.01 0.05 1/301 201\n");
    const reading = await r.tick();
    expect(reading.places.find((x) => x.containerId === null)?.processes).toBe(3);
    expect(reading.newProcesses.map((n) => n.pid)).toEqual([201]);
    // A process gone with the count down: listed again.
    rmSync(join(p.root, "200"), { recursive: true });
    p.loadavg("0.00 0.01 0.05 1/300 201\n");
    expect(await hostProcesses(r)).toBe(2);
  });

  it("lists /proc at every tick where loadavg cannot be read", async () => {
    const p = fakeProc();
    roots.push(p.root);
    p.add(1);
    const r = new WatchReader({ procRoot: p.root, engine: null, selfPid: 999999, clockTicks: 100 });
    expect(await hostProcesses(r)).toBe(1);
    for (let i = 0; i < 3; i++) await r.tick();
    p.add(300);
    expect(await hostProcesses(r)).toBe(2);
  });
});
