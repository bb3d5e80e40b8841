/**
 * The evidence bundle contract (docs/architecture.md, "The evidence bundle"): what every
 * command that writes evidence (collect, triage, contain, scan) programs against. Implemented
 * in bundle.ts.
 */
import type { Readable } from "node:stream";

export interface ManifestEntry {
  /** Relative to the bundle directory, always with "/" separators. */
  path: string;
  sha256: string;
  size: number;
  /** Where the bytes came from: a host path, "docker:/containers/<id>/logs", "breachkit". */
  source: string;
  collectedAt: string;
  /** true when a size limit cut the file (the note says at how many bytes). */
  truncated: boolean;
  note: string | null;
}

export interface Manifest {
  format: "breachkit-bundle";
  formatVersion: 1;
  tool: { name: string; version: string };
  /** The command line that made it, e.g. "collect --container bk-lab-gitlab". */
  command: string;
  host: string;
  startedAt: string;
  endedAt: string;
  complete: boolean;
  /** Why the bundle is incomplete (SIGINT, disk full, engine gone), else null. */
  incompleteReason: string | null;
  files: ManifestEntry[];
}

export type StepResult = "ok" | "error" | "skipped" | "partial";

export interface LogEntry {
  /** Filled in by the writer. */
  time?: string;
  step: string;
  /** What was read, run or done: "read /var/log/auth.log", "docker pause <id>". */
  action: string;
  result: StepResult;
  durationMs?: number;
  error?: string;
  /** The tool changed the host (pause, stop, disconnect): contain logs these. */
  changedHost?: boolean;
  details?: Record<string, unknown>;
}

export interface WriteOptions {
  source: string;
  /** Stop after this many bytes and mark the entry truncated. */
  maxBytes?: number;
  /** Called with each chunk's byte count as it is written (for a progress display). */
  onBytes?: (n: number) => void;
  /**
   * writeStream only: the iterable leaves each chunk it yielded untouched until two more have
   * been asked for (a ring of three buffers, as a Readable's fresh chunks are), so hashing
   * one chunk may overlap writing the previous one. Without it each chunk is written before
   * the next is asked for.
   */
  chunksHeld?: boolean;
}

export interface CopyOptions extends Partial<WriteOptions> {
  /**
   * Follow a symlink in the last component of the source path. Default: only for the magic
   * links /proc/<pid>/exe and /proc/<pid>/fd/<n> (a deleted or memfd executable); any other
   * symlink is refused, since an attacker may point a log path at another file.
   */
  followSymlink?: boolean;
}

export interface BundleWriter {
  /** Absolute path of the bundle directory. */
  readonly dir: string;
  /** Append one line to collection.log.jsonl now (synchronously flushed). */
  log(entry: LogEntry): void;
  writeFile(relPath: string, data: string | Uint8Array, opts: WriteOptions): Promise<ManifestEntry>;
  writeJson(relPath: string, value: unknown, opts: WriteOptions): Promise<ManifestEntry>;
  /** Stream to disk, hashing as it goes (never re-reading the file). */
  writeStream(
    relPath: string,
    data: Readable | AsyncIterable<Uint8Array>,
    opts: WriteOptions,
  ): Promise<ManifestEntry>;
  /** Copy a host file byte for byte (streamed and hashed on the way). */
  copyFile(relPath: string, srcPath: string, opts?: CopyOptions): Promise<ManifestEntry>;
  /**
   * Run one step: logs its action, duration and result. An expected failure is logged
   * and returned as undefined, never thrown; a fatal one (disk full, interrupted) rethrows.
   */
  step<T>(step: string, action: string, fn: () => Promise<T>): Promise<T | undefined>;
  /** Write manifest.json and SEAL. Safe to call once; later writes are refused. */
  seal(opts: { complete: boolean; reason?: string }): Promise<{ manifestSha256: string }>;
  readonly sealed: boolean;
  /** The files written so far, in the order they were written. */
  readonly entries: readonly ManifestEntry[];
}
