/**
 * Every process of the host, read from procfs directly (no `ps`). raw-read.ts does the I/O
 * (split across worker threads on hosts with many processes); this file turns the raw text
 * into Process objects, hashes each distinct executable once and finds dropped binaries.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { availableParallelism } from "node:os";
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import type { Executable, Gap, Process } from "../../model/snapshot.js";
import { errorMessage } from "../../util/result.js";
import { containerFromCgroup } from "./cgroup.js";
import { upperDirFromMountinfo } from "./mountinfo.js";
import { type NativeReading, readerThreads, startNative } from "./native-read.js";
import { PREFETCH_MAX_AGE_MS, type ProcessPrefetch } from "./prefetch.js";
import { GapTally, parseBracketInode, readProcText } from "./proc-fs.js";
import {
  type HashJob,
  type HashResult,
  type HelperMessage,
  type HelperSetup,
  hashExecutable,
  type RawNetTables,
  type RawProcess,
  type RawReadResult,
  readRawProcesses,
  runHelper,
} from "./raw-read.js";
import { parseStat, parseStatus } from "./stat.js";

/** A computed executable hash, or why there is none; keyed by file identity. */
export type HashCacheEntry =
  | {
      sha256: string;
      error: null;
      /** When its bytes were read, ms since the epoch. */
      hashedAtMs: number;
      /** Worth keeping for later snapshots (not a deleted, memfd or unlinked file). */
      persist: boolean;
      /** Read back from the hash store (an earlier snapshot), not computed in this run. */
      stored: boolean;
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
   * Hashes already computed, by file identity (dev, inode, size, mtime, ctime). Pass the
   * same map to successive calls (watch, contain) to hash each binary once per run.
   */
  hashCache?: Map<string, HashCacheEntry>;
  /** Executables larger than this are not hashed (default 512 MiB). */
  maxHashBytes?: number;
  /**
   * Executables at least this big are hashed in a worker thread, beside the reading of
   * /proc (default 8 MiB: below, the hash takes less than starting a thread would); smaller ones on
   * this thread.
   */
  hashWorkerMinBytes?: number;
  /** "Now" for cpuPercent since start, in ms (default Date.now()). */
  nowMs?: number;
  /**
   * The built native reader (see native-read.ts) to read every process but our own with;
   * null or undefined: the JS reader. If it fails, the JS reader reads instead.
   */
  nativeReader?: string | null;
  /** A reading the native reader started earlier (see prefetch.ts); used when fresh. */
  prefetch?: ProcessPrefetch | null;
  /**
   * Helper threads started at once to read /proc beside the main thread. Default: one per
   * spare core (at most 3) when there are at least 1,000 processes, where the split pays for
   * a thread's start-up; 0 reads on the main thread until a big executable needs hashing
   * (that starts one helper, which then also reads what is left).
   */
  workers?: number;
}

const DELETED_SUFFIX = " (deleted)";
const HASH_CHUNK = 1024 * 1024;
const HASH_WORKER_MIN_BYTES = 8 * 1024 * 1024;
/** Pids per slice of the reading shared with helpers (and per hand-over to the hasher). */
const READ_SLICE = 64;
/** Hash jobs one read can hand to helpers; beyond, they are hashed on the main thread. */
const HASH_SLOTS = 4096;
const WORKER_THRESHOLD = 1000;
let hashBuffer: Buffer | null = null;

interface Context {
  root: string;
  /** Upper dir by mount namespace (null: not an overlay root, or not visible from here). */
  upperByMntNs: Map<string, string | null>;
  tally: GapTally;
}

/** Where the hashes of one readProcesses call come from, and the jobs still running. */
interface PendingHash {
  job: HashJob;
  /** May go to the hash store: a linked, not deleted file. */
  persist: boolean;
  /** Other processes' exe links to the same file, tried in turn when one has exited. */
  spare: string[];
  /** null while a job for it runs in the worker. */
  result: HashResult | null;
}

const VANISHED_ENTRY: HashCacheEntry = { sha256: null, error: "exited before it could be hashed" };

/**
 * Hashes each distinct executable (by file identity) once. Big files go to a helper thread
 * (node, dockerd and containerd are 50 to 100 MB each), so that hashing overlaps the
 * reading of /proc on another core instead of following it; small ones are hashed right
 * here, where the round trip would cost more than the hash.
 */
class ExeHasher {
  private readonly pending = new Map<string, PendingHash>();
  private inFlight = 0;
  private settle: (() => void) | null = null;

  constructor(
    private readonly cache: Map<string, HashCacheEntry>,
    private readonly maxBytes: number,
    private readonly helperMinBytes: number,
    /** Hands a job to a helper thread; false when there is none. */
    private readonly post: (job: HashJob) => boolean,
    /** Takes back a posted job no helper has started; false when one has. */
    private readonly takeBack: (job: HashJob) => boolean,
  ) {}

  /** Note the executable of a process just read; returns its key, or null (no stat). */
  add(raw: RawProcess, base: string): string | null {
    const st = raw.exeStat;
    if (st === null) return null;
    const [dev, ino, size, mtimeMs, ctimeMs] = st;
    const key = `${dev}:${ino}:${size}:${mtimeMs}:${ctimeMs}`;
    // A deleted, memfd or unlinked executable is likely evidence: always hashed from its
    // bytes in this run, never taken from an earlier run's store.
    const persist = st[5] > 0 && !(raw.exeLink ?? "").endsWith(DELETED_SUFFIX);
    const hit = this.cache.get(key);
    if (hit !== undefined && (persist || hit.sha256 === null || !hit.stored)) return key;
    // Nor may the stored hash stay behind as the answer when the bytes cannot be read now
    // (the process exited, or its pid runs another file, before the hash).
    if (hit !== undefined) this.cache.delete(key);
    const path = `${base}/exe`;
    const known = this.pending.get(key);
    if (known !== undefined) {
      if (known.result?.vanished) this.run(known, path);
      else known.spare.push(path);
      return key;
    }
    if (size > this.maxBytes) {
      this.cache.set(key, { sha256: null, error: `not hashed: ${size} bytes is over the limit` });
      return key;
    }
    const entry: PendingHash = {
      job: { key, path, dev, ino, size, slot: -1 },
      persist,
      spare: [],
      result: null,
    };
    this.pending.set(key, entry);
    this.run(entry, path);
    return key;
  }

  /** A helper's answer. */
  answered(r: HashResult): void {
    const p = this.pending.get(r.key);
    if (p === undefined || p.result !== null) return;
    const next = r.vanished ? p.spare.shift() : undefined;
    if (next !== undefined) {
      p.job = { ...p.job, path: next };
      if (this.post(p.job)) return;
    } else {
      p.result = r;
    }
    this.inFlight--;
    if (this.inFlight === 0) this.settle?.();
  }

  /** The helpers are gone: stop waiting, what they had is hashed here in `finish`. */
  lost(): void {
    this.inFlight = 0;
    this.settle?.();
  }

  /** Wait for the helpers' answers; afterwards `entry` knows every key given by `add`. */
  async finish(): Promise<void> {
    // This thread is done reading: it hashes the jobs no helper has started, biggest first,
    // instead of waiting for a busy helper to come to them.
    const waiting = [...this.pending.values()].filter((p) => p.result === null);
    for (const p of waiting.sort((a, b) => b.job.size - a.job.size)) {
      if (p.result !== null || !this.takeBack(p.job)) continue;
      this.inFlight--;
      this.run(p, p.job.path, true);
    }
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        this.settle = resolve;
      });
    }
    for (const [key, p] of this.pending) {
      if (p.result === null) this.run(p, p.job.path, true);
      const r = p.result;
      // Not cached when every process running it had exited: a later snapshot may read it.
      if (r === null || r.vanished) continue;
      this.cache.set(
        key,
        r.sha256 === null
          ? { sha256: null, error: r.error ?? "cannot hash" }
          : {
              sha256: r.sha256,
              error: null,
              hashedAtMs: Date.now(),
              persist: p.persist,
              stored: false,
            },
      );
    }
    this.pending.clear();
  }

  entry(key: string): HashCacheEntry {
    return this.cache.get(key) ?? VANISHED_ENTRY;
  }

  private run(p: PendingHash, path: string, here = false): void {
    p.job = { ...p.job, path };
    p.result = null;
    if (!here && p.job.size >= this.helperMinBytes && this.post(p.job)) {
      this.inFlight++;
      return;
    }
    // When the helpers were lost, their jobs are hashed here; the spare links too.
    for (;;) {
      hashBuffer ??= Buffer.allocUnsafe(HASH_CHUNK);
      p.result = hashExecutable(fs, createHash, p.job, hashBuffer);
      const next = p.result.vanished ? p.spare.shift() : undefined;
      if (next === undefined) return;
      p.job = { ...p.job, path: next };
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
function inUpperLayer(upper: string, path: string): boolean | string {
  let st: fs.Stats | undefined;
  try {
    st = fs.lstatSync(`${upper}${path}`, { throwIfNoEntry: false });
  } catch (e) {
    // A path near PATH_MAX inside the container is longer than that under the layer.
    return (e as NodeJS.ErrnoException).code ?? "EIO";
  }
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
  opts: BuildOptions,
  nowMs: number,
  ctx: Context,
): Process | null {
  // The native reader parsed stat and status itself when they were in the kernel's shape.
  const stat = raw.parsed?.stat ?? parseStat(raw.stat);
  if (stat === null) {
    ctx.tally.add("procfs stat", "unparsable /proc/<pid>/stat", raw.pid);
    return null;
  }
  const status = raw.parsed?.status ?? parseStatus(raw.status);
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
    const inUpper = upper === null || exe.deleted ? exe.deleted : inUpperLayer(upper, exe.path);
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
  // In inode order: the readers list descriptors in different orders (by name, by number).
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

// esbuild (tsx, vitest) wraps named inner functions in `__name(...)` calls; the shim makes
// the functions' source text run in a bare worker too.
const HELPER_SOURCE = `"use strict";
const __name = (f) => f;
const { workerData, receiveMessageOnPort } = require("node:worker_threads");
const fs = require("node:fs");
const { createHash } = require("node:crypto");
const readRaw = ${readRawProcesses.toString()};
const hashExe = ${hashExecutable.toString()};
const run = ${runHelper.toString()};
const buffer = Buffer.allocUnsafe(${HASH_CHUNK});
const port = workerData.port;
run(
  port,
  () => receiveMessageOnPort(port),
  workerData.setup,
  (root, pids) => readRaw(fs, root, pids),
  (job) => hashExe(fs, createHash, job, buffer),
);`;

/**
 * The reading of one pid list, shared between this thread and helper threads: each takes
 * the next slice from a shared counter, so the split follows whoever is free (a helper
 * busy hashing reads less). Helpers also hash (see ExeHasher).
 */
class ReadPool {
  private readonly setup: HelperSetup;
  private readonly next: Int32Array;
  private readonly claims: Int32Array;
  private slotsUsed = 0;
  private readonly slices: number;
  private readonly parts: (RawReadResult | undefined)[];
  private readonly helpers: { worker: Worker; port: MessagePort; alive: boolean }[] = [];
  private helperFailed = false;
  private missing: number;
  private wake: (() => void) | null = null;
  private firstPart: RawReadResult | null = null;
  onRead: (raw: RawProcess) => void = () => {};
  onHash: (r: HashResult) => void = () => {};
  onLost: () => void = () => {};

  /** `first` is read on this thread before the slices, and is not among `pids`. */
  constructor(
    root: string,
    pids: readonly number[],
    private readonly first: number | null = null,
  ) {
    const next = new SharedArrayBuffer(4);
    const claims = new SharedArrayBuffer(4 * HASH_SLOTS);
    this.setup = { root, pids, sliceSize: READ_SLICE, next, claims };
    this.claims = new Int32Array(claims);
    this.next = new Int32Array(next);
    this.slices = Math.ceil(pids.length / READ_SLICE);
    this.parts = new Array<RawReadResult | undefined>(this.slices);
    this.missing = this.slices;
  }

  get helperCount(): number {
    return this.helpers.length;
  }

  /** Start one more helper thread; false when threads cannot be started here. */
  addHelper(): boolean {
    if (this.helperFailed) return false;
    try {
      const { port1, port2 } = new MessageChannel();
      const worker = new Worker(HELPER_SOURCE, {
        eval: true,
        workerData: { port: port2, setup: this.setup },
        transferList: [port2],
      });
      const helper = { worker, port: port1, alive: true };
      port1.on("message", (m: HelperMessage) => {
        if (m.kind === "hash") this.onHash(m.result);
        else this.received(m.index, m.result);
      });
      const lost = () => {
        if (!helper.alive) return;
        helper.alive = false;
        port1.close();
        if (!this.helpers.some((h) => h.alive)) {
          this.helperFailed = true;
          this.onLost();
        }
        this.wake?.();
      };
      worker.once("error", lost);
      worker.once("exit", lost);
      this.helpers.push(helper);
      return true;
    } catch {
      this.helperFailed = true;
      return false;
    }
  }

  /** Post a hash job to a live helper, starting one if there is none; sets its slot. */
  hash(job: HashJob): boolean {
    if (this.slotsUsed >= HASH_SLOTS) return false;
    let helper = this.helpers.find((h) => h.alive);
    if (helper === undefined) {
      if (!this.addHelper()) return false;
      helper = this.helpers[this.helpers.length - 1];
    }
    if (helper === undefined) return false;
    job.slot = this.slotsUsed++;
    helper.port.postMessage(job);
    return true;
  }

  /** Claim a posted job for this thread; false when a helper has started it. */
  takeBack(job: HashJob): boolean {
    return job.slot >= 0 && Atomics.compareExchange(this.claims, job.slot, 0, 1) === 0;
  }

  /** Read `first`, on this thread and before all others. */
  readFirst(): void {
    if (this.first === null || this.firstPart !== null) return;
    this.firstPart = readRawProcesses(fs, this.setup.root, [this.first]);
    for (const r of this.firstPart.processes) this.onRead(r);
  }

  /** Read slices on this thread until none is left. */
  readHere(): void {
    this.readFirst();
    for (;;) {
      const index = Atomics.add(this.next, 0, 1);
      if (index >= this.slices) return;
      this.received(index, this.readSlice(index));
    }
  }

  /** Every slice, in pid order, once the helpers have sent theirs. */
  async collect(): Promise<RawReadResult> {
    while (this.missing > 0 && this.helpers.some((h) => h.alive)) {
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = null;
    }
    // A helper that died took its slices with it: read them here.
    for (let index = 0; index < this.slices; index++) {
      if (this.parts[index] === undefined) this.received(index, this.readSlice(index));
    }
    const parts = this.parts.filter((p): p is RawReadResult => p !== undefined);
    if (this.firstPart !== null) parts.push(this.firstPart);
    const processes = parts.flatMap((p) => p.processes);
    if (this.firstPart !== null) processes.sort((a, b) => a.pid - b.pid);
    return { processes, failures: parts.flatMap((p) => p.failures) };
  }

  async close(): Promise<void> {
    const helpers = this.helpers.splice(0);
    await Promise.all(helpers.map((h) => h.worker.terminate()));
  }

  private readSlice(index: number): RawReadResult {
    const at = index * READ_SLICE;
    return readRawProcesses(fs, this.setup.root, this.setup.pids.slice(at, at + READ_SLICE));
  }

  private received(index: number, part: RawReadResult): void {
    if (this.parts[index] !== undefined) return;
    this.parts[index] = part;
    this.missing--;
    for (const r of part.processes) this.onRead(r);
    if (this.missing === 0) this.wake?.();
  }
}

/**
 * Read `pids` in a helper thread only; rejects when no thread can be started. Exported for
 * tests.
 */
export async function readInWorker(root: string, pids: readonly number[]): Promise<RawReadResult> {
  const pool = new ReadPool(root, pids);
  if (!pool.addHelper()) throw new Error("cannot start a worker thread");
  try {
    return await pool.collect();
  } finally {
    await pool.close();
  }
}

/** What building a process needs besides its raw reading. */
export type BuildOptions = Pick<
  ReadProcessesOptions,
  "users" | "bootTimeMs" | "clockTicks" | "nowMs"
>;

export interface ReadingResult {
  processes: Process[];
  gaps: Gap[];
  reader: "native" | "js";
  /** The network namespaces' tables the native reader read after the processes (see readNetwork). */
  netns: RawNetTables[];
}

export interface ProcessReading {
  /** Read the rest, build and hash; the helper threads are ended afterwards. */
  finish(): Promise<ReadingResult>;
  /** End the helper threads without a result (the caller failed meanwhile); idempotent. */
  close(): Promise<void>;
  /** How many helper threads (reading or hashing) were started so far. */
  helperThreads(): number;
}

/**
 * Start reading every process: helper threads start, and our own process is read and its
 * executable handed to the hasher, so that hashing and reading go on while the caller does
 * other work (loading accounts, asking the engine). Processes are built as they are read:
 * the native reader's records as they arrive, between the caller's other work. Call
 * `finish` or `close`.
 */
export function startReadingProcesses(opts: ReadProcessesOptions): ProcessReading {
  const root = opts.procRoot ?? "/proc";
  const nowMs = opts.nowMs ?? Date.now();
  const listPids = () =>
    fs
      .readdirSync(root)
      .filter((name) => /^\d+$/.test(name))
      .map(Number)
      .sort((a, b) => a - b);
  const nativePath = opts.nativeReader ?? null;
  // The native reader lists /proc itself; the JS reader needs the list now.
  const listed = nativePath === null ? listPids() : [];
  // Our own process comes first: it runs node, the biggest binary there is to hash, and is
  // certainly alive; its hash then starts at once.
  const selfListed =
    nativePath === null ? listed.includes(process.pid) : fs.existsSync(`${root}/${process.pid}`);
  const self = selfListed ? process.pid : null;
  const pool = new ReadPool(
    root,
    self === null ? listed : listed.filter((pid) => pid !== self),
    self,
  );
  // The native reader runs in its own process meanwhile; when it fails, the JS reader
  // reads here instead.
  const prefetched = opts.prefetch ?? null;
  const usePrefetch =
    prefetched !== null &&
    root === "/proc" &&
    prefetched.skipPid === self &&
    Date.now() - prefetched.startedAtMs <= PREFETCH_MAX_AGE_MS;
  // One nobody takes is ended: its reader must not run on, nor its pipe keep us alive.
  if (prefetched !== null && !usePrefetch) prefetched.reading.stop();
  let native: NativeReading | null = null;
  if (nativePath !== null) {
    native = usePrefetch
      ? prefetched.reading
      : startNative(nativePath, root, readerThreads(), self);
    native.done.catch(() => {});
  }
  const hasher =
    (opts.hashExecutables ?? true)
      ? new ExeHasher(
          opts.hashCache ?? new Map(),
          opts.maxHashBytes ?? 512 * 1024 * 1024,
          opts.hashWorkerMinBytes ?? HASH_WORKER_MIN_BYTES,
          (job) => pool.hash(job),
          (job) => pool.takeBack(job),
        )
      : null;
  const upperByMntNs = new Map<string, string | null>();
  // What this thread and its helpers read, and (apart, until it proves whole) what the
  // native reader read: processes, gaps and which executable each process's hash is of.
  const built = (): Built => ({
    ctx: { root, upperByMntNs, tally: new GapTally() },
    processes: [],
    hashKeys: new Map(),
  });
  const here = built();
  const fromNative = built();
  const take = (r: RawProcess, into: Built) => {
    const key = hasher?.add(r, `${root}/${r.pid}`) ?? null;
    if (key !== null) into.hashKeys.set(r.pid, key);
    let p: Process | null;
    try {
      p = buildProcess(r, opts, nowMs, into.ctx);
    } catch (e) {
      // A fault of breachkit's, not of the reading: the process is named in a gap, and
      // the rest of the snapshot goes on.
      into.ctx.tally.add("procfs", `cannot build the process: ${errorMessage(e)}`, r.pid);
      p = null;
    }
    if (p !== null) into.processes.push(p);
  };
  pool.onRead = (r) => take(r, here);
  pool.onHash = (r) => hasher?.answered(r);
  pool.onLost = () => hasher?.lost();
  native?.subscribe((r) => take(r, fromNative));
  const workers =
    opts.workers ??
    (listed.length >= WORKER_THRESHOLD ? Math.min(availableParallelism() - 1, 3) : 0);
  try {
    for (let i = 0; i < workers; i++) if (!pool.addHelper()) break;
    pool.readFirst();
  } catch (e) {
    void pool.close();
    throw e;
  }

  /**
   * Every process read, built, with its executable's hash key: the pool's, and the native
   * reader's (or the JS reader's instead: then nothing of the native reader's is kept).
   */
  let netns: RawNetTables[] = [];
  async function readAll(): Promise<Pick<Built, "processes" | "hashKeys">> {
    pool.readHere();
    const mine = await pool.collect();
    for (const [source, what, pid] of mine.failures) here.ctx.tally.add(source, what, pid);
    if (native === null) return { processes: here.processes, hashKeys: here.hashKeys };
    const rest = await native.done.catch(() => null);
    if (rest === null) {
      // What the native reader had sent is dropped with it: all is read again here.
      const again = readRawProcesses(
        fs,
        root,
        listPids().filter((pid) => pid !== self),
      );
      for (const r of again.processes) take(r, here);
      for (const [source, what, pid] of again.failures) here.ctx.tally.add(source, what, pid);
      reader = "js";
      return { processes: here.processes, hashKeys: here.hashKeys };
    }
    // Those the reading did not hand over as they came (a reading that gives all at its end).
    for (const r of rest.processes) take(r, fromNative);
    for (const [source, what, pid] of rest.failures) here.ctx.tally.add(source, what, pid);
    netns = rest.netns ?? [];
    here.ctx.tally.merge(fromNative.ctx.tally);
    return {
      processes: [...here.processes, ...fromNative.processes],
      hashKeys: new Map([...fromNative.hashKeys, ...here.hashKeys]),
    };
  }

  let reader: "native" | "js" = native === null ? "js" : "native";
  async function finish(): Promise<ReadingResult> {
    let processes: Process[];
    try {
      const all = await readAll();
      const hashKeys = all.hashKeys;
      processes = all.processes.sort((a, b) => a.pid - b.pid);
      if (hasher !== null) {
        // Built first, hashes filled in after: building overlaps the last hashes.
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
      await pool.close();
    }
    return { processes, gaps: here.ctx.tally.gaps(), reader, netns };
  }
  return { finish, close: () => pool.close(), helperThreads: () => pool.helperCount };
}

interface Built {
  ctx: Context;
  processes: Process[];
  /** By pid: the hash cache key of its executable. */
  hashKeys: Map<number, string>;
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
  const { processes, gaps } = await startReadingProcesses(opts).finish();
  return { processes, gaps };
}
