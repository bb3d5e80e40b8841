/**
 * The I/O half of readProcesses: for each pid, the raw contents of the procfs files and
 * links a Process is built from. Parsing, hashing and container lookups happen afterwards
 * in processes.ts.
 *
 * Reading /proc for thousands of processes is tens of thousands of tiny syscalls; their
 * cost, not parsing, dominates. So:
 * - everything is synchronous with one reused buffer: a promise per file costs far more;
 * - `readRawProcesses` is SELF-CONTAINED (it uses only its `fs` argument and globals) so
 *   that processes.ts can also run it in worker threads from its source text, splitting
 *   the pid list across cores. Worker threads cannot load a TypeScript module under tsx
 *   or vitest; a function's source text works in every runtime. Do not reference imports
 *   or other module-level names from inside it.
 */
import type * as NodeFs from "node:fs";
import type { ProcStat, ProcStatus } from "./stat.js";

export type FsLike = Pick<
  typeof NodeFs,
  "openSync" | "readSync" | "closeSync" | "readlinkSync" | "statSync" | "readdirSync"
>;

export interface RawProcess {
  pid: number;
  /** The text of stat and status (only the lines parseStatus reads); empty when `parsed`. */
  stat: string;
  status: string;
  /**
   * What parseStat and parseStatus make of that text, when the native reader parsed it
   * itself (text in the kernel's exact shape; see native/procread.c).
   */
  parsed?: ParsedFacts;
  /** Raw bytes of cmdline; empty for kernel threads. */
  cmdline: Uint8Array;
  cgroup: string;
  cwd: string | null;
  exeLink: string | null;
  /** errno code when /proc/<pid>/exe could not be read (not for kernel threads). */
  exeError: string | null;
  /** dev, ino, size, mtimeMs, ctimeMs, nlink of the executable (stat through the link). */
  exeStat: [number, number, number, number, number, number] | null;
  exeStatError: string | null;
  /** readlink of ns/pid, ns/net, ns/mnt. */
  ns: [string | null, string | null, string | null];
  /** fd link targets that are sockets (`socket:[123]`). */
  sockets: string[];
}

/** The facts of stat and status a Process is built from. */
export interface ParsedFacts {
  stat: ProcStat;
  status: Pick<ProcStatus, "uid" | "gid" | "vmRssBytes">;
}

/** A failure worth reporting: [source, what, pid]. */
export type RawFailure = [string, string, number];

export interface RawReadResult {
  processes: RawProcess[];
  failures: RawFailure[];
  /** Network namespaces' tables, read on the way (the native reader only). */
  netns?: RawNetTables[];
}

/**
 * The tables of one network namespace under /proc/<readerPid>/net: its interfaces (dev)
 * and, by name (tcp, tcp6, udp, udp6, raw, raw6), each table's text or why it could not be
 * read (an errno code); a table that does not exist there (tcp6 without IPv6) is left out.
 */
export interface RawNetTables {
  /** The namespace's link, `net:[<inode>]`. */
  link: string;
  readerPid: number;
  dev: string;
  tables: [name: string, text: string | null, error: string | null][];
}

export function readRawProcesses(fs: FsLike, root: string, pids: readonly number[]): RawReadResult {
  const PF_KTHREAD = 0x00200000;
  const MAX_CMDLINE = 1024 * 1024;
  const MAX_TEXT = 256 * 1024;
  const MAX_FDS = 65_536;
  let scratch = Buffer.allocUnsafe(64 * 1024);
  const codeOf = (e: unknown): string => {
    const err = e as { code?: unknown; message?: unknown } | null;
    return typeof err?.code === "string" ? err.code : String(err?.message ?? e);
  };
  const vanished = (e: unknown): boolean => {
    const c = codeOf(e);
    return c === "ENOENT" || c === "ESRCH";
  };
  // seq_file-backed procfs files (and cmdline) fill the whole user buffer on every read
  // until their end, so a short read is the end of file: no final empty read needed.
  const fill = (path: string, max: number): number => {
    const fd = fs.openSync(path, "r");
    try {
      let len = 0;
      for (;;) {
        if (len === scratch.length) {
          if (len >= max) break;
          const bigger = Buffer.allocUnsafe(Math.min(scratch.length * 4, max));
          scratch.copy(bigger, 0, 0, len);
          scratch = bigger;
        }
        const room = Math.min(scratch.length, max) - len;
        const n = fs.readSync(fd, scratch, len, room, null);
        len += n;
        if (n === 0 || n < room) break;
      }
      return len;
    } finally {
      fs.closeSync(fd);
    }
  };
  const text = (path: string): string => scratch.toString("utf8", 0, fill(path, MAX_TEXT));
  const link = (path: string): string | null => {
    try {
      return fs.readlinkSync(path);
    } catch {
      return null;
    }
  };
  const alive = (base: string): boolean =>
    fs.statSync(base, { throwIfNoEntry: false }) !== undefined;

  const processes: RawProcess[] = [];
  const failures: RawFailure[] = [];
  for (const pid of pids) {
    const base = `${root}/${pid}`;
    let stat: string;
    let status: string;
    try {
      stat = text(`${base}/stat`);
      status = text(`${base}/status`);
    } catch (e) {
      // A process that exited between the listing and now is simply not there any more.
      if (!vanished(e)) failures.push(["procfs stat", `cannot read: ${codeOf(e)}`, pid]);
      continue;
    }
    const after = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const kernelThread = (Number(after[6]) & PF_KTHREAD) !== 0;
    const zombie = after[0] === "Z" || after[0] === "X";
    const raw: RawProcess = {
      pid,
      stat,
      status,
      cmdline: new Uint8Array(0),
      cgroup: "",
      cwd: null,
      exeLink: null,
      exeError: null,
      exeStat: null,
      exeStatError: null,
      ns: [link(`${base}/ns/pid`), link(`${base}/ns/net`), link(`${base}/ns/mnt`)],
      sockets: [],
    };
    if (!kernelThread) {
      try {
        const n = fill(`${base}/cmdline`, MAX_CMDLINE);
        raw.cmdline = new Uint8Array(scratch.subarray(0, n));
        raw.cgroup = text(`${base}/cgroup`);
      } catch (e) {
        if (vanished(e)) continue;
        failures.push(["procfs", `cannot read cmdline or cgroup: ${codeOf(e)}`, pid]);
      }
      raw.cwd = link(`${base}/cwd`);
      try {
        raw.exeLink = fs.readlinkSync(`${base}/exe`);
        try {
          const st = fs.statSync(`${base}/exe`);
          raw.exeStat = [st.dev, st.ino, st.size, st.mtimeMs, st.ctimeMs, st.nlink];
        } catch (e) {
          raw.exeStatError = codeOf(e);
        }
      } catch (e) {
        // Zombies have no executable any more; a live process without one has exited.
        if (!zombie && vanished(e) && !alive(base)) continue;
        raw.exeError = zombie ? "zombie" : codeOf(e);
        if (!zombie) failures.push(["procfs exe", `cannot read exe: ${raw.exeError}`, pid]);
      }
      try {
        // Always list, then readlink each: probing 0..n-1 by readlink (n from the size of
        // /proc/<pid>/fd on Linux 6.2+) was measured slower overall, since most daemons and
        // anything started from a shell hold gaps in their descriptor tables, and a failed
        // probe costs a stat, a thrown ENOENT and the listing anyway.
        const fds = fs.readdirSync(`${base}/fd`);
        for (let i = 0; i < fds.length && i < MAX_FDS; i++) {
          // A descriptor closed between the listing and the readlink gives null.
          const target = link(`${base}/fd/${fds[i]}`);
          if (target?.startsWith("socket:[")) raw.sockets.push(target);
        }
      } catch (e) {
        if (vanished(e)) {
          if (!alive(base)) continue;
        } else {
          failures.push(["procfs fd", `cannot list fds: ${codeOf(e)}`, pid]);
        }
      }
    }
    processes.push(raw);
  }
  return { processes, failures };
}

/** One executable to hash, read through a /proc/<pid>/exe link. */
export interface HashJob {
  key: string;
  path: string;
  /**
   * Its claim in HelperSetup.claims, taken by whichever thread hashes it first (the main
   * thread takes jobs still waiting once it has nothing else to do); -1: not shared.
   */
  slot: number;
  /** The identity stat() gave through that link when the process was read. */
  dev: number;
  ino: number;
  size: number;
}

export interface HashResult {
  key: string;
  sha256: string | null;
  error: string | null;
  /** The process exited, or its pid now runs another file: try another process's link. */
  vanished: boolean;
}

/**
 * SHA-256 of one executable. SELF-CONTAINED like readRawProcesses: processes.ts runs it on
 * the main thread for small files and from its source text in a worker thread for big ones,
 * so that hashing overlaps the reading of /proc on another core.
 */
export function hashExecutable(
  fs: Pick<typeof NodeFs, "openSync" | "readSync" | "closeSync" | "fstatSync">,
  createHash: (algorithm: "sha256") => {
    update(data: Uint8Array): unknown;
    digest(encoding: "hex"): string;
  },
  job: HashJob,
  buffer: Buffer,
): HashResult {
  const codeOf = (e: unknown): string => {
    const err = e as { code?: unknown; message?: unknown } | null;
    return typeof err?.code === "string" ? err.code : String(err?.message ?? e);
  };
  const failed = (e: unknown): HashResult => {
    const code = codeOf(e);
    const vanished = code === "ENOENT" || code === "ESRCH";
    return {
      key: job.key,
      sha256: null,
      error: vanished ? null : `cannot hash: ${code}`,
      vanished,
    };
  };
  let fd: number;
  try {
    // Through /proc/<pid>/exe: this reads the running file even after it was deleted.
    fd = fs.openSync(job.path, "r");
  } catch (e) {
    return failed(e);
  }
  try {
    // The hash may run well after the stat: a pid that was reused since runs another file.
    const st = fs.fstatSync(fd);
    if (st.dev !== job.dev || st.ino !== job.ino) {
      return { key: job.key, sha256: null, error: null, vanished: true };
    }
    const hash = createHash("sha256");
    // Read to EOF rather than `size` bytes: the stat and the read are not atomic.
    let total = 0;
    for (;;) {
      const n = fs.readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      hash.update(buffer.subarray(0, n));
      total += n;
      if (total > job.size + 64 * buffer.length) {
        return {
          key: job.key,
          sha256: null,
          error: "cannot hash: file grew while being hashed",
          vanished: false,
        };
      }
    }
    return { key: job.key, sha256: hash.digest("hex"), error: null, vanished: false };
  } catch (e) {
    return failed(e);
  } finally {
    fs.closeSync(fd);
  }
}

/** What a helper thread sends back: the processes of one slice of pids, or one hash. */
export type HelperMessage =
  | { kind: "slice"; index: number; result: RawReadResult }
  | { kind: "hash"; result: HashResult };

/** What the parts a helper thread runs on: its port, and the shared list of pids. */
export interface HelperSetup {
  root: string;
  pids: readonly number[];
  sliceSize: number;
  /** One Int32: the next slice to take, shared by every thread that reads. */
  next: SharedArrayBuffer;
  /** One Int32 per hash job slot: 0 while nobody hashes it. */
  claims: SharedArrayBuffer;
}

/**
 * The loop of a helper thread. SELF-CONTAINED, run from its source text with `read` and
 * `hash` being readRawProcesses and hashExecutable. Slices of the pid list are taken from a
 * shared counter by this thread and the main thread alike, so whichever is free reads, and
 * each slice goes back as soon as it is read. A hash job takes precedence over reading: the
 * main thread reads on meanwhile, and hashes only what is left when it is done.
 */
export function runHelper(
  port: {
    postMessage(m: HelperMessage): void;
    on(event: "message", listener: (job: HashJob) => void): unknown;
  },
  receive: () => { message: HashJob } | undefined,
  setup: HelperSetup,
  read: (root: string, pids: readonly number[]) => RawReadResult,
  hash: (job: HashJob) => HashResult,
): void {
  const next = new Int32Array(setup.next);
  const claims = new Int32Array(setup.claims);
  const slices = Math.ceil(setup.pids.length / setup.sliceSize);
  const work = (job: HashJob): void => {
    if (job.slot >= 0 && Atomics.compareExchange(claims, job.slot, 0, 1) !== 0) return;
    port.postMessage({ kind: "hash", result: hash(job) });
  };
  for (;;) {
    const job = receive();
    if (job !== undefined) {
      work(job.message);
      continue;
    }
    const index = Atomics.add(next, 0, 1);
    if (index >= slices) break;
    const pids = setup.pids.slice(index * setup.sliceSize, (index + 1) * setup.sliceSize);
    port.postMessage({ kind: "slice", index, result: read(setup.root, pids) });
  }
  port.on("message", work);
}
