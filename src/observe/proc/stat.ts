/**
 * Parsers for /proc/<pid>/stat and /proc/<pid>/status. Both are attacker-shaped: a process
 * picks its own comm (prctl PR_SET_NAME), up to 15 bytes of anything but NUL.
 */

/** PF_KTHREAD in the stat flags: a kernel thread (no executable, no user memory). */
export const PF_KTHREAD = 0x00200000;

export interface ProcStat {
  pid: number;
  comm: string;
  state: string;
  ppid: number;
  flags: number;
  /** Clock ticks in user and kernel mode. */
  utime: number;
  stime: number;
  numThreads: number;
  /** Clock ticks after boot when the process started. */
  starttime: number;
  /** Resident set size in pages. */
  rssPages: number;
  kernelThread: boolean;
}

function int(s: string | undefined): number | null {
  if (s === undefined || !/^-?\d+$/.test(s)) return null;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : null;
}

/**
 * Parse /proc/<pid>/stat. The comm field sits between "(" and ")" but may itself hold
 * spaces, parentheses and newlines: the kernel prints it raw, so the only safe split is at
 * the LAST ")" (no later field can contain one). Returns null for truncated or garbled text.
 */
export function parseStat(text: string): ProcStat | null {
  const open = text.indexOf(" (");
  const close = text.lastIndexOf(")");
  if (open < 1 || close < open) return null;
  const pid = int(text.slice(0, open));
  const comm = text.slice(open + 2, close);
  // Fields after comm start at field 3 (state): field n is rest[n - 3].
  // Only the first 22 fields after comm are read: the limit spares ~30 strings per process.
  const rest = text
    .slice(close + 1)
    .trim()
    .split(" ", 22);
  const state = rest[0];
  const ppid = int(rest[1]);
  const flags = int(rest[6]);
  const utime = int(rest[11]);
  const stime = int(rest[12]);
  const numThreads = int(rest[17]);
  const starttime = int(rest[19]);
  const rssPages = int(rest[21]);
  if (
    pid === null ||
    state === undefined ||
    !/^[A-Za-z]$/.test(state) ||
    ppid === null ||
    flags === null ||
    utime === null ||
    stime === null ||
    numThreads === null ||
    starttime === null ||
    rssPages === null
  ) {
    return null;
  }
  return {
    pid,
    comm,
    state,
    ppid,
    flags,
    utime,
    stime,
    numThreads,
    starttime,
    rssPages,
    kernelThread: (flags & PF_KTHREAD) !== 0,
  };
}

export interface IdPair {
  real: number;
  effective: number;
}

export interface ProcStatus {
  name: string | null;
  ppid: number | null;
  uid: IdPair;
  gid: IdPair;
  threads: number | null;
  /** VmRSS in bytes; null for kernel threads and zombies, which have no user memory. */
  vmRssBytes: number | null;
  /** The pid in each nested pid namespace, outermost (the host's) first. */
  nspid: number[];
}

// status escapes the name (unlike stat): "\n" for a newline and "\\" for a backslash.
function unescapeStatusName(s: string): string {
  return s.replace(/\\(n|\\)/g, (_m, c: string) => (c === "n" ? "\n" : "\\"));
}

function idPair(value: string | undefined): IdPair | null {
  if (value === undefined) return null;
  const [real, effective] = value.trim().split(/\s+/).map(int);
  if (real == null || effective == null) return null;
  return { real, effective };
}

/**
 * The value of `Key:` in status text, or undefined. Looked up by "\nKey:" rather than by
 * splitting every line: status has ~55 lines and only a few are needed, for thousands of
 * processes. Name is the first line and escaped, so no value can contain "\nKey:".
 */
function statusField(text: string, key: string): string | undefined {
  let at: number;
  if (text.startsWith(`${key}:`)) at = 0;
  else {
    const i = text.indexOf(`\n${key}:`);
    if (i < 0) return undefined;
    at = i + 1;
  }
  const start = at + key.length + 1;
  const end = text.indexOf("\n", start);
  return text.slice(start, end < 0 ? text.length : end);
}

/** Parse /proc/<pid>/status. Returns null when Uid or Gid cannot be read (truncated file). */
export function parseStatus(text: string): ProcStatus | null {
  const uid = idPair(statusField(text, "Uid"));
  const gid = idPair(statusField(text, "Gid"));
  if (uid === null || gid === null) return null;
  const nameRaw = statusField(text, "Name");
  const rss = /^\s*(\d+)\s*kB\s*$/.exec(statusField(text, "VmRSS") ?? "");
  const nspid = (statusField(text, "NSpid") ?? "")
    .trim()
    .split(/\s+/)
    .map(int)
    .filter((n): n is number => n !== null);
  return {
    // Only the tab after "Name:" is the separator; a name may start with spaces or tabs.
    name: nameRaw === undefined ? null : unescapeStatusName(nameRaw.replace(/^\t/, "")),
    ppid: int(statusField(text, "PPid")?.trim()),
    uid,
    gid,
    threads: int(statusField(text, "Threads")?.trim()),
    vmRssBytes: rss?.[1] === undefined ? null : Number(rss[1]) * 1024,
    nspid,
  };
}
