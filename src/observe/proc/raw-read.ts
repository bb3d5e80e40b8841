/**
 * The I/O half of the process reading: for each pid, the raw contents of the procfs files
 * and links a Process is built from. Parsing, hashing and container lookups happen
 * afterwards in processes.ts.
 *
 * Reading /proc for thousands of processes is tens of thousands of tiny syscalls; their
 * cost, not parsing, dominates. So everything is synchronous with one reused buffer (a
 * promise per file costs far more), and the caller reads in slices, yielding between them.
 * hashExecutable also runs in the worker (proc-worker.ts).
 */
import type * as NodeFs from "node:fs";

export type FsLike = Pick<
  typeof NodeFs,
  "openSync" | "readSync" | "closeSync" | "readlinkSync" | "statSync" | "readdirSync"
>;

export interface RawProcess {
  pid: number;
  /** The text of stat and status. */
  stat: string;
  status: string;
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

/** A failure worth reporting: [source, what, pid]. */
export type RawFailure = [string, string, number];

export interface RawReadResult {
  processes: RawProcess[];
  failures: RawFailure[];
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
   * Its claim in the worker's shared claims, taken by whichever thread hashes it first
   * (the main thread takes jobs still waiting once it has read every process); -1: none.
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
  /** When the last byte was read, ms since the epoch. */
  atMs: number;
}

/**
 * SHA-256 of one executable, from its bytes, read now through /proc/<pid>/exe. Runs in the
 * worker (proc-worker.ts), and on the main thread for the jobs the worker has not
 * started when the reading of /proc is done.
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
      atMs: Date.now(),
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
      return { key: job.key, sha256: null, error: null, vanished: true, atMs: Date.now() };
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
          atMs: Date.now(),
        };
      }
    }
    const sha256 = hash.digest("hex");
    return { key: job.key, sha256, error: null, vanished: false, atMs: Date.now() };
  } catch (e) {
    return failed(e);
  } finally {
    fs.closeSync(fd);
  }
}
