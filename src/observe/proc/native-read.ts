/**
 * The native reader (native/procread.c, built by `npm run build` when a C compiler is
 * there): the same raw reading as readRawProcesses, done in C on several threads, decoded
 * here into the same RawProcess records. The JS reader stays the reference and the
 * fallback: this module never decides anything the JS reader would decide differently
 * (a parity test reads the live host both ways).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { Socket } from "node:net";
import { availableParallelism } from "node:os";
import { packagePath } from "../../util/package-root.js";
import type {
  ParsedFacts,
  RawFailure,
  RawNetTables,
  RawProcess,
  RawReadResult,
} from "./raw-read.js";
import { PF_KTHREAD } from "./stat.js";

/** The output format, first in every output (and in `procread --probe`'s answer). */
export const NATIVE_FORMAT = "BKPR0004";
const MAGIC = NATIVE_FORMAT;
const NULL_LEN = 0xffffffff;
/** A record longer than any the reader writes is refused at once. */
const MAX_RECORD = 512 * 1024 * 1024;
/** Output beyond this is refused (a runaway host would need 100,000 processes of 10 KB). */
const MAX_OUTPUT = 1024 * 1024 * 1024;

let cachedPath: string | null | undefined;

/**
 * Where the built reader is: dist/native/procread of this package (also when running from
 * src under tsx or vitest: the one the last build left). Null when there is none, or
 * BREACHKIT_PROC_READER=js asks for the JS reader.
 */
export function nativeReaderPath(env: Readonly<Record<string, string | undefined>>): string | null {
  if (env.BREACHKIT_PROC_READER === "js") return null;
  if (cachedPath !== undefined) return cachedPath;
  const path = packagePath("dist", "native", "procread");
  try {
    accessSync(path, constants.X_OK);
    cachedPath = path;
  } catch {
    cachedPath = null; // not built
  }
  return cachedPath;
}

/**
 * Decodes the reader's output as it arrives, record by record, so that the decoding
 * overlaps the reading instead of following it. Each record says its length: it is decoded
 * once it is whole, reading within its bounds only (a blob that claims more is an error).
 * `end` returns everything, or throws when the output was malformed, truncated or went on
 * after its end.
 */
export class NativeDecoder {
  private buf: Buffer = Buffer.alloc(0);
  private view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));
  private at = 0;
  /** Chunks that arrived while the record at `at` was still incomplete; how many bytes. */
  private waiting: Buffer[] = [];
  private waitingBytes = 0;
  /** Bytes the record at `at` needs in all (its kind and length included); 0: unknown. */
  private need = 0;
  /** The cursor and the end of the record being decoded. */
  private p = 0;
  private limit = 0;
  private started = false;
  private ended = false;
  private error: Error | null = null;
  /** The processes decoded and not handed to a subscriber (see `subscribe`). */
  processes: RawProcess[] = [];
  readonly failures: RawFailure[] = [];
  readonly netns: RawNetTables[] = [];
  private onProcess: ((r: RawProcess) => void) | null = null;

  /**
   * Hand every process decoded so far to `fn`, then each one as soon as its record is
   * whole; they are not kept here afterwards (nor in `end`'s result), so that a process is
   * garbage once its subscriber has built it. Once the end record is decoded, the reading
   * is whole and `end` answers with all of it: a late subscriber is handed nothing.
   */
  subscribe(fn: (r: RawProcess) => void): void {
    if (this.ended) return;
    const kept = this.processes;
    this.processes = [];
    this.onProcess = fn;
    for (const r of kept) fn(r);
  }

  push(chunk: Buffer): void {
    if (this.error !== null) return;
    if (this.ended) {
      if (chunk.length > 0) this.error = new Error("native reader: output goes on after its end");
      return;
    }
    // A record longer than the chunks it comes in (a namespace's tables under a connection
    // flood: tens of MB) is joined once, when whole, not again with every chunk.
    if (this.need > 0 && this.buf.length - this.at + this.waitingBytes + chunk.length < this.need) {
      this.waiting.push(chunk);
      this.waitingBytes += chunk.length;
      return;
    }
    const parts = [...this.waiting, chunk];
    if (this.at < this.buf.length) parts.unshift(this.buf.subarray(this.at));
    const buf = parts.length === 1 ? chunk : Buffer.concat(parts);
    this.waiting = [];
    this.waitingBytes = 0;
    this.need = 0;
    this.buf = buf;
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.at = 0;
    try {
      if (!this.started) {
        if (buf.length < MAGIC.length) return;
        if (buf.toString("latin1", 0, MAGIC.length) !== MAGIC) {
          throw new Error("native reader: output does not start with its header");
        }
        this.at = MAGIC.length;
        this.started = true;
      }
      while (!this.ended && this.at < buf.length) {
        const kind = buf[this.at] ?? 0;
        if (kind === 0x45 /* E */) {
          this.ended = true;
          this.at++;
          break;
        }
        if (kind !== 0x50 && kind !== 0x51 && kind !== 0x46 && kind !== 0x4e) {
          throw new Error(`native reader: unknown record ${kind}`);
        }
        if (this.at + 5 > buf.length) return;
        const length = this.view.getUint32(this.at + 1, true);
        // No record of the reader's comes near this (network tables: 7 x 64 MiB at most).
        if (length > MAX_RECORD) throw new Error(`native reader: a record of ${length} bytes`);
        const end = this.at + 5 + length;
        if (end > buf.length) {
          this.need = end - this.at; // the rest of the record is still to come
          return;
        }
        this.p = this.at + 5;
        this.limit = end;
        this.record(kind);
        if (this.p !== end) throw new Error("native reader: a record is longer than its fields");
        this.at = end;
      }
      if (this.ended && this.at < buf.length) {
        throw new Error("native reader: output goes on after its end");
      }
    } catch (e) {
      this.error = e instanceof Error ? e : new Error(String(e));
    }
  }

  end(): RawReadResult {
    if (this.error !== null) throw this.error;
    if (!this.started) throw new Error("native reader: output does not start with its header");
    if (!this.ended) throw new Error("native reader: output truncated");
    return { processes: this.processes, failures: this.failures, netns: this.netns };
  }

  /** The cursor, moved past `n` bytes of the record; throws when the record has fewer. */
  private take(n: number): number {
    const at = this.p;
    if (at + n > this.limit) throw new Error("native reader: a field runs past its record");
    this.p = at + n;
    return at;
  }

  private u32(): number {
    return this.view.getUint32(this.take(4), true);
  }

  private i32(): number {
    return this.view.getInt32(this.take(4), true);
  }

  // Two 32-bit halves rather than a BigInt: as exact for values below 2^53 (device and
  // inode numbers, sizes, times), without an allocation per field.
  private u64(): number {
    const at = this.take(8);
    return this.view.getUint32(at, true) + this.view.getUint32(at + 4, true) * 2 ** 32;
  }

  private i64(): number {
    const at = this.take(8);
    return this.view.getUint32(at, true) + this.view.getInt32(at + 4, true) * 2 ** 32;
  }

  private u8(): number {
    return this.view.getUint8(this.take(1));
  }

  /** A blob's bytes: a view of the output, kept only as long as the process is. */
  private bytes(): Uint8Array | null {
    const len = this.u32();
    if (len === NULL_LEN) return null;
    const at = this.take(len);
    return new Uint8Array(this.buf.buffer, this.buf.byteOffset + at, len);
  }

  private text(): string | null {
    const len = this.u32();
    if (len === NULL_LEN) return null;
    const at = this.take(len);
    return this.buf.toString("utf8", at, at + len);
  }

  /** A 'Q' record's facts: what parseStat and parseStatus make of text in the kernel's shape. */
  private facts(pid: number): ParsedFacts {
    const comm = this.text() ?? "";
    const state = String.fromCharCode(this.u8());
    const ppid = this.u64();
    const flags = this.u64();
    const utime = this.u64();
    const stime = this.u64();
    const numThreads = this.u64();
    const starttime = this.u64();
    const rssPages = this.u64();
    const uid = { real: this.u32(), effective: this.u32() };
    const gid = { real: this.u32(), effective: this.u32() };
    const rssKb = this.i64();
    return {
      stat: {
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
      },
      status: { uid, gid, vmRssBytes: rssKb < 0 ? null : rssKb * 1024 },
    };
  }

  /** One whole record (after its kind and length). */
  private record(kind: number): void {
    if (kind === 0x4e /* N: a network namespace's tables */) {
      const readerPid = this.i32();
      const link = this.text() ?? "";
      const dev = this.text() ?? "";
      const count = this.u32();
      const tables: RawNetTables["tables"] = [];
      for (let i = 0; i < count; i++) tables.push([this.text() ?? "", this.text(), this.text()]);
      this.netns.push({ link, readerPid, dev, tables });
      return;
    }
    if (kind === 0x46 /* F */) {
      const pid = this.i32();
      const source = this.text() ?? "";
      const what = this.text() ?? "";
      this.failures.push([source, what, pid]);
      return;
    }
    let pid: number;
    let stat = "";
    let status = "";
    let parsed: ParsedFacts | undefined;
    if (kind === 0x50 /* P */) {
      pid = this.i32();
      stat = this.text() ?? "";
      status = this.text() ?? "";
    } else if (kind === 0x51 /* Q: stat and status parsed by the reader */) {
      pid = this.i32();
      parsed = this.facts(pid);
    } else {
      throw new Error(`native reader: unknown record ${kind}`);
    }
    const cmdline = this.bytes() ?? new Uint8Array(0);
    const cgroup = this.text() ?? "";
    const cwd = this.text();
    const exeLink = this.text();
    const exeError = this.text();
    const exeStatError = this.text();
    const ns: RawProcess["ns"] = [this.text(), this.text(), this.text()];
    let exeStat: RawProcess["exeStat"] = null;
    if (this.u8() === 1) {
      const dev = this.u64();
      const ino = this.u64();
      const size = this.u64();
      const nlink = this.u64();
      const mtimeSec = this.i64();
      const mtimeNsec = this.i64();
      const ctimeSec = this.i64();
      const ctimeNsec = this.i64();
      // As Node computes Stats#mtimeMs, so that hash cache keys agree between readers.
      exeStat = [
        dev,
        ino,
        size,
        mtimeSec * 1e3 + mtimeNsec / 1e6,
        ctimeSec * 1e3 + ctimeNsec / 1e6,
        nlink,
      ];
    }
    const count = this.u32();
    const sockets: string[] = [];
    for (let i = 0; i < count; i++) sockets.push(this.text() ?? "");
    const r: RawProcess = {
      pid,
      stat,
      status,
      cmdline,
      cgroup,
      cwd,
      exeLink,
      exeError,
      exeStat,
      exeStatError,
      ns,
      sockets,
    };
    // Set afterwards rather than spread into the literal: a spread copies an object per
    // record, which in a run too short for the optimizing compiler cost about a tenth of
    // decoding (2,069 records: 29 ms against 26, medians of 12 alternating runs).
    if (parsed !== undefined) r.parsed = parsed;
    if (this.onProcess === null) this.processes.push(r);
    else this.onProcess(r);
  }
}

/** Decode the reader's whole output; throws on anything malformed or truncated. */
export function decodeNativeOutput(buf: Buffer): RawReadResult {
  const d = new NativeDecoder();
  d.push(buf);
  return d.end();
}

/** The reader's threads: one per core; /proc reads stop scaling long before 8. */
export function readerThreads(): number {
  return Math.min(availableParallelism(), 8);
}

/**
 * A reading by the native reader, as it goes: the processes decoded so far are there to
 * take at once, the rest as they arrive, so that building them overlaps the reading.
 */
export interface NativeReading {
  /**
   * Call `fn` for every process decoded so far, then for each one as it is decoded (on
   * this thread, between other work). One subscriber: a second one replaces the first.
   */
  subscribe(fn: (r: RawProcess) => void): void;
  /**
   * Everything read but the processes handed to the subscriber. Rejects when the reader
   * could not run or its output was not whole: the caller then drops what it took and
   * reads with the JS reader.
   */
  readonly done: Promise<RawReadResult>;
  /** End the reader if it still runs (a reading nobody will take); `done` then rejects. */
  stop(): void;
}

/**
 * Start the reader over every process under `root` except `skipPid`: its output waits in
 * the pipe (and in the reader, which goes on reading) until `readingOf` takes it.
 */
export function spawnNative(
  path: string,
  root: string,
  threads: number,
  skipPid: number | null,
): ChildProcess {
  const args = [root, String(Math.max(1, Math.min(64, threads)))];
  if (skipPid !== null) args.push(String(skipPid));
  return spawn(path, args, { stdio: ["ignore", "pipe", "pipe"] });
}

/** Run the reader over every process under `root` except `skipPid`; see NativeReading. */
export function startNative(
  path: string,
  root: string,
  threads: number,
  skipPid: number | null,
): NativeReading {
  let child: ChildProcess;
  try {
    child = spawnNative(path, root, threads, skipPid);
  } catch (e) {
    const done = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    return { subscribe: () => {}, done, stop: () => {} };
  }
  return readingOf(child);
}

/**
 * What both kinds of reading do with their output: feed it to the decoder as it comes
 * (false, and nothing fed, once it is over MAX_OUTPUT: the caller ends the reader) and,
 * once the output has ended, settle with the decoded whole or the decoder's error.
 */
function outputOf(decoder: NativeDecoder) {
  let size = 0;
  return {
    feed(d: Buffer): boolean {
      size += d.length;
      if (size > MAX_OUTPUT) return false;
      decoder.push(d);
      return true;
    },
    settle(resolve: (r: RawReadResult) => void, reject: (e: unknown) => void): void {
      try {
        resolve(decoder.end());
      } catch (e) {
        reject(e);
      }
    },
  };
}

const TOO_MUCH = "native reader: output over 1 GiB";

/** The reading of a reader started by spawnNative. */
export function readingOf(child: ChildProcess): NativeReading {
  const decoder = new NativeDecoder();
  const output = outputOf(decoder);
  const done = new Promise<RawReadResult>((resolve, reject) => {
    let stderr = "";
    let failed: Error | null = null;
    child.stdout?.on("data", (d: Buffer) => {
      if (failed === null && !output.feed(d)) {
        failed = new Error(TOO_MUCH);
        child.kill("SIGKILL");
      }
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      if (stderr.length < 2048) stderr += d;
    });
    child.once("error", (e) => {
      failed ??= e;
    });
    child.once("close", (code, signal) => {
      if (failed !== null) return reject(failed);
      if (code !== 0) {
        return reject(
          new Error(`native reader: ${signal ?? `exit ${code}`} ${stderr.trim()}`.trim()),
        );
      }
      output.settle(resolve, reject);
    });
  });
  return {
    subscribe: (fn) => decoder.subscribe(fn),
    done,
    // Our own child, ended by its handle (never by name): it reads, it changes nothing.
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
  };
}

/**
 * The reading of a reader the launcher started (procread --launch, see bin/breachkit): its
 * output comes through the inherited pipe `fd`. Nothing here can wait for that reader's
 * exit status (it is not our child): its output is whole when it ends with its end record,
 * which the decoder requires. `stop` closes the pipe, which ends the reader at its next
 * write.
 */
export function readingOfFd(fd: number): NativeReading {
  const decoder = new NativeDecoder();
  let stream: Socket;
  try {
    stream = new Socket({ fd, readable: true, writable: false });
  } catch (e) {
    const done = Promise.reject(e instanceof Error ? e : new Error(String(e)));
    return { subscribe: () => {}, done, stop: () => {} };
  }
  const output = outputOf(decoder);
  const done = new Promise<RawReadResult>((resolve, reject) => {
    let failed: Error | null = null;
    stream.on("data", (d: Buffer) => {
      if (failed === null && !output.feed(d)) {
        failed = new Error(TOO_MUCH);
        stream.destroy();
      }
    });
    stream.once("error", (e) => {
      failed ??= e;
    });
    stream.once("close", () => {
      if (failed !== null) return reject(failed);
      output.settle(resolve, reject);
    });
  });
  return {
    subscribe: (fn) => decoder.subscribe(fn),
    done,
    stop: () => {
      if (!stream.destroyed) {
        stream.destroy(new Error("native reader: stopped"));
      }
    },
  };
}

/** The whole reading of startNative, at its end. */
export function readNative(
  path: string,
  root: string,
  threads: number,
  skipPid: number | null,
): Promise<RawReadResult> {
  return startNative(path, root, threads, skipPid).done;
}
