/**
 * Reading every process, started before the command's modules are loaded: the native
 * reader then runs in its own process while this one loads and compiles the rest (about
 * 50 ms of a snapshot's start-up). The CLI starts it for the commands that read processes
 * and hands it to the one snapshot that is taken first; anything else discards it.
 */
import { nativeReaderPath, readerThreads, readNative } from "./native-read.js";
import type { RawReadResult } from "./raw-read.js";

/** Older than this, a prefetched reading is not used: the snapshot reads again. */
export const PREFETCH_MAX_AGE_MS = 1000;

export interface ProcessPrefetch {
  /** Every process under /proc but this one; null when the reader failed. */
  readonly result: Promise<RawReadResult | null>;
  readonly startedAtMs: number;
  /** The pid left out (ours): the snapshot reads it itself, first. */
  readonly skipPid: number;
}

/** Start the native reader now; null when it is not built or not wanted. */
export function prefetchProcesses(
  env: Readonly<Record<string, string | undefined>>,
): ProcessPrefetch | null {
  const path = nativeReaderPath(env);
  if (path === null) return null;
  const skipPid = process.pid;
  const result = readNative(path, "/proc", readerThreads(), skipPid).catch(() => null);
  return { result, startedAtMs: Date.now(), skipPid };
}
