/**
 * The indicator scan of a memory dump, beside the dump: in a worker thread
 * (memory-scan-worker.ts) when the package's built worker is there, so that scanning the
 * strings of 1 GiB does not add to the time the main thread spends hashing and writing it;
 * in this thread otherwise (running from the sources). Both feed the same IndicatorScanner
 * the same bytes in the same order.
 *
 * Each chunk is copied into one of a few shared buffers before `feed` returns, so the
 * caller may reuse its buffer at once; when every shared buffer is still being scanned,
 * `feed` waits (the dump goes at the pace of the scan, never holding more than they hold).
 */
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { IndicatorScanner, type MemoryIndicators } from "../judge/memory/indicators.js";
import { fileExists, isAssetPath, readTextSync } from "../util/assets.js";
import { packagePath } from "../util/package-root.js";
import type { ScanReply, ScanWorkerData } from "./memory-scan-worker.js";

export interface IndicatorScan {
  /** Scan the next bytes of the dump; `chunk` may be reused once this resolves. */
  feed(chunk: Uint8Array): Promise<void>;
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

const SLOTS = 3;

export function startIndicatorScan(opts: {
  ownAddresses: readonly string[];
  /** The largest chunk `feed` will be given. */
  chunkSize: number;
  /** The built worker, or null to scan in this thread. */
  worker?: string | null;
}): IndicatorScan {
  const path = opts.worker === undefined ? defaultScanWorker() : opts.worker;
  if (path === null) return inThread(opts.ownAddresses);
  return new WorkerScan(path, opts.ownAddresses, opts.chunkSize);
}

function inThread(ownAddresses: readonly string[]): IndicatorScan {
  const scanner = new IndicatorScanner({ ownAddresses });
  return {
    where: "main thread",
    feed: async (chunk) => scanner.feed(chunk),
    boundary: () => scanner.boundary(),
    result: async () => scanner.result(),
    close: async () => undefined,
  };
}

class WorkerScan implements IndicatorScan {
  readonly where = "worker";
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly views: Uint8Array[];
  private readonly free: number[] = [];
  private readonly waiting: (() => void)[] = [];
  private failure: Error | null = null;
  private answer: ((r: ScanReply) => void) | null = null;

  constructor(path: string, ownAddresses: readonly string[], chunkSize: number) {
    const slots = Array.from({ length: SLOTS }, () => new SharedArrayBuffer(chunkSize));
    this.views = slots.map((s) => new Uint8Array(s));
    this.free = [...slots.keys()];
    const { port1, port2 } = new MessageChannel();
    const data: ScanWorkerData = { port: port2, slots, ownAddresses: [...ownAddresses] };
    // In the single executable the worker is an asset: its source, run with eval.
    this.worker = isAssetPath(path)
      ? new Worker(readTextSync(path), { eval: true, workerData: data, transferList: [port2] })
      : new Worker(path, { workerData: data, transferList: [port2] });
    this.port = port1;
    port1.on("message", (m: ScanReply) => {
      if (m.kind === "freed") {
        this.free.push(m.slot);
        this.waiting.shift()?.();
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
    // Nobody waits for a slot or an answer that will never come.
    for (const w of this.waiting.splice(0)) w();
    this.answer?.({ kind: "failed", message: e.message });
  }

  async feed(chunk: Uint8Array): Promise<void> {
    let off = 0;
    while (off < chunk.length && this.failure === null) {
      while (this.free.length === 0 && this.failure === null) {
        await new Promise<void>((r) => this.waiting.push(r));
      }
      if (this.failure !== null) break;
      const slot = this.free.pop()!;
      const view = this.views[slot]!;
      const n = Math.min(view.length, chunk.length - off);
      view.set(chunk.subarray(off, off + n));
      this.port.postMessage({ kind: "feed", slot, length: n });
      off += n;
    }
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
