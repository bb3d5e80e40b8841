/**
 * Reading restored data back: the SHA-256 of every regular file under a restore target (names
 * as raw bytes, symlinks never followed), which of them are executables, and, for a drill, the
 * comparison of each restored file with what restic recorded for it: its data blobs in order,
 * each the SHA-256 of its plaintext, with the lengths from the repository's index.
 */
import { createHash } from "node:crypto";
import { createReadStream, promises as fs } from "node:fs";
import type { ResticReader } from "./read.js";

export interface HashedFile {
  path: string;
  size: number;
  sha256: string;
  executable: boolean;
}

const MAX_FILES = 2_000_000;

async function sha256Of(path: string): Promise<{ sha256: string; elf: boolean }> {
  const h = createHash("sha256");
  let head: Buffer | null = null;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    const b = chunk as Buffer;
    if (head === null) head = b.subarray(0, 4);
    h.update(b);
  }
  const elf = head !== null && head.length === 4 && head.toString("latin1") === "\x7fELF";
  return { sha256: h.digest("hex"), elf };
}

/** Every regular file under `root`, hashed; `unreadable` lists what could not be read. */
export async function hashRestored(
  root: string,
): Promise<{ files: HashedFile[]; unreadable: string[]; bytes: number }> {
  const files: HashedFile[] = [];
  const unreadable: string[] = [];
  let bytes = 0;
  const walk = async (dir: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = (await fs.readdir(dir)).sort();
    } catch {
      unreadable.push(rel || ".");
      return;
    }
    for (const name of names) {
      if (files.length >= MAX_FILES) return;
      const p = `${dir}/${name}`;
      const r = rel ? `${rel}/${name}` : name;
      const st = await fs.lstat(p).catch(() => null);
      if (!st) {
        unreadable.push(r);
        continue;
      }
      if (st.isDirectory()) await walk(p, r);
      else if (st.isFile()) {
        try {
          const { sha256, elf } = await sha256Of(p);
          files.push({
            path: r,
            size: st.size,
            sha256,
            executable: elf || (st.mode & 0o111) !== 0,
          });
          bytes += st.size;
        } catch {
          unreadable.push(r);
        }
      }
    }
  };
  await walk(root, "");
  return { files, unreadable, bytes };
}

export interface RecordedFile {
  /** Absolute path as in the snapshot. */
  path: string;
  size: number;
  content: string[];
}

/** Every file node of a snapshot's tree, walked through `restic cat blob` per directory. */
export async function recordedFiles(
  reader: ResticReader,
  tree: string,
  limit = MAX_FILES,
): Promise<RecordedFile[]> {
  const out: RecordedFile[] = [];
  const walk = async (id: string, prefix: string): Promise<void> => {
    for (const n of await reader.tree(id)) {
      if (out.length >= limit) return;
      const p = `${prefix}/${n.name}`;
      if (n.type === "dir" && n.subtree) await walk(n.subtree, p);
      else if (n.type === "file") out.push({ path: p, size: n.size, content: n.content });
    }
  };
  await walk(tree, "");
  return out;
}

/**
 * Compare a restored file with restic's record: read it blob by blob (the index gives each
 * blob's plaintext length) and check each piece's SHA-256 against the blob's id. Returns the
 * whole file's SHA-256, or why it differs.
 */
export async function verifyFile(
  path: string,
  rec: RecordedFile,
  lengths: ReadonlyMap<string, number>,
): Promise<{ ok: true; sha256: string } | { ok: false; reason: string }> {
  const st = await fs.lstat(path).catch(() => null);
  if (!st?.isFile()) return { ok: false, reason: "missing from the restore" };
  if (st.size !== rec.size)
    return { ok: false, reason: `size ${st.size}, restic recorded ${rec.size}` };
  const whole = createHash("sha256");
  const fh = await fs.open(path, "r");
  try {
    let offset = 0;
    for (const [i, blob] of rec.content.entries()) {
      const len = lengths.get(blob);
      if (len === undefined)
        return { ok: false, reason: `blob ${i} (${blob.slice(0, 12)}) is in no index` };
      const buf = Buffer.alloc(len);
      const { bytesRead } = await fh.read(buf, 0, len, offset);
      if (bytesRead !== len) return { ok: false, reason: `short at blob ${i}` };
      offset += len;
      const h = createHash("sha256").update(buf).digest("hex");
      if (h !== blob) return { ok: false, reason: `blob ${i} at byte ${offset - len} differs` };
      whole.update(buf);
    }
    if (offset !== st.size) return { ok: false, reason: "longer than its recorded blobs" };
  } finally {
    await fh.close();
  }
  return { ok: true, sha256: whole.digest("hex") };
}
