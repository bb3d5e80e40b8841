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

export type FsLike = Pick<
  typeof NodeFs,
  "openSync" | "readSync" | "closeSync" | "readlinkSync" | "statSync" | "readdirSync"
>;

export interface RawProcess {
  pid: number;
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
        // Since Linux 6.2 the size of /proc/<pid>/fd is the number of open descriptors.
        // Most processes use 0..n-1 densely: when n readlinks of 0..n-1 all succeed, they
        // were all of them, and the listing (four syscalls) is not needed. Any gap, an
        // older kernel (size 0) or a huge table falls back to listing.
        const count = fs.statSync(`${base}/fd`).size;
        let dense = count > 0 && count <= 64;
        const targets: string[] = [];
        for (let i = 0; dense && i < count; i++) {
          const target = link(`${base}/fd/${i}`);
          if (target === null) dense = false;
          else targets.push(target);
        }
        if (!dense) {
          targets.length = 0;
          const fds = fs.readdirSync(`${base}/fd`);
          for (let i = 0; i < fds.length && i < MAX_FDS; i++) {
            // A descriptor closed between the listing and the readlink gives null.
            const target = link(`${base}/fd/${fds[i]}`);
            if (target !== null) targets.push(target);
          }
        }
        for (const target of targets) if (target.startsWith("socket:[")) raw.sockets.push(target);
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
