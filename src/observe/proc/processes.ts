/**
 * Every process of the host, read from procfs directly (no `ps`). raw-read.ts does the I/O
 * (split across worker threads on hosts with many processes); this file turns the raw text
 * into Process objects, hashes each distinct executable once and finds dropped binaries.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { Executable, Gap, Process } from "../../model/snapshot.js";
import { containerFromCgroup } from "./cgroup.js";
import { upperDirFromMountinfo } from "./mountinfo.js";
import { errnoCode, GapTally, isVanished, parseBracketInode, readProcText } from "./proc-fs.js";
import { type RawProcess, type RawReadResult, readRawProcesses } from "./raw-read.js";
import { parseStat, parseStatus } from "./stat.js";

/** A computed executable hash, or why there is none; keyed by file identity. */
export type HashCacheEntry = { sha256: string; error: null } | { sha256: null; error: string };

export interface ReadProcessesOptions {
  /** Defaults to /proc. */
  procRoot?: string;
  /** Hash each distinct executable (default true). */
  hashExecutables?: boolean;
  /** uid to user name, from the host's passwd. */
  users?: ReadonlyMap<number, string>;
  /** Boot time in ms since the epoch (/proc/stat btime). */
  bootTimeMs: number;
  clockTicks: number;
  /**
   * Hashes already computed, by file identity (dev, inode, size, mtime, ctime). Pass the
   * same map to successive calls (watch, contain) to hash each binary once per run.
   */
  hashCache?: Map<string, HashCacheEntry>;
  /** Executables larger than this are not hashed (default 512 MiB). */
  maxHashBytes?: number;
  /** "Now" for cpuPercent since start, in ms (default Date.now()). */
  nowMs?: number;
  /**
   * Worker threads reading /proc beside the main thread. Default: one per spare core (at
   * most 3) when there are at least 1,000 processes, where the split pays for a worker's
   * start-up; 0 reads everything on the main thread.
   */
  workers?: number;
}

const DELETED_SUFFIX = " (deleted)";
const HASH_CHUNK = 1024 * 1024;
const WORKER_THRESHOLD = 1000;
let hashBuffer: Buffer | null = null;

interface Context {
  root: string;
  hash: boolean;
  maxHashBytes: number;
  hashCache: Map<string, HashCacheEntry>;
  /** Upper dir by mount namespace (null: not an overlay root, or not visible from here). */
  upperByMntNs: Map<string, string | null>;
  tally: GapTally;
}

function sha256Of(path: string, size: number): string {
  hashBuffer ??= Buffer.allocUnsafe(HASH_CHUNK);
  const hash = createHash("sha256");
  const fd = fs.openSync(path, "r");
  try {
    // Read to EOF rather than `size` bytes: the stat and the read are not atomic.
    let total = 0;
    for (;;) {
      const n = fs.readSync(fd, hashBuffer, 0, HASH_CHUNK, null);
      if (n === 0) break;
      hash.update(hashBuffer.subarray(0, n));
      total += n;
      if (total > size + 64 * HASH_CHUNK) throw new Error("file grew while being hashed");
    }
  } finally {
    fs.closeSync(fd);
  }
  return hash.digest("hex");
}

function hashEntry(
  base: string,
  st: NonNullable<RawProcess["exeStat"]>,
  ctx: Context,
): HashCacheEntry {
  const [dev, ino, size, mtimeMs, ctimeMs] = st;
  const key = `${dev}:${ino}:${size}:${mtimeMs}:${ctimeMs}`;
  const cached = ctx.hashCache.get(key);
  if (cached !== undefined) return cached;
  let entry: HashCacheEntry;
  if (size > ctx.maxHashBytes) {
    entry = { sha256: null, error: `not hashed: ${size} bytes is over the limit` };
  } else {
    try {
      // Through /proc/<pid>/exe: this reads the running file even after it was deleted.
      entry = { sha256: sha256Of(`${base}/exe`, size), error: null };
    } catch (e) {
      // Not cached: the next process running the same file may still be readable.
      if (isVanished(e)) return { sha256: null, error: "exited before it could be hashed" };
      entry = { sha256: null, error: `cannot hash: ${errnoCode(e)}` };
    }
  }
  ctx.hashCache.set(key, entry);
  return entry;
}

const NO_EXE = {
  path: null,
  deleted: false,
  memfd: false,
  sha256: null,
  size: null,
  dev: null,
  ino: null,
  upperLayer: null,
} as const;

function buildExe(raw: RawProcess, kernelThread: boolean, ctx: Context): Executable {
  if (kernelThread) return { ...NO_EXE, error: "kernel thread" };
  const link = raw.exeLink;
  if (link === null) return { ...NO_EXE, error: raw.exeError ?? "unknown" };
  const base = `${ctx.root}/${raw.pid}`;
  const st = raw.exeStat;
  let path = link;
  let deleted = false;
  if (link.endsWith(DELETED_SUFFIX)) {
    // The kernel appends " (deleted)" to an unlinked file's path, but a file may also be
    // *named* "x (deleted)". A still-linked file at that exact path with the same identity
    // is the hostile name, not a deletion.
    const there =
      st !== null && st[5] > 0
        ? fs.statSync(`${base}/root${link}`, { throwIfNoEntry: false })
        : undefined;
    if (!(there !== undefined && st !== null && there.dev === st[0] && there.ino === st[1])) {
      deleted = true;
      path = link.slice(0, -DELETED_SUFFIX.length);
    }
  }
  const exe: Executable = {
    path,
    deleted,
    memfd: deleted && path.startsWith("/memfd:"),
    sha256: null,
    size: st?.[2] ?? null,
    dev: st?.[0] ?? null,
    ino: st?.[1] ?? null,
    upperLayer: null,
    error: raw.exeStatError === null ? null : `cannot stat: ${raw.exeStatError}`,
  };
  if (ctx.hash && st !== null) {
    const h = hashEntry(base, st, ctx);
    exe.sha256 = h.sha256;
    exe.error = h.error;
  }
  return exe;
}

function upperDirFor(pid: number, mntNs: number | null, ctx: Context): string | null {
  const key = mntNs === null ? `pid:${pid}` : String(mntNs);
  const known = ctx.upperByMntNs.get(key);
  if (known !== undefined) return known;
  let upper: string | null = null;
  try {
    upper = upperDirFromMountinfo(readProcText(`${ctx.root}/${pid}/mountinfo`, 4 * 1024 * 1024));
    // The path is as the engine's mount namespace sees it; ours may not (a snap-confined
    // engine, another root). An invisible upper dir would make every lookup say "image".
    if (upper !== null && !fs.statSync(upper, { throwIfNoEntry: false })?.isDirectory()) {
      upper = null;
    }
  } catch {
    // Exited meanwhile: try again with the container's next process.
    return null;
  }
  ctx.upperByMntNs.set(key, upper);
  return upper;
}

function inUpperLayer(upper: string, path: string): boolean {
  const st = fs.lstatSync(`${upper}${path}`, { throwIfNoEntry: false });
  // A whiteout (character device 0/0) records a deletion, not a file of the layer.
  return st !== undefined && !(st.isCharacterDevice() && st.rdev === 0);
}

function splitArgv(cmdline: Buffer): string[] {
  if (cmdline.length === 0) return [];
  const end = cmdline[cmdline.length - 1] === 0 ? cmdline.length - 1 : cmdline.length;
  return cmdline.toString("utf8", 0, end).split("\u0000");
}

function buildProcess(
  raw: RawProcess,
  opts: ReadProcessesOptions,
  nowMs: number,
  ctx: Context,
): Process | null {
  const stat = parseStat(raw.stat);
  if (stat === null) {
    ctx.tally.add("procfs stat", "unparsable /proc/<pid>/stat", raw.pid);
    return null;
  }
  const status = parseStatus(raw.status);
  if (status === null) {
    ctx.tally.add("procfs status", "unparsable /proc/<pid>/status", raw.pid);
    return null;
  }
  const cmdline = Buffer.from(raw.cmdline.buffer, raw.cmdline.byteOffset, raw.cmdline.byteLength);
  const container = containerFromCgroup(raw.cgroup);
  const ns = {
    pid: raw.ns[0] === null ? null : parseBracketInode(raw.ns[0], "pid"),
    net: raw.ns[1] === null ? null : parseBracketInode(raw.ns[1], "net"),
    mnt: raw.ns[2] === null ? null : parseBracketInode(raw.ns[2], "mnt"),
  };
  const exe = buildExe(raw, stat.kernelThread, ctx);
  if (container !== null && exe.path !== null && exe.dev !== null) {
    const upper = upperDirFor(raw.pid, ns.mnt, ctx);
    if (upper !== null) exe.upperLayer = exe.deleted || inUpperLayer(upper, exe.path);
  }
  const socketInodes: number[] = [];
  for (const s of raw.sockets) {
    const inode = parseBracketInode(s, "socket");
    if (inode !== null) socketInodes.push(inode);
  }

  const startMs = opts.bootTimeMs + (stat.starttime * 1000) / opts.clockTicks;
  const cpuSeconds = (stat.utime + stat.stime) / opts.clockTicks;
  const elapsed = (nowMs - startMs) / 1000;
  const uid = status.uid.effective;
  return {
    pid: stat.pid,
    ppid: stat.ppid,
    uid,
    gid: status.gid.effective,
    user: opts.users?.get(uid) ?? null,
    state: stat.state,
    comm: stat.comm,
    argv: splitArgv(cmdline),
    cmdlineB64: cmdline.toString("base64"),
    kernelThread: stat.kernelThread,
    exe,
    cwd: raw.cwd,
    startTime: new Date(startMs).toISOString(),
    cpuSeconds,
    cpuPercent: elapsed > 0 ? (cpuSeconds / elapsed) * 100 : 0,
    rssBytes: status.vmRssBytes ?? stat.rssPages * 4096,
    threads: stat.numThreads,
    ns,
    socketInodes,
    cgroup: container?.path ?? null,
    containerId: container?.id ?? null,
    containerName: null,
  };
}

// esbuild (tsx, vitest) wraps named inner functions in `__name(...)` calls; the shim makes
// the function's source text run in a bare worker too.
const WORKER_SOURCE = `"use strict";
const __name = (f) => f;
const { parentPort, workerData } = require("node:worker_threads");
const read = ${readRawProcesses.toString()};
parentPort.postMessage(read(require("node:fs"), workerData.root, workerData.pids));`;

/**
 * Read `pids` in a worker thread; rejects when the worker cannot run (the caller then reads
 * them itself). Exported for tests.
 */
export function readInWorker(root: string, pids: readonly number[]): Promise<RawReadResult> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { root, pids } });
    worker.once("message", resolve);
    worker.once("error", reject);
    worker.once("exit", (code) => reject(new Error(`worker exited with code ${code}`)));
  });
}

async function readAllRaw(root: string, pids: number[], workers: number): Promise<RawReadResult> {
  if (workers <= 0) return readRawProcesses(fs, root, pids);
  // Contiguous chunks keep the result in pid order; this thread reads the first one while
  // the workers start.
  const size = Math.ceil(pids.length / (workers + 1));
  const pending: Promise<RawReadResult>[] = [];
  for (let w = 1; w <= workers; w++) {
    const chunk = pids.slice(w * size, (w + 1) * size);
    if (chunk.length > 0) {
      pending.push(readInWorker(root, chunk).catch(() => readRawProcesses(fs, root, chunk)));
    }
  }
  const parts = [readRawProcesses(fs, root, pids.slice(0, size)), ...(await Promise.all(pending))];
  return {
    processes: parts.flatMap((p) => p.processes),
    failures: parts.flatMap((p) => p.failures),
  };
}

/**
 * Read every process. Processes that exit while being read are skipped silently; other
 * failures (permission denied on a hardened host) come back as aggregated gaps.
 * `containerName` is left null and `cpuPercent` is the average since the process started:
 * the caller fills names from the engine and interval CPU from two readings.
 */
export async function readProcesses(
  opts: ReadProcessesOptions,
): Promise<{ processes: Process[]; gaps: Gap[] }> {
  const root = opts.procRoot ?? "/proc";
  const ctx: Context = {
    root,
    hash: opts.hashExecutables ?? true,
    maxHashBytes: opts.maxHashBytes ?? 512 * 1024 * 1024,
    hashCache: opts.hashCache ?? new Map(),
    upperByMntNs: new Map(),
    tally: new GapTally(),
  };
  const pids = fs
    .readdirSync(root)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  const workers =
    opts.workers ?? (pids.length >= WORKER_THRESHOLD ? Math.min(availableParallelism() - 1, 3) : 0);
  const raw = await readAllRaw(root, pids, workers);
  for (const [source, what, pid] of raw.failures) ctx.tally.add(source, what, pid);
  const nowMs = opts.nowMs ?? Date.now();
  const processes: Process[] = [];
  for (const r of raw.processes) {
    const p = buildProcess(r, opts, nowMs, ctx);
    if (p !== null) processes.push(p);
  }
  return { processes, gaps: ctx.tally.gaps() };
}
