/**
 * The worker thread of a memory dump's indicator scan: built as its own file,
 * dist/cli/memory-scan-worker.cjs (scripts/build.mjs), and started by memory-scan.ts, so the
 * strings of a dump are read on another core while the main thread hashes and writes it
 * (bench/memory-vs-gcore.ts measured what it saves).
 *
 * The chunks come in shared buffers the main thread read them into; each is handed back
 * ("freed") as soon as the scanner has taken it, and the messages are taken in order. The
 * worker reads the strings around dots; the main thread those around colons (memory-scan.ts).
 */
import { type MessagePort, workerData } from "node:worker_threads";
import { IndicatorScanner, type MemoryIndicators } from "../judge/memory/indicators.js";

/** What the worker is started with. */
export interface ScanWorkerData {
  port: MessagePort;
  /** The shared buffers chunks are copied into, each handed back when scanned. */
  slots: SharedArrayBuffer[];
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
const views = data.slots.map((s) => new Uint8Array(s));
const scanner = new IndicatorScanner({ ownAddresses: data.ownAddresses, anchors: "dots" });

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
