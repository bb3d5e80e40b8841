/**
 * The Engine API's multiplexed stream (logs and attach of a container without a TTY): frames of
 * an 8-byte header [stream, 0, 0, 0, size as uint32 big-endian] followed by `size` bytes of
 * payload. A container with a TTY has no frames: its stream is the raw bytes, and demultiplexing
 * it would corrupt them, so callers check `Config.Tty` first.
 *
 * Payloads are passed through as slices of the incoming chunks, never collected: a frame may be
 * up to 4 GiB and the log of a flooding container is large.
 */
import { Transform, type TransformCallback } from "node:stream";
import { EngineError } from "./engine-error.js";

export const STREAM_STDIN = 0;
export const STREAM_STDOUT = 1;
export const STREAM_STDERR = 2;
/** Written by the engine itself (API 1.42+) for errors it hit while streaming. */
export const STREAM_SYSTEMERR = 3;

const HEADER_SIZE = 8;

export interface FramePiece {
  /** 0 stdin, 1 stdout, 2 stderr, 3 the engine's own error stream. */
  stream: number;
  /** Part or all of one frame's payload. */
  data: Buffer;
}

/** Incremental frame decoder: feed it chunks as they come, however they are split. */
export class DockerFrameDecoder {
  private readonly header = Buffer.alloc(HEADER_SIZE);
  private headerFill = 0;
  private remaining = 0;
  private stream = 0;
  /** Offset in the whole stream, for error messages. */
  private offset = 0;

  /** Payload pieces in stream order. Throws EngineError PROTOCOL on a header that cannot be one. */
  push(chunk: Uint8Array): FramePiece[] {
    const buf = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    const out: FramePiece[] = [];
    let i = 0;
    while (i < buf.length) {
      if (this.remaining > 0) {
        const n = Math.min(this.remaining, buf.length - i);
        out.push({ stream: this.stream, data: buf.subarray(i, i + n) });
        this.remaining -= n;
        i += n;
        continue;
      }
      const n = Math.min(HEADER_SIZE - this.headerFill, buf.length - i);
      buf.copy(this.header, this.headerFill, i, i + n);
      this.headerFill += n;
      i += n;
      if (this.headerFill < HEADER_SIZE) break;
      this.headerFill = 0;
      const stream = this.header[0]!;
      if (stream > STREAM_SYSTEMERR || this.header[1] || this.header[2] || this.header[3]) {
        throw new EngineError(
          "PROTOCOL",
          `not a multiplexed Docker stream: bad frame header ${this.header.toString("hex")} at byte ${this.offset + i - HEADER_SIZE}`,
          { hint: "The container may have a TTY: its log stream is raw bytes, not frames." },
        );
      }
      this.stream = stream;
      this.remaining = this.header.readUInt32BE(4);
    }
    this.offset += buf.length;
    return out;
  }

  /** The stream ended inside a header or a payload: the last frame is cut. */
  get incomplete(): boolean {
    return this.headerFill > 0 || this.remaining > 0;
  }

  /** Bytes the cut frame still announced (header bytes missing count too). */
  get missingBytes(): number {
    return this.headerFill > 0 ? HEADER_SIZE - this.headerFill : this.remaining;
  }
}

export interface DemuxOptions {
  /** Keep only these streams (default: stdout, stderr and the engine's error stream). */
  streams?: readonly number[];
}

/**
 * A Transform from the multiplexed bytes to the payload bytes, in the order the engine sent
 * them. A stream cut mid-frame emits what arrived, then fails with EngineError PROTOCOL so an
 * evidence writer can mark the copy incomplete instead of silently ending short.
 */
export function demuxDockerStream(options: DemuxOptions = {}): Transform {
  const keep = new Set(options.streams ?? [STREAM_STDOUT, STREAM_STDERR, STREAM_SYSTEMERR]);
  const decoder = new DockerFrameDecoder();
  return new Transform({
    transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback) {
      let pieces: FramePiece[];
      try {
        pieces = decoder.push(chunk);
      } catch (e) {
        callback(e as Error);
        return;
      }
      for (const piece of pieces) if (keep.has(piece.stream)) this.push(piece.data);
      callback();
    },
    flush(callback: TransformCallback) {
      if (decoder.incomplete) {
        callback(
          new EngineError(
            "PROTOCOL",
            `Docker stream ended inside a frame (${decoder.missingBytes} bytes missing)`,
          ),
        );
        return;
      }
      callback();
    },
  });
}
