/**
 * `breachkit watch --record FILE`: the samples, one JSON line each, appended to the file the
 * user named, bounded in size: when the next line would take it past the limit, FILE becomes
 * FILE.1 (replacing an older FILE.1) and a new FILE starts. So at most twice the limit is
 * ever on disk, and the newest samples are always in FILE. Mode 0600: the samples name
 * containers and remote addresses.
 */
import { closeSync, fstatSync, openSync, renameSync, writeSync } from "node:fs";

export const DEFAULT_RECORD_MAX_BYTES = 16 * 1024 * 1024;

export class RotatingRecord {
  private fd: number;
  private size: number;
  /** How many times the file was rotated. */
  rotations = 0;

  constructor(
    readonly path: string,
    private readonly maxBytes: number = DEFAULT_RECORD_MAX_BYTES,
  ) {
    this.fd = openSync(path, "a", 0o600);
    this.size = fstatSync(this.fd).size;
  }

  /** Append one line (without its newline). */
  append(line: string): void {
    const data = Buffer.from(`${line}\n`, "utf8");
    if (this.size > 0 && this.size + data.length > this.maxBytes) this.rotate();
    writeSync(this.fd, data);
    this.size += data.length;
  }

  private rotate(): void {
    closeSync(this.fd);
    renameSync(this.path, `${this.path}.1`);
    this.fd = openSync(this.path, "a", 0o600);
    this.size = 0;
    this.rotations++;
  }

  close(): void {
    try {
      closeSync(this.fd);
    } catch {
      /* closed already */
    }
  }
}
