/**
 * A push parser for tar streams (ustar, GNU and pax), so that `verify` can check an archive
 * without extracting it: nothing from the archive is ever written to disk, so its paths, links
 * and modes cannot do harm. Bytes in, typed events out; no I/O.
 *
 * Formats seen in practice: GNU tar 1.34 (this machine's `tar`) writes `--format=gnu` by
 * default, with long names in a preceding 'L' entry; pax archives carry them in an 'x' record;
 * ustar splits long names into prefix + name. A GNU header has "ustar  \0" as magic and uses the
 * prefix area for other fields, so the prefix is read only for "ustar\0".
 */
import { decodeUtf8 } from "../util/sanitize.js";

const BLOCK = 512;
/** Long-name and pax records are small; anything bigger is hostile or not a tar. */
const MAX_META = 1 << 20;

export type TarEntryType = "file" | "directory" | "symlink" | "hardlink" | "other";

export interface TarHeader {
  path: string;
  type: TarEntryType;
  /** The raw type flag, e.g. "0", "5", "S" (sparse). */
  typeflag: string;
  size: number;
  linkName: string;
}

export type TarEvent =
  | { kind: "entry"; header: TarHeader }
  /** A slice of the current entry's data; only valid until the next push(). */
  | { kind: "data"; bytes: Uint8Array }
  | { kind: "entry-end" };

export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "TarFormatError";
  }
}

type State = "header" | "data" | "meta" | "padding" | "end";

export class TarParser {
  private state: State = "header";
  private header = Buffer.alloc(BLOCK);
  private headerFill = 0;
  /** Bytes of the current entry (or meta record) still to come. */
  private remaining = 0;
  private padding = 0;
  private offset = 0;
  private zeroBlocks = 0;
  private metaKind = "";
  private metaParts: Buffer[] = [];
  private longName: string | null = null;
  private longLink: string | null = null;
  private pax: Record<string, string> = {};

  /** True once the end-of-archive marker was read. */
  get ended(): boolean {
    return this.state === "end";
  }

  push(chunk: Uint8Array): TarEvent[] {
    const events: TarEvent[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      switch (this.state) {
        case "end":
          // GNU tar pads the archive to a 10 KiB record after the two zero blocks.
          this.offset += chunk.length - pos;
          return events;
        case "header": {
          const n = Math.min(BLOCK - this.headerFill, chunk.length - pos);
          this.header.set(chunk.subarray(pos, pos + n), this.headerFill);
          this.headerFill += n;
          pos += n;
          if (this.headerFill === BLOCK) {
            this.headerFill = 0;
            this.onHeader(events);
            this.offset += BLOCK;
          }
          break;
        }
        case "data":
        case "meta": {
          const n = Math.min(this.remaining, chunk.length - pos);
          const bytes = chunk.subarray(pos, pos + n);
          if (this.state === "data") events.push({ kind: "data", bytes });
          else this.metaParts.push(Buffer.from(bytes));
          pos += n;
          this.offset += n;
          this.remaining -= n;
          if (this.remaining === 0) this.endOfData(events);
          break;
        }
        case "padding": {
          const n = Math.min(this.padding, chunk.length - pos);
          pos += n;
          this.offset += n;
          this.padding -= n;
          if (this.padding === 0) this.state = "header";
          break;
        }
      }
    }
    return events;
  }

  /** The input is over; throws if the archive stopped in the middle. */
  end(): void {
    // One zero block then EOF is accepted: some writers omit the second.
    if (
      this.state === "end" ||
      (this.state === "header" && this.headerFill === 0 && this.zeroBlocks > 0)
    ) {
      this.state = "end";
      return;
    }
    throw new TarFormatError(
      `the archive is truncated (it stops at byte ${this.offset} of the tar stream)`,
    );
  }

  private onHeader(events: TarEvent[]): void {
    const h = this.header;
    if (h.every((b) => b === 0)) {
      this.zeroBlocks++;
      if (this.zeroBlocks >= 2) this.state = "end";
      return;
    }
    if (this.zeroBlocks > 0) {
      throw new TarFormatError(`data after an end-of-archive block at byte ${this.offset}`);
    }
    verifyChecksum(h, this.offset);
    const typeflag = h[156] === 0 ? "0" : String.fromCharCode(h[156]!);
    const size = parseNumber(h.subarray(124, 136), this.offset);
    const padding = (BLOCK - (size % BLOCK)) % BLOCK;

    if (typeflag === "L" || typeflag === "K" || typeflag === "x" || typeflag === "g") {
      if (size > MAX_META) {
        throw new TarFormatError(
          `a ${typeflag} record of ${size} bytes at byte ${this.offset} is too large`,
        );
      }
      this.metaKind = typeflag;
      this.metaParts = [];
      this.remaining = size;
      this.padding = padding;
      this.state = size > 0 ? "meta" : "header";
      if (size === 0) this.applyMeta();
      return;
    }

    const magic = h.subarray(257, 263).toString("latin1");
    let path = cString(h.subarray(0, 100));
    if (magic === "ustar\0") {
      const prefix = cString(h.subarray(345, 500));
      if (prefix) path = `${prefix}/${path}`;
    }
    let linkName = cString(h.subarray(157, 257));
    let realSize = size;
    if (this.longName !== null) path = this.longName;
    if (this.longLink !== null) linkName = this.longLink;
    if (this.pax.path !== undefined) path = this.pax.path;
    if (this.pax.linkpath !== undefined) linkName = this.pax.linkpath;
    if (this.pax.size !== undefined) {
      const n = Number(this.pax.size);
      if (!Number.isSafeInteger(n) || n < 0) {
        throw new TarFormatError(`bad pax size at byte ${this.offset}`);
      }
      realSize = n;
    }
    this.longName = null;
    this.longLink = null;
    this.pax = {};

    const type: TarEntryType =
      typeflag === "0" || typeflag === "7"
        ? "file"
        : typeflag === "5"
          ? "directory"
          : typeflag === "2"
            ? "symlink"
            : typeflag === "1"
              ? "hardlink"
              : "other";
    // Links and directories carry no data whatever their size field says.
    const dataSize = type === "file" || type === "other" ? realSize : 0;
    events.push({ kind: "entry", header: { path, type, typeflag, size: dataSize, linkName } });
    this.remaining = dataSize;
    this.padding = (BLOCK - (dataSize % BLOCK)) % BLOCK;
    if (dataSize > 0) this.state = "data";
    else this.endOfData(events);
  }

  private endOfData(events: TarEvent[]): void {
    if (this.state === "meta") this.applyMeta();
    else events.push({ kind: "entry-end" });
    this.state = this.padding > 0 ? "padding" : "header";
  }

  private applyMeta(): void {
    const data = Buffer.concat(this.metaParts);
    this.metaParts = [];
    if (this.metaKind === "L") this.longName = cString(data);
    else if (this.metaKind === "K") this.longLink = cString(data);
    else if (this.metaKind === "x") this.pax = parsePax(data, this.offset);
    // 'g' (global pax) sets defaults such as mtime; nothing verify needs.
  }
}

function cString(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return decodeUtf8(nul === -1 ? b : b.subarray(0, nul));
}

/** Octal, NUL/space terminated; or base-256 (high bit set) for sizes over 8 GiB. */
export function parseNumber(field: Uint8Array, offset = 0): number {
  if (field.length > 0 && (field[0]! & 0x80) !== 0) {
    let n = field[0]! & 0x7f;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    if (!Number.isSafeInteger(n)) throw new TarFormatError(`number too large at byte ${offset}`);
    return n;
  }
  const s = Buffer.from(field)
    .toString("latin1")
    .replace(/[\0 ]+$/, "")
    .trim();
  if (s === "") return 0;
  if (!/^[0-7]+$/.test(s)) throw new TarFormatError(`not a tar header at byte ${offset}`);
  return Number.parseInt(s, 8);
}

function verifyChecksum(h: Buffer, offset: number): void {
  const stored = parseNumber(h.subarray(148, 156), offset);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i]!;
  if (sum !== stored) throw new TarFormatError(`not a tar header (bad checksum) at byte ${offset}`);
}

/** pax records: "<len> <key>=<value>\n", len counting the whole record. */
export function parsePax(data: Buffer, offset = 0): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const len = Number(data.subarray(pos, space).toString("latin1"));
    if (!Number.isSafeInteger(len) || len <= space - pos || pos + len > data.length) {
      throw new TarFormatError(`bad pax record at byte ${offset}`);
    }
    const rec = decodeUtf8(data.subarray(space + 1, pos + len - 1));
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    pos += len;
  }
  return out;
}
