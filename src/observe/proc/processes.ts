/**
 * Every process of the host, read from procfs directly (no `ps`). raw-read.ts does the I/O;
 * this file turns the raw text into Process objects, hashes each distinct executable of
 * this reading from its bytes and finds dropped binaries.
 *
 * How it stays fast (bench/snapshot-vs-ps.ts): the main thread reads /proc with synchronous
 * calls in slices of pids, yielding between them so that the engine's answers and the
 * worker's messages are taken as they come; the worker (proc-worker.ts, a file of its own
 * in the build) hashes the executables on another core meanwhile, our own node (the biggest
 * binary there is) first, and reads slices of the same pid list when it has nothing to
 * hash. Each distinct file (dev, inode, size, mtime, ctime) is hashed once per run.
 * Nothing is kept between runs: every hash comes from the bytes, now.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { setImmediate as yieldNow } from "node:timers/promises";
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import type { Executable, Gap, Process } from "../../model/snapshot.js";
import { fileExists, isAssetPath, readTextSync } from "../../util/assets.js";
import { packagePath } from "../../util/package-root.js";
import { errorMessage } from "../../util/result.js";
import { containerFromCgroup } from "./cgroup.js";
import { upperDirFromMountinfo } from "./mountinfo.js";
import { GapTally, parseBracketInode, readProcText } from "./proc-fs.js";
import type { ProcWorkerData, ProcWorkerMessage } from "./proc-worker.js";
import {
  type HashJob,
  type HashResult,
  hashExecutable,
  type RawProcess,
  type RawReadResult,
  readRawProcesses,
} from "./raw-read.js";
import { parseStat, parseStatus } from "./stat.js";

/** A computed executable hash, or why there is none; keyed by file identity. */
export type HashCacheEntry =
  | {
      sha256: string;
      error: null;
      /** When its bytes were read, ms since the epoch. */
      hashedAtMs: number;
    }
  | { sha256: null; error: string };

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
   * Hashes computed earlier IN THIS RUN, by file identity (dev, inode, size, mtime, ctime):
   * contain passes one map to its snapshots so that each binary is hashed once per run.
   * Never filled from anything but this process's own reading of the bytes.
   */
  hashCache?: Map<string, HashCacheEntry>;
  /** Executables larger than this are not hashed (default 512 MiB). */
  maxHashBytes?: number;
  /**
   * The built worker (dist/cli/proc-worker.cjs) that hashes and reads part of /proc on
   * another core; null: all on this thread. By default the package's, when built.
   */
  procWorker?: string | null;
  /**
   * The pid of this process, marked `self`. Default: this process when procRoot is /proc,
   * else none.
   */
  selfPid?: number | null;
  /** "Now" for cpuPercent since start, in ms (default Date.now()). */
  nowMs?: number;
}

const DELETED_SUFFIX = " (deleted)";
const HASH_CHUNK = 1024 * 1024;
/** Pids read between two yields to the event loop. */
const READ_SLICE = 64;
/** Hash jobs one reading can hand to the worker; beyond, they are hashed on the main thread. */
const HASH_SLOTS = 4096;
let hashBuffer: Buffer | null = null;

interface Context {
  root: string;
  /** Upper dir by mount namespace (null: not an overlay root, or not visible from here). */
  upperByMntNs: Map<string, string | null>;
  tally: GapTally;
}

/** One distinct executable of this reading and where it stands. */
interface PendingHash {
  job: HashJob;
  /** Other processes' exe links to the same file, tried in turn when one has exited. */
  spare: string[];
  /** null until hashed (by the worker or here). */
  result: HashResult | null;
}

const VANISHED_ENTRY: HashCacheEntry = { sha256: null, error: "exited before it could be hashed" };

/** The package's built worker, or null (not built: running from the sources). */
export function defaultProcWorker(): string | null {
  const path = packagePath("dist", "cli", "proc-worker.cjs");
  return fileExists(path) ? path : null;
}

/**
 * The worker thread of one reading (proc-worker.ts) and what it shares with this thread:
 * the counter of slices of the pid list, and the claims of hash jobs.
 */
class ProcWorker {
  readonly claims: Int32Array;
  readonly next: Int32Array;
  alive = true;
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private slotsUsed = 0;

  constructor(
    path: string,
    root: string,
    pids: readonly number[],
    onMessage: (m: ProcWorkerMessage) => void,
    onLost: () => void,
  ) {
    const claims = new SharedArrayBuffer(4 * HASH_SLOTS);
    const next = new SharedArrayBuffer(4);
    this.claims = new Int32Array(claims);
    this.next = new Int32Array(next);
    const { port1, port2 } = new MessageChannel();
    const data: ProcWorkerData = { port: port2, claims, next, root, pids, sliceSize: READ_SLICE };
    // In the single executable the worker is an asset: its source, run with eval.
    this.worker = isAssetPath(path)
      ? new Worker(readTextSync(path), { eval: true, workerData: data, transferList: [port2] })
      : new Worker(path, { workerData: data, transferList: [port2] });
    this.port = port1;
    port1.on("message", onMessage);
    const lost = () => {
      if (!this.alive) return;
      this.alive = false;
      port1.close();
      onLost();
    };
    this.worker.once("error", lost);
    this.worker.once("exit", lost);
  }

  /** Hand a job to the worker (setting its slot); false when it cannot take it. */
  post(job: HashJob): boolean {
    if (!this.alive || this.slotsUsed >= HASH_SLOTS) return false;
    job.slot = this.slotsUsed++;
    this.port.postMessage(job);
    return true;
  }

  /** Claim a posted job for this thread; false when the worker has it. */
  claim(job: HashJob): boolean {
    return job.slot >= 0 && Atomics.compareExchange(this.claims, job.slot, 0, 1) === 0;
  }

  async close(): Promise<void> {
    this.alive = false;
    this.port.close();
    await this.worker.terminate();
  }
}

/**
 * Hashes each distinct executable (by file identity) once. Jobs go to the worker as the
 * processes are read; when the main thread has read everything, it hashes the jobs the
 * worker has not started (each job's claim decides who does it), biggest first, instead of
 * waiting for the worker to come to them.
 */
class ExeHasher {
  private readonly pending = new Map<string, PendingHash>();
  private worker: ProcWorker | null = null;
  private inFlight = 0;
  private settle: (() => void) | null = null;

  constructor(
    private readonly cache: Map<string, HashCacheEntry>,
    private readonly maxBytes: number,
  ) {}

  /** Hash jobs go to this worker from now on. */
  use(worker: ProcWorker): void {
    this.worker = worker;
  }

  /** Note the executable of a process just read; returns its key, or null (no stat). */
  add(raw: RawProcess, base: string): string | null {
    const st = raw.exeStat;
    if (st === null) return null;
    const [dev, ino, size, mtimeMs, ctimeMs] = st;
    const key = `${dev}:${ino}:${size}:${mtimeMs}:${ctimeMs}`;
    if (this.cache.has(key)) return key;
    const path = `${base}/exe`;
    const known = this.pending.get(key);
    if (known !== undefined) {
      // Every process that ran it had exited by its turn: this one's link is tried now.
      if (known.result?.vanished) this.start(known, path);
      else known.spare.push(path);
      return key;
    }
    if (size > this.maxBytes) {
      this.cache.set(key, { sha256: null, error: `not hashed: ${size} bytes is over the limit` });
      return key;
    }
    const entry: PendingHash = {
      job: { key, path, dev, ino, size, slot: -1 },
      spare: [],
      result: null,
    };
    this.pending.set(key, entry);
    this.start(entry, path);
    return key;
  }

  /** A hash the worker sent. */
  answered(r: HashResult): void {
    const p = this.pending.get(r.key);
    if (p === undefined || p.result !== null) return;
    this.inFlight--;
    const next = r.vanished ? p.spare.shift() : undefined;
    if (next !== undefined) this.start(p, next);
    else p.result = r;
    if (this.inFlight === 0) this.settle?.();
  }

  /** The worker is gone: its jobs are hashed here, in `finish`. */
  lost(): void {
    this.inFlight = 0;
    this.settle?.();
  }

  /** Wait for the hashes; afterwards `entry` knows every key given by `add`. */
  async finish(): Promise<void> {
    const waiting = [...this.pending.values()].filter((p) => p.result === null);
    for (const p of waiting.sort((a, b) => b.job.size - a.job.size)) {
      if (p.result !== null || this.worker === null || !this.worker.claim(p.job)) continue;
      this.inFlight--;
      this.here(p);
      // The worker's answers are taken between two hashes here.
      await yieldNow();
    }
    if (this.inFlight > 0 && this.worker?.alive) {
      await new Promise<void>((resolve) => {
        this.settle = resolve;
      });
    }
    for (const [key, p] of this.pending) {
      // The worker failed meanwhile: what it had is hashed here.
      if (p.result === null) this.here(p);
      const r = p.result;
      // Not kept when every process running it had exited: a later reading may read it.
      if (r === null || r.vanished) continue;
      this.cache.set(
        key,
        r.sha256 === null
          ? { sha256: null, error: r.error ?? "cannot hash" }
          : { sha256: r.sha256, error: null, hashedAtMs: r.atMs },
      );
    }
    this.pending.clear();
  }

  entry(key: string): HashCacheEntry {
    return this.cache.get(key) ?? VANISHED_ENTRY;
  }

  private start(p: PendingHash, path: string): void {
    p.job = { ...p.job, path, slot: -1 };
    p.result = null;
    if (this.worker?.post(p.job)) {
      this.inFlight++;
      return;
    }
    this.here(p);
  }

  /** Hash on this thread, trying the spare links of processes that exited. */
  private here(p: PendingHash): void {
    for (;;) {
      hashBuffer ??= Buffer.allocUnsafe(HASH_CHUNK);
      p.result = hashExecutable(fs, createHash, p.job, hashBuffer);
      const next = p.result.vanished ? p.spare.shift() : undefined;
      if (next === undefined) return;
      p.job = { ...p.job, path: next, slot: -1 };
    }
  }
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
  hashedAt: null,
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
    let there: fs.Stats | undefined;
    try {
      there =
        st !== null && st[5] > 0
          ? fs.statSync(`${base}/root${link}`, { throwIfNoEntry: false })
          : undefined;
    } catch {
      // ENAMETOOLONG, ELOOP, EACCES: the name cannot be checked, the kernel's word stands.
      there = undefined;
    }
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
    hashedAt: null,
    error: raw.exeStatError === null ? null : `cannot stat: ${raw.exeStatError}`,
  };
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

/** Whether `path` is a file of the writable layer; an errno code when that cannot be told. */
function inUpperLayer(upper: string, path: string, size: number | null): boolean | string {
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(`${upper}${path}`, { throwIfNoEntry: false });
  } catch (e) {
    // A path near PATH_MAX inside the container is longer than that under the layer.
    return (e as NodeJS.ErrnoException).code ?? "EIO";
  }
  // A whiteout (character device 0/0) records a deletion, not a file of the layer. An empty
  // file where the running executable is not empty is the target of a bind mount (Docker's
  // /sbin/docker-init for --init, a host binary mounted in): the executable is the host's file
  // mounted over it, not one of the layer.
  if (st === undefined || (st.isCharacterDevice() && st.rdev === 0)) return false;
  return !(size !== null && size > 0 && st.isFile() && st.size === 0);
}

function splitArgv(cmdline: Buffer): string[] {
  if (cmdline.length === 0) return [];
  const end = cmdline[cmdline.length - 1] === 0 ? cmdline.length - 1 : cmdline.length;
  return cmdline.toString("utf8", 0, end).split("\u0000");
}

function buildProcess(
  raw: RawProcess,
  opts: BuildOptions,
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
    const inUpper =
      upper === null || exe.deleted ? exe.deleted : inUpperLayer(upper, exe.path, exe.size);
    if (typeof inUpper === "string") {
      ctx.tally.add(
        "procfs exe",
        `cannot tell whether the executable is in the writable layer: ${inUpper}`,
        raw.pid,
      );
    } else if (upper !== null) {
      exe.upperLayer = inUpper;
    }
  }
  const socketInodes: number[] = [];
  for (const s of raw.sockets) {
    const inode = parseBracketInode(s, "socket");
    if (inode !== null && !socketInodes.includes(inode)) socketInodes.push(inode);
  }
  // In inode order, whatever order the kernel listed the descriptors in.
  socketInodes.sort((a, b) => a - b);

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

export interface ReadingResult {
  processes: Process[];
  gaps: Gap[];
}

/** What building a process needs besides its raw reading. */
export type BuildOptions = Pick<
  ReadProcessesOptions,
  "users" | "bootTimeMs" | "clockTicks" | "nowMs"
>;

/**
 * Read every process. Processes that exit while being read are skipped silently; other
 * failures (permission denied on a hardened host) come back as aggregated gaps.
 * `containerName` is left null and `cpuPercent` is the average since the process started:
 * the caller fills names from the engine and interval CPU from two readings.
 */
export async function readProcesses(opts: ReadProcessesOptions): Promise<ReadingResult> {
  const root = opts.procRoot ?? "/proc";
  const nowMs = opts.nowMs ?? Date.now();
  const selfPid =
    opts.selfPid === undefined ? (root === "/proc" ? process.pid : null) : opts.selfPid;
  const listed = fs
    .readdirSync(root)
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .sort((a, b) => a - b);
  // Only the pids listed now are read, and the reading starts no process (its worker is a
  // thread, under /proc/<self>/task): breachkit appears only as itself, marked self.
  const self = selfPid !== null && listed.includes(selfPid) ? selfPid : null;
  const pids = self === null ? listed : listed.filter((pid) => pid !== self);
  const slices = Math.ceil(pids.length / READ_SLICE);
  const hasher =
    (opts.hashExecutables ?? true)
      ? new ExeHasher(opts.hashCache ?? new Map(), opts.maxHashBytes ?? 512 * 1024 * 1024)
      : null;
  const ctx: Context = { root, upperByMntNs: new Map(), tally: new GapTally() };
  const processes: Process[] = [];
  const hashKeys = new Map<number, string>();
  const take = (part: RawReadResult) => {
    for (const [source, what, pid] of part.failures) ctx.tally.add(source, what, pid);
    for (const r of part.processes) {
      const key = hasher?.add(r, `${root}/${r.pid}`) ?? null;
      if (key !== null) hashKeys.set(r.pid, key);
      let p: Process | null;
      try {
        p = buildProcess(r, opts, nowMs, ctx);
      } catch (e) {
        // A fault of breachkit's, not of the reading: the process is named in a gap, and
        // the rest of the snapshot goes on.
        ctx.tally.add("procfs", `cannot build the process: ${errorMessage(e)}`, r.pid);
        p = null;
      }
      if (p === null) continue;
      if (p.pid === self) p.self = true;
      processes.push(p);
    }
  };
  const delivered = new Array<boolean>(slices).fill(false);
  let missing = slices;
  let wake: (() => void) | null = null;
  const got = (index: number, part: RawReadResult) => {
    if (delivered[index]) return;
    delivered[index] = true;
    missing--;
    take(part);
    if (missing === 0) wake?.();
  };
  const readSlice = (index: number) =>
    readRawProcesses(fs, root, pids.slice(index * READ_SLICE, (index + 1) * READ_SLICE));

  const workerPath = opts.procWorker === undefined ? defaultProcWorker() : opts.procWorker;
  let worker: ProcWorker | null = null;
  try {
    // Our own process first: it runs node, the biggest binary there is to hash, and is
    // certainly alive; its hash goes to the worker first of all.
    if (workerPath !== null) {
      try {
        worker = new ProcWorker(
          workerPath,
          root,
          pids,
          (m) => (m.kind === "hash" ? hasher?.answered(m.result) : got(m.index, m.result)),
          () => {
            hasher?.lost();
            wake?.();
          },
        );
        hasher?.use(worker);
      } catch {
        worker = null;
      }
    }
    if (self !== null) take(readRawProcesses(fs, root, [self]));
    const next = worker?.next ?? new Int32Array(1);
    for (;;) {
      const index = Atomics.add(next, 0, 1);
      if (index >= slices) break;
      got(index, readSlice(index));
      // The engine's answers and the worker's messages are taken here.
      await yieldNow();
    }
    while (missing > 0 && worker?.alive) {
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
      wake = null;
    }
    // A worker that failed took its slices with it: read here.
    for (let index = 0; index < slices; index++)
      if (!delivered[index]) got(index, readSlice(index));
    processes.sort((a, b) => a.pid - b.pid);
    if (hasher !== null) {
      await hasher.finish();
      for (const p of processes) {
        const key = p.kernelThread ? undefined : hashKeys.get(p.pid);
        if (key === undefined) continue;
        const h = hasher.entry(key);
        p.exe.sha256 = h.sha256;
        p.exe.error = h.error;
        p.exe.hashedAt = h.sha256 === null ? null : new Date(h.hashedAtMs).toISOString();
      }
    }
  } finally {
    await worker?.close();
  }
  return { processes, gaps: ctx.tally.gaps() };
}
