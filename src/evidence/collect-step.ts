/**
 * The running state of one collection, shared by its parts (executables, containers, host):
 * every step is logged as it happens, expected gaps are logged as skipped, other failures as
 * errors that make the bundle incomplete but let the rest go on, and a fatal failure (disk
 * full, interrupted) stops everything at once.
 */
import { isEngineError } from "../observe/docker/engine-error.js";
import { formatBytes, type Progress } from "../util/progress.js";
import { errorMessage } from "../util/result.js";
import { InterruptedError, isFatalError } from "./bundle.js";
import type { BundleWriter, CopyOptions, ManifestEntry, WriteOptions } from "./types.js";

export interface StepError {
  step: string;
  action: string;
  error: string;
}

/** Thrown out of a part to stop the whole collection; `cause` is the fatal error. */
export class StopCollection extends Error {
  constructor(
    readonly reason: string,
    options: { cause: unknown },
  ) {
    super(reason, options);
    this.name = "StopCollection";
  }
}

export class Collector {
  readonly errors: StepError[] = [];
  /** Set after the engine failed in a way that makes further calls pointless (down, hung). */
  engineGone: string | null = null;
  private files = 0;
  private bytes = 0;
  private current = "";

  constructor(
    readonly bundle: BundleWriter,
    readonly progress: Progress,
    readonly signal: AbortSignal | undefined,
  ) {}

  /**
   * Run one step. Resolves with its value, or undefined after logging a non-fatal failure.
   * A fatal failure or an abort becomes a StopCollection. The step is raced against the
   * abort signal: an engine call that hangs must not hold up an interrupted run.
   */
  async run<T>(step: string, action: string, fn: () => Promise<T>): Promise<T | undefined> {
    this.checkAborted();
    this.current = action;
    this.show();
    const t0 = performance.now();
    try {
      const value = await raceAbort(fn(), this.signal);
      this.bundle.log({ step, action, result: "ok", durationMs: ms(t0) });
      return value;
    } catch (e) {
      const aborted = this.signal?.aborted === true;
      const fatal = aborted || isFatalError(e);
      this.bundle.log({
        step,
        action,
        result: "error",
        durationMs: ms(t0),
        error: errorMessage(e),
        ...(fatal ? { details: { fatal: true } } : {}),
      });
      if (fatal) throw this.stop(e);
      if (isEngineError(e, "DOWN") || isEngineError(e, "TIMEOUT")) {
        this.engineGone ??= errorMessage(e);
      }
      this.errors.push({ step, action, error: errorMessage(e) });
      return undefined;
    }
  }

  /** A step that needs the engine: not tried (and counted as not collected) once it is gone. */
  async engineStep<T>(step: string, action: string, fn: () => Promise<T>) {
    if (this.engineGone !== null) {
      const error = `not tried: the Docker engine stopped answering (${this.engineGone})`;
      this.bundle.log({ step, action, result: "skipped", error });
      this.errors.push({ step, action, error });
      return undefined;
    }
    return this.run(step, action, fn);
  }

  /** An expected gap: logged, not an error (a file that does not exist on this host). */
  skip(step: string, action: string, why: string, details?: Record<string, unknown>): void {
    this.bundle.log({
      step,
      action,
      result: "skipped",
      error: why,
      ...(details ? { details } : {}),
    });
  }

  /** A failure found without a thrown error (an expected file is missing): counted, logged. */
  fail(step: string, action: string, error: string): void {
    this.bundle.log({ step, action, result: "error", error });
    this.errors.push({ step, action, error });
  }

  note(step: string, action: string, details: Record<string, unknown>): void {
    this.bundle.log({ step, action, result: "ok", details });
  }

  copyFile(rel: string, src: string, opts: CopyOptions = {}): Promise<ManifestEntry> {
    return this.counted(this.bundle.copyFile(rel, src, { ...opts, onBytes: (n) => this.add(n) }));
  }

  writeStream(
    rel: string,
    data: Parameters<BundleWriter["writeStream"]>[1],
    opts: WriteOptions,
  ): Promise<ManifestEntry> {
    return this.counted(
      this.bundle.writeStream(rel, data, { ...opts, onBytes: (n) => this.add(n) }),
    );
  }

  writeJson(rel: string, value: unknown, source: string): Promise<ManifestEntry> {
    return this.counted(this.bundle.writeJson(rel, value, { source, onBytes: (n) => this.add(n) }));
  }

  checkAborted(): void {
    if (this.signal?.aborted) throw this.stop(this.signal.reason);
  }

  private stop(e: unknown): StopCollection {
    if (e instanceof StopCollection) return e;
    const code = (e as NodeJS.ErrnoException | null)?.code;
    const reason =
      code === "ENOSPC" || code === "EDQUOT"
        ? `the output device is full (${errorMessage(e)})`
        : code === "EROFS"
          ? `the output file system became read-only (${errorMessage(e)})`
          : this.signal?.aborted
            ? abortReason(this.signal)
            : errorMessage(e);
    return new StopCollection(reason, { cause: e });
  }

  private async counted(p: Promise<ManifestEntry>): Promise<ManifestEntry> {
    const entry = await p;
    this.files++;
    this.show();
    return entry;
  }

  private add(n: number): void {
    this.bytes += n;
    this.show();
  }

  private show(): void {
    this.progress.update(
      `collecting: ${this.files} files, ${formatBytes(this.bytes)}  ${this.current}`,
    );
  }
}

function abortReason(signal: AbortSignal): string {
  const r: unknown = signal.reason;
  if (typeof r === "string") return r;
  if (r instanceof Error && r.name !== "AbortError") return r.message;
  return "interrupted";
}

/** `p`, or a rejection with an InterruptedError as soon as `signal` aborts. */
export function raceAbort<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(new InterruptedError(abortReason(signal)));
    if (signal.aborted) {
      onAbort();
      p.catch(() => undefined);
      return;
    }
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e);
      },
    );
  });
}

function ms(t0: number): number {
  return Math.round(performance.now() - t0);
}
