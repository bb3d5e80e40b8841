/**
 * Finding or starting a clamd. Debian's packaged clamd will not start without the official
 * database (which needs the internet), so breachkit runs its own for the length of a scan: its own
 * config and socket in a temporary directory, stdio to a log file, stopped by pid at the end.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, openSync } from "node:fs";
import { mkdtemp, readdir, readFile, realpath, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { clamdCommand, clamdPing } from "./clamd-client.js";

export interface ClamdHandle {
  kind: "system" | "own";
  socket: string;
  pid: number | null;
  /** The VERSION reply, e.g. "ClamAV 1.4.6/0/...". */
  version: string;
  threads: number;
  /** INSTREAM refuses more than this. */
  streamMaxLength: number;
  /** clamd silently skips the rest of a file past this size: we record such files as skipped. */
  maxFileSize: number;
  /** clamd runs as root and can open any path we can (else: stream the bytes). */
  canOpenAnyPath: boolean;
  /** Resident memory after loading the database (own clamd only): what one more copy costs. */
  rssBytes?: number;
  /** The daemon's log (own clamd only). */
  readLog(): Promise<string>;
  stop(): Promise<void>;
}

const DB_EXTENSIONS =
  /\.(cvd|cld|cud|hdb|hsb|hdu|hsu|mdb|msb|mdu|msu|ndb|ndu|ldb|ldu|idb|cdb|crb|cat|ftm|pdb|gdb|wdb|sfp|fp|ign|ign2|yar|yara|cbc|info|imp)$/;

/** Signature files in a database directory (empty: clamd and clamscan refuse to start). */
export async function databaseFiles(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => DB_EXTENSIONS.test(n)).sort();
  } catch {
    return [];
  }
}

/** clamd.conf: `Key value` lines, `#` comments; the last occurrence of a key wins. */
export function parseClamdConf(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const sp = line.search(/\s/);
    if (sp < 0) m.set(line, "yes");
    else m.set(line.slice(0, sp), line.slice(sp).trim());
  }
  return m;
}

/** "100M", "25K", "1048576" as clamd reads them. */
export function parseClamdSize(v: string | undefined, fallback: number): number {
  if (!v) return fallback;
  const m = /^(\d+)\s*([kKmM]?)$/.exec(v.trim());
  if (!m) return fallback;
  const n = Number(m[1]);
  const unit = m[2]?.toLowerCase();
  return unit === "k" ? n * 1024 : unit === "m" ? n * 1024 * 1024 : n;
}

const MIB = 1024 * 1024;

/**
 * A clamd already running with the database asked for: its socket from clamd.conf must answer
 * PING and its DatabaseDirectory must be the same directory (else its hits would be another
 * signature set's, and the cache key would lie).
 */
export async function findSystemClamd(
  dbDir: string,
  confPath = "/etc/clamav/clamd.conf",
): Promise<ClamdHandle | null> {
  let conf: Map<string, string>;
  try {
    conf = parseClamdConf(await readFile(confPath, "utf8"));
  } catch {
    return null;
  }
  const socket = conf.get("LocalSocket");
  const confDb = conf.get("DatabaseDirectory") ?? "/var/lib/clamav";
  if (!socket) return null;
  try {
    if ((await realpath(confDb)) !== (await realpath(dbDir))) return null;
  } catch {
    return null;
  }
  if (!(await clamdPing(socket, 1500))) return null;
  const version = await clamdCommand(socket, "VERSION", 5000).catch(() => "");
  const user = conf.get("User");
  return {
    kind: "system",
    socket,
    pid: null,
    version: version.trim(),
    threads: Number(conf.get("MaxThreads") ?? 10) || 10,
    streamMaxLength: parseClamdSize(conf.get("StreamMaxLength"), 100 * MIB),
    maxFileSize: parseClamdSize(conf.get("MaxFileSize"), 100 * MIB),
    canOpenAnyPath: user === undefined || user === "root",
    readLog: async () => "",
    stop: async () => {},
  };
}

export interface StartClamdOptions {
  dbDir: string;
  threads: number;
  /** Loading the official database takes up to a minute here. */
  startTimeoutMs: number;
  clamdPath?: string;
  /** Give up loading (the scan ended before this daemon was needed). */
  signal?: AbortSignal;
  /** The daemon's environment: the CLI's. */
  env: Readonly<Record<string, string | undefined>>;
}

/** The config we write: exported so that a test can assert what the daemon was told. */
export function ownClamdConfig(dir: string, dbDir: string, threads: number): string {
  return [
    `LocalSocket ${join(dir, "clamd.sock")}`,
    "LocalSocketMode 600",
    `DatabaseDirectory ${dbDir}`,
    `PidFile ${join(dir, "clamd.pid")}`,
    `LogFile ${join(dir, "clamd.log")}`,
    `TemporaryDirectory ${dir}`,
    "Foreground yes",
    `MaxThreads ${threads}`,
    "MaxQueue 200",
    // The walk may pause between commands while it reads a big directory.
    "IdleTimeout 300",
    "CommandReadTimeout 30",
    "StreamMaxLength 100M",
    "MaxFileSize 100M",
    "MaxScanSize 400M",
    // No reload mid-scan: the cache key is the database at start.
    "SelfCheck 0",
    "",
  ].join("\n");
}

async function rssOf(pid: number | undefined): Promise<number> {
  if (pid === undefined) return 0;
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  return m ? Number(m[1]) * 1024 : 0;
}

/** The effective uid of a process (second field of Uid: in /proc/<pid>/status), or null. */
async function uidOf(pid: number | undefined): Promise<number | null> {
  if (pid === undefined) return null;
  const status = await readFile(`/proc/${pid}/status`, "utf8").catch(() => "");
  const m = /^Uid:\s+\d+\s+(\d+)/m.exec(status);
  return m ? Number(m[1]) : null;
}

/** MemAvailable from /proc/meminfo in bytes, or null where it cannot be read. */
export function parseMemAvailable(meminfo: string): number | null {
  const m = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo);
  return m ? Number(m[1]) * 1024 : null;
}

function waitExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once("exit", () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Start our own clamd and wait for PONG; an error says why (with the tail of its log). */
export async function startOwnClamd(opts: StartClamdOptions): Promise<ClamdHandle> {
  const dir = await mkdtemp(join(tmpdir(), "breachkit-clamd-"));
  const confPath = join(dir, "clamd.conf");
  const socket = join(dir, "clamd.sock");
  const logPath = join(dir, "clamd.out");
  await writeFile(confPath, ownClamdConfig(dir, opts.dbDir, opts.threads), { mode: 0o600 });
  const fd = openSync(logPath, "a", 0o600);
  let child: ChildProcess;
  try {
    // Never our stdout: clamd in the foreground prints its whole startup there.
    child = spawn(opts.clamdPath ?? "clamd", ["-c", confPath], {
      stdio: ["ignore", fd, fd],
      cwd: "/",
      env: { ...opts.env },
    });
  } finally {
    closeSync(fd);
  }
  const spawnError = new Promise<Error>((resolve) => child.once("error", resolve));
  const readLog = async () => {
    const a = await readFile(join(dir, "clamd.log"), "utf8").catch(() => "");
    return a || (await readFile(logPath, "utf8").catch(() => ""));
  };
  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill("SIGTERM");
      if (!(await waitExit(child, 5000))) {
        child.kill("SIGKILL");
        await waitExit(child, 2000);
      }
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + opts.startTimeoutMs;
  let failure: string | null = null;
  spawnError.then((e) => {
    failure = e.message;
  });
  for (;;) {
    if (failure) break;
    if (opts.signal?.aborted) {
      failure = "start cancelled";
      break;
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      failure = `clamd exited (${child.exitCode ?? child.signalCode}) while loading`;
      break;
    }
    if (await clamdPing(socket, 1000)) {
      const version = await clamdCommand(socket, "VERSION", 5000).catch(() => "");
      return {
        kind: "own",
        socket,
        pid: child.pid ?? null,
        version: version.trim(),
        threads: opts.threads,
        streamMaxLength: 100 * MIB,
        maxFileSize: 100 * MIB,
        // clamd opens paths itself: as root it can open any (the daemon's own uid, read here).
        canOpenAnyPath: (await uidOf(child.pid)) === 0,
        rssBytes: await rssOf(child.pid),
        readLog,
        stop,
      };
    }
    if (Date.now() > deadline) {
      failure = `clamd did not answer PING within ${Math.round(opts.startTimeoutMs / 1000)} s`;
      break;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  const log = await readLog();
  await stop();
  const tail = log.trim().split("\n").slice(-5).join("\n");
  throw new Error(tail ? `${failure}\n${tail}` : (failure ?? "clamd did not start"));
}
