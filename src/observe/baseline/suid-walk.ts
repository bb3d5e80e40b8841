/**
 * SUID and SGID files of one root filesystem (the host's `/`, a --root directory, or a running
 * container's `/proc/<pid>/root`), hashed from their bytes in this run.
 *
 * The walk stays on the root's own device (like `find -xdev`: /proc, /sys, volumes and other
 * mounts are not crossed), never follows a symlink, skips directories it is told to (Docker's
 * data root: each container is walked through its own root), and stops at a bound, recorded as
 * a gap. Entries are read from the directory stream (no listing held whole); files are lstat'ed
 * a batch at a time in node's thread pool.
 */
import { createHash } from "node:crypto";
import { constants, promises as fsp, lstatSync } from "node:fs";
import path from "node:path";
import type { Gap } from "../../model/snapshot.js";
import { errorMessage } from "../../util/result.js";

export interface SuidFile {
  /** As seen inside the root ("/usr/bin/passwd"). */
  path: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  sha256: string | null;
}

export interface SuidWalkOptions {
  /** Inner paths not descended into (e.g. Docker's data root on the host). */
  skip?: readonly string[];
  /** Entries looked at before the walk stops (a gap says so); default 5,000,000. */
  maxEntries?: number;
  /** lstat calls in flight. */
  concurrency?: number;
  onProgress?: (entries: number) => void;
}

const HASH_MAX_BYTES = 256 * 1024 * 1024;
/** S_ISUID | S_ISGID. */
const SPECIAL = 0o6000;

async function hashFile(hostPath: string): Promise<string | null> {
  let fh: fsp.FileHandle;
  try {
    fh = await fsp.open(hostPath, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return null;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile() || st.size > HASH_MAX_BYTES) return null;
    const h = createHash("sha256");
    const buf = Buffer.allocUnsafe(1024 * 1024);
    let pos = 0;
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) break;
      h.update(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    return h.digest("hex");
  } catch {
    return null;
  } finally {
    await fh.close().catch(() => {});
  }
}

export async function walkSuid(
  root: string,
  opts: SuidWalkOptions = {},
): Promise<{ files: SuidFile[]; gaps: Gap[]; entries: number }> {
  const gaps: Gap[] = [];
  const files: SuidFile[] = [];
  const maxEntries = opts.maxEntries ?? 5_000_000;
  const concurrency = opts.concurrency ?? 64;
  const skip = new Set((opts.skip ?? []).map((s) => path.posix.resolve("/", s)));
  let rootDev: number;
  try {
    // stat, not lstat: a container's root is /proc/<pid>/root, a link the kernel resolves.
    const st = await fsp.stat(root);
    if (!st.isDirectory()) {
      return { files, gaps: [{ source: `suid:${root}`, message: "not a directory" }], entries: 0 };
    }
    rootDev = st.dev;
  } catch (e) {
    return { files, gaps: [{ source: `suid:${root}`, message: errorMessage(e) }], entries: 0 };
  }
  const host = (inner: string) => (inner === "/" ? root : path.join(root, inner));
  const stack: string[] = ["/"];
  let entries = 0;
  let stopped = false;
  let lastProgress = 0;
  const candidates: { inner: string; hostPath: string }[] = [];

  while (stack.length > 0 && !stopped) {
    const dir = stack.pop() as string;
    let dirents: import("node:fs").Dirent[];
    try {
      // One call per directory, in the thread pool (a listing of a dead mount must not
      // freeze this thread).
      dirents = await fsp.readdir(host(dir), { withFileTypes: true });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== "ENOENT") gaps.push({ source: `suid:${dir}`, message: errorMessage(e) });
      continue;
    }
    const dirs: string[] = [];
    for (const ent of dirents) {
      entries++;
      if (entries > maxEntries) {
        stopped = true;
        break;
      }
      // Symlinks are never followed; sockets, FIFOs and devices carry no SUID that matters.
      if (ent.isDirectory()) {
        const inner = path.posix.join(dir, ent.name);
        if (!skip.has(inner)) dirs.push(inner);
      } else if (ent.isFile()) {
        // A file lives on its directory's filesystem (checked below for every directory):
        // lstat it here, synchronously: 10x cheaper than a promise per file, and the walk is
        // over hundreds of thousands of them.
        const hostPath = host(path.posix.join(dir, ent.name));
        let st: import("node:fs").Stats | undefined;
        try {
          st = lstatSync(hostPath);
        } catch {
          continue; // gone meanwhile
        }
        if (st.isFile() && (st.mode & SPECIAL) !== 0 && st.dev === rootDev)
          candidates.push({ inner: path.posix.join(dir, ent.name), hostPath });
      }
    }
    // Directories: lstat'ed in the thread pool (a mount point of a dead network filesystem
    // answers never); another filesystem is not crossed.
    for (let i = 0; i < dirs.length; i += concurrency) {
      const part = dirs.slice(i, i + concurrency);
      const stats = await Promise.all(part.map((d) => fsp.lstat(host(d)).catch(() => null)));
      part.forEach((d, j) => {
        const st = stats[j];
        if (st && st.dev === rootDev && st.isDirectory()) stack.push(d);
      });
    }
    if (opts.onProgress && entries - lastProgress > 20_000) {
      lastProgress = entries;
      opts.onProgress(entries);
    }
  }
  if (stopped) {
    gaps.push({
      source: `suid:${root}`,
      message: `stopped after ${maxEntries} entries: SUID/SGID files past them are not in this record`,
    });
  }
  for (const c of candidates) {
    const st = await fsp.lstat(c.hostPath).catch(() => null);
    if (!st?.isFile()) continue;
    files.push({
      path: c.inner,
      mode: st.mode & 0o7777,
      uid: st.uid,
      gid: st.gid,
      size: st.size,
      sha256: await hashFile(c.hostPath),
    });
  }
  files.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { files, gaps, entries };
}
