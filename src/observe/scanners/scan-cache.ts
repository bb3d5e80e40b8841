/**
 * The incremental-scan cache: files found clean are remembered by device, inode, size, mtime and
 * ctime (nanoseconds), under a key of the signature database and engine. Any change to the file
 * (a write changes mtime and ctime; `touch -d` to fake an old mtime still moves ctime) or to the
 * signatures makes it be scanned again. Hits are never cached: they are reported on every run.
 */
import { createHash, randomBytes } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { mkdir, open, readdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";

const FORMAT = "breachkit-clamav-cache/1";
/** Bounds the file on disk (about 60 bytes an entry). */
const MAX_ENTRIES = 2_000_000;

export interface ScanCache {
  /** true when this exact file state was found clean under the same signatures. */
  isClean(st: BigIntStats): boolean;
  markClean(st: BigIntStats): void;
  readonly size: number;
  /** Write back atomically; a no-op when nothing changed. */
  save(): Promise<void>;
}

function fileKey(st: BigIntStats): string {
  return `${st.dev}:${st.ino}`;
}

function fileState(st: BigIntStats): string {
  return `${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
}

/**
 * Where `scan` keeps its cache unless `--cache DIR` says otherwise: a visible system path named
 * in the help and the README (it was under ~/.cache, where nobody looking at the host would
 * see what the tool wrote). The file in it is CACHE_FILE.
 */
export const DEFAULT_SCAN_CACHE_DIR = "/var/cache/breachkit";
export const CACHE_FILE = "clamav-cache.json";

/**
 * A key for the signature set: every database file's name, size and mtime, plus the content of
 * small files and the header of large ones (a .cvd/.cld header carries its version). Hashing
 * hundreds of MiB of official database on every run would cost more than it saves.
 */
export async function databaseKey(dbDir: string, engineVersion: string): Promise<string> {
  const h = createHash("sha256");
  h.update(`${engineVersion}\n`);
  const names = (await readdir(dbDir)).sort();
  for (const name of names) {
    const p = join(dbDir, name);
    const st = await stat(p, { bigint: true }).catch(() => null);
    if (!st?.isFile()) continue;
    h.update(`${name}\0${st.size}\0${st.mtimeNs}\0`);
    if (st.size <= 1024n * 1024n) h.update(await readFile(p));
    else {
      const fh = await open(p, "r");
      try {
        const buf = Buffer.alloc(512);
        await fh.read(buf, 0, 512, 0);
        h.update(buf);
      } finally {
        await fh.close();
      }
    }
  }
  return h.digest("hex");
}

interface CacheFile {
  format: string;
  dbKey: string;
  entries: Record<string, string>;
}

export function emptyCache(): ScanCache {
  const m = new Map<string, string>();
  return {
    isClean: (st) => m.get(fileKey(st)) === fileState(st),
    markClean: (st) => void m.set(fileKey(st), fileState(st)),
    get size() {
      return m.size;
    },
    save: async () => {},
  };
}

/** Load the cache for one database key; a missing, corrupt or other-key file starts empty. */
export async function openScanCache(dir: string, dbKey: string): Promise<ScanCache> {
  const file = join(dir, CACHE_FILE);
  const entries = new Map<string, string>();
  try {
    const parsed = JSON.parse(await readFile(file, "utf8")) as Partial<CacheFile>;
    if (
      parsed.format === FORMAT &&
      parsed.dbKey === dbKey &&
      parsed.entries &&
      typeof parsed.entries === "object"
    ) {
      for (const [k, v] of Object.entries(parsed.entries)) {
        if (typeof v === "string") entries.set(k, v);
      }
    }
  } catch {
    // first run, or a cache we cannot trust: scan everything
  }
  let dirty = false;
  return {
    isClean: (st) => entries.get(fileKey(st)) === fileState(st),
    markClean(st) {
      const k = fileKey(st);
      const v = fileState(st);
      if (entries.get(k) === v) return;
      if (entries.size >= MAX_ENTRIES && !entries.has(k)) return;
      entries.set(k, v);
      dirty = true;
    },
    get size() {
      return entries.size;
    },
    async save() {
      if (!dirty) return;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      const body: CacheFile = { format: FORMAT, dbKey, entries: Object.fromEntries(entries) };
      // A name no other run uses at the same time, renamed over the cache in one step.
      const tmp = `${file}.${randomBytes(6).toString("hex")}.tmp`;
      await writeFile(tmp, JSON.stringify(body), { mode: 0o600 });
      await rename(tmp, file);
      dirty = false;
    },
  };
}
