/**
 * The executable hashes of earlier snapshots, kept in memory-backed storage (tmpfs) so that
 * the next snapshot of the same boot does not read node, dockerd and containerd again
 * (about 220 MB, the largest single cost of a cold snapshot).
 *
 * What makes a stored hash safe to reuse:
 * - it is keyed by the file's whole identity: device, inode, size, mtime and ctime. Writing
 *   to a file, renaming another over it or changing its metadata moves its ctime, which no
 *   system call can set back (only a changed clock or raw disk writes, both root-level
 *   tampering a cache cannot be expected to survive);
 * - it is never used for what is most likely evidence: a deleted or memfd executable, or a
 *   file without links, is hashed from its bytes every time;
 * - it lives on tmpfs only (never written to the disk under investigation) and is tied to
 *   the boot id, so it dies with a reboot;
 * - the directory and file must belong to us, mode 0700/0600, and not be symlinks: a
 *   directory another user planted in /dev/shm is refused (and said), not trusted;
 * - every reused hash says when its bytes were read (`hashedAt` in the model), and
 *   `--no-hash-cache` or BREACHKIT_HASH_CACHE=off turns the store off.
 */
import {
  closeSync,
  constants,
  fstatSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statfsSync,
  unlinkSync,
  writeSync,
} from "node:fs";
import { join } from "node:path";

export interface StoredHash {
  sha256: string;
  /** When the bytes were read, in ms since the epoch. */
  hashedAtMs: number;
}

const FORMAT = "breachkit-hash-cache";
const VERSION = 1;
const FILE = "exe-hashes.json";
/** Enough for every distinct executable of a busy host; the oldest go first. */
export const MAX_STORED = 20_000;
const MAX_FILE_BYTES = 8 * 1024 * 1024;
const TMPFS_MAGIC = 0x01021994;
const RAMFS_MAGIC = 0x858458f6;
const KEY_RE = /^\d+:\d+:\d+:\d+(?:\.\d+)?:\d+(?:\.\d+)?$/;
const SHA_RE = /^[0-9a-f]{64}$/;

export interface HashStoreOptions {
  /** The directory; made 0700 when missing. */
  dir: string;
  /** The boot this store belongs to (/proc/sys/kernel/random/boot_id). */
  bootId: string;
  /** Our effective uid: the only owner trusted. */
  uid: number;
}

export interface LoadResult {
  entries: Map<string, StoredHash>;
  /** Why nothing was loaded although a store was there: said as a gap of the snapshot. */
  problem: string | null;
}

function isMemoryFs(path: string): boolean {
  try {
    const t = Number(statfsSync(path).type);
    return t === TMPFS_MAGIC || t === RAMFS_MAGIC;
  } catch {
    return false;
  }
}

function readBootId(): string | null {
  try {
    const id = readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
    return /^[0-9a-f-]{36}$/.test(id) ? id : null;
  } catch {
    return null;
  }
}

/**
 * The store named by the environment, or null when it is off or there is no memory-backed
 * place for it. BREACHKIT_HASH_CACHE: "off" (or "0", "no", "false") turns it off; a
 * directory path puts it there (any filesystem: the user's choice); unset picks
 * /dev/shm/breachkit-<uid>, or /run/breachkit-<uid>, whichever is tmpfs.
 */
export function hashStoreFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): HashStore | null {
  const setting = env.BREACHKIT_HASH_CACHE?.trim();
  if (setting !== undefined && /^(off|0|no|false)$/i.test(setting)) return null;
  const uid = process.geteuid?.() ?? -1;
  if (uid < 0) return null;
  const bootId = readBootId();
  if (bootId === null) return null;
  let dir: string | undefined;
  if (setting !== undefined && setting !== "") dir = setting;
  else {
    const base = ["/dev/shm", "/run"].find(isMemoryFs);
    if (base !== undefined) dir = join(base, `breachkit-${uid}`);
  }
  return dir === undefined ? null : new HashStore({ dir, bootId, uid });
}

export class HashStore {
  constructor(readonly opts: HashStoreOptions) {}

  get dir(): string {
    return this.opts.dir;
  }

  /** Why the directory cannot be trusted, or null; makes it when missing. */
  private checkDir(create: boolean): string | null {
    const { dir, uid } = this.opts;
    let st = lstatSync(dir, { throwIfNoEntry: false });
    if (st === undefined) {
      if (!create) return "missing";
      try {
        mkdirSync(dir, { mode: 0o700 });
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "EEXIST") return `cannot create ${dir}: ${code ?? String(e)}`;
      }
      st = lstatSync(dir, { throwIfNoEntry: false });
      if (st === undefined) return `${dir} vanished`;
    }
    if (st.isSymbolicLink()) return `${dir} is a symbolic link`;
    if (!st.isDirectory()) return `${dir} is not a directory`;
    if (st.uid !== uid) return `${dir} belongs to uid ${st.uid}, not ${uid}`;
    if ((st.mode & 0o077) !== 0) {
      return `${dir} is open to others (mode ${(st.mode & 0o777).toString(8)})`;
    }
    return null;
  }

  /** The stored hashes of this boot; nothing (and why) when the store is not trustworthy. */
  load(): LoadResult {
    const none = (problem: string | null): LoadResult => ({ entries: new Map(), problem });
    const dirProblem = this.checkDir(false);
    if (dirProblem === "missing") return none(null);
    if (dirProblem !== null) return none(`hash cache not used: ${dirProblem}`);
    const path = join(this.opts.dir, FILE);
    let fd: number;
    try {
      fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      return none(code === "ENOENT" ? null : `hash cache not used: ${path}: ${code}`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile()) return none(`hash cache not used: ${path} is not a regular file`);
      if (st.uid !== this.opts.uid || (st.mode & 0o077) !== 0) {
        return none(`hash cache not used: ${path} is not ours alone`);
      }
      if (st.size > MAX_FILE_BYTES) return none(`hash cache not used: ${path} is too big`);
      const buf = Buffer.allocUnsafe(st.size);
      let len = 0;
      while (len < buf.length) {
        const n = readSync(fd, buf, len, buf.length - len, null);
        if (n === 0) break;
        len += n;
      }
      return this.parse(buf.toString("utf8", 0, len));
    } catch (e) {
      return none(`hash cache not used: ${(e as Error).message}`);
    } finally {
      closeSync(fd);
    }
  }

  private parse(text: string): LoadResult {
    const entries = new Map<string, StoredHash>();
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      // A torn or foreign file: start over (the next save replaces it).
      return { entries, problem: null };
    }
    const d = data as { format?: unknown; version?: unknown; bootId?: unknown; entries?: unknown };
    if (d?.format !== FORMAT || d.version !== VERSION || !Array.isArray(d.entries)) {
      return { entries, problem: null };
    }
    // Another boot's identities mean nothing now (inodes and devices are reused).
    if (d.bootId !== this.opts.bootId) return { entries, problem: null };
    for (const e of d.entries.slice(0, MAX_STORED)) {
      if (!Array.isArray(e) || e.length !== 3) continue;
      const [key, sha256, at] = e as unknown[];
      if (typeof key !== "string" || !KEY_RE.test(key)) continue;
      if (typeof sha256 !== "string" || !SHA_RE.test(sha256)) continue;
      if (typeof at !== "number" || !Number.isFinite(at) || at <= 0) continue;
      entries.set(key, { sha256, hashedAtMs: at });
    }
    return { entries, problem: null };
  }

  /**
   * Replace the store with `entries` (the newest MAX_STORED), atomically: written to a new
   * file of ours, then renamed over the old one. Returns why it could not, or null.
   */
  save(entries: ReadonlyMap<string, StoredHash>): string | null {
    const dirProblem = this.checkDir(true);
    if (dirProblem !== null) return `hash cache not saved: ${dirProblem}`;
    const list = [...entries]
      .filter(([k, v]) => KEY_RE.test(k) && SHA_RE.test(v.sha256))
      .sort((a, b) => b[1].hashedAtMs - a[1].hashedAtMs)
      .slice(0, MAX_STORED)
      .map(([k, v]) => [k, v.sha256, v.hashedAtMs]);
    const text = JSON.stringify({
      format: FORMAT,
      version: VERSION,
      bootId: this.opts.bootId,
      entries: list,
    });
    const tmp = join(this.opts.dir, `.${FILE}.${process.pid}.${Date.now()}`);
    let fd: number;
    try {
      fd = openSync(
        tmp,
        constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
        0o600,
      );
    } catch (e) {
      return `hash cache not saved: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
    }
    try {
      const bytes = Buffer.from(text, "utf8");
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      closeSync(fd);
      renameSync(tmp, join(this.opts.dir, FILE));
      return null;
    } catch (e) {
      try {
        closeSync(fd);
      } catch {
        /* closed already */
      }
      try {
        unlinkSync(tmp);
      } catch {
        /* not there */
      }
      return `hash cache not saved: ${(e as NodeJS.ErrnoException).code ?? String(e)}`;
    }
  }
}
