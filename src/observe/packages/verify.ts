/**
 * Package integrity of one root, from the host, without running anything inside it: every file
 * a package database lists is hashed and compared with the checksum the package recorded
 * (dpkg: MD5, apk: SHA-1), as `debsums -s` does for dpkg. Also: executables in the system's
 * bin directories that no package owns. The files verified unchanged are returned by device
 * and inode (with size and times, so a file changed since is not mistaken for them): ClamAV
 * skips them.
 *
 * Speed: files are streamed through the hash with a bounded number in flight (reads run in
 * libuv's thread pool while the main thread hashes), one reused buffer per slot; each inode is
 * hashed once (hard links, and /bin and /usr/bin being one directory on merged-/usr systems).
 */
import { createHash, type Hash } from "node:crypto";
import type { BigIntStats } from "node:fs";
import { constants } from "node:fs";
import { type FileHandle, lstat, open, readdir } from "node:fs/promises";
import { posix } from "node:path";
import type { Progress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import { readApkDb } from "./apk.js";
import { readDpkgDb } from "./dpkg.js";
import { RootResolver } from "./resolve.js";
import { findRpmDb, rpmNotVerifiedReason } from "./rpm.js";
import type { DigestAlgo, PackageDb, PackageFile, PackageManager } from "./types.js";

/** Where no package should put an executable it does not own. */
export const SYSTEM_BIN_DIRS = [
  "/bin",
  "/sbin",
  "/usr/bin",
  "/usr/sbin",
  "/usr/local/bin",
  "/usr/local/sbin",
];

export interface ChangedFile {
  manager: PackageManager;
  package: string;
  path: string;
  algo: DigestAlgo;
  expected: string;
  found: string;
  sha256: string;
  size: number;
  /** The file is in the container's writable layer (changed after the image was built). */
  inWritableLayer: boolean;
}

export interface MissingFile {
  manager: PackageManager;
  package: string;
  path: string;
}

export interface UnownedExecutable {
  path: string;
  size: number;
  mode: number;
  sha256: string | null;
  inWritableLayer: boolean;
}

/** A file verified unchanged: its identity as a stat shows it. */
export interface VerifiedFile {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export interface RootIntegrity {
  where: string;
  containerId: string | null;
  root: string;
  managers: { manager: PackageManager; source: string; packages: number; files: number }[];
  checked: number;
  ok: number;
  changed: ChangedFile[];
  missing: MissingFile[];
  unowned: UnownedExecutable[];
  errors: { path: string; package: string; message: string }[];
  /** Problems reading the databases, and what could not be verified (an rpm database). */
  notes: string[];
  /** Files verified unchanged, keyed `dev:ino` (hard links counted once). */
  verified: Map<string, VerifiedFile>;
  /** Paths (inside the root) of the verified files, for the report's list of skipped files. */
  verifiedPaths: Map<string, string>;
  bytes: number;
  durationMs: number;
}

export interface VerifyRootOptions {
  root: string;
  where: string;
  containerId: string | null;
  /** The container's writable layer on the host, when known. */
  upperDir?: string | null;
  /** Files hashed at once (default 16). */
  concurrency?: number;
  /** Look for executables no package owns (default true). */
  unowned?: boolean;
  progress?: Progress;
  signal?: AbortSignal;
  /**
   * Only the package files under these paths (inside the root), and the unowned check only
   * when a bin directory is among them: what ClamAV and YARA are about to scan, when the
   * package check runs only so that they can skip what it verifies. Absent: everything.
   */
  onlyUnder?: readonly string[];
}

const BUF_SIZE = 256 * 1024;
const MAX_UNOWNED = 2000;
const MAX_DIR_ENTRIES = 200_000;
const MAX_UPPER_FILES = 500_000;

/** Hash an open file from its start with a reused buffer. */
async function hashHandle(fh: FileHandle, hashes: Hash[], buf: Buffer): Promise<number> {
  let total = 0;
  for (;;) {
    const { bytesRead } = await fh.read(buf, 0, buf.length, null);
    if (bytesRead === 0) return total;
    const chunk = buf.subarray(0, bytesRead);
    for (const h of hashes) h.update(chunk);
    total += bytesRead;
  }
}

async function openForHash(path: string): Promise<FileHandle> {
  // O_NOATIME keeps the access times an examiner reads intact; only root or the owner may use it.
  try {
    return await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOATIME);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "EPERM") throw e;
    return open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  }
}

function statKey(st: BigIntStats): string {
  return `${st.dev}:${st.ino}`;
}

/** Paths present in the writable layer (files, links, whiteouts), inside-root form. */
async function writableLayerPaths(upper: string): Promise<Set<string>> {
  const out = new Set<string>();
  const stack = [""];
  while (stack.length > 0 && out.size < MAX_UPPER_FILES) {
    const rel = stack.pop()!;
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(`${upper}${rel}`, { withFileTypes: true });
    } catch {
      continue;
    }
    for (const e of entries) {
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) stack.push(p);
      else out.add(p);
    }
  }
  return out;
}

/** Read every package database the root has. */
export async function readPackageDbs(root: string): Promise<{ dbs: PackageDb[]; notes: string[] }> {
  const notes: string[] = [];
  const dbs: PackageDb[] = [];
  const [dpkg, apk, rpm] = await Promise.all([readDpkgDb(root), readApkDb(root), findRpmDb(root)]);
  if (dpkg) dbs.push(dpkg);
  if (apk) dbs.push(apk);
  if (rpm) notes.push(rpmNotVerifiedReason(rpm));
  for (const db of dbs) for (const p of db.problems.slice(0, 50)) notes.push(`${db.manager}: ${p}`);
  return { dbs, notes };
}

interface Slot {
  buf: Buffer;
}

export async function verifyRoot(opts: VerifyRootOptions): Promise<RootIntegrity> {
  const started = Date.now();
  const res = new RootResolver(opts.root);
  const { dbs, notes } = await readPackageDbs(opts.root);
  const out: RootIntegrity = {
    where: opts.where,
    containerId: opts.containerId,
    root: opts.root,
    managers: dbs.map((d) => ({
      manager: d.manager,
      source: d.source,
      packages: d.packages,
      files: d.files.length,
    })),
    checked: 0,
    ok: 0,
    changed: [],
    missing: [],
    unowned: [],
    errors: [],
    notes,
    verified: new Map(),
    verifiedPaths: new Map(),
    bytes: 0,
    durationMs: 0,
  };
  const upper = opts.upperDir ? await writableLayerPaths(opts.upperDir) : new Set<string>();
  const jobs: { db: PackageDb; f: PackageFile }[] = [];
  const inScope = opts.onlyUnder ? await scopeTest(res, opts.onlyUnder) : () => true;
  for (const db of dbs) for (const f of db.files) if (inScope(f.path)) jobs.push({ db, f });
  // Same inode, same bytes: hash once. Values: the digests found, by algorithm.
  const byInode = new Map<string, Promise<Record<string, string> | null>>();
  const total = jobs.length;
  let next = 0;
  const concurrency = Math.max(1, opts.concurrency ?? 16);

  const check = async (slot: Slot, db: PackageDb, f: PackageFile): Promise<void> => {
    let resolved: string;
    let fh: FileHandle | null = null;
    try {
      resolved = f.symlink ? await res.resolve(f.path, false) : await res.resolve(f.path);
      fh = await openForHash(res.host(resolved));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT") {
        if (!db.excluded?.(f.path))
          out.missing.push({ manager: f.manager, package: f.package, path: f.path });
      } else out.errors.push({ path: f.path, package: f.package, message: errorMessage(e) });
      return;
    }
    try {
      const st = await fh.stat({ bigint: true });
      if (!st.isFile()) {
        out.errors.push({ path: f.path, package: f.package, message: "not a regular file" });
        return;
      }
      const key = statKey(st);
      let digests = byInode.get(key);
      if (!digests) {
        const handle = fh;
        digests = (async () => {
          const h = createHash(f.algo);
          out.bytes += await hashHandle(handle, [h], slot.buf);
          return { [f.algo]: h.digest("hex") };
        })();
        byInode.set(key, digests);
      }
      let got = await digests;
      if (got && got[f.algo] === undefined) {
        // Another database hashed this inode with another algorithm: hash again with ours.
        const h = createHash(f.algo);
        const fh2 = await openForHash(res.host(resolved));
        try {
          await hashHandle(fh2, [h], slot.buf);
        } finally {
          await fh2.close();
        }
        got = { ...got, [f.algo]: h.digest("hex") };
      }
      const found = got?.[f.algo] ?? "";
      out.checked++;
      if (found === f.expected) {
        out.ok++;
        if (!upper.has(resolved)) {
          out.verified.set(key, {
            dev: st.dev,
            ino: st.ino,
            size: st.size,
            mtimeNs: st.mtimeNs,
            ctimeNs: st.ctimeNs,
          });
          out.verifiedPaths.set(key, resolved);
        }
        return;
      }
      // debsums' rules for a changed dpkg file: another package replacing this one recorded
      // this very content; the path belongs to another package too; or it is diverted.
      if (db.manager === "dpkg") {
        if (db.replacedBy?.get(f.package)?.get(f.path) === found) {
          out.ok++;
          return;
        }
        const owners = (await db.owners()).get(f.path);
        if (owners?.length !== 1 || owners[0] !== f.package) return;
        if (db.diverted?.has(f.path)) return;
      }
      const sha = createHash("sha256");
      const fh3 = await openForHash(res.host(resolved));
      try {
        await hashHandle(fh3, [sha], slot.buf);
      } finally {
        await fh3.close();
      }
      out.changed.push({
        manager: f.manager,
        package: f.package,
        path: f.path,
        algo: f.algo,
        expected: f.expected,
        found,
        sha256: sha.digest("hex"),
        size: Number(st.size),
        inWritableLayer: upper.has(resolved),
      });
    } catch (e) {
      out.errors.push({ path: f.path, package: f.package, message: errorMessage(e) });
    } finally {
      await fh?.close().catch(() => {});
    }
  };

  const worker = async () => {
    const slot: Slot = { buf: Buffer.allocUnsafe(BUF_SIZE) };
    while (next < jobs.length) {
      if (opts.signal?.aborted) return;
      const j = jobs[next++]!;
      await check(slot, j.db, j.f);
      if (next % 500 === 0)
        opts.progress?.update(`packages: ${opts.where}: ${next}/${total} files`);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));

  const binsInScope =
    !opts.onlyUnder || SYSTEM_BIN_DIRS.some((d) => opts.onlyUnder!.some((u) => under(d, u)));
  if (opts.unowned !== false && dbs.length > 0 && binsInScope) {
    out.unowned = await unownedExecutables(res, dbs, upper);
  }
  out.durationMs = Date.now() - started;
  return out;
}

function under(path: string, dir: string): boolean {
  const d = dir.replace(/\/+$/, "");
  return d === "" || path === d || path.startsWith(`${d}/`);
}

/**
 * Whether a listed path lies under one of the scanned paths, seen through the root's
 * top-level directory links (merged /usr: a package lists /bin/ls, the file is /usr/bin/ls).
 */
async function scopeTest(
  res: RootResolver,
  paths: readonly string[],
): Promise<(p: string) => boolean> {
  const links = new Map<string, string>();
  for (const top of ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"]) {
    const real = await res.resolve(top).catch(() => top);
    const realHost = res.root === "/" ? await realDir(top).catch(() => top) : real;
    if (realHost !== top) links.set(top, realHost);
  }
  const dirs = await Promise.all(
    paths.map(async (p) =>
      res.root === "/" ? realDir(p).catch(() => p) : res.resolve(p).catch(() => p),
    ),
  );
  return (p) => {
    let real = p;
    for (const [top, target] of links) {
      if (p.startsWith(`${top}/`)) {
        real = target + p.slice(top.length);
        break;
      }
    }
    return dirs.some((d) => under(real, d) || under(p, d));
  };
}

function ownedBy(maps: readonly Map<string, string[]>[], path: string): boolean {
  return maps.some((m) => m.has(path));
}

/** Regular executable files in the system bin directories that no package lists. */
async function unownedExecutables(
  res: RootResolver,
  dbs: readonly PackageDb[],
  upper: ReadonlySet<string>,
): Promise<UnownedExecutable[]> {
  // Directories that are one (merged /usr: /bin -> usr/bin) are listed once, under every alias.
  const aliases = new Map<string, string[]>();
  for (const d of SYSTEM_BIN_DIRS) {
    let real: string;
    try {
      real = res.root === "/" ? await realDir(d) : await res.resolve(d);
      const st = await lstat(res.host(real));
      if (!st.isDirectory()) continue;
    } catch {
      continue;
    }
    const a = aliases.get(real) ?? [];
    a.push(d);
    aliases.set(real, a);
  }
  const out: UnownedExecutable[] = [];
  const owned = await Promise.all(dbs.map((d) => d.owners()));
  for (const [real, names] of aliases) {
    let entries: string[];
    try {
      entries = (await readdir(res.host(real))).slice(0, MAX_DIR_ENTRIES);
    } catch {
      continue;
    }
    for (const name of entries) {
      const inside = `${real === "/" ? "" : real}/${name}`;
      if (ownedBy(owned, inside) || names.some((n) => ownedBy(owned, `${n}/${name}`))) continue;
      let st: BigIntStats;
      try {
        st = await lstat(res.host(inside), { bigint: true });
      } catch {
        continue;
      }
      if (!st.isFile() || (Number(st.mode) & 0o111) === 0) continue;
      let sha256: string | null = null;
      try {
        const fh = await openForHash(res.host(inside));
        try {
          const h = createHash("sha256");
          await hashHandle(fh, [h], Buffer.allocUnsafe(BUF_SIZE));
          sha256 = h.digest("hex");
        } finally {
          await fh.close();
        }
      } catch {
        // unreadable: reported without a hash
      }
      out.push({
        path: inside,
        size: Number(st.size),
        mode: Number(st.mode) & 0o7777,
        sha256,
        inWritableLayer: upper.has(inside),
      });
      if (out.length >= MAX_UNOWNED) return out;
    }
  }
  return out;
}

/** realpath for a host directory, without following anything but directory links. */
async function realDir(d: string): Promise<string> {
  const { realpath } = await import("node:fs/promises");
  return posix.normalize(await realpath(d));
}
