/**
 * Read files of a root filesystem (the live host's `/`, a container's `/proc/<pid>/root`, or a
 * mounted disk image) as a process chrooted into it would see them.
 *
 * Why manual resolution: in a disk image mounted at /mnt/img, `home/bob/.ssh/authorized_keys`
 * may be an absolute symlink to `/root/.ssh/authorized_keys`. Letting the kernel follow it would
 * read the *investigator's* file, not the image's. Every component is lstat'ed and symlinks are
 * re-rooted (absolute targets restart at the root, `..` stops at the root), like openat2's
 * RESOLVE_IN_ROOT. Through /proc/<pid>/root the kernel already does this; the manual walk gives
 * the same answer there.
 *
 * The final open uses O_NOFOLLOW and O_NONBLOCK and accepts only regular files, so a FIFO or a
 * device planted under a known name can neither hang nor flood the reader. A directory component
 * swapped for a symlink between the walk and the open is not defended against (a live attacker
 * racing the reader); the final component is.
 */
import { constants, promises as fsp, type Stats } from "node:fs";
import path from "node:path";
import { errorMessage, type Result } from "../../util/result.js";

/** Linux's own limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 40;
const MAX_DIR_ENTRIES = 10_000;

export type FsFailure = {
  /** Errno-like code: ENOENT, EACCES, ELOOP, ENOTDIR, ENOTREG, EINVAL, ... */
  code: string;
  message: string;
  /** Symlinks followed before the failure. */
  links: number;
};

export type Resolved = {
  /** Where the file is on this machine. */
  hostPath: string;
  /** The same file as seen from inside the root ("/etc/passwd"). */
  innerPath: string;
  links: number;
};

export type RootFile = {
  innerPath: string;
  bytes: Buffer;
  /** Size of the whole file; `bytes` may hold only part of it. */
  size: number;
  /** Offset in the file of bytes[0]. */
  offset: number;
  truncated: boolean;
  mtime: Date;
  ctime: Date;
};

export type ReadOptions = {
  maxBytes: number;
  /** Read the end of a larger file instead of its start (logs grow at the end). */
  fromEnd?: boolean;
  /** With fromEnd: start at a multiple of this, so fixed-size records stay aligned. */
  align?: number;
};

export type RootStat = {
  innerPath: string;
  mtime: Date;
  ctime: Date;
  size: number;
  isDirectory: boolean;
};

function failure(code: string, message: string, links: number): FsFailure {
  return { code, message, links };
}

function fromError(e: unknown, links: number): FsFailure {
  const code = (e as NodeJS.ErrnoException | undefined)?.code ?? "EIO";
  return failure(code, errorMessage(e), links);
}

/** Answers that stay true for the whole reading; anything else (EMFILE, EIO, EINTR) is asked again. */
const LASTING = new Set([
  "ENOENT",
  "ENOTDIR",
  "EACCES",
  "EPERM",
  "ELOOP",
  "ENAMETOOLONG",
  "EINVAL",
]);

/** `ask()`'s answer for `key`, shared while it is pending and kept when it lasts. */
function remembered<T>(
  memo: Map<string, Promise<T>>,
  key: string,
  ask: () => Promise<T>,
): Promise<T> {
  let p = memo.get(key);
  if (p === undefined) {
    p = ask();
    p.catch((e: unknown) => {
      if (!LASTING.has((e as NodeJS.ErrnoException | undefined)?.code ?? "")) memo.delete(key);
    });
    memo.set(key, p);
  }
  return p;
}

/**
 * An open regular file (node's FileHandle). Every call of RootFs goes through node's thread
 * pool: a root that never answers (a dead NFS home, a container's FUSE mount) must not
 * freeze this thread, and Ctrl-C with it.
 */
export interface RootHandle {
  read(
    buffer: Buffer,
    offset: number,
    length: number,
    position: number,
  ): Promise<{ bytesRead: number }>;
  close(): Promise<void>;
}

const OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;

function components(p: string): string[] {
  return p.split("/").filter((c) => c !== "" && c !== ".");
}

export class RootFs {
  /**
   * lstat and readlink answers by host path, for the life of this object: one RootFs is one
   * reading of a root, and its paths share their directories (passwd, group, sudoers and
   * every user's authorized_keys walk /etc, /home, /var, ... again: 650 lstat calls for a
   * host and three containers, 160 of them distinct). Shared as promises, so that
   * concurrent walks make one call.
   */
  private readonly lstats = new Map<string, Promise<Stats>>();
  private readonly links = new Map<string, Promise<string>>();

  constructor(readonly root: string) {}

  private lstat(hostPath: string): Promise<Stats> {
    return remembered(this.lstats, hostPath, () => fsp.lstat(hostPath));
  }

  private readlink(hostPath: string): Promise<string> {
    return remembered(this.links, hostPath, () => fsp.readlink(hostPath));
  }

  /** Resolve `inner` (an absolute path inside the root) to a path on this machine. */
  async resolve(inner: string): Promise<Result<Resolved, FsFailure>> {
    const pending = components(inner);
    const done: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const name = pending.shift()!;
      if (name === "..") {
        // The root's parent is the root, as in a chroot.
        done.pop();
        continue;
      }
      const hostPath = path.join(this.root, ...done, name);
      let st: Stats;
      try {
        st = await this.lstat(hostPath);
      } catch (e) {
        return { ok: false, error: fromError(e, links) };
      }
      if (st.isSymbolicLink()) {
        links += 1;
        if (links > MAX_SYMLINKS) {
          return { ok: false, error: failure("ELOOP", `too many symlinks in ${inner}`, links) };
        }
        let target: string;
        try {
          target = await this.readlink(hostPath);
        } catch (e) {
          return { ok: false, error: fromError(e, links) };
        }
        if (target.startsWith("/")) done.length = 0;
        pending.unshift(...components(target));
        continue;
      }
      if (pending.length > 0 && !st.isDirectory()) {
        return { ok: false, error: failure("ENOTDIR", `not a directory in ${inner}`, links) };
      }
      done.push(name);
    }
    return {
      ok: true,
      value: { hostPath: path.join(this.root, ...done), innerPath: `/${done.join("/")}`, links },
    };
  }

  /**
   * The target of `inner` when its last component is itself a symlink (its directories
   * resolved inside the root), null when it is not one or does not exist.
   */
  async linkTarget(inner: string): Promise<string | null> {
    const dir = await this.resolve(path.posix.dirname(path.posix.resolve("/", inner)));
    if (!dir.ok) return null;
    const host = path.join(dir.value.hostPath, path.posix.basename(inner));
    try {
      return (await this.lstat(host)).isSymbolicLink() ? await this.readlink(host) : null;
    } catch {
      return null;
    }
  }

  async stat(inner: string): Promise<Result<RootStat, FsFailure>> {
    const r = await this.resolve(inner);
    if (!r.ok) return r;
    try {
      const host = r.value.hostPath;
      const st = await fsp.lstat(host);
      return {
        ok: true,
        value: {
          innerPath: r.value.innerPath,
          mtime: st.mtime,
          ctime: st.ctime,
          size: st.size,
          isDirectory: st.isDirectory(),
        },
      };
    } catch (e) {
      return { ok: false, error: fromError(e, r.value.links) };
    }
  }

  /** Names in a directory, sorted (bytewise, as sudo sorts #includedir). */
  async list(inner: string): Promise<Result<{ innerPath: string; names: string[] }, FsFailure>> {
    const r = await this.resolve(inner);
    if (!r.ok) return r;
    try {
      const names: string[] = [];
      // Entry by entry: a directory of millions (named by a hostile sudoers' #includedir)
      // is never listed whole.
      const dir = await fsp.opendir(r.value.hostPath);
      for await (const entry of dir) {
        names.push(entry.name);
        if (names.length >= MAX_DIR_ENTRIES) break;
      }
      names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      return { ok: true, value: { innerPath: r.value.innerPath, names } };
    } catch (e) {
      return { ok: false, error: fromError(e, r.value.links) };
    }
  }

  /** Open a regular file for reading; the caller closes the handle. */
  async open(
    inner: string,
  ): Promise<
    Result<
      { handle: RootHandle; innerPath: string; size: number; mtime: Date; ctime: Date },
      FsFailure
    >
  > {
    const r = await this.resolve(inner);
    if (!r.ok) return r;
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(r.value.hostPath, OPEN_FLAGS);
    } catch (e) {
      return { ok: false, error: fromError(e, r.value.links) };
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) {
        await handle.close();
        return {
          ok: false,
          error: failure("ENOTREG", `${r.value.innerPath} is not a regular file`, r.value.links),
        };
      }
      return {
        ok: true,
        value: {
          handle,
          innerPath: r.value.innerPath,
          size: st.size,
          mtime: st.mtime,
          ctime: st.ctime,
        },
      };
    } catch (e) {
      await handle.close().catch(() => {});
      return { ok: false, error: fromError(e, r.value.links) };
    }
  }

  /** Read at most `maxBytes` of a regular file, from its start or (for logs) its end. */
  async read(inner: string, opts: ReadOptions): Promise<Result<RootFile, FsFailure>> {
    const o = await this.open(inner);
    if (!o.ok) return o;
    const { handle, size } = o.value;
    try {
      let offset = 0;
      if (opts.fromEnd && size > opts.maxBytes) {
        offset = size - opts.maxBytes;
        const align = opts.align ?? 1;
        offset = Math.ceil(offset / align) * align;
      }
      const length = Math.min(size - offset, opts.maxBytes);
      const bytes = Buffer.alloc(length);
      let got = 0;
      // A file that shrinks while read (log rotation) ends the read early; one that grows is cut.
      while (got < length) {
        const { bytesRead } = await handle.read(bytes, got, length - got, offset + got);
        if (bytesRead === 0) break;
        got += bytesRead;
      }
      return {
        ok: true,
        value: {
          innerPath: o.value.innerPath,
          bytes: got === length ? bytes : bytes.subarray(0, got),
          size,
          offset,
          truncated: offset > 0 || offset + got < size,
          mtime: o.value.mtime,
          ctime: o.value.ctime,
        },
      };
    } catch (e) {
      return { ok: false, error: fromError(e, 0) };
    } finally {
      await handle.close().catch(() => {});
    }
  }
}

/** A short reason for a gap message: "not found", "permission denied", or the error. */
export function describeFailure(f: FsFailure): string {
  switch (f.code) {
    case "ENOENT":
      return "not found";
    case "EACCES":
    case "EPERM":
      return "permission denied";
    case "ELOOP":
      return "symlink loop";
    case "ENOTREG":
      return "not a regular file";
    case "ENOTDIR":
      return "a path component is not a directory";
    default:
      return f.message;
  }
}
