/**
 * The ClamAV scan: walk every target ourselves (per-file control for the cache and the size
 * limits), scan what is new through clamd (its own open() where it can see the path, INSTREAM
 * where it cannot), map each hit back to the host or container and the path inside it.
 *
 * Speed on 2 cores comes from: largest files first (one huge file scanned last would leave a
 * core idle), each inode scanned once (hard links: /usr/lib's dri drivers are one 25 MiB file
 * under 13 names), a few commands in flight on one IDSESSION so clamd's threads stay busy.
 */
import { createHash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { createReadStream } from "node:fs";
import { mkdtemp, open, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { formatBytes, type Progress } from "../../tell/progress.js";
import { errorMessage } from "../../util/result.js";
import { type ClamavHit, clamavFindings } from "./clamav-findings.js";
import { ClamdSession, type ClamdVerdict, clamdInstream, parseRecord } from "./clamd-client.js";
import { type ClamdHandle, databaseFiles, findSystemClamd, startOwnClamd } from "./clamd-daemon.js";
import { findExecutable, runTool } from "./run-tool.js";
import { databaseKey, emptyCache, type ScanCache } from "./scan-cache.js";
import type { Location, ScanGap, ScanTarget, ToolReport } from "./types.js";
import { skipDirsFor, walkFiles } from "./walk.js";

export const DEFAULT_HOST_PATHS = [
  "/tmp",
  "/var/tmp",
  "/dev/shm",
  "/root",
  "/home",
  "/opt",
  "/srv",
  "/var/www",
  "/var/mail",
  "/var/spool/mail",
  "/var/vmail",
];

export interface ClamavOptions {
  targets: readonly ScanTarget[];
  dbDir: string;
  /** Opened by the caller with the database key (see `prepareCache`), or null: no cache. */
  cache: ((dbKey: string) => Promise<ScanCache>) | null;
  progress: Progress;
  /** For the whole ClamAV part, clamd start included. */
  timeoutMs: number;
  /**
   * clamd threads for our own daemon. The IDSESSION reader holds one of them, so on 2 cores
   * 4 threads with 4 commands in flight measured best (bench/scan-clamav.ts).
   */
  threads?: number;
  /** Commands in flight on the session. */
  inFlight?: number;
  /** Use the system clamd when it runs with this database (default true). */
  useSystemClamd?: boolean;
  clamdPath?: string;
  clamscanPath?: string;
  /** Test hook: behave as if clamd could not start. */
  forceClamscan?: boolean;
  maxFilesPerTarget?: number;
  signal?: AbortSignal;
}

export interface ClamavStats {
  files: number;
  bytes: number;
  cached: number;
  scanned: number;
  scannedBytes: number;
  hardLinkAliases: number;
  skippedTooLarge: number;
  errors: number;
}

export interface ClamavParsed {
  engine: string;
  version: string;
  dbDir: string;
  dbKey: string | null;
  stats: ClamavStats;
  hits: ClamavHit[];
  skipped: { path: string; where: string; size: number; reason: string }[];
  errors: { path: string; where: string; message: string }[];
}

interface Job {
  /** What the host opens. */
  hostPath: Buffer;
  stat: BigIntStats;
  location: Location;
  /** Through /proc/<pid>/exe: clamd refuses a symlink, so stream it. */
  stream: boolean;
  aliases: Location[];
}

function decode(b: Buffer): string {
  return b.toString("utf8");
}

/** Strip the host's view prefix: /proc/123/root/etc/x -> /etc/x. */
export function insidePath(hostPath: string, root: string): string {
  if (root === "/" || root === "") return hostPath;
  const r = root.replace(/\/+$/, "");
  if (hostPath === r) return "/";
  return hostPath.startsWith(`${r}/`) ? hostPath.slice(r.length) : hostPath;
}

async function collectJobs(
  opts: ClamavOptions,
  gaps: ScanGap[],
  errors: ClamavParsed["errors"],
  stats: ClamavStats,
): Promise<Job[]> {
  const byInode = new Map<string, Job>();
  const jobs: Job[] = [];
  const add = (job: Job) => {
    stats.files++;
    stats.bytes += Number(job.stat.size);
    const key = `${job.stat.dev}:${job.stat.ino}`;
    const first = byInode.get(key);
    // Same inode, same bytes: scan once, report under every name (or every pid).
    if (first && first.stream === job.stream) {
      first.aliases.push(job.location);
      stats.hardLinkAliases++;
      return;
    }
    byInode.set(key, job);
    jobs.push(job);
  };
  const maxFiles = opts.maxFilesPerTarget ?? 5_000_000;
  for (const t of opts.targets) {
    if (opts.signal?.aborted) break;
    if (t.kind === "process") {
      const hostPath = `/proc/${t.pid}/exe`;
      try {
        const st = await stat(hostPath, { bigint: true });
        if (!st.isFile()) continue;
        add({
          hostPath: Buffer.from(hostPath),
          stat: st,
          stream: true,
          aliases: [],
          location: {
            where: t.containerName ?? (t.containerId ? t.containerId.slice(0, 12) : "host"),
            containerId: t.containerId,
            path: t.exe,
            hostPath,
            pid: t.pid,
          },
        });
      } catch (e) {
        // The process exited between the snapshot and now: nothing left to scan.
        errors.push({ path: hostPath, where: "host", message: errorMessage(e) });
      }
      continue;
    }
    const root = t.kind === "container" ? t.root : "/";
    const where = t.kind === "container" ? t.name : "host";
    const containerId = t.kind === "container" ? t.id : null;
    const mountinfo =
      t.kind === "container" && t.pid !== null
        ? `/proc/${t.pid}/mountinfo`
        : "/proc/self/mountinfo";
    // Containers without a pid are seen through their storage dir: nothing mounted inside.
    const skip =
      t.kind === "container" && t.pid === null
        ? new Set<string>()
        : await skipDirsFor(root, mountinfo);
    const viaProc = t.kind === "container" && root.startsWith("/proc/");
    const starts =
      t.kind === "host"
        ? t.paths
        : (t.paths ?? ["/"]).map((p) => (p === "/" ? root : `${root.replace(/\/+$/, "")}${p}`));
    for (const start of starts) {
      opts.progress.update(`clamav: listing ${where} ${insidePath(start, root)}`);
      for await (const f of walkFiles(start, {
        skip,
        maxFiles,
        onError: (e) => {
          // A default path that does not exist here (no /var/vmail) is not worth a line.
          if (/ENOENT/.test(e.message) && e.path === start) return;
          errors.push({ path: insidePath(e.path, root), where, message: e.message });
        },
      })) {
        const hp = decode(f.path);
        add({
          hostPath: f.path,
          stat: f.stat,
          // clamd resolves the path it is given (realpath) before opening it: through
          // /proc/<pid>/root that lands on the HOST's file of the same name (or fails with
          // "File path check failure"). Container files are read by us and streamed.
          stream: viaProc,
          aliases: [],
          location: { where, containerId, path: insidePath(hp, root), hostPath: hp, pid: null },
        });
      }
    }
    if (t.kind === "container" && t.pid === null && !t.root) {
      gaps.push({
        tool: "clamav",
        what: `container ${t.name}`,
        reason: "no filesystem path to scan",
      });
    }
  }
  return jobs;
}

async function sha256Of(path: Buffer, max = 512 * 1024 * 1024): Promise<string | null> {
  try {
    const st = await stat(path);
    if (st.size > max) return null;
    const h = createHash("sha256");
    for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
    return h.digest("hex");
  } catch {
    return null;
  }
}

async function startsWithFrom(path: Buffer): Promise<boolean> {
  try {
    const fh = await open(path, "r");
    try {
      const b = Buffer.alloc(5);
      const { bytesRead } = await fh.read(b, 0, 5, 0);
      return bytesRead === 5 && b.toString("latin1") === "From ";
    } finally {
      await fh.close();
    }
  } catch {
    return false;
  }
}

const PERMISSION =
  /(Permission denied|Access denied|Operation not permitted|lstat\(\) failed|Can't open|File path check failure)/i;

/** Scan jobs through clamd; returns per-job verdicts. */
async function scanWithClamd(
  clamd: ClamdHandle,
  jobs: Job[],
  opts: ClamavOptions,
  onDone: (job: Job, v: ClamdVerdict) => void,
): Promise<void> {
  const inFlight = Math.max(1, opts.inFlight ?? Math.min(clamd.threads, 4));
  const session = await ClamdSession.open(clamd.socket);
  let next = 0;
  const stream = async (job: Job): Promise<ClamdVerdict> => {
    if (job.stat.size > BigInt(clamd.streamMaxLength)) {
      return { kind: "error", message: "larger than StreamMaxLength: not scanned" };
    }
    return clamdInstream(clamd.socket, job.hostPath, 600_000);
  };
  const worker = async () => {
    while (next < jobs.length && !opts.signal?.aborted) {
      const job = jobs[next++]!;
      let v: ClamdVerdict;
      if (job.stream || !clamd.canOpenAnyPath) v = await stream(job);
      else {
        v = await session.scan(job.hostPath);
        // A clamd running as another user (the system one) cannot open root's files or
        // /proc/<pid>/root: we can, so we send the bytes.
        if (v.kind === "error" && PERMISSION.test(v.message)) v = await stream(job);
      }
      onDone(job, v);
    }
  };
  try {
    await Promise.all(Array.from({ length: inFlight }, worker));
  } finally {
    session.end();
    session.destroy();
  }
}

/** clamscan fallback: one run over a file list (one database load), parsed line by line. */
async function scanWithClamscan(
  exe: string,
  jobs: Job[],
  opts: ClamavOptions,
  errorsOut: ClamavParsed["errors"],
  onDone: (job: Job, v: ClamdVerdict) => void,
): Promise<{ stdout: string; stderr: string }> {
  const work = await mkdtemp(join(tmpdir(), "breachkit-clamscan-"));
  try {
    const listed: Job[] = [];
    for (const j of jobs) {
      const p = decode(j.hostPath);
      // The list is newline-separated and read as text: such names cannot go through it.
      if (p.includes("\n") || !Buffer.from(p).equals(j.hostPath)) {
        errorsOut.push({
          path: j.location.path,
          where: j.location.where,
          message: "name cannot be passed to clamscan (newline or not UTF-8); needs clamd",
        });
        continue;
      }
      listed.push(j);
    }
    const listFile = join(work, "files.txt");
    await writeFile(listFile, listed.map((j) => decode(j.hostPath)).join("\n"));
    const run = await runTool(
      exe,
      ["-d", opts.dbDir, "--no-summary", "--stdout", "--follow-file-symlinks=2", "-f", listFile],
      { timeoutMs: opts.timeoutMs, ...(opts.signal ? { signal: opts.signal } : {}) },
    );
    const verdicts = new Map<string, ClamdVerdict>();
    for (const line of run.stdout.split("\n")) {
      const r = parseRecord(line);
      if (r) verdicts.set(r.path, r.verdict);
    }
    for (const j of listed) {
      const v = verdicts.get(decode(j.hostPath));
      onDone(
        j,
        v ?? {
          kind: "error",
          message: run.timedOut ? "clamscan timed out" : "no verdict from clamscan",
        },
      );
    }
    return { stdout: run.stdout, stderr: run.stderr };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

export async function runClamav(opts: ClamavOptions): Promise<ToolReport> {
  const started = Date.now();
  const gaps: ScanGap[] = [];
  const raw: Record<string, string> = {};
  const stats: ClamavStats = {
    files: 0,
    bytes: 0,
    cached: 0,
    scanned: 0,
    scannedBytes: 0,
    hardLinkAliases: 0,
    skippedTooLarge: 0,
    errors: 0,
  };
  const parsed: ClamavParsed = {
    engine: "none",
    version: "",
    dbDir: opts.dbDir,
    dbKey: null,
    stats,
    hits: [],
    skipped: [],
    errors: [],
  };
  const report = (status: ToolReport["status"], summary: string): ToolReport => {
    stats.errors = parsed.errors.length;
    return {
      tool: "clamav",
      status,
      summary,
      findings: clamavFindings(parsed.hits),
      gaps,
      durationMs: Date.now() - started,
      raw,
      parsed,
    };
  };
  const dbFiles = await databaseFiles(opts.dbDir);
  if (dbFiles.length === 0) {
    gaps.push({
      tool: "clamav",
      what: `signature database ${opts.dbDir}`,
      reason: "no signature files: give --clamav-db DIR (freshclam needs the internet)",
    });
    return report("error", `no ClamAV signatures in ${opts.dbDir}`);
  }
  const clamdExe = opts.forceClamscan ? null : await findExecutable(opts.clamdPath ?? "clamd");
  const clamscanExe = await findExecutable(opts.clamscanPath ?? "clamscan");
  if (!clamdExe && !clamscanExe) {
    gaps.push({
      tool: "clamav",
      what: "clamd, clamscan",
      reason: "not installed: apt-get install clamav clamav-daemon",
    });
    return report("missing", "ClamAV is not installed (apt-get install clamav clamav-daemon)");
  }

  let clamd: ClamdHandle | null = null;
  try {
    if (!opts.forceClamscan) {
      opts.progress.update("clamav: looking for clamd");
      if (opts.useSystemClamd !== false) clamd = await findSystemClamd(opts.dbDir);
      if (!clamd && clamdExe) {
        opts.progress.update("clamav: starting clamd (loading signatures)");
        try {
          clamd = await startOwnClamd({
            dbDir: opts.dbDir,
            threads: opts.threads ?? 4,
            startTimeoutMs: Math.min(opts.timeoutMs, 180_000),
            clamdPath: clamdExe,
          });
        } catch (e) {
          gaps.push({
            tool: "clamav",
            what: "own clamd",
            reason: `could not start: ${errorMessage(e)}; using clamscan`,
          });
        }
      }
    }
    parsed.engine = clamd ? `clamd (${clamd.kind}, ${clamd.threads} threads)` : "clamscan";
    parsed.version = clamd?.version ?? "";
    if (!clamd && !clamscanExe)
      return report("error", "clamd did not start and clamscan is missing");
    if (!clamd && clamscanExe) {
      const v = await runTool(clamscanExe, ["--version"], { timeoutMs: 10_000 }).catch(() => null);
      parsed.version = v?.stdout.trim() ?? "";
    }

    let cache = emptyCache();
    if (opts.cache) {
      parsed.dbKey = await databaseKey(
        opts.dbDir,
        `${parsed.version.split("/")[0]}|${parsed.engine}`,
      );
      cache = await opts.cache(parsed.dbKey);
    }

    const jobs = await collectJobs(opts, gaps, parsed.errors, stats);
    const todo: Job[] = [];
    const maxFile = clamd?.maxFileSize ?? 100 * 1024 * 1024;
    for (const j of jobs) {
      if (cache.isClean(j.stat)) {
        stats.cached += 1 + j.aliases.length;
        continue;
      }
      if (j.stat.size > BigInt(maxFile)) {
        // clamd would read only the first MaxFileSize bytes and say OK: say so instead.
        stats.skippedTooLarge++;
        for (const l of [j.location, ...j.aliases]) {
          parsed.skipped.push({
            path: l.path,
            where: l.where,
            size: Number(j.stat.size),
            reason: `larger than MaxFileSize (${formatBytes(maxFile)})`,
          });
        }
        continue;
      }
      todo.push(j);
    }
    todo.sort((a, b) => (a.stat.size < b.stat.size ? 1 : a.stat.size > b.stat.size ? -1 : 0));
    const totalBytes = todo.reduce((s, j) => s + Number(j.stat.size), 0);
    const hitJobs: { job: Job; signature: string }[] = [];
    const onDone = (job: Job, v: ClamdVerdict) => {
      stats.scanned++;
      stats.scannedBytes += Number(job.stat.size);
      if (v.kind === "ok") cache.markClean(job.stat);
      else if (v.kind === "found") hitJobs.push({ job, signature: v.signature });
      else {
        for (const l of [job.location, ...job.aliases]) {
          parsed.errors.push({ path: l.path, where: l.where, message: v.message });
        }
      }
      opts.progress.update(
        `clamav: ${stats.scanned}/${todo.length} files, ${formatBytes(stats.scannedBytes)}/${formatBytes(totalBytes)}, ${hitJobs.length} hit(s), ${stats.cached} cached`,
      );
    };
    const ac = new AbortController();
    const stopAt = setTimeout(() => ac.abort(), opts.timeoutMs);
    const signal = opts.signal ? AbortSignal.any([opts.signal, ac.signal]) : ac.signal;
    try {
      if (clamd) await scanWithClamd(clamd, todo, { ...opts, signal }, onDone);
      else if (clamscanExe) {
        const out = await scanWithClamscan(
          clamscanExe,
          todo,
          { ...opts, signal },
          parsed.errors,
          onDone,
        );
        raw["clamscan.stdout.txt"] = out.stdout;
        raw["clamscan.stderr.txt"] = out.stderr;
      }
    } finally {
      clearTimeout(stopAt);
    }
    for (const { job, signature } of hitJobs) {
      const sha256 = await sha256Of(job.hostPath);
      const mbox = await startsWithFrom(job.hostPath);
      for (const location of [job.location, ...job.aliases]) {
        parsed.hits.push({
          location,
          signature,
          size: Number(job.stat.size),
          sha256,
          looksLikeMbox: mbox,
        });
      }
    }
    await cache
      .save()
      .catch((e) => gaps.push({ tool: "clamav", what: "cache", reason: errorMessage(e) }));
    if (clamd?.kind === "own") raw["clamd.log"] = await clamd.readLog();
    const timedOut = ac.signal.aborted && !opts.signal?.aborted;
    if (timedOut) {
      gaps.push({
        tool: "clamav",
        what: "scan",
        reason: `timed out after ${Math.round(opts.timeoutMs / 1000)} s; ${todo.length - stats.scanned} file(s) not scanned`,
      });
    }
    opts.progress.done(
      `clamav: ${stats.files} files (${formatBytes(stats.bytes)}), ${stats.scanned} scanned, ${stats.cached} from cache, ${parsed.hits.length} hit(s)`,
    );
    return report(
      timedOut ? "timeout" : "ok",
      `${parsed.engine}: ${stats.files} files, ${stats.scanned} scanned, ${stats.cached} cached, ${parsed.hits.length} hit(s), ${parsed.skipped.length} too large, ${parsed.errors.length} error(s)`,
    );
  } catch (e) {
    gaps.push({ tool: "clamav", what: "scan", reason: errorMessage(e) });
    return report("error", `ClamAV scan failed: ${errorMessage(e)}`);
  } finally {
    if (clamd?.kind === "own") await clamd.stop();
  }
}
