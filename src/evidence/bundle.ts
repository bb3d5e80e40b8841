/**
 * The evidence bundle writer (docs/architecture.md, "The evidence bundle"). Every file is
 * hashed while it streams to disk, every step is appended to collection.log.jsonl at once, and `seal` leaves a
 * valid bundle even when the run was cut short: Ctrl-C, an engine that went away, a full disk.
 *
 * Disk full is the hard case: when the device fills, neither the last log lines nor manifest.json
 * would fit. The writer therefore sets aside a small reserve file when the bundle is created and
 * deletes it at seal time, so the seal has room. No evidence is ever deleted to make space.
 */

import { createHash } from "node:crypto";
import { closeSync, constants, fsyncSync, openSync, writeSync } from "node:fs";
import { chmod, mkdir, open, realpath, rm, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { BreachkitError } from "../util/errors.js";
import { errorMessage } from "../util/result.js";
import { TOOL } from "../version.js";
import { HashingSink, type PumpResult, pumpFile, pumpStream } from "./hash.js";
import { checkRelPath, safePathComponent } from "./paths.js";
import type {
  BundleWriter,
  CopyOptions,
  LogEntry,
  Manifest,
  ManifestEntry,
  WriteOptions,
} from "./types.js";

export { safePathComponent } from "./paths.js";

export const MANIFEST_FILE = "manifest.json";
export const SEAL_FILE = "SEAL";
export const LOG_FILE = "collection.log.jsonl";
const RESERVE_FILE = ".breachkit-reserve";
/** Files the writer owns; callers may not write these names at the bundle root. */
const RESERVED = new Set([MANIFEST_FILE, SEAL_FILE, LOG_FILE, RESERVE_FILE]);

/** Room kept for the last log lines, manifest.json and SEAL (~2000 manifest entries). */
export const DEFAULT_RESERVE_BYTES = 512 * 1024;
/** How long seal waits for interrupted writes to stop before writing the manifest anyway. */
const SEAL_WAIT_MS = 10_000;
const MAX_LOG_LINE = 64 * 1024;
const MAX_PENDING_LOG_LINES = 10_000;

const FATAL_ERRNO = new Set(["ENOSPC", "EDQUOT", "EROFS"]);

/** The run was stopped (SIGINT, SIGTERM, or the bundle was sealed while writing). */
export class InterruptedError extends BreachkitError {
  constructor(message: string, hint?: string) {
    super("INTERRUPTED", message, hint);
    this.name = "InterruptedError";
  }
}

/** Errors after which collecting more is pointless: the output is full or gone, or we were stopped. */
export function isFatalError(e: unknown): boolean {
  if (e instanceof BreachkitError) return e.code === "INTERRUPTED";
  const code = (e as NodeJS.ErrnoException | null)?.code;
  return typeof code === "string" && FATAL_ERRNO.has(code);
}

export interface CreateBundleOptions {
  /** Where the bundle directory is made (created if missing). */
  outDir: string;
  /** The host's name as reported (attacker-controlled: sanitised for the directory name). */
  host: string;
  /** The command line that makes the bundle, e.g. "collect --container bk-lab-gitlab". */
  command: string;
  /** Start time; also names the directory. */
  now?: Date;
  /** Paths being collected: the bundle may not be written inside any of them. */
  refuseInside?: readonly string[];
  /** Space set aside for sealing on a full disk; default DEFAULT_RESERVE_BYTES. */
  reserveBytes?: number;
}

/** "2024-05-01T12:34:56.789Z" -> "20240501T123456Z" */
export function bundleTimestamp(d: Date): string {
  return d
    .toISOString()
    .replace(/[-:]/g, "")
    .replace(/\.\d+Z$/, "Z");
}

/** Make a new bundle directory and return its writer. */
export async function createBundle(opts: CreateBundleOptions): Promise<BundleWriter> {
  const started = opts.now ?? new Date();
  const outDir = resolve(opts.outDir);
  const realOut = await realpathAllowMissing(outDir);
  const name = `breachkit-${safePathComponent(opts.host)}-${bundleTimestamp(started)}`;
  for (const collected of opts.refuseInside ?? []) {
    const realCollected = await realpathAllowMissing(resolve(collected));
    const target = join(realOut, name);
    if (target === realCollected || target.startsWith(realCollected + sep)) {
      throw new BreachkitError(
        "USAGE",
        `refusing to write the bundle inside ${realCollected}, which is being collected`,
        "choose another output directory with --out, ideally on another disk (e.g. --out /root/evidence or a mounted USB disk)",
      );
    }
  }
  try {
    await mkdir(realOut, { recursive: true, mode: 0o700 });
  } catch (e) {
    throw outputError(e, realOut, "create the output directory");
  }
  const dir = await makeUniqueDir(realOut, name);
  const reserveBytes = opts.reserveBytes ?? DEFAULT_RESERVE_BYTES;
  let logFd: number | undefined;
  try {
    logFd = openSync(
      join(dir, LOG_FILE),
      constants.O_WRONLY |
        constants.O_CREAT |
        constants.O_EXCL |
        constants.O_APPEND |
        constants.O_NOFOLLOW,
      0o600,
    );
    if (reserveBytes > 0) await writeReserve(join(dir, RESERVE_FILE), reserveBytes);
  } catch (e) {
    // Nothing was collected yet: remove the half-made directory rather than leave a non-bundle.
    if (logFd !== undefined) closeSync(logFd);
    await rm(dir, { recursive: true, force: true }).catch(() => undefined);
    throw outputError(e, realOut, "prepare the bundle");
  }
  const writer = new Bundle(dir, logFd, opts.host, opts.command, started);
  writer.log({
    step: "bundle",
    action: `create ${dir}`,
    result: "ok",
    details: { tool: TOOL.name, version: TOOL.version, host: opts.host, command: opts.command },
  });
  return writer;
}

class Bundle implements BundleWriter {
  private readonly files: ManifestEntry[] = [];
  private readonly claimed = new Set<string>();
  private readonly inflight = new Set<Promise<unknown>>();
  private readonly abort = new AbortController();
  private sealPromise: Promise<{ manifestSha256: string }> | null = null;
  /** Set once the manifest is being built: later results are not listed. */
  private listingClosed = false;
  private isSealed = false;

  private logFd: number | null;
  private readonly logHash = createHash("sha256");
  private logSize = 0;
  private readonly pendingLog: Buffer[] = [];
  private droppedLogLines = 0;
  private lastLogError: unknown = null;

  constructor(
    readonly dir: string,
    logFd: number,
    private readonly host: string,
    private readonly command: string,
    private readonly started: Date,
  ) {
    this.logFd = logFd;
  }

  get sealed(): boolean {
    return this.isSealed;
  }

  get entries(): readonly ManifestEntry[] {
    return this.files;
  }

  log(entry: LogEntry): void {
    if (this.logFd === null) return;
    const { time: _ignored, ...rest } = entry;
    this.pendingLog.push(Buffer.from(`${logLine({ time: new Date().toISOString(), ...rest })}\n`));
    if (this.pendingLog.length > MAX_PENDING_LOG_LINES) {
      this.pendingLog.pop();
      this.droppedLogLines++;
    }
    this.flushLog();
  }

  /**
   * Write queued log lines in order. A line the disk cannot take stays queued (the disk may
   * have room again after the reserve is freed at seal); the hash covers exactly the bytes
   * that reached the file, including a line the kernel accepted only in part.
   */
  private flushLog(): void {
    if (this.logFd === null) return;
    while (this.pendingLog.length > 0) {
      const buf = this.pendingLog[0]!;
      let n: number;
      try {
        n = writeSync(this.logFd, buf);
      } catch (e) {
        this.lastLogError = e;
        return;
      }
      if (n <= 0) return;
      this.logHash.update(buf.subarray(0, n));
      this.logSize += n;
      if (n < buf.length) this.pendingLog[0] = buf.subarray(n);
      else this.pendingLog.shift();
    }
  }

  async writeFile(
    relPath: string,
    data: string | Uint8Array,
    opts: WriteOptions,
  ): Promise<ManifestEntry> {
    const bytes = typeof data === "string" ? Buffer.from(data, "utf8") : data;
    return this.put(relPath, opts.source, opts.maxBytes, undefined, async (sink) => {
      const limit = opts.maxBytes ?? Number.POSITIVE_INFINITY;
      const take = Math.min(bytes.length, limit);
      await sink.push(bytes.subarray(0, take));
      await sink.flush();
      opts.onBytes?.(take);
      return { truncated: take < bytes.length };
    });
  }

  async writeJson(relPath: string, value: unknown, opts: WriteOptions): Promise<ManifestEntry> {
    return this.writeFile(relPath, `${JSON.stringify(value, null, 2)}\n`, opts);
  }

  async writeStream(
    relPath: string,
    data: Readable | AsyncIterable<Uint8Array>,
    opts: WriteOptions,
  ): Promise<ManifestEntry> {
    return this.put(relPath, opts.source, opts.maxBytes, undefined, (sink, signal) =>
      pumpStream(data, sink, {
        maxBytes: opts.maxBytes,
        signal,
        onBytes: opts.onBytes,
        chunksHeld: opts.chunksHeld,
      }),
    );
  }

  async copyFile(relPath: string, srcPath: string, opts: CopyOptions = {}): Promise<ManifestEntry> {
    this.assertOpen();
    const follow = opts.followSymlink ?? /^\/proc\/(\d+|self)\/(exe|fd\/\d+)$/.test(srcPath);
    // Open the source before creating anything, so a missing file leaves no empty copy.
    const src = await openSource(srcPath, follow);
    try {
      const st = await src.stat();
      if (!st.isFile()) {
        throw new BreachkitError("BAD_INPUT", `${srcPath} is not a regular file; not copied`);
      }
      const sizeNote = st.size > 0 ? `; the source had ${st.size} bytes when opened` : "";
      return await this.put(
        relPath,
        opts.source ?? srcPath,
        opts.maxBytes,
        sizeNote,
        (sink, signal) =>
          pumpFile(src, sink, { maxBytes: opts.maxBytes, signal, onBytes: opts.onBytes }),
      );
    } finally {
      await src.close().catch(() => undefined);
    }
  }

  async step<T>(step: string, action: string, fn: () => Promise<T>): Promise<T | undefined> {
    const t0 = performance.now();
    try {
      const value = await fn();
      this.log({ step, action, result: "ok", durationMs: Math.round(performance.now() - t0) });
      return value;
    } catch (e) {
      const fatal = isFatalError(e);
      this.log({
        step,
        action,
        result: "error",
        durationMs: Math.round(performance.now() - t0),
        error: errorMessage(e),
        ...(fatal ? { details: { fatal: true } } : {}),
      });
      if (fatal) throw e;
      return undefined;
    }
  }

  seal(opts: { complete: boolean; reason?: string }): Promise<{ manifestSha256: string }> {
    this.sealPromise ??= this.doSeal(opts);
    return this.sealPromise;
  }

  private assertOpen(): void {
    if (this.isSealed) {
      throw new InterruptedError("the evidence bundle is already sealed; nothing more is written");
    }
  }

  /**
   * Claim a path, create the file, run `body` to fill it, and list what reached the disk. A
   * failure part-way (source gone, disk full, interrupted) still lists the partial file with
   * a note, so the bundle never holds an unlisted file; the error is then rethrown.
   */
  private put(
    relPath: string,
    source: string,
    maxBytes: number | undefined,
    sizeNote: string | undefined,
    body: (sink: HashingSink, signal: AbortSignal) => Promise<PumpResult>,
  ): Promise<ManifestEntry> {
    this.assertOpen();
    const checked = checkRelPath(relPath);
    if (!checked.ok) {
      throw new BreachkitError(
        "BAD_INPUT",
        `refused bundle path ${JSON.stringify(relPath)}: ${checked.reason}`,
      );
    }
    const rel = checked.path;
    if (RESERVED.has(rel)) {
      throw new BreachkitError("BAD_INPUT", `${rel} is written by the bundle itself`);
    }
    if (this.claimed.has(rel)) {
      throw new BreachkitError("BAD_INPUT", `${rel} is already in the bundle`);
    }
    this.claimed.add(rel);
    const task = this.fill(rel, source, maxBytes, sizeNote ?? "", body);
    this.inflight.add(task);
    const untrack = () => void this.inflight.delete(task);
    task.then(untrack, untrack);
    return task;
  }

  private async fill(
    rel: string,
    source: string,
    maxBytes: number | undefined,
    sizeNote: string,
    body: (sink: HashingSink, signal: AbortSignal) => Promise<PumpResult>,
  ): Promise<ManifestEntry> {
    const abs = join(this.dir, rel);
    const collectedAt = new Date().toISOString();
    let fh: Awaited<ReturnType<typeof open>>;
    try {
      await mkdir(dirname(abs), { recursive: true, mode: 0o700 });
      fh = await open(
        abs,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
    } catch (e) {
      this.claimed.delete(rel);
      throw e;
    }
    const sink = new HashingSink(fh);
    let pumped: PumpResult | undefined;
    let sourceError: unknown;
    try {
      pumped = await body(sink, this.abort.signal);
    } catch (e) {
      sourceError = e;
    }
    const res = await sink.finish();
    let closeError: unknown;
    try {
      await fh.close();
    } catch (e) {
      // On NFS and some disks a deferred write error surfaces only at close.
      closeError = e;
    }
    const error = res.writeError ?? closeError ?? sourceError;
    let note: string | null = null;
    if (error !== undefined) {
      const what =
        error === res.writeError || error === closeError
          ? "writing the copy failed"
          : error instanceof InterruptedError
            ? "the collection was interrupted"
            : "reading the source failed";
      note = `incomplete: ${what} after ${res.size} bytes (${errorMessage(error)})`;
    } else if (pumped?.truncated) {
      note = `cut at ${res.size} bytes (size limit ${maxBytes ?? "?"})${sizeNote}`;
    }
    const entry: ManifestEntry = {
      path: rel,
      sha256: res.sha256,
      size: res.size,
      source,
      collectedAt,
      truncated: error !== undefined || (pumped?.truncated ?? false),
      note,
    };
    if (!this.listingClosed) this.files.push(entry);
    if (error !== undefined) throw error;
    return entry;
  }

  private async doSeal(opts: {
    complete: boolean;
    reason?: string;
  }): Promise<{ manifestSha256: string }> {
    this.isSealed = true;
    let complete = opts.complete;
    let reason = opts.reason ?? null;
    if (this.inflight.size > 0) {
      const n = this.inflight.size;
      this.abort.abort(
        new InterruptedError(`interrupted: ${reason ?? "the bundle was sealed while writing"}`),
      );
      await Promise.race([Promise.allSettled([...this.inflight]), delay(SEAL_WAIT_MS)]);
      if (complete) {
        complete = false;
        reason = `sealed while ${n} file(s) were still being written`;
      }
      if (this.inflight.size > 0) {
        this.log({
          step: "seal",
          action: "stop writes in progress",
          result: "partial",
          error: `${this.inflight.size} write(s) did not stop in time and are not in the manifest`,
        });
      }
    }
    if (!complete && reason === null) reason = "not given";
    this.listingClosed = true;
    // Free our own reserve, never evidence, so the last log lines and the manifest fit.
    await rm(join(this.dir, RESERVE_FILE), { force: true }).catch(() => undefined);
    this.log({
      step: "seal",
      action: `write ${MANIFEST_FILE} and ${SEAL_FILE}`,
      result: "ok",
      details: { complete, incompleteReason: reason, files: this.files.length + 1 },
    });
    const logEntry = this.closeLog();
    const manifest: Manifest = {
      format: "breachkit-bundle",
      formatVersion: 1,
      tool: { name: TOOL.name, version: TOOL.version },
      command: this.command,
      host: this.host,
      startedAt: this.started.toISOString(),
      endedAt: new Date().toISOString(),
      complete,
      incompleteReason: complete ? null : reason,
      files: [...this.files, logEntry],
    };
    const bytes = Buffer.from(`${JSON.stringify(manifest, null, 2)}\n`, "utf8");
    const manifestSha256 = createHash("sha256").update(bytes).digest("hex");
    try {
      await writeSmallFile(join(this.dir, MANIFEST_FILE), bytes);
    } catch (e) {
      await unlink(join(this.dir, MANIFEST_FILE)).catch(() => undefined);
      throw new BreachkitError(
        "IO",
        `could not write ${MANIFEST_FILE} in ${this.dir}: ${errorMessage(e)}; the bundle is NOT sealed`,
        `the collected files are still there and ${LOG_FILE} lists every step. Free space on that device (or copy the directory elsewhere) and collect again; nothing was deleted to make room`,
        { cause: e },
      );
    }
    try {
      await writeSmallFile(join(this.dir, SEAL_FILE), Buffer.from(`${manifestSha256}\n`));
    } catch (e) {
      await unlink(join(this.dir, SEAL_FILE)).catch(() => undefined);
      throw new BreachkitError(
        "IO",
        `could not write ${SEAL_FILE} in ${this.dir}: ${errorMessage(e)}`,
        `${MANIFEST_FILE} was written; write down its SHA-256 ${manifestSha256} to prove later that it did not change`,
        { cause: e },
      );
    }
    await syncDir(this.dir);
    return { manifestSha256 };
  }

  /** Write the last queued lines, close the log and describe it for the manifest. */
  private closeLog(): ManifestEntry {
    this.flushLog();
    const lost = this.pendingLog.length + this.droppedLogLines;
    if (this.logFd !== null) {
      try {
        fsyncSync(this.logFd);
      } catch {
        // the bytes are in the page cache; a failed fsync does not change what was hashed
      }
      closeSync(this.logFd);
      this.logFd = null;
    }
    return {
      path: LOG_FILE,
      sha256: this.logHash.digest("hex"),
      size: this.logSize,
      source: "breachkit",
      collectedAt: this.started.toISOString(),
      truncated: lost > 0,
      note:
        lost > 0
          ? `${lost} log line(s) could not be written: ${errorMessage(this.lastLogError)}`
          : null,
    };
  }
}

function logLine(obj: Record<string, unknown>): string {
  let line: string;
  try {
    line = JSON.stringify(obj);
  } catch (e) {
    // details may hold a BigInt or a cycle: keep the step, drop what cannot be written.
    const { details: _d, ...rest } = obj;
    line = JSON.stringify({ ...rest, detailsError: errorMessage(e) });
  }
  if (line.length > MAX_LOG_LINE) {
    const { details: _d, ...rest } = obj;
    const error = typeof rest.error === "string" ? rest.error.slice(0, 4096) : rest.error;
    line = JSON.stringify({ ...rest, error, detailsError: "details too large, left out" });
  }
  return line;
}

async function openSource(srcPath: string, follow: boolean) {
  // O_NONBLOCK: a FIFO planted at a log path must not hang the collection.
  const base = constants.O_RDONLY | constants.O_NONBLOCK | (follow ? 0 : constants.O_NOFOLLOW);
  try {
    // O_NOATIME keeps the file's access time as the attacker left it (root may use it).
    return await open(srcPath, base | constants.O_NOATIME);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") throw e;
    return open(srcPath, base);
  }
}

async function makeUniqueDir(parent: string, name: string): Promise<string> {
  for (let i = 1; i <= 1000; i++) {
    const dir = join(parent, i === 1 ? name : `${name}-${i}`);
    try {
      await mkdir(dir, { mode: 0o700 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw outputError(e, parent, "create the bundle directory");
    }
    // mkdir's mode is filtered by the umask; the bundle must be 0700 whatever it is.
    await chmod(dir, 0o700);
    return dir;
  }
  throw new BreachkitError("IO", `too many bundles named ${name}* in ${parent}`);
}

async function writeReserve(path: string, size: number): Promise<void> {
  const fh = await open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    // Real zeros, not a sparse file: the blocks must actually be taken.
    const zeros = Buffer.alloc(Math.min(size, 1 << 20));
    let left = size;
    while (left > 0) {
      const { bytesWritten } = await fh.write(zeros, 0, Math.min(left, zeros.length));
      left -= bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeSmallFile(path: string, bytes: Buffer): Promise<void> {
  const fh = await open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    let off = 0;
    while (off < bytes.length) {
      const { bytesWritten } = await fh.write(bytes, off, bytes.length - off);
      if (bytesWritten <= 0) throw new Error("write accepted no bytes");
      off += bytesWritten;
    }
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function syncDir(dir: string): Promise<void> {
  try {
    const fd = openSync(dir, constants.O_RDONLY | constants.O_DIRECTORY);
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // some file systems refuse fsync on a directory; the files themselves were synced
  }
}

/** realpath of the longest existing prefix, with the missing rest appended. */
async function realpathAllowMissing(p: string): Promise<string> {
  const missing: string[] = [];
  let cur = p;
  for (;;) {
    try {
      return join(await realpath(cur), ...missing.reverse());
    } catch {
      const parent = dirname(cur);
      if (parent === cur) return p;
      missing.push(basename(cur));
      cur = parent;
    }
  }
}

function outputError(e: unknown, outDir: string, what: string): BreachkitError {
  const code = (e as NodeJS.ErrnoException).code;
  const where =
    "choose another output directory with --out, ideally on another disk than the one under investigation";
  switch (code) {
    case "EACCES":
    case "EPERM":
      return new BreachkitError(
        "PERMISSION",
        `cannot ${what} in ${outDir}: permission denied`,
        where,
        { cause: e },
      );
    case "EROFS":
      return new BreachkitError(
        "IO",
        `cannot ${what} in ${outDir}: the file system is read-only`,
        where,
        { cause: e },
      );
    case "ENOSPC":
    case "EDQUOT":
      return new BreachkitError(
        "IO",
        `cannot ${what} in ${outDir}: no space left on the device`,
        `free space there, or ${where}`,
        { cause: e },
      );
    case "ENOTDIR":
    case "EEXIST":
      return new BreachkitError("USAGE", `cannot ${what}: ${outDir} is not a directory`, where, {
        cause: e,
      });
    default:
      return new BreachkitError("IO", `cannot ${what} in ${outDir}: ${errorMessage(e)}`, where, {
        cause: e,
      });
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => {
    const t = setTimeout(r, ms);
    t.unref();
  });
}
