/**
 * A minimal ustar writer: enough to feed `docker import -` and `docker cp - <ctr>:/` without a
 * root filesystem on disk or a shell `tar` call, and with exact control over modes, owners and
 * times (fixed times make the image tarball, and so its content hash, reproducible).
 */

export type TarEntry =
  | { type: "dir"; path: string; mode: number; uid?: number; gid?: number }
  | { type: "file"; path: string; mode: number; data: Uint8Array; uid?: number; gid?: number }
  | { type: "symlink"; path: string; target: string; uid?: number; gid?: number };

const BLOCK = 512;

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`);
  bytes.copy(header, offset);
}

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new Error(`tar number out of range: ${value}`);
  const text = value.toString(8).padStart(length - 1, "0");
  if (text.length > length - 1) throw new Error(`tar number too large: ${value}`);
  writeString(header, offset, length, text);
}

/** ustar keeps paths over 100 bytes by moving a leading directory part into `prefix`. */
function splitPath(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: "" };
  for (let i = path.indexOf("/"); i > 0; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return { name, prefix };
  }
  throw new Error(`tar path too long: ${path}`);
}

function normalise(entry: TarEntry): string {
  const path = entry.path.replace(/^\/+/, "");
  if (path === "" || path.split("/").some((part) => part === "..")) {
    throw new Error(`unsafe tar path: ${entry.path}`);
  }
  return entry.type === "dir" && !path.endsWith("/") ? `${path}/` : path;
}

function header(entry: TarEntry, mtime: number): Buffer {
  const h = Buffer.alloc(BLOCK);
  const { name, prefix } = splitPath(normalise(entry));
  const size = entry.type === "file" ? entry.data.length : 0;
  const mode = entry.type === "symlink" ? 0o777 : entry.mode;
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, mode & 0o7777);
  writeOctal(h, 108, 8, entry.uid ?? 0);
  writeOctal(h, 116, 8, entry.gid ?? 0);
  writeOctal(h, 124, 12, size);
  writeOctal(h, 136, 12, mtime);
  h.fill(" ", 148, 156); // the checksum is computed with its own field as spaces
  h.write(entry.type === "file" ? "0" : entry.type === "symlink" ? "2" : "5", 156, "ascii");
  if (entry.type === "symlink") writeString(h, 157, 100, entry.target);
  writeString(h, 257, 6, "ustar");
  writeString(h, 263, 2, "00");
  writeString(h, 345, 155, prefix);
  let sum = 0;
  for (const byte of h) sum += byte;
  writeString(h, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return h;
}

/** Builds a complete archive (with the two zero blocks that end it). `mtime` is in seconds. */
export function tarArchive(entries: readonly TarEntry[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(header(entry, Math.floor(mtime)));
    if (entry.type === "file" && entry.data.length > 0) {
      parts.push(Buffer.from(entry.data));
      const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(Buffer.alloc(pad));
    }
  }
  parts.push(Buffer.alloc(BLOCK * 2));
  return Buffer.concat(parts);
}
