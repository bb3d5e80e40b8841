/**
 * Where the indicator scan looks: the dots and colons with a letter or digit before them (or a
 * UTF-16 string's NULs around them), found by a WebAssembly SIMD filter (anchors.wat) sixteen
 * bytes at a time, instead of one Buffer.indexOf call per dot. In binary memory a dot is one
 * byte in 256 and nineteen in twenty of them fail the scanner's first test; with the filter
 * the scanner's JavaScript sees only the rest. Measured on 1 GiB of random bytes in the
 * dump's shared buffers: the scan of both anchors took 189-222 ms, against 568-586 ms with
 * Buffer.indexOf (which is twice as slow on shared memory as on a plain Buffer).
 *
 * The filter reads the bytes where they are, so they must lie in its WebAssembly memory: the
 * dump reads its chunks straight into buffers of that memory (`AnchorBuffers`), shared with
 * the scan's worker thread. Dots and colons are found in one pass. Bytes anywhere else (the
 * scanner's seam, a caller's own buffer) are searched with Buffer.indexOf; both give the
 * scanner the same strings to read.
 */
import { ANCHORS_WASM } from "./anchors-wasm.js";

/** The filter reads up to this many bytes before and after the data it is given. */
const PAD = 32;
const PAGE = 65536;

type CandidatesFn = (
  ptr: number,
  len: number,
  outDots: number,
  outColons: number,
  cap: number,
) => number;

let compiled: WebAssembly.Module | null | undefined;

/** The compiled filter, or null where this runtime has no WebAssembly SIMD. */
function filterModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(Buffer.from(ANCHORS_WASM, "base64"));
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** The memory the dump reads into: `count` buffers of `size` bytes, and the filter's own area. */
export interface AnchorBuffers {
  /** Shared, so a worker thread can scan what the main thread read. */
  readonly memory: WebAssembly.Memory;
  /** Where each buffer starts in the memory. */
  readonly offsets: readonly number[];
  readonly size: number;
  /** The filter's output: the dots' positions, then the colons' (one filter per memory). */
  readonly outDots: number;
  readonly outColons: number;
  /** Positions of a kind one buffer can hold: at most one in two bytes (anchors.wat). */
  readonly cap: number;
}

export function anchorBuffers(count: number, size: number): AnchorBuffers {
  const stride = Math.ceil(size / 16) * 16 + PAD;
  const offsets = Array.from({ length: count }, (_, i) => PAD + i * stride);
  const cap = Math.ceil(size / 2) + 1;
  const outDots = PAD + count * stride;
  const outColons = outDots + 4 * cap;
  const pages = Math.ceil((outColons + 4 * cap) / PAGE);
  const memory = new WebAssembly.Memory({ initial: pages, maximum: pages, shared: true });
  return { memory, offsets, size, outDots, outColons, cap };
}

/** Views of the buffers, in this thread. */
export function bufferViews(a: AnchorBuffers): Buffer[] {
  return a.offsets.map((o) => Buffer.from(a.memory.buffer, o, a.size));
}

/** The positions to test for each anchor, in increasing order. */
export interface Anchors {
  dots: Uint32Array;
  colons: Uint32Array;
}

export class AnchorFilter {
  private readonly candidates: CandidatesFn;
  private readonly colons: { value: number };
  private readonly sab: ArrayBufferLike;
  private readonly dotsOut: Uint32Array;
  private readonly colonsOut: Uint32Array;

  private constructor(
    private readonly buffers: AnchorBuffers,
    instance: WebAssembly.Instance,
  ) {
    this.candidates = instance.exports.candidates as CandidatesFn;
    this.colons = instance.exports.colons as { value: number };
    this.sab = buffers.memory.buffer;
    this.dotsOut = new Uint32Array(this.sab, buffers.outDots, buffers.cap);
    this.colonsOut = new Uint32Array(this.sab, buffers.outColons, buffers.cap);
  }

  /** A filter over `buffers`, or null where this runtime has no WebAssembly SIMD. */
  static over(buffers: AnchorBuffers): AnchorFilter | null {
    const mod = filterModule();
    if (mod === null) return null;
    try {
      return new AnchorFilter(
        buffers,
        new WebAssembly.Instance(mod, { env: { memory: buffers.memory } }),
      );
    } catch {
      return null;
    }
  }

  /** `b` lies in one of the filter's buffers (then `find` reads it there). */
  covers(b: Uint8Array): boolean {
    if (b.buffer !== this.sab) return false;
    const { offsets, size } = this.buffers;
    return offsets.some((o) => b.byteOffset >= o && b.byteOffset + b.byteLength <= o + size);
  }

  /**
   * The positions in `b` (which `covers`) the scanner tests. Valid until the next call: the
   * lists are views of the filter's output area, which each call overwrites.
   */
  find(b: Uint8Array): Anchors {
    const { outDots, outColons, cap } = this.buffers;
    const dots = this.candidates(b.byteOffset, b.byteLength, outDots, outColons, cap);
    return {
      dots: this.dotsOut.subarray(0, dots),
      colons: this.colonsOut.subarray(0, this.colons.value),
    };
  }
}
