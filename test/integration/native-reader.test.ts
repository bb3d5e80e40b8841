/**
 * The native /proc reader on this machine's live /proc, against the JS reader; the CLI's
 * early start of it; and the bin/breachkit launcher.
 *
 * Processes of our own (sleepers with distinct argv, UDP sockets bound to 127.0.0.1 that
 * carry no traffic) give both readers something known to find; they are ended by pid.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  chmodSync,
  closeSync,
  cpSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Process, type Snapshot, SnapshotSchema } from "../../src/model/snapshot.js";
import { readHostFacts } from "../../src/observe/proc/host-facts.js";
import {
  decodeNativeOutput,
  NATIVE_FORMAT,
  nativeReaderPath,
} from "../../src/observe/proc/native-read.js";
import {
  LAUNCHED_READER_VAR,
  prefetchProcesses,
  takeLaunchedReader,
} from "../../src/observe/proc/prefetch.js";
import { type HashCacheEntry, readProcesses } from "../../src/observe/proc/processes.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const LAUNCHER = join(REPO, "bin/breachkit");
const VERSION = (
  JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }
).version;
const SLEEPERS = 50;
const UDP_HOLDERS = 3;

// Binds a UDP socket to 127.0.0.1 (no traffic), then says which socket inode it holds.
const UDP_HOLDER = `
const dgram = require("node:dgram");
const fs = require("node:fs");
const s = dgram.createSocket("udp4");
s.bind(0, "127.0.0.1", () => {
  const inodes = [];
  for (const fd of fs.readdirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\\[(\\d+)\\]$/.exec(fs.readlinkSync("/proc/self/fd/" + fd));
      if (m) inodes.push(Number(m[1]));
    } catch {}
  }
  process.stdout.write(JSON.stringify({ port: s.address().port, inodes }) + "\\n");
});
`;

const children: ChildProcess[] = [];
const sleepers = new Map<number, string[]>();
const holders = new Map<number, number[]>();
const work = mkdtempSync(join(tmpdir(), "bk-native-it-"));

/** ps's view, pid to full command line: a reference independent of both readers. */
async function psArgs(): Promise<Map<number, string>> {
  const { stdout } = await execa("ps", ["-e", "-ww", "-o", "pid=", "-o", "args="], {
    stdin: "ignore",
  });
  const out = new Map<number, string>();
  for (const line of stdout.split("\n")) {
    const m = /^\s*(\d+)\s(.*)$/.exec(line);
    if (m?.[1] !== undefined) out.set(Number(m[1]), m[2] ?? "");
  }
  return out;
}

function startHolder(): Promise<void> {
  const child = spawn(process.execPath, ["-e", UDP_HOLDER], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  children.push(child);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`UDP holder exited (${code})`)));
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    lines.once("line", (line) => {
      const { inodes } = JSON.parse(line) as { inodes: number[] };
      if (child.pid !== undefined) holders.set(child.pid, inodes);
      lines.close();
      resolve();
    });
  });
}

beforeAll(async () => {
  for (let i = 0; i < SLEEPERS; i++) {
    const argv = [String(600 + i)];
    const child = spawn("sleep", argv, { stdio: "ignore" });
    children.push(child);
    if (child.pid !== undefined) sleepers.set(child.pid, ["sleep", ...argv]);
  }
  for (let i = 0; i < UDP_HOLDERS; i++) await startHolder();
});

afterAll(() => {
  for (const c of children) {
    if (c.pid !== undefined && c.exitCode === null && c.signalCode === null) {
      process.kill(c.pid, "SIGKILL");
    }
  }
  rmSync(work, { recursive: true, force: true });
});

describe("native and JS readers on the live /proc", () => {
  const NATIVE = nativeReaderPath(process.env);
  let native: { processes: Process[]; gaps: { source: string; message: string }[] };
  let js: typeof native;
  const nativeCache = new Map<string, HashCacheEntry>();
  const jsCache = new Map<string, HashCacheEntry>();
  let psBefore: Map<number, string>;
  let psAfter: Map<number, string>;

  beforeAll(async () => {
    if (NATIVE === null) throw new Error("dist/native/procread is not built: run npm run build");
    const facts = await readHostFacts();
    const opts = { bootTimeMs: facts.bootTimeMs ?? 0, clockTicks: facts.host.clockTicks };
    psBefore = await psArgs();
    native = await readProcesses({ ...opts, nativeReader: NATIVE, hashCache: nativeCache });
    js = await readProcesses({ ...opts, nativeReader: null, hashCache: jsCache });
    psAfter = await psArgs();
  });

  /** Alive with the same command line throughout both readings, by ps. */
  const stable = (pid: number) =>
    psBefore.has(pid) && psBefore.get(pid) === psAfter.get(pid) && pid !== process.pid;

  it("both see every sleeper of ours, with its argv, parent and hashed executable", () => {
    const sleepPath = onPath("sleep");
    for (const reading of [native, js]) {
      const byPid = new Map(reading.processes.map((p) => [p.pid, p]));
      for (const [pid, argv] of sleepers) {
        const p = byPid.get(pid);
        expect(p, `sleeper ${pid}`).toBeDefined();
        expect(p?.argv).toEqual(argv);
        expect(p?.ppid).toBe(process.pid);
        expect(p?.comm).toBe("sleep");
        expect(realpathSync(p?.exe.path ?? "/nonexistent-x")).toBe(sleepPath);
        expect(p?.exe.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
    }
  });

  it("both see the UDP sockets our children hold", () => {
    expect(holders.size).toBe(UDP_HOLDERS);
    for (const reading of [native, js]) {
      const byPid = new Map(reading.processes.map((p) => [p.pid, p]));
      for (const [pid, inodes] of holders) {
        expect(inodes.length).toBeGreaterThan(0);
        const p = byPid.get(pid);
        expect(p?.exe.path).toBe(realpathSync(process.execPath));
        for (const inode of inodes) expect(p?.socketInodes, `pid ${pid}`).toContain(inode);
      }
    }
  });

  it("list the same pids but for processes that started or ended meanwhile", () => {
    const n = new Set(native.processes.map((p) => p.pid));
    const j = new Set(js.processes.map((p) => p.pid));
    const onlyOne = [...n].filter((pid) => !j.has(pid)).concat([...j].filter((p) => !n.has(p)));
    // Alive throughout (in both ps listings) yet missing from one reading: a reader's fault.
    expect(onlyOne.filter((pid) => psBefore.has(pid) && psAfter.has(pid))).toEqual([]);
    expect(n.size).toBeGreaterThan(SLEEPERS);
    // Our own process is read by both (the native reader skips it; breachkit reads it).
    expect(n.has(process.pid)).toBe(true);
    expect(j.has(process.pid)).toBe(true);
  });

  it("agree on everything but the moving counters for every process alive throughout", () => {
    const byPid = new Map(js.processes.map((p) => [p.pid, p]));
    const fixed = (p: Process) => ({
      pid: p.pid,
      ppid: p.ppid,
      uid: p.uid,
      gid: p.gid,
      user: p.user,
      // A kernel worker's name ends with the work queue it is running ("kworker/0:1-events",
      // then "kworker/0:1-mm_percpu_wq"): a moving value too.
      comm: p.kernelThread && p.comm.startsWith("kworker/") ? p.comm.split("-")[0] : p.comm,
      argv: p.argv,
      cmdlineB64: p.cmdlineB64,
      kernelThread: p.kernelThread,
      startTime: p.startTime,
      exe: { ...p.exe, hashedAt: null },
      cwd: p.cwd,
      ns: p.ns,
      cgroup: p.cgroup,
      containerId: p.containerId,
    });
    let compared = 0;
    for (const p of native.processes) {
      const q = byPid.get(p.pid);
      if (q === undefined || !stable(p.pid)) continue;
      expect(fixed(p), `pid ${p.pid} ${p.comm}`).toEqual(fixed(q));
      compared++;
    }
    expect(compared).toBeGreaterThan(SLEEPERS);
  });

  it("key the hash cache alike (the native stat times are Node's)", () => {
    const ids = new Set(
      js.processes
        .filter((p) => stable(p.pid) && p.exe.dev !== null)
        .map((p) => `${p.exe.dev}:${p.exe.ino}:`),
    );
    const keys = (m: Map<string, HashCacheEntry>) =>
      [...m.keys()].filter((k) => [...ids].some((id) => k.startsWith(id))).sort();
    expect(keys(nativeCache).length).toBeGreaterThan(1);
    expect(keys(nativeCache)).toEqual(keys(jsCache));
  });

  it("report the same failures to read (where pid 1 hides its exe, EACCES)", () => {
    const procGaps = (r: typeof native) =>
      r.gaps.filter((g) => g.source.startsWith("procfs")).map((g) => `${g.source}: ${g.message}`);
    expect(procGaps(native)).toEqual(procGaps(js));
  });

  it("an early reading taken early or late gives every process once", async () => {
    const facts = await readHostFacts();
    const base = { bootTimeMs: facts.bootTimeMs ?? 0, clockTicks: facts.host.clockTicks };
    for (const late of [false, true]) {
      const prefetch = prefetchProcesses(process.env);
      expect(prefetch).not.toBeNull();
      // Late: the reader has finished before the snapshot takes its reading (contain pings
      // the engine and loads its IOCs first).
      if (late) await prefetch?.reading.done;
      const { processes } = await readProcesses({
        ...base,
        nativeReader: NATIVE,
        prefetch,
        hashExecutables: false,
      });
      const pids = processes.map((p) => p.pid);
      expect(new Set(pids).size, late ? "late" : "early").toBe(pids.length);
      for (const pid of [process.pid, ...sleepers.keys()]) expect(pids).toContain(pid);
    }
  });

  it("the early reading leaves out our own pid and sees our children", async () => {
    const prefetch = prefetchProcesses(process.env);
    expect(prefetch?.skipPid).toBe(process.pid);
    // A subscriber is handed every process, once, as it arrives; the result keeps none.
    const handed: number[] = [];
    prefetch?.reading.subscribe((p) => handed.push(p.pid));
    const result = await prefetch?.reading.done;
    expect(result?.processes).toEqual([]);
    expect(new Set(handed).size).toBe(handed.length);
    const pids = new Set(handed);
    expect(pids.has(process.pid)).toBe(false);
    for (const pid of sleepers.keys()) expect(pids.has(pid)).toBe(true);
    expect(prefetchProcesses({ ...process.env, BREACHKIT_PROC_READER: "js" })).toBeNull();
  });
});

/** The file `cmd` runs when spawned by name, as spawn finds it on PATH. */
function onPath(cmd: string): string {
  for (const dir of (process.env.PATH ?? "").split(":")) {
    if (dir === "") continue;
    try {
      return realpathSync(join(dir, cmd));
    } catch {
      /* not in this directory */
    }
  }
  throw new Error(`${cmd} is not on PATH`);
}

describe("breachkit snapshot --json with either reader", () => {
  const run = (env: Record<string, string | undefined>) =>
    execa("node", ["dist/cli/bin.cjs", "snapshot", "--json"], {
      cwd: REPO,
      env,
      extendEnv: false,
      reject: false,
      stdin: "ignore",
      maxBuffer: 256 * 1024 * 1024,
      timeout: 120_000,
    });
  const node = realpathSync(process.execPath);

  for (const [name, env] of [
    ["native", { ...process.env, BREACHKIT_PROC_READER: undefined }],
    ["js", { ...process.env, BREACHKIT_PROC_READER: "js" }],
  ] as const) {
    it(`is a valid snapshot holding the CLI itself (${name} reader)`, async () => {
      const child = run(env);
      const cliPid = child.pid;
      const r = await child;
      expect(r.exitCode, r.stderr).toBe(0);
      const snap: Snapshot = SnapshotSchema.parse(JSON.parse(r.stdout));
      const self = snap.processes.find((p) => p.pid === cliPid);
      expect(self?.exe.path).toBe(node);
      expect(self?.argv).toEqual(["node", "dist/cli/bin.cjs", "snapshot", "--json"]);
      expect(self?.exe.sha256).toMatch(/^[0-9a-f]{64}$/);
      // Our sleepers are the test runner's children: seen by the CLI too.
      const pids = new Set(snap.processes.map((p) => p.pid));
      for (const pid of sleepers.keys()) expect(pids.has(pid)).toBe(true);
      // Our UDP sockets, in the host's namespace, tied to their processes: the native
      // reader read that namespace's tables on the way, the JS reader after the processes.
      const host = snap.netns.find((n) => n.host);
      expect(host?.interfaces.map((i) => i.name)).toContain("lo");
      for (const [pid, inodes] of holders) {
        // Its other sockets are Unix ones (its stdio): not in these tables.
        const udp = snap.sockets.filter((x) => inodes.includes(x.inode));
        expect(udp.length, `pid ${pid}`).toBe(1);
        expect(udp[0]).toMatchObject({
          proto: "udp",
          localAddress: "127.0.0.1",
          netns: host?.inode,
          pids: [pid],
        });
      }
      expect(snap.gaps.filter((g) => g.source.includes("/net"))).toEqual([]);
      // The native reader runs as the CLI's child but leaves itself out: which reader
      // read must not show in what was read.
      const readers = snap.processes.filter(
        (p) => p.ppid === cliPid && p.exe.path?.endsWith("/dist/native/procread"),
      );
      expect(readers.length).toBe(0);
    });
  }
  it("reads each network namespace through the same process either way", async () => {
    const native = await run({ ...process.env, BREACHKIT_PROC_READER: undefined });
    const js = await run({ ...process.env, BREACHKIT_PROC_READER: "js" });
    expect(native.exitCode, native.stderr).toBe(0);
    expect(js.exitCode, js.stderr).toBe(0);
    const readers = (stdout: string) =>
      new Map(SnapshotSchema.parse(JSON.parse(stdout)).netns.map((n) => [n.inode, n.readerPid]));
    const a = readers(native.stdout);
    const b = readers(js.stdout);
    expect(a.size).toBeGreaterThan(0);
    // The oldest process of a namespace (then the lowest pid) is there in both readings.
    for (const [inode, pid] of a)
      if (b.has(inode)) expect(b.get(inode), `netns ${inode}`).toBe(pid);
  });
});

describe("a reading handed over by the launcher (BREACHKIT_EARLY_READER)", () => {
  /** Our end of a FIFO that a child of ours fills with `bytes`, as procread --launch does. */
  function pipeOf(bytes: Buffer, name: string): { fd: number; writer: ChildProcess } {
    const file = join(work, `${name}.bin`);
    const fifo = join(work, `${name}.fifo`);
    writeFileSync(file, bytes);
    execFileSync("mkfifo", [fifo]);
    const writer = spawn("sh", ["-c", 'exec cat "$1" > "$2"', "sh", file, fifo], {
      stdio: "ignore",
    });
    children.push(writer);
    return { fd: openSync(fifo, "r"), writer };
  }
  let whole: Buffer;
  beforeAll(async () => {
    const path = nativeReaderPath({});
    expect(path, "npm run build leaves dist/native/procread").not.toBeNull();
    const r = await execa(path ?? "", ["/proc", "1"], { encoding: "buffer", stdin: "ignore" });
    whole = Buffer.from(r.stdout);
  });

  it("reads the processes the reader wrote into the pipe, and removes the variable", async () => {
    const { fd } = pipeOf(whole, "whole");
    const now = Date.now();
    const env: Record<string, string | undefined> = {
      [LAUNCHED_READER_VAR]: `${fd}:${now}:${process.pid}`,
    };
    const early = takeLaunchedReader(env);
    expect(env[LAUNCHED_READER_VAR]).toBeUndefined();
    expect(early?.startedAtMs).toBe(now);
    expect(early?.skipPid).toBe(process.pid);
    const reading = early?.open();
    const seen: number[] = [];
    reading?.subscribe((r) => seen.push(r.pid));
    const rest = await reading?.done;
    const expected = decodeNativeOutput(whole);
    expect([...seen, ...(rest?.processes ?? []).map((p) => p.pid)]).toEqual(
      expected.processes.map((p) => p.pid),
    );
    expect(seen.length).toBeGreaterThan(0);
  });

  it("rejects a reading cut short (the reader died), so that the JS reader reads instead", async () => {
    const { fd } = pipeOf(whole.subarray(0, whole.length - 1), "cut");
    const early = takeLaunchedReader({
      [LAUNCHED_READER_VAR]: `${fd}:${Date.now()}:${process.pid}`,
    });
    await expect(early?.open().done).rejects.toThrow(/native/i);
  });

  it("takes no descriptor that is not a pipe, nor a malformed variable", () => {
    const file = openSync(join(work, "not-a-pipe"), "w");
    const ok = `${Date.now()}:${process.pid}`;
    try {
      for (const value of [
        `${file}:${ok}`,
        `1:${ok}`,
        `0:${ok}`,
        `x:${ok}`,
        `${file}`,
        `${file}:1`,
        `99999:${ok}`,
        "",
      ]) {
        const env: Record<string, string | undefined> = { [LAUNCHED_READER_VAR]: value };
        expect(takeLaunchedReader(env), value).toBeNull();
        expect(env[LAUNCHED_READER_VAR]).toBeUndefined();
      }
      expect(takeLaunchedReader({})).toBeNull();
      // A file we were handed stays open: only a pipe is taken (and closed when discarded).
      expect(() => fstatSync(file)).not.toThrow();
    } finally {
      closeSync(file);
    }
  });

  it("closes, and does not take, a reading made for another pid or too long ago", async () => {
    // The launcher's pid is node's only when node is node (not a wrapper that spawns it).
    for (const [name, value] of [
      ["another pid", (fd: number) => `${fd}:${Date.now()}:${process.pid + 1}`],
      ["too old", (fd: number) => `${fd}:${Date.now() - 60_000}:${process.pid}`],
    ] as const) {
      const { fd, writer } = pipeOf(Buffer.concat(Array.from({ length: 64 }, () => whole)), name);
      const exited = new Promise<unknown>((res) => writer.once("exit", (c, sig) => res(sig ?? c)));
      expect(takeLaunchedReader({ [LAUNCHED_READER_VAR]: value(fd) }), name).toBeNull();
      expect(() => fstatSync(fd), name).toThrow();
      expect(await exited, name).not.toBe(0);
    }
  });

  it("closes the pipe when discarded: the writer ends at its next write", async () => {
    const big = Buffer.concat(Array.from({ length: 64 }, () => whole));
    const { fd, writer } = pipeOf(big, "discarded");
    const exited = new Promise<unknown>((res) =>
      writer.once("exit", (code, sig) => res(sig ?? code)),
    );
    takeLaunchedReader({ [LAUNCHED_READER_VAR]: `${fd}:${Date.now()}:${process.pid}` })?.discard();
    expect(() => fstatSync(fd)).toThrow();
    // cat gets SIGPIPE (or EPIPE and a failure): either way it stops writing.
    expect(await exited).not.toBe(0);
  });
});

describe("bin/breachkit", () => {
  const env = (extra: Record<string, string> = {}) => ({
    ...process.env,
    NODE_EXTRA_CA_CERTS: undefined,
    ...extra,
  });
  const opts = (e: Record<string, string | undefined>) =>
    ({ env: e, extendEnv: false, reject: false, stdin: "ignore", timeout: 60_000 }) as const;

  it("prints the package's version", async () => {
    const r = await execa(LAUNCHER, ["--version"], opts(env()));
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
    expect(r.stderr).toBe("");
  });

  it("works through symlinks, relative and absolute, from another directory and from PATH", async () => {
    const a = join(work, "a");
    const b = join(work, "b b");
    mkdirSync(a);
    mkdirSync(b);
    // As npm links it: node_modules/.bin/breachkit -> ../breachkit/bin/breachkit, here a
    // relative link to an absolute one.
    symlinkSync(LAUNCHER, join(b, "breachkit"));
    symlinkSync("../b b/breachkit", join(a, "breachkit"));
    for (const path of [join(b, "breachkit"), join(a, "breachkit")]) {
      const r = await execa(path, ["--version"], { ...opts(env()), cwd: tmpdir() });
      expect(r.exitCode, path).toBe(0);
      expect(r.stdout.trim()).toBe(VERSION);
    }
    const onPath = await execa("breachkit", ["--version"], {
      ...opts(env({ PATH: `${a}:${process.env.PATH ?? ""}` })),
      cwd: tmpdir(),
    });
    expect(onPath.stdout.trim()).toBe(VERSION);
    // The link npm made in this repository.
    const npmLink = await execa(join(REPO, "node_modules/.bin/breachkit"), ["--version"], {
      ...opts(env()),
      cwd: tmpdir(),
    });
    expect(npmLink.stdout.trim()).toBe(VERSION);
  });

  it("passes its arguments through unchanged, spaces included", async () => {
    const out = join(work, "snap shot.json");
    const r = await execa(LAUNCHER, ["snapshot", "--root", "/no such dir", "--json", "-o", out], {
      ...opts(env()),
      cwd: tmpdir(),
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const snap = SnapshotSchema.parse(JSON.parse(readFileSync(out, "utf8")));
    expect(snap.host.root).toBe("/no such dir");
  });

  const trace = (extra: Record<string, string> = {}) => env({ BREACHKIT_TRACE: "1", ...extra });
  /** Live processes whose command line holds `marker`, but this test runner. */
  const holding = (marker: string) =>
    readdirSync("/proc")
      .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
      .filter((d) => {
        try {
          return readFileSync(`/proc/${d}/cmdline`, "latin1").includes(marker);
        } catch {
          return false; // gone meanwhile
        }
      });
  const gone = async (marker: string) => {
    for (let i = 0; i < 100 && holding(marker).length > 0; i++) {
      await new Promise((res) => setTimeout(res, 100));
    }
    return holding(marker);
  };

  it("starts a snapshot's reading before node, which then uses its code cache", async () => {
    const out = join(work, `launched-${process.pid}.json`);
    const child = execa(LAUNCHER, ["snapshot", "--json", "-o", out], opts(trace()));
    const r = await child;
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stderr).toContain("native reader started by the launcher");
    expect(r.stderr).toContain("code cache: used");
    expect(r.stderr).toContain("processes read by the native reader");
    const snap = SnapshotSchema.parse(JSON.parse(readFileSync(out, "utf8")));
    // procread --launch became node: the launcher's pid is the CLI's, read once, by itself.
    const self = snap.processes.filter((p) => p.pid === child.pid);
    expect(self.length).toBe(1);
    expect(self[0]?.exe.path).toBe(realpathSync(process.execPath));
    expect(self[0]?.argv).toEqual([
      "node",
      join(REPO, "dist/cli/bin.cjs"),
      "snapshot",
      "--json",
      "-o",
      out,
    ]);
    // The reader (a grandchild of the launcher, with its argv) left itself out.
    expect(
      snap.processes.filter((p) => p.argv.includes("--launch") && p.argv.includes(out)),
    ).toEqual([]);
    // Our sleepers are there, with their arguments.
    const byPid = new Map(snap.processes.map((p) => [p.pid, p]));
    for (const [pid, argv] of sleepers) expect(byPid.get(pid)?.argv).toEqual(argv);
    expect(await gone(out)).toEqual([]);
  });

  it("ends a launched reading that no snapshot takes, and does not wait for it", async () => {
    const marker = `/nonexistent/${process.pid}-${Date.now()}`;
    const offline = await execa(LAUNCHER, ["snapshot", "--root", marker, "--json"], opts(trace()));
    expect(offline.exitCode, offline.stderr).toBe(0);
    expect(offline.stderr).not.toContain("native reader started");
    expect(SnapshotSchema.parse(JSON.parse(offline.stdout)).host.root).toBe(marker);
    const usage = await execa(LAUNCHER, ["snapshot", "--no-such-option", marker], opts(trace()));
    expect(usage.exitCode).toBe(2);
    expect(usage.stderr).toContain("unknown option");
    expect(usage.stderr).toContain("native reader started by the launcher");
    // Neither reader goes on: each ends at its next write into the closed pipe.
    expect(await gone(marker)).toEqual([]);
  });

  it("runs node alone when the reader cannot run here, or is not this build's", async () => {
    // The launcher's check and the reader's answer name the decoder's format.
    const probe = await execa(join(REPO, "dist/native/procread"), ["--probe"]);
    expect(probe.stdout).toBe(`procread ${NATIVE_FORMAT}`);
    expect(readFileSync(LAUNCHER, "utf8")).toContain(`= "procread ${NATIVE_FORMAT}" ]`);
    for (const [name, content] of [
      // Executable, and yet exec fails: as a binary whose loader or libc is missing.
      ["no interpreter", "#!/nonexistent/interpreter\n"],
      // An empty (cut) file: exec fails, and a shell would run it as an empty script.
      ["empty", ""],
      ["another format", "#!/bin/sh\necho procread BKPR0001\n"],
    ] as const) {
      const copy = join(work, `foreign-reader-${name.replace(/ /g, "-")}`);
      for (const part of ["bin", "dist", "rules"]) {
        cpSync(join(REPO, part), join(copy, part), { recursive: true });
      }
      cpSync(join(REPO, "package.json"), join(copy, "package.json"));
      writeFileSync(join(copy, "dist/native/procread"), content);
      chmodSync(join(copy, "dist/native/procread"), 0o755);
      const r = await execa(join(copy, "bin/breachkit"), ["snapshot", "--json"], {
        ...opts(trace()),
        maxBuffer: 256 * 1024 * 1024,
      });
      expect(r.exitCode, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stderr, name).not.toContain("started by the launcher");
      expect(r.stderr, name).toContain("processes read by the js reader");
      expect(SnapshotSchema.parse(JSON.parse(r.stdout)).processes.length).toBeGreaterThan(1);
    }
  });

  it("hands the reading over with stdin closed, and leaves nothing behind with SIGPIPE ignored", async () => {
    const out = join(work, `closed-stdin-${process.pid}.json`);
    const closed = await execa(
      "sh",
      ["-c", 'exec "$0" snapshot --json -o "$1" <&-', LAUNCHER, out],
      opts(trace()),
    );
    expect(closed.exitCode, closed.stderr).toBe(0);
    expect(closed.stderr).toContain("native reader started by the launcher");
    expect(closed.stderr).toContain("processes read by the native reader");
    expect(
      SnapshotSchema.parse(JSON.parse(readFileSync(out, "utf8"))).processes.length,
    ).toBeGreaterThan(1);
    const marker = `/nonexistent/sigpipe-${process.pid}-${Date.now()}`;
    const ignored = await execa(
      "sh",
      ["-c", 'trap "" PIPE; exec "$0" snapshot --no-such-option "$1"', LAUNCHER, marker],
      opts(trace()),
    );
    expect(ignored.exitCode).toBe(2);
    expect(ignored.stderr).toContain("native reader started by the launcher");
    expect(await gone(marker)).toEqual([]);
    expect(await gone(out)).toEqual([]);
  });

  it("starts no reading for help, nor when the JS reader is asked for", async () => {
    const help = await execa(LAUNCHER, ["snapshot", "--help"], opts(trace()));
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain("Usage: breachkit snapshot");
    expect(help.stderr).not.toContain("native reader started");
    const js = await execa(LAUNCHER, ["snapshot", "--json"], {
      ...opts(trace({ BREACHKIT_PROC_READER: "js" })),
      maxBuffer: 256 * 1024 * 1024,
    });
    expect(js.exitCode, js.stderr).toBe(0);
    expect(js.stderr).not.toContain("native reader started");
    expect(js.stderr).toContain("processes read by the js reader");
    expect(js.stderr).toContain("code cache: used");
  });

  it("drops NODE_EXTRA_CA_CERTS, which node alone would try to load", async () => {
    const bad = env({ NODE_EXTRA_CA_CERTS: "/nonexistent/file" });
    const direct = await execa("node", [join(REPO, "dist/cli/bin.cjs"), "--version"], opts(bad));
    expect(direct.stdout.trim()).toBe(VERSION);
    expect(direct.stderr).toContain("Warning: Ignoring extra certs from `/nonexistent/file`");
    const launched = await execa(LAUNCHER, ["--version"], opts(bad));
    expect(launched.exitCode).toBe(0);
    expect(launched.stdout.trim()).toBe(VERSION);
    expect(launched.stderr).toBe("");
  });
});
