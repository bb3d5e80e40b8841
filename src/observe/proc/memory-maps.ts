/**
 * A process's memory as the kernel describes it: /proc/<pid>/maps (the mappings), the
 * registers the kernel shows without ptrace (/proc/<pid>/task/<tid>/syscall: the stack and
 * instruction pointers of a task that is blocked or stopped), /proc/<pid>/auxv. Reading the
 * bytes themselves (/proc/<pid>/mem) is the dump's business (act/memory-dump.ts), since it is
 * done while the process is held still.
 */
import { readdir, readFile } from "node:fs/promises";

export interface Mapping {
  start: number;
  end: number;
  /** "r-xp", "rw-s"... */
  perms: string;
  /** Offset in the mapped file. */
  offset: number;
  dev: string;
  inode: number;
  /** The file, "[heap]", "[stack]", "[vdso]", "" for anonymous; " (deleted)" kept. */
  path: string;
}

/** Above this a maps file is not a process's: a single process rarely has 100,000 mappings. */
const MAX_MAPS_BYTES = 64 * 1024 * 1024;

/**
 * Parse /proc/<pid>/maps. Lines that do not parse, and mappings above 2^53 (the x86-64
 * [vsyscall] page: a fixed kernel page, never the process's own data), are left out.
 */
export function parseMaps(text: string): Mapping[] {
  const out: Mapping[] = [];
  for (const line of text.split("\n")) {
    const m = /^([0-9a-f]+)-([0-9a-f]+) ([r-][w-][x-][ps]) ([0-9a-f]+) (\S+) (\d+)\s*(.*)$/.exec(
      line,
    );
    if (!m) continue;
    const start = Number.parseInt(m[1]!, 16);
    const end = Number.parseInt(m[2]!, 16);
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end <= start) continue;
    out.push({
      start,
      end,
      perms: m[3]!,
      offset: Number.parseInt(m[4]!, 16),
      dev: m[5]!,
      inode: Number(m[6]),
      path: m[7] ?? "",
    });
  }
  return out;
}

/**
 * Whether a mapping's bytes can be read through /proc/<pid>/mem: it must be readable, and not
 * one of the kernel's special pages ([vvar] answers EIO; [vsyscall] is outside user space).
 */
export function dumpable(m: Mapping): boolean {
  return (
    m.perms[0] === "r" &&
    m.path !== "[vvar]" &&
    m.path !== "[vsyscall]" &&
    !m.path.startsWith("[vvar")
  );
}

export async function readMaps(pid: number): Promise<Mapping[]> {
  const text = await readFile(`/proc/${pid}/maps`, "latin1");
  return parseMaps(text.slice(0, MAX_MAPS_BYTES));
}

/** What /proc/<pid>/task/<tid>/syscall tells of a stopped task: its stack and instruction pointers. */
export interface TaskRegisters {
  tid: number;
  /** null while the task runs (the file says "running"), or where the kernel hides it. */
  sp: number | null;
  pc: number | null;
}

/** "nr a1 a2 a3 a4 a5 a6 sp pc", "-1 sp pc" (not in a syscall) or "running". */
export function parseSyscall(tid: number, text: string): TaskRegisters {
  const f = text.trim().split(/\s+/);
  if (f.length < 3 || f[0] === "running") return { tid, sp: null, pc: null };
  const num = (s: string | undefined) => {
    if (s === undefined) return null;
    const n = Number.parseInt(s.replace(/^0x/, ""), 16);
    return Number.isSafeInteger(n) ? n : null;
  };
  return { tid, sp: num(f[f.length - 2]), pc: num(f[f.length - 1]) };
}

/** The tasks (threads) of a process, with what the kernel shows of their registers. */
export async function readTasks(pid: number): Promise<TaskRegisters[]> {
  const tids = (await readdir(`/proc/${pid}/task`).catch(() => [] as string[]))
    .filter((n) => /^\d+$/.test(n))
    .map(Number)
    .sort((a, b) => (a === pid ? -1 : b === pid ? 1 : a - b));
  const out: TaskRegisters[] = [];
  for (const tid of tids) {
    const text = await readFile(`/proc/${pid}/task/${tid}/syscall`, "latin1").catch(() => null);
    out.push(text === null ? { tid, sp: null, pc: null } : parseSyscall(tid, text));
  }
  return out;
}

export async function readAuxv(pid: number): Promise<Buffer | null> {
  return readFile(`/proc/${pid}/auxv`).catch(() => null);
}
