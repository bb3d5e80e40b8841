/**
 * The indicator scan of a memory dump, beside the dump: in a worker thread
 * (memory-scan-worker.ts) when the package's built worker is there, so that reading the
 * strings of 1 GiB does not add to the time the main thread spends hashing it; in this thread
 * otherwise (running from the sources). Either way the anchors are found by the SIMD filter
 * (judge/memory/anchors.ts), so the scan costs a fraction of the hash.
 *
 * The scan owns the buffers the dump reads its chunks into (`buffers`: in the filter's
 * WebAssembly memory, shared with the worker, so no chunk is copied to be scanned): the dump
 * reads into a slot, hands it to `scan`, and writes the same bytes while the worker reads its
 * strings; the slot is read into again only once `scan` has resolved and the write is done.
 */
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { AnchorFilter, anchorBuffers, bufferViews } from "../judge/memory/anchors.js";
import { IndicatorScanner, type MemoryIndicators } from "../judge/memory/indicators.js";
import { fileExists, isAssetPath, readTextSync } from "../util/assets.js";
import { packagePath } from "../util/package-root.js";
import type { ScanReply, ScanWorkerData } from "./memory-scan-worker.js";

export interface IndicatorScan {
  /** The buffers chunks are read into, each `chunkSize` bytes (shared with the worker). */
  readonly buffers: readonly Buffer[];
  /**
   * Scan the first `length` bytes of `buffers[slot]`, next in the dump's order. Resolves when
   * the slot is no longer read by the scan (at once in this thread; when the worker has
   * taken it, or has failed, otherwise). The caller must not change the slot before then.
   */
  scan(slot: number, length: number): Promise<void>;
  /** The next bytes do not follow the previous ones (another mapping). */
  boundary(): void;
  /** Everything found; rejects when the worker failed. */
  result(): Promise<MemoryIndicators>;
  /** End the worker (after result(), or on an error). */
  close(): Promise<void>;
  /** "worker" or "main thread": where the strings were read (the collection log says it). */
  readonly where: string;
}

/** The package's built worker, or null (not built: running from the sources). */
export function defaultScanWorker(): string | null {
  const path = packagePath("dist", "cli", "memory-scan-worker.cjs");
  return fileExists(path) ? path : null;
}

/**
 * Slots: one being read, two with the writer (one hashed, one written), the rest queued for
 * the worker, so a scan that falls a little behind does not hold up the reads.
 */
export const SCAN_SLOTS = 6;

export function startIndicatorScan(opts: {
  ownAddresses: readonly string[];
  /** The size of each buffer: the largest chunk read. */
  chunkSize: number;
  /** The built worker, or null to scan in this thread. */
  worker?: string | null;
}): IndicatorScan {
  const path = opts.worker === undefined ? defaultScanWorker() : opts.worker;
  if (path === null) return inThread(opts.ownAddresses, opts.chunkSize);
  return new WorkerScan(path, opts.ownAddresses, opts.chunkSize);
}

function inThread(ownAddresses: readonly string[], chunkSize: number): IndicatorScan {
  const memory = anchorBuffers(SCAN_SLOTS, chunkSize);
  const filter = AnchorFilter.over(memory);
  const scanner = new IndicatorScanner({ ownAddresses, filter });
  const buffers = bufferViews(memory);
  return {
    where: filter === null ? "main thread" : "main thread, SIMD filter",
    buffers,
    scan: async (slot, length) => scanner.feed(buffers[slot]!.subarray(0, length)),
    boundary: () => scanner.boundary(),
    result: async () => scanner.result(),
    close: async () => undefined,
  };
}

class WorkerScan implements IndicatorScan {
  readonly where = "worker";
  readonly buffers: Buffer[];
  private readonly worker: Worker;
  private readonly port: MessagePort;
  /** The resolver of each slot the worker holds. */
  private readonly held = new Map<number, () => void>();
  private failure: Error | null = null;
  private answer: ((r: ScanReply) => void) | null = null;

  constructor(path: string, ownAddresses: readonly string[], chunkSize: number) {
    const memory = anchorBuffers(SCAN_SLOTS, chunkSize);
    this.buffers = bufferViews(memory);
    const { port1, port2 } = new MessageChannel();
    const data: ScanWorkerData = { port: port2, memory, ownAddresses: [...ownAddresses] };
    // In the single executable the worker is an asset: its source, run with eval.
    this.worker = isAssetPath(path)
      ? new Worker(readTextSync(path), { eval: true, workerData: data, transferList: [port2] })
      : new Worker(path, { workerData: data, transferList: [port2] });
    this.port = port1;
    port1.on("message", (m: ScanReply) => {
      if (m.kind === "freed") {
        const done = this.held.get(m.slot);
        this.held.delete(m.slot);
        done?.();
      } else if (m.kind === "failed") {
        this.fail(new Error(`the indicator scan failed: ${m.message}`));
      } else {
        this.answer?.(m);
      }
    });
    const lost = (e?: unknown) =>
      this.fail(
        new Error(
          `the indicator scan's worker ended${e instanceof Error ? `: ${e.message}` : " early"}`,
        ),
      );
    this.worker.once("error", lost);
    this.worker.once("exit", () => lost());
  }

  private fail(e: Error): void {
    this.failure ??= e;
    // The worker reads no slot any more, and nobody waits for an answer that will not come.
    for (const done of this.held.values()) done();
    this.held.clear();
    this.answer?.({ kind: "failed", message: e.message });
  }

  scan(slot: number, length: number): Promise<void> {
    if (this.failure !== null) return Promise.resolve();
    if (this.held.has(slot)) throw new Error(`slot ${slot} handed to the scan twice`);
    return new Promise<void>((resolve) => {
      this.held.set(slot, resolve);
      this.port.postMessage({ kind: "feed", slot, length });
    });
  }

  boundary(): void {
    if (this.failure === null) this.port.postMessage({ kind: "boundary" });
  }

  async result(): Promise<MemoryIndicators> {
    if (this.failure) throw this.failure;
    const reply = await new Promise<ScanReply>((resolve) => {
      this.answer = resolve;
      this.port.postMessage({ kind: "result" });
    });
    this.answer = null;
    if (reply.kind !== "result") throw this.failure ?? new Error("the indicator scan failed");
    return reply.value;
  }

  async close(): Promise<void> {
    this.worker.removeAllListeners("exit");
    this.port.close();
    await this.worker.terminate();
  }
}
