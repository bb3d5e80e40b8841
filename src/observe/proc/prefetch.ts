/**
 * Reading every process, started before the command's modules are loaded: the native
 * reader then runs in its own process while this one loads and compiles the rest. The CLI
 * starts it for the commands that read processes and hands it to the one snapshot that is
 * taken first; anything else discards it.
 */
import { closeSync, fstatSync } from "node:fs";
import {
  type NativeReading,
  nativeReaderPath,
  readerThreads,
  readingOf,
  readingOfFd,
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
 * The native reader started before anything else was loaded: by the launcher (bin/breachkit
 * runs procread --launch, which starts the reading and then becomes node) or by the built
 * command's entry (src/cli/boot.ts). Its output waits in the pipe until `fromEarlyReader`
 * takes it; `discard` ends one that no snapshot will take.
 */
export interface EarlyReader {
  readonly startedAtMs: number;
  readonly skipPid: number;
  /** The reading; called once. */
  open(): NativeReading;
  /** End the reader without reading it. */
  discard(): void;
}

/**
 * The variable through which procread --launch hands its reading to node: "FD:MS:PID", the
 * pipe's descriptor, when the reading started (ms since the epoch) and the pid it leaves
 * out, which must be ours (a `node` on PATH that is a wrapper, not node itself, gets a
 * reading made for another pid).
 */
export const LAUNCHED_READER_VAR = "BREACHKIT_EARLY_READER";

/**
 * The reading the launcher started, if it did: removed from `env` (our children must not
 * take it for theirs). Null when there is none, when the variable does not name an open
 * pipe, or when the reading is not for this process or too old to use (its pipe is then
 * closed, which ends the reader).
 */
export function takeLaunchedReader(env: Record<string, string | undefined>): EarlyReader | null {
  const value = env[LAUNCHED_READER_VAR];
  if (value === undefined) return null;
  delete env[LAUNCHED_READER_VAR];
  const m = /^(\d{1,9}):(\d{1,15}):(\d{1,9})$/.exec(value);
  if (m === null) return null;
  const fd = Number(m[1]);
  try {
    if (fd < 3 || !fstatSync(fd).isFIFO()) return null;
  } catch {
    return null; // not open
  }
  let taken = false;
  const close = () => {
    if (taken) return;
    taken = true;
    try {
      closeSync(fd);
    } catch {
      // already closed
    }
  };
  const startedAtMs = Number(m[2]);
  const age = Date.now() - startedAtMs;
  if (Number(m[3]) !== process.pid || age > PREFETCH_MAX_AGE_MS || age < -PREFETCH_MAX_AGE_MS) {
    close();
    return null;
  }
  return {
    startedAtMs,
    skipPid: process.pid,
    open: () => {
      taken = true;
      return readingOfFd(fd);
    },
    discard: close,
  };
}

/** Start the native reader at once; null when it is not built, not wanted or cannot start. */
export function startEarlyReader(
  env: Readonly<Record<string, string | undefined>>,
): EarlyReader | null {
  const path = nativeReaderPath(env);
  if (path === null) return null;
  try {
    const child = spawnNative(path, "/proc", readerThreads(), process.pid);
    return {
      startedAtMs: Date.now(),
      skipPid: process.pid,
      open: () => readingOf(child),
      // Our own child, ended by its handle (never by name).
      discard: () => {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      },
    };
  } catch {
    return null;
  }
}

/** The reading of an early reader, as a prefetch for the first snapshot. */
export function fromEarlyReader(early: EarlyReader): ProcessPrefetch {
  const reading = early.open();
  reading.done.catch(() => {});
  return { reading, startedAtMs: early.startedAtMs, skipPid: early.skipPid };
}
