/**
 * Reading every process, started before the command's modules are loaded: the native
 * reader then runs in its own process while this one loads and compiles the rest. The CLI
 * starts it for the commands that read processes and hands it to the one snapshot that is
 * taken first; anything else discards it.
 */
import type { ChildProcess } from "node:child_process";
import {
  type NativeReading,
  nativeReaderPath,
  readerThreads,
  readingOf,
  spawnNative,
} from "./native-read.js";

/** Older than this, a prefetched reading is not used: the snapshot reads again. */
export const PREFETCH_MAX_AGE_MS = 1000;

export interface ProcessPrefetch {
  /** Every process under /proc but this one, as it is read. */
  readonly reading: NativeReading;
  readonly startedAtMs: number;
  /** The pid left out (ours): the snapshot reads it itself, first. */
  readonly skipPid: number;
}

/** Start the native reader now; null when it is not built, not wanted or cannot start. */
export function prefetchProcesses(
  env: Readonly<Record<string, string | undefined>>,
): ProcessPrefetch | null {
  const early = startEarlyReader(env);
  return early === null ? null : fromEarlyReader(early);
}

/**
 * The native reader started by the built command's entry before anything else was loaded
 * (see src/cli/boot.ts): its output waits in the pipe until `fromEarlyReader` takes it.
 */
export interface EarlyReader {
  readonly child: ChildProcess;
  readonly startedAtMs: number;
  readonly skipPid: number;
}

/** Start the native reader at once; null when it is not built, not wanted or cannot start. */
export function startEarlyReader(
  env: Readonly<Record<string, string | undefined>>,
): EarlyReader | null {
  const path = nativeReaderPath(env);
  if (path === null) return null;
  try {
    const child = spawnNative(path, "/proc", readerThreads(), process.pid);
    return { child, startedAtMs: Date.now(), skipPid: process.pid };
  } catch {
    return null;
  }
}

/** The reading of an early reader, as a prefetch for the first snapshot. */
export function fromEarlyReader(early: EarlyReader): ProcessPrefetch {
  const reading = readingOf(early.child);
  reading.done.catch(() => {});
  return { reading, startedAtMs: early.startedAtMs, skipPid: early.skipPid };
}
