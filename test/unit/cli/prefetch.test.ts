/**
 * The process reading the CLI starts before it loads a command: which commands and
 * arguments start it (COMMANDS' readsProcesses), and when startReadingProcesses takes it
 * (fresh, of /proc, with our pid left out) or reads again.
 */
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { COMMANDS } from "../../../src/cli/commands/index.js";
import { startsReading } from "../../../src/cli/early.js";
import { commandsFor } from "../../../src/cli/main.js";
import type { NativeReading } from "../../../src/observe/proc/native-read.js";
import type { ProcessPrefetch } from "../../../src/observe/proc/prefetch.js";
import { PREFETCH_MAX_AGE_MS, prefetchProcesses } from "../../../src/observe/proc/prefetch.js";
import { startReadingProcesses } from "../../../src/observe/proc/processes.js";
import type { RawProcess, RawReadResult } from "../../../src/observe/proc/raw-read.js";

const readsProcesses = (args: string[]) => {
  const [cmd] = commandsFor(args);
  return cmd?.readsProcesses?.(args);
};

describe("which command lines start the process reading early", () => {
  it("every command that takes a live snapshot, and only those", () => {
    expect(readsProcesses(["snapshot"])).toBe(true);
    expect(readsProcesses(["snapshot", "--json", "--interval", "2"])).toBe(true);
    expect(readsProcesses(["triage"])).toBe(true);
    expect(readsProcesses(["collect", "--archive"])).toBe(true);
    expect(readsProcesses(["contain", "web"])).toBe(true);
  });

  it("not for a snapshot of a mounted disk or a triage of a bundle, in either spelling", () => {
    expect(readsProcesses(["snapshot", "--root", "/mnt/disk"])).toBe(false);
    expect(readsProcesses(["snapshot", "--root=/mnt/disk"])).toBe(false);
    expect(readsProcesses(["triage", "--bundle", "x"])).toBe(false);
    expect(readsProcesses(["triage", "--bundle=x"])).toBe(false);
    // A value that merely looks like the flag is not the flag.
    expect(readsProcesses(["triage", "--bundles"])).toBe(true);
  });

  it("not for the commands that read no processes", () => {
    expect(readsProcesses(["scan", "/srv"])).toBeUndefined();
    expect(readsProcesses(["verify", "bundle.tar"])).toBeUndefined();
    const reading = COMMANDS.filter((c) => c.readsProcesses !== undefined).map((c) => c.name);
    expect(reading.sort()).toEqual(["collect", "contain", "snapshot", "triage"]);
  });

  it("one command is named only when the arguments name one (not for help or the version)", () => {
    expect(commandsFor(["snapshot", "--json"]).map((c) => c.name)).toEqual(["snapshot"]);
    expect(commandsFor(["--version"])).toEqual([]);
    expect(commandsFor(["--help"]).length).toBe(COMMANDS.length);
  });

  it("the built entry's early decision (early.ts) is the CLI's, for every kind of line", () => {
    const lines = [
      ["snapshot"],
      ["snapshot", "--root", "/mnt"],
      ["snapshot", "--root=/mnt"],
      ["snapshot", "--help"],
      ["-h", "triage"],
      ["triage", "--bundle", "x"],
      ["triage", "--bundles"],
      ["collect"],
      ["contain", "web", "--dry-run"],
      ["scan"],
      ["verify", "b"],
      ["--version"],
      [],
      ["__proto__"],
      ["constructor"],
      ["toString"],
      ["snapshotx"],
    ];
    for (const args of lines) {
      const needed = commandsFor(args);
      const cli =
        needed.length === 1 &&
        !args.includes("-h") &&
        !args.includes("--help") &&
        needed[0]?.readsProcesses?.(args) === true;
      expect(startsReading(args), args.join(" ")).toBe(cli);
    }
  });

  it("no reading when the JS reader is asked for", () => {
    expect(prefetchProcesses({ BREACHKIT_PROC_READER: "js" })).toBeNull();
  });
});

describe("startReadingProcesses with a prefetched reading", () => {
  const dir = mkdtempSync(join(tmpdir(), "bk-prefetch-"));
  const marker = join(dir, "spawned");
  // A native reader that leaves a mark and reads nothing: whether it ran, and that its
  // (empty) reading and not the prefetched one was used, both show.
  const reader = join(dir, "reader");
  writeFileSync(reader, `#!/bin/sh\n: > '${marker}'\nprintf 'BKPR0004E'\n`);
  chmodSync(reader, 0o755);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  // No pid_max allows it: the process can only come from the prefetched reading.
  const FAKE_PID = 2_147_483_000;
  const fakeProcess: RawProcess = {
    pid: FAKE_PID,
    stat: `${FAKE_PID} (prefetched) S 1 1 1 0 -1 4194560 0 0 0 0 1 1 0 0 20 0 1 0 100 0 10 0\n`,
    status: "Name:\tprefetched\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n",
    cmdline: new Uint8Array(Buffer.from("prefetched\0")),
    cgroup: "0::/\n",
    cwd: "/",
    exeLink: null,
    exeError: "ENOENT",
    exeStat: null,
    exeStatError: null,
    ns: [null, null, null],
    sockets: [],
  };
  // A reading that hands its one process over only at its end.
  const done = (result: Promise<RawReadResult>): NativeReading => {
    result.catch(() => {});
    return { subscribe: () => {}, done: result, stop: () => {} };
  };
  const prefetch = (over: Partial<ProcessPrefetch> = {}): ProcessPrefetch => ({
    reading: done(Promise.resolve({ processes: [fakeProcess], failures: [] })),
    startedAtMs: Date.now(),
    skipPid: process.pid,
    ...over,
  });
  const read = async (p: ProcessPrefetch, procRoot?: string) => {
    rmSync(marker, { force: true });
    const reading = startReadingProcesses({
      nativeReader: reader,
      prefetch: p,
      hashExecutables: false,
      workers: 0,
      bootTimeMs: 0,
      clockTicks: 100,
      ...(procRoot === undefined ? {} : { procRoot }),
    });
    const { processes } = await reading.finish();
    return { pids: processes.map((x) => x.pid), spawned: existsSync(marker) };
  };

  it("takes a fresh one: our own process read here, the rest from the prefetch", async () => {
    const r = await read(prefetch());
    expect(r.pids).toEqual([process.pid, FAKE_PID]);
    expect(r.spawned).toBe(false);
  });

  /** A fresh prefetch whose reading counts how often it is stopped. */
  const counted = (over: Partial<ProcessPrefetch>) => {
    const stops = { n: 0 };
    const reading = done(Promise.resolve({ processes: [fakeProcess], failures: [] }));
    return { stops, p: prefetch({ ...over, reading: { ...reading, stop: () => void stops.n++ } }) };
  };

  it("reads again when it is stale, and ends the stale reading", async () => {
    const { stops, p } = counted({ startedAtMs: Date.now() - PREFETCH_MAX_AGE_MS - 1000 });
    const r = await read(p);
    expect(r.pids).toEqual([process.pid]);
    expect(r.spawned).toBe(true);
    // Not left running (a launched reader's pipe would keep node alive).
    expect(stops.n).toBe(1);
    expect((await read(counted({}).p)).pids).toEqual([process.pid, FAKE_PID]);
  });

  it("reads again when it left out another pid than ours", async () => {
    const { stops, p } = counted({ skipPid: process.pid + 1 });
    const r = await read(p);
    expect(r.pids).toEqual([process.pid]);
    expect(r.spawned).toBe(true);
    expect(stops.n).toBe(1);
  });

  it("reads again when the root is not /proc", async () => {
    const r = await read(prefetch(), join(dir, "no-proc"));
    expect(r.pids).toEqual([]);
    expect(r.spawned).toBe(true);
  });

  it("builds what arrives as it arrives, and drops it when the reading then fails", async () => {
    // Hands its process over at once, then fails: the JS reader's answer alone must stand,
    // with no process of the failed reading in it (nor twice over).
    const failing: NativeReading = {
      subscribe: (fn) => fn(fakeProcess),
      done: Promise.reject(new Error("native reader: output truncated")),
      stop: () => {},
    };
    failing.done.catch(() => {});
    const r = await read(prefetch({ reading: failing }));
    expect(r.pids).not.toContain(FAKE_PID);
    expect(r.pids).toContain(1);
    expect(new Set(r.pids).size).toBe(r.pids.length);

    // What was handed over is not in the result again.
    const handed: NativeReading = {
      subscribe: (fn) => fn(fakeProcess),
      done: Promise.resolve({ processes: [], failures: [] }),
      stop: () => {},
    };
    const ok = await read(prefetch({ reading: handed }));
    expect(ok.pids).toEqual([process.pid, FAKE_PID]);
  });

  it("reads with the JS reader when the prefetched reading failed", async () => {
    const r = await read(
      prefetch({ reading: done(Promise.reject(new Error("native reader: exit 1"))) }),
    );
    // The whole host, from this process's /proc: init and ourselves at least.
    expect(r.pids).toContain(1);
    expect(r.pids).toContain(process.pid);
    expect(r.pids).not.toContain(FAKE_PID);
    expect(r.spawned).toBe(false);
  });
});
