import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { MessageChannel, Worker } from "node:worker_threads";
import { build } from "esbuild";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProcessSchema } from "../../../../src/model/snapshot.js";
import type {
  ProcWorkerData,
  ProcWorkerMessage,
} from "../../../../src/observe/proc/proc-worker.js";
import { type HashCacheEntry, readProcesses } from "../../../../src/observe/proc/processes.js";
import {
  type HashJob,
  hashExecutable,
  readRawProcesses,
} from "../../../../src/observe/proc/raw-read.js";
import {
  buildFakeProc,
  CT_NS,
  type FakeProc,
  fakeStat,
  fakeStatus,
  HOST_NS,
  hostileProcs,
} from "./fake-proc.js";

const CID = "bd980c775dcf5fd318e3ef57e089f61b614b6d068c762f856c3dcdd594f5bf94";

const dir = mkdtempSync(join(tmpdir(), "bk-proc-"));
const root = join(dir, "proc");
const bin = join(dir, "bin");
const upper = join(dir, "upper");
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

const BOOT_MS = Date.parse("2026-01-01T00:00:00Z");
const opts = {
  procRoot: root,
  // On this thread; the worker has its own tests below.
  procWorker: null,
  bootTimeMs: BOOT_MS,
  clockTicks: 100,
  nowMs: BOOT_MS + 30_000,
  users: new Map([
    [0, "root"],
    [1000, "alice"],
  ]),
};

beforeAll(() => {
  const procs: FakeProc[] = [
    {
      pid: 1,
      stat: fakeStat(1, "init", { ppid: 0 }),
      status: fakeStatus("init"),
      cmdline: Buffer.from("/sbin/init\0splash\0"),
      exe: join(bin, "daemon"),
      cwd: "/",
      fds: { "0": "/dev/null", "1": "socket:[1001]", "7": "pipe:[55]" },
    },
    {
      pid: 2,
      stat: fakeStat(2, "kthreadd", { flags: 0x208040, ppid: 0 }),
      status: fakeStatus("kthreadd", 0, null),
    },
    {
      pid: 10,
      stat: fakeStat(10, "a) R 1 (<b>\n\u001b[31m", { ppid: 1 }),
      status: fakeStatus("a) R 1 (<b>\\n\u001b[31m", 1000),
      cmdline: Buffer.from([0x2f, 0x78, 0x00, 0xff, 0xfe, 0x0a, 0x1b, 0x00]),
      exe: join(bin, "daemon"),
      cwd: "/home/alice",
      fds: { "3": "socket:[2002]", "4": "socket:[2003]" },
    },
    ...hostileProcs(bin, upper),
  ];
  for (const p of procs) buildFakeProc(root, p);
  // Not a pid: must be ignored.
  mkdirSync(join(root, "self"));
  writeFileSync(join(root, "uptime"), "1.0 1.0\n");
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("readProcesses on a fake procfs tree", () => {
  it("reads every process that still exists, in pid order, valid for the model", async () => {
    const { processes } = await readProcesses(opts);
    expect(processes.map((p) => p.pid)).toEqual([1, 2, 10, 11, 12, 13, 20, 21]);
    for (const p of processes) expect(ProcessSchema.safeParse(p).success).toBe(true);
  });

  it("reports the unparsable stat as a gap and not the vanished process", async () => {
    const { gaps } = await readProcesses(opts);
    expect(gaps).toHaveLength(1);
    expect(gaps[0]?.message).toContain("unparsable /proc/<pid>/stat");
    expect(gaps[0]?.message).toContain("pid 31");
  });

  it("fills identity, times, memory, namespaces and sockets", async () => {
    const { processes } = await readProcesses(opts);
    const init = processes.find((p) => p.pid === 1);
    expect(init).toMatchObject({
      ppid: 0,
      uid: 0,
      user: "root",
      comm: "init",
      argv: ["/sbin/init", "splash"],
      cwd: "/",
      kernelThread: false,
      // starttime 1000 ticks at 100 Hz: 10 s after boot; 2 s of CPU over 20 s of life.
      startTime: "2026-01-01T00:00:10.000Z",
      cpuSeconds: 2,
      cpuPercent: 10,
      rssBytes: 2048 * 1024,
      threads: 3,
      ns: HOST_NS,
      socketInodes: [1001],
      containerId: null,
      cgroup: null,
      containerName: null,
    });
    expect(Buffer.from(init?.cmdlineB64 ?? "", "base64").toString()).toBe("/sbin/init\0splash\0");
  });

  it("keeps hostile names and command lines as read, bytes preserved", async () => {
    const { processes } = await readProcesses(opts);
    const p = processes.find((x) => x.pid === 10);
    expect(p?.comm).toBe("a) R 1 (<b>\n\u001b[31m");
    expect(p?.user).toBe("alice");
    expect(p?.argv).toEqual(["/x", "\ufffd\ufffd\n\u001b"]);
    expect(Buffer.from(p?.cmdlineB64 ?? "", "base64")).toEqual(
      Buffer.from([0x2f, 0x78, 0x00, 0xff, 0xfe, 0x0a, 0x1b, 0x00]),
    );
    expect(p?.socketInodes.sort()).toEqual([2002, 2003]);
  });

  it("marks kernel threads and zombies without an executable", async () => {
    const { processes } = await readProcesses(opts);
    const k = processes.find((p) => p.pid === 2);
    expect(k).toMatchObject({ kernelThread: true, argv: [], cmdlineB64: "", rssBytes: 500 * 4096 });
    expect(k?.exe).toMatchObject({ path: null, sha256: null, error: "kernel thread" });
    const z = processes.find((p) => p.pid === 11);
    expect(z).toMatchObject({ state: "Z", kernelThread: false });
    expect(z?.exe.error).toBe("zombie");
  });

  it("hashes a shared executable once, and the hash is the file's", async () => {
    const hashCache = new Map<string, HashCacheEntry>();
    const { processes } = await readProcesses({ ...opts, hashCache });
    const daemon = processes.filter((p) => p.exe.path === join(bin, "daemon"));
    expect(daemon.map((p) => p.pid)).toEqual([1, 10, 21]);
    for (const p of daemon) expect(p.exe.sha256).toBe(sha(join(bin, "daemon")));
    expect(daemon[0]?.exe.ino).toBe(fs.statSync(join(bin, "daemon")).ino);
    // daemon, dropped, evil (deleted): three distinct files, three entries.
    expect(hashCache.size).toBe(3);
  });

  it("does not hash when asked not to", async () => {
    const { processes } = await readProcesses({ ...opts, hashExecutables: false });
    expect(processes.find((p) => p.pid === 1)?.exe).toMatchObject({ sha256: null, error: null });
  });

  it("strips ' (deleted)' from a deleted executable, but not from a file named so", async () => {
    const { processes } = await readProcesses(opts);
    expect(processes.find((p) => p.pid === 12)?.exe).toMatchObject({
      path: join(bin, "removed"),
      deleted: true,
      memfd: false,
    });
    expect(processes.find((p) => p.pid === 13)?.exe).toMatchObject({
      path: join(bin, "evil (deleted)"),
      deleted: false,
      sha256: sha(join(bin, "evil (deleted)")),
    });
  });

  it("attributes container processes by cgroup and finds binaries of the upper layer", async () => {
    const { processes } = await readProcesses(opts);
    const dropped = processes.find((p) => p.pid === 20);
    expect(dropped).toMatchObject({ containerId: CID, cgroup: `/docker/${CID}`, ns: CT_NS });
    expect(dropped?.exe.upperLayer).toBe(true);
    expect(processes.find((p) => p.pid === 21)?.exe.upperLayer).toBe(false);
    // Not in a container: unknown, not false.
    expect(processes.find((p) => p.pid === 1)?.exe.upperLayer).toBeNull();
  });

  it("marks itself as self, and only itself", async () => {
    const own = join(dir, "own-proc");
    const me = (pid: number, ppid: number, comm: string): FakeProc => ({
      pid,
      stat: fakeStat(pid, comm, { ppid }),
      status: fakeStatus(comm),
      exe: join(bin, "daemon"),
    });
    for (const p of [
      me(1, 0, "init"),
      me(50, 1, "breachkit"),
      me(51, 50, "child"),
      me(52, 1, "x"),
    ]) {
      buildFakeProc(own, p);
    }
    const { processes } = await readProcesses({ ...opts, procRoot: own, selfPid: 50 });
    // A child it had before the reading is a process of the host like any other.
    expect(processes.map((p) => [p.pid, p.self ?? false])).toEqual([
      [1, false],
      [50, true],
      [51, false],
      [52, false],
    ]);
    for (const p of processes) expect(ProcessSchema.parse(p)).toEqual(p);
    // Under another root, by default, nothing is this process.
    const other = await readProcesses({ ...opts, procRoot: own });
    expect(other.processes.filter((p) => p.self)).toEqual([]);
    expect(other.processes).toHaveLength(4);
  });

  it("hashes the bytes of each reading: a file rewritten in place gets its new hash", async () => {
    const tree = join(dir, "rewrite-proc");
    const file = join(dir, "rewritten");
    writeFileSync(file, "version one\n");
    buildFakeProc(tree, { pid: 7, stat: fakeStat(7, "r"), status: fakeStatus("r"), exe: file });
    const o = { ...opts, procRoot: tree };
    const first = (await readProcesses(o)).processes[0]?.exe;
    const ino = fs.statSync(file).ino;
    // Same inode, same size: only the bytes differ.
    writeFileSync(file, "version two\n");
    expect(fs.statSync(file).ino).toBe(ino);
    const second = (await readProcesses(o)).processes[0]?.exe;
    expect(first?.sha256).toBe(createHash("sha256").update("version one\n").digest("hex"));
    expect(second?.sha256).toBe(sha(file));
    expect(second?.sha256).not.toBe(first?.sha256);
    expect(second?.ino).toBe(first?.ino);
  });

  it("names an executable over the size limit instead of hashing it", async () => {
    const { processes } = await readProcesses({ ...opts, maxHashBytes: 10 });
    expect(processes.find((p) => p.pid === 1)?.exe).toMatchObject({
      sha256: null,
      hashedAt: null,
      error: expect.stringMatching(/^not hashed: \d+ bytes is over the limit$/),
    });
  });
});

describe("the proc worker (built as a file, as the build makes it)", () => {
  const out = join(dir, "worker", "proc-worker.cjs");
  beforeAll(async () => {
    await build({
      entryPoints: [
        new URL("../../../../src/observe/proc/proc-worker.ts", import.meta.url).pathname,
      ],
      bundle: true,
      platform: "node",
      format: "cjs",
      outfile: out,
      logLevel: "silent",
    });
  });

  it("gives the same hashes as this thread", async () => {
    const inline = new Map<string, HashCacheEntry>();
    const here = await readProcesses({ ...opts, hashCache: inline });
    const helped = new Map<string, HashCacheEntry>();
    const there = await readProcesses({ ...opts, procWorker: out, hashCache: helped });
    // Equal but for when each hash was taken.
    const untimed = (r: typeof here) => ({
      ...r,
      processes: r.processes.map((p) => ({ ...p, exe: { ...p.exe, hashedAt: null } })),
    });
    const entries = (m: Map<string, HashCacheEntry>) =>
      [...m].map(([k, v]) => [k, v.sha256, v.error]).sort();
    expect(untimed(there)).toEqual(untimed(here));
    expect(entries(helped)).toEqual(entries(inline));
    expect(there.processes.find((p) => p.pid === 20)?.exe.sha256).toBe(sha(join(bin, "dropped")));
  });

  it("hashes the jobs waiting first, skips one the main thread claimed, then reads slices", async () => {
    const claims = new SharedArrayBuffer(12);
    // Slot 1 was taken by the main thread: the worker must not hash it again.
    Atomics.store(new Int32Array(claims), 1, 1);
    const next = new SharedArrayBuffer(4);
    // The main thread has already taken slice 0.
    Atomics.store(new Int32Array(next), 0, 1);
    const { port1, port2 } = new MessageChannel();
    const file = join(bin, "daemon");
    const st = fs.statSync(file);
    const job = (key: string, slot: number): HashJob => ({
      key,
      path: file,
      dev: st.dev,
      ino: st.ino,
      size: st.size,
      slot,
    });
    // Waiting before the worker starts: hashed before any slice is read.
    for (const [key, slot] of [
      ["a", 0],
      ["b", 1],
      ["c", 2],
    ] as const) {
      port1.postMessage(job(key, slot));
    }
    const answers: ProcWorkerMessage[] = [];
    const four = new Promise<void>((resolve) => {
      port1.on("message", (m: ProcWorkerMessage) => {
        answers.push(m);
        if (answers.length === 4) resolve();
      });
    });
    const data: ProcWorkerData = {
      port: port2,
      claims,
      next,
      root,
      pids: [1, 2, 10, 11, 12],
      sliceSize: 2,
    };
    const worker = new Worker(out, { workerData: data, transferList: [port2] });
    try {
      await four;
      const hashed = { sha256: sha(file), error: null, vanished: false, atMs: expect.any(Number) };
      expect(answers.slice(0, 2)).toEqual([
        { kind: "hash", result: { key: "a", ...hashed } },
        { kind: "hash", result: { key: "c", ...hashed } },
      ]);
      expect(Array.from(new Int32Array(claims))).toEqual([1, 1, 1]);
      const slices = answers.slice(2).map((m) => (m.kind === "slice" ? m : null));
      expect(slices.map((m) => m?.index)).toEqual([1, 2]);
      expect(slices[0]?.result).toEqual(readRawProcesses(fs, root, [10, 11]));
      expect(slices[1]?.result.processes.map((p) => p.pid)).toEqual([12]);
      // Every slice taken (the worker may not have made its last, empty, take yet).
      expect(Atomics.load(new Int32Array(next), 0)).toBeGreaterThanOrEqual(3);
    } finally {
      port1.close();
      await worker.terminate();
    }
  });

  it("reads and hashes a larger tree with the main thread alike", async () => {
    const big = join(dir, "big-proc");
    for (let pid = 100; pid < 500; pid++) {
      buildFakeProc(big, {
        pid,
        stat: fakeStat(pid, `p${pid}`),
        status: fakeStatus(`p${pid}`),
        cmdline: Buffer.from(`p${pid}\0`),
        exe: join(bin, pid % 2 ? "daemon" : "dropped"),
        fds: { "3": `socket:[${pid}]` },
      });
    }
    const o = { ...opts, procRoot: big };
    const alone = await readProcesses(o);
    const shared = await readProcesses({ ...o, procWorker: out });
    const untimed = (r: typeof alone) =>
      r.processes.map((p) => ({ ...p, exe: { ...p.exe, hashedAt: null } }));
    expect(untimed(shared)).toEqual(untimed(alone));
    expect(shared.gaps).toEqual(alone.gaps);
    expect(shared.processes).toHaveLength(400);
    expect(shared.processes[1]?.exe.sha256).toBe(sha(join(bin, "daemon")));
  });

  it("hashes on this thread when the worker cannot start", async () => {
    const r = await readProcesses({ ...opts, procWorker: join(dir, "no-such-worker.cjs") });
    expect(r.processes.find((p) => p.pid === 1)?.exe.sha256).toBe(sha(join(bin, "daemon")));
  });
});

describe("hashExecutable", () => {
  const buffer = Buffer.alloc(7);
  const file = join(dir, "bin", "daemon");
  const job = (over: Partial<HashJob> = {}): HashJob => {
    const st = fs.statSync(file);
    return { key: "k", path: file, dev: st.dev, ino: st.ino, size: st.size, slot: -1, ...over };
  };

  it("hashes the whole file through a small buffer", () => {
    expect(hashExecutable(fs, createHash, job(), buffer)).toEqual({
      key: "k",
      sha256: sha(file),
      error: null,
      vanished: false,
      atMs: expect.any(Number),
    });
  });
  it("says vanished when the link now leads to another file (a reused pid)", () => {
    const r = hashExecutable(fs, createHash, job({ ino: job().ino + 1 }), buffer);
    expect(r).toMatchObject({ sha256: null, error: null, vanished: true });
  });
  it("says vanished when the process is gone, and names other errors", () => {
    expect(hashExecutable(fs, createHash, job({ path: join(dir, "none") }), buffer).vanished).toBe(
      true,
    );
    const st = fs.statSync(bin);
    const r = hashExecutable(fs, createHash, job({ path: bin, dev: st.dev, ino: st.ino }), buffer);
    expect(r).toMatchObject({ sha256: null, error: "cannot hash: EISDIR", vanished: false });
  });
});

describe("readProcesses on what would make it throw", () => {
  const work = mkdtempSync(join(tmpdir(), "bk-proc-edge-"));
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("a container binary whose path, under the writable layer, is longer than PATH_MAX", async () => {
    // The process sees a path of about 4,000 bytes: the kernel resolves it, but the same
    // path under the upper directory passes PATH_MAX (ENAMETOOLONG).
    const edgeRoot = join(work, "proc");
    const edgeUpper = join(work, "upper");
    let deep = join(work, "deep");
    while (deep.length + 101 <= 4080) deep = join(deep, "d".repeat(100));
    if (deep.length + 2 <= 4080) deep = join(deep, "e".repeat(4080 - deep.length - 1));
    mkdirSync(deep, { recursive: true });
    const exe = join(deep, "sleep");
    writeFileSync(exe, "a binary with a long path\n");
    mkdirSync(edgeUpper, { recursive: true });
    const [container] = hostileProcs(join(work, "bin"), edgeUpper).filter((p) => p.pid === 21);
    if (container === undefined) throw new Error("fixture: no container process");
    buildFakeProc(edgeRoot, { ...container, pid: 40, stat: fakeStat(40, "sleep"), exe });
    expect(`${edgeUpper}${exe}`.length).toBeGreaterThan(4096);
    const { processes, gaps } = await readProcesses({
      procRoot: edgeRoot,
      bootTimeMs: 0,
      clockTicks: 100,
      procWorker: null,
    });
    const p = processes.find((x) => x.pid === 40);
    expect(p?.exe).toMatchObject({ path: exe, upperLayer: null });
    expect(p?.exe.sha256).toBe(sha(exe));
    expect(gaps.map((g) => g.message)).toContainEqual(
      "cannot tell whether the executable is in the writable layer: ENAMETOOLONG (1 process: pid 40)",
    );
  });
});
