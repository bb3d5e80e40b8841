/**
 * SHA-256 on the way to disk. Evidence is hashed from the bytes as they are written, never by
 * reading the file back, and the work is pipelined so that a 1 GiB log costs about what
 * `cp` + `sha256sum` cost: while the main thread hashes one 1 MiB chunk, libuv's thread pool
 * writes the previous one and reads the next. Memory stays at a few chunks whatever the size.
 */

import { createHash, type Hash } from "node:crypto";
import { constants, createReadStream } from "node:fs";
import { type FileHandle, open } from "node:fs/promises";
import { Readable } from "node:stream";

export const CHUNK_SIZE = 1 << 20;

export interface HashedBytes {
  size: number;
  sha256: string;
}

/** What a sink left on disk; `writeError` is set when a write failed part-way (ENOSPC...). */
export interface SinkResult extends HashedBytes {
  writeError?: unknown;
}

/**
 * Writes chunks in order to an open file and hashes them. One write is in flight at a time;
 * `push` hashes its chunk while the previous chunk is being written. When a write fails
 * part-way the result describes exactly the bytes that reached the file (the kernel may accept
 * part of a chunk before ENOSPC), so a partial file can still be listed with a true hash.
 */
export class HashingSink {
  private readonly hash = createHash("sha256");
  private pending: Promise<void> | null = null;
  private written = 0;
  private failed: { state: HashedBytes; error: unknown } | null = null;
  private finished = false;

  constructor(private readonly fh: FileHandle) {}

  /** Bytes confirmed written so far. */
  get bytesWritten(): number {
    return this.written;
  }

  /**
   * Hash `chunk` and queue it for writing. The caller must not modify `chunk` until the next
   * `push` or `flush` has resolved. Rejects with the error of an earlier failed write.
   */
  async push(chunk: Uint8Array): Promise<void> {
    if (this.finished) throw new Error("HashingSink used after finish()");
    if (this.failed) throw this.failed.error;
    if (chunk.length === 0) return;
    // Hash state before this chunk, kept in case the write stops part-way through it.
    const before = this.hash.copy();
    this.hash.update(chunk);
    await this.flush();
    this.pending = this.writeAll(chunk, before);
  }

  /** Wait for the queued write; rejects if it failed. */
  async flush(): Promise<void> {
    const p = this.pending;
    this.pending = null;
    if (p) await p;
    if (this.failed) throw this.failed.error;
  }

  /** Flush and return what is on disk; never throws. Call once. */
  async finish(): Promise<SinkResult> {
    try {
      await this.flush();
    } catch {
      // recorded in this.failed
    }
    this.finished = true;
    if (this.failed) return { ...this.failed.state, writeError: this.failed.error };
    return { size: this.written, sha256: this.hash.digest("hex") };
  }

  private async writeAll(chunk: Uint8Array, before: Hash): Promise<void> {
    let off = 0;
    try {
      while (off < chunk.length) {
        const { bytesWritten } = await this.fh.write(chunk, off, chunk.length - off, null);
        if (bytesWritten <= 0) throw new Error("write accepted no bytes");
        off += bytesWritten;
      }
      this.written += chunk.length;
    } catch (error) {
      before.update(chunk.subarray(0, off));
      this.written += off;
      this.failed = { state: { size: this.written, sha256: before.digest("hex") }, error };
    }
  }
}

export interface PumpOptions {
  /** Stop after this many bytes; the result says whether more was there. */
  maxBytes?: number | undefined;
  /** Aborting stops the copy between chunks and rejects with `signal.reason`. */
  signal?: AbortSignal | undefined;
  onBytes?: ((n: number) => void) | undefined;
  /**
   * pumpStream only: a generic iterable that keeps each chunk intact until two more have been
   * asked for (as a Readable's fresh chunks are): writes then overlap hashing.
   */
  chunksHeld?: boolean | undefined;
}

export interface PumpResult {
  /** The source had more bytes than maxBytes. */
  truncated: boolean;
}

/**
 * Copy an open file into the sink until EOF or maxBytes. Three buffers rotate: one being read,
 * one being hashed, one being written; reads use the file position, so this also works for
 * /proc files whose size reads as 0.
 */
export async function pumpFile(
  src: FileHandle,
  sink: HashingSink,
  opts: PumpOptions = {},
): Promise<PumpResult> {
  const bufs = [
    Buffer.allocUnsafe(CHUNK_SIZE),
    Buffer.allocUnsafe(CHUNK_SIZE),
    Buffer.allocUnsafe(CHUNK_SIZE),
  ];
  const limit = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  let done = 0;
  let i = 0;
  let reading: Promise<{ bytesRead: number }> | null = src.read(bufs[0]!, 0, CHUNK_SIZE, null);
  try {
    for (;;) {
      const { bytesRead } = await reading;
      reading = null;
      if (bytesRead === 0) return { truncated: false };
      opts.signal?.throwIfAborted();
      const room = limit - done;
      const take = Math.min(bytesRead, room);
      if (take < bytesRead || room === 0) {
        if (take > 0) await sink.push(bufs[i % 3]!.subarray(0, take));
        opts.onBytes?.(take);
        return { truncated: true };
      }
      // The next buffer was last used by chunk i-2, whose write finished before push(i-1) returned.
      reading = src.read(bufs[(i + 1) % 3]!, 0, CHUNK_SIZE, null);
      await sink.push(bufs[i % 3]!.subarray(0, take));
      done += take;
      opts.onBytes?.(take);
      i++;
    }
  } finally {
    // A read still in flight must finish before the caller closes the handle.
    if (reading) await reading.catch(() => undefined);
  }
}

/**
 * Copy a stream or async iterable into the sink. Chunks of a node Readable are fresh buffers,
 * so hashing one overlaps writing the previous; a generic iterable may reuse its buffer, so
 * each of its chunks is written before the next is asked for, unless it says (`chunksHeld`)
 * that a chunk stays intact until two more have been asked for.
 */
export async function pumpStream(
  data: Readable | AsyncIterable<Uint8Array | string>,
  sink: HashingSink,
  opts: PumpOptions = {},
): Promise<PumpResult> {
  const isReadable = data instanceof Readable;
  const overlap = isReadable || opts.chunksHeld === true;
  const it = (data as AsyncIterable<Uint8Array | string>)[Symbol.asyncIterator]();
  const limit = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  let done = 0;
  let finished = false;
  const stop = () => {
    if (finished) return;
    finished = true;
    // A Readable is destroyed directly: its iterator's return() would wait for a pending next().
    if (isReadable) data.destroy();
    else void it.return?.()?.catch(() => undefined);
  };
  try {
    for (;;) {
      const r = await nextOrAbort(it, opts.signal);
      if (r.done) {
        finished = true;
        return { truncated: false };
      }
      const raw = r.value;
      const chunk = typeof raw === "string" ? Buffer.from(raw, "utf8") : raw;
      if (chunk.length === 0) continue;
      const room = limit - done;
      if (chunk.length > room) {
        if (room > 0) await sink.push(chunk.subarray(0, room));
        opts.onBytes?.(room);
        return { truncated: true };
      }
      await sink.push(chunk);
      if (!overlap) await sink.flush();
      done += chunk.length;
      opts.onBytes?.(chunk.length);
    }
  } finally {
    stop();
  }
}

function nextOrAbort<T>(it: AsyncIterator<T>, signal: AbortSignal | undefined) {
  if (!signal) return it.next();
  signal.throwIfAborted();
  return new Promise<IteratorResult<T>>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    it.next().then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

/**
 * Hash a file already on disk (verify does this; the writer never does). Symlinks are not
 * followed: a bundle holds regular files only.
 */
export async function sha256OfFile(
  path: string,
  onBytes?: (n: number) => void,
): Promise<HashedBytes> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const hash = createHash("sha256");
    let size = 0;
    const stream = createReadStream("", { fd: fh.fd, autoClose: false, highWaterMark: CHUNK_SIZE });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
      onBytes?.(chunk.length);
    }
    return { size, sha256: hash.digest("hex") };
  } finally {
    await fh.close();
  }
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
