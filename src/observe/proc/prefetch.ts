/**
 * Reading every process, started before the command's modules are loaded: the native
 * reader then runs in its own process while this one loads and compiles the rest. The CLI
 * starts it for the commands that read processes and hands it to the one snapshot that is
 * taken first; anything else discards it.
 */
import { type NativeReading, nativeReaderPath, readerThreads, startNative } from "./native-read.js";

/** Older than this, a prefetched reading is not used: the snapshot reads again. */
export const PREFETCH_MAX_AGE_MS = 1000;

export interface ProcessPrefetch {
  /** Every process under /proc but this one, as it is read. */
  readonly reading: NativeReading;
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
  const reading = startNative(path, "/proc", readerThreads(), skipPid);
  // A failure is the snapshot's to handle (it reads with the JS reader), never unhandled.
  reading.done.catch(() => {});
  return { reading, startedAtMs: Date.now(), skipPid };
}
