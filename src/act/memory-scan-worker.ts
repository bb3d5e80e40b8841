/**
 * The worker thread of a memory dump's indicator scan: built as its own file,
 * dist/cli/memory-scan-worker.cjs (scripts/build.mjs), and started by memory-scan.ts, so the
 * strings of a dump are read on another core while the main thread hashes and writes it
 * (bench/memory-vs-gcore.ts measured what it saves).
 *
 * The chunks come in the shared WebAssembly memory the main thread read them into (where the
 * SIMD filter finds their anchors); each is handed back ("freed") as soon as the scanner has
 * taken it, and the messages are taken in order.
 */
import { type MessagePort, workerData } from "node:worker_threads";
import { type AnchorBuffers, AnchorFilter, bufferViews } from "../judge/memory/anchors.js";
import { IndicatorScanner, type MemoryIndicators } from "../judge/memory/indicators.js";

/** What the worker is started with. */
export interface ScanWorkerData {
  port: MessagePort;
  /** The shared memory chunks are read into, each slot handed back when scanned. */
  memory: AnchorBuffers;
  ownAddresses: string[];
}

export type ScanRequest =
  | { kind: "feed"; slot: number; length: number }
  | { kind: "boundary" }
  | { kind: "result" };

export type ScanReply =
  | { kind: "freed"; slot: number }
  | { kind: "result"; value: MemoryIndicators }
  | { kind: "failed"; message: string };

const data = workerData as ScanWorkerData;
const views = bufferViews(data.memory);
const scanner = new IndicatorScanner({
  ownAddresses: data.ownAddresses,
  filter: AnchorFilter.over(data.memory),
});

data.port.on("message", (m: ScanRequest) => {
  try {
    if (m.kind === "feed") {
      scanner.feed(views[m.slot]!.subarray(0, m.length));
      data.port.postMessage({ kind: "freed", slot: m.slot } satisfies ScanReply);
    } else if (m.kind === "boundary") {
      scanner.boundary();
    } else {
      data.port.postMessage({ kind: "result", value: scanner.result() } satisfies ScanReply);
    }
  } catch (e) {
    data.port.postMessage({
      kind: "failed",
      message: e instanceof Error ? e.message : String(e),
    } satisfies ScanReply);
  }
});
