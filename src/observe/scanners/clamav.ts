/**
 * The ClamAV scan: walk every target ourselves (per-file control for the cache and the size
 * limits), scan what is new through clamd (its own open() where it can see the path, INSTREAM
 * where it cannot), map each hit back to the host or container and the path inside it.
 *
 * Speed on 2 cores comes from: largest files first (one huge file scanned last would leave a
 * core idle), each inode scanned once (hard links: /usr/lib's dri drivers are one 25 MiB file
 * under 13 names), and one own clamd per core plus one, one command in flight each (the spare
 * keeps a core busy while another daemon waits for its next command), rather than one
 * clamd with several threads: clamd reads every file into an anonymous mapping, and in a process
 * whose threads run on both cores each of those page faults and unmaps sends a TLB shootdown to
 * the other core (an IPI: a VM exit under KVM). On /usr/lib/x86_64-linux-gnu one clamd thread
 * spent 6.9 s of CPU, one clamd with 4 threads 8.3-9.6 s, two or three clamds 6.5-7.0 s together.
 */
import { createHash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { createReadStream } from "node:fs";
import { mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { formatBytes, type Progress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import type { VerifiedSet } from "../packages/scan.js";
import { ClamdSession, type ClamdVerdict, clamdInstream, parseRecord } from "./clamd-client.js";
import {
  type ClamdHandle,
  databaseFiles,
  findSystemClamd,
  parseMemAvailable,
  startOwnClamd,
} from "./clamd-daemon.js";
import { findExecutable, runTool } from "./run-tool.js";
import { databaseKey, emptyCache, type ScanCache } from "./scan-cache.js";
import type { ClamavHit, Location, ScanGap, ScanTarget, ToolReport } from "./types.js";
import { skipDirsFor, walkFiles } from "./walk.js";
import { alwaysScanned } from "./yara.js";

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
   * clamd threads for each own daemon. The IDSESSION reader holds one of them, so a lone daemon
   * on 2 cores does best with 4 threads and 4 commands in flight (bench/scan-clamav.ts).
   */
  threads?: number;
  /** Commands in flight on the session of a lone daemon (one each when there are several). */
  inFlight?: number;
  /**
   * Own clamd processes (default: one per CPU plus one, at most 5; one on a single CPU). Each
   * holds its own copy of the database: fewer start when half the available memory would not
   * hold them, none when the scan looks shorter than the first daemon took to load.
   */
  processes?: number;
  /** Use the system clamd when it runs with this database (default true). */
  useSystemClamd?: boolean;
  clamdPath?: string;
  clamscanPath?: string;
  /** Test hook: behave as if clamd could not start. */
  forceClamscan?: boolean;
  maxFilesPerTarget?: number;
  /**
   * Files verified unchanged against their package (scan's packages step): not scanned, but
   * counted and named, except in the places always scanned (temp dirs, mail, web roots, homes).
   * Null or absent: every file is scanned (--all-files).
   */
  verified?: VerifiedSet | null;
  signal?: AbortSignal;
  /** The environment clamscan runs with and PATH is searched in. */
  env: Readonly<Record<string, string | undefined>>;
}

export interface ClamavStats {
  files: number;
  bytes: number;
  cached: number;
  scanned: number;
  scannedBytes: number;
  hardLinkAliases: number;
  skippedTooLarge: number;
  /** Files not scanned because they were verified unchanged against their package. */
  skippedVerified: number;
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

/** The job's file is one the package check verified, unchanged since, and not in an always-scanned place. */
function verifiedUnchanged(verified: VerifiedSet, j: Job): boolean {
  const v = verified.get(`${j.stat.dev}:${j.stat.ino}`);
  if (!v || v.size !== j.stat.size || v.mtimeNs !== j.stat.mtimeNs || v.ctimeNs !== j.stat.ctimeNs)
    return false;
  return ![j.location, ...j.aliases].some((l) => alwaysScanned(l.path));
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

/**
 * Scan jobs through clamd: the first daemon starts at once, the others join the same queue as
 * they finish loading (the official database takes up to a minute) and are told to give up
 * loading when the queue empties first.
 */
async function scanWithClamd(
  first: ClamdHandle,
  more: readonly Promise<ClamdHandle | null>[],
  loading: AbortController,
  jobs: Job[],
  opts: ClamavOptions,
  onDone: (job: Job, v: ClamdVerdict) => void,
): Promise<number> {
  let next = 0;
  let used = 1;
  const run = async (clamd: ClamdHandle, inFlight: number) => {
    const session = await ClamdSession.open(clamd.socket);
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
  };
  const extra = more.map(async (starting) => {
    const clamd = await starting;
    if (!clamd || next >= jobs.length) return;
    used++;
    // Its jobs are taken only once the session is open: a failure here loses none.
    await run(clamd, 1).catch(() => {});
  });
  const alone = Math.max(1, opts.inFlight ?? Math.min(first.threads, 4));
  try {
    await run(first, more.length > 0 && !loading.signal.aborted ? 1 : alone);
  } finally {
    loading.abort();
    await Promise.all(extra);
  }
  return used;
}

/** How many more own daemons fit: keep half of the available memory for everything else. */
async function extraDaemons(want: number, rssBytes: number): Promise<number> {
  if (want <= 0 || rssBytes <= 0) return 0;
  const avail = parseMemAvailable(await readFile("/proc/meminfo", "utf8").catch(() => ""));
  if (avail === null) return 0;
  return Math.max(0, Math.min(want, Math.floor(avail / 2 / rssBytes)));
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
      {
        timeoutMs: opts.timeoutMs,
        env: opts.env,
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
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
          message: run.timedOut
            ? "clamscan timed out"
            : run.truncated
              ? "no verdict: clamscan's output was cut at its bound"
              : "no verdict from clamscan",
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
    skippedVerified: 0,
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
      said: { tool: "clamav", hits: parsed.hits },
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
  const clamdExe = opts.forceClamscan
    ? null
    : await findExecutable(opts.clamdPath ?? "clamd", opts.env);
  const clamscanExe = await findExecutable(opts.clamscanPath ?? "clamscan", opts.env);
  if (!clamdExe && !clamscanExe) {
    gaps.push({
      tool: "clamav",
      what: "clamd, clamscan",
      reason: "not installed: apt-get install clamav clamav-daemon",
    });
    return report("missing", "ClamAV is not installed (apt-get install clamav clamav-daemon)");
  }

  let clamd: ClamdHandle | null = null;
  const extraClamds: ClamdHandle[] = [];
  const loading = new AbortController();
  let more: Promise<ClamdHandle | null>[] = [];
  let loadMs = 0;
  // The walk needs no daemon: list the files while the signatures load. Awaited in `finally`
  // too, so that no early return leaves it running (or its failure unhandled).
  const listing = collectJobs(opts, gaps, parsed.errors, stats);
  try {
    if (!opts.forceClamscan) {
      opts.progress.update("clamav: looking for clamd");
      if (opts.useSystemClamd !== false) clamd = await findSystemClamd(opts.dbDir);
      if (!clamd && clamdExe) {
        opts.progress.update("clamav: starting clamd (loading signatures)");
        const loadStarted = Date.now();
        try {
          clamd = await startOwnClamd({
            dbDir: opts.dbDir,
            threads: opts.threads ?? 4,
            startTimeoutMs: Math.min(opts.timeoutMs, 180_000),
            clamdPath: clamdExe,
            env: opts.env,
          });
          loadMs = Date.now() - loadStarted;
        } catch (e) {
          gaps.push({
            tool: "clamav",
            what: "own clamd",
            reason: `could not start: ${errorMessage(e)}; using clamscan`,
          });
        }
      }
    }
    // Without the process count: that depends on the memory free at the time, not on what the
    // cache entries mean.
    parsed.engine = clamd ? `clamd (${clamd.kind})` : "clamscan";
    parsed.version = clamd?.version ?? "";
    if (!clamd && !clamscanExe)
      return report("error", "clamd did not start and clamscan is missing");
    if (!clamd && clamscanExe) {
      const v = await runTool(clamscanExe, ["--version"], {
        timeoutMs: 10_000,
        env: opts.env,
      }).catch(() => null);
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

    // The other daemons load while we walk; they are called off below if the scan is small.
    if (clamd?.kind === "own" && clamdExe) {
      const cpus = availableParallelism();
      const want = opts.processes ?? (cpus > 1 ? Math.min(cpus + 1, 5) : 1);
      const n = await extraDaemons(want - 1, clamd.rssBytes ?? 0);
      const signal = opts.signal ? AbortSignal.any([opts.signal, loading.signal]) : loading.signal;
      const threads = clamd.threads;
      more = Array.from({ length: n }, async () => {
        try {
          const h = await startOwnClamd({
            dbDir: opts.dbDir,
            threads,
            startTimeoutMs: Math.min(opts.timeoutMs, 180_000),
            clamdPath: clamdExe,
            env: opts.env,
            signal,
          });
          extraClamds.push(h);
          return h;
        } catch {
          // The first daemon scans on alone: slower, not less thorough.
          return null;
        }
      });
    }
    const jobs = await listing;
    const todo: Job[] = [];
    const maxFile = clamd?.maxFileSize ?? 100 * 1024 * 1024;
    const verifiedNames: string[] = [];
    for (const j of jobs) {
      if (opts.verified && j.location.pid === null && verifiedUnchanged(opts.verified, j)) {
        stats.skippedVerified += 1 + j.aliases.length;
        for (const l of [j.location, ...j.aliases])
          verifiedNames.push(l.where === "host" ? l.path : `${l.where}:${l.path}`);
        continue;
      }
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
      if (clamd) {
        // Loading another daemon costs about as much CPU as the first one's load: not worth it
        // for a scan expected to be over sooner (25 MB/s: clamscan here, a few signatures).
        const small = opts.processes === undefined && totalBytes / 25e3 < loadMs;
        if (todo.length < 2 || small) loading.abort();
        const used = await scanWithClamd(clamd, more, loading, todo, { ...opts, signal }, onDone);
        parsed.engine =
          clamd.kind === "own"
            ? `clamd (own, ${used} process${used === 1 ? "" : "es"})`
            : `clamd (system, ${clamd.threads} threads)`;
      } else if (clamscanExe) {
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
    if (verifiedNames.length > 0) raw["skipped-verified.txt"] = `${verifiedNames.join("\n")}\n`;
    if (clamd?.kind === "own") raw["clamd.log"] = await clamd.readLog();
    for (const [i, h] of extraClamds.entries()) raw[`clamd-${i + 2}.log`] = await h.readLog();
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
      `${parsed.engine}: ${stats.files} files, ${stats.scanned} scanned, ${stats.cached} cached, ${stats.skippedVerified} skipped as verified against their package (scans/clamav/skipped-verified.txt), ${parsed.hits.length} hit(s), ${parsed.skipped.length} too large, ${parsed.errors.length} error(s)`,
    );
  } catch (e) {
    gaps.push({ tool: "clamav", what: "scan", reason: errorMessage(e) });
    return report("error", `ClamAV scan failed: ${errorMessage(e)}`);
  } finally {
    loading.abort();
    await Promise.all(more);
    await listing.catch(() => {});
    if (clamd?.kind === "own") await clamd.stop();
    await Promise.all(extraClamds.map((h) => h.stop()));
  }
}
