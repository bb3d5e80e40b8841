/**
 * Walk a tree for scanning: regular files only, symlinks never followed, virtual filesystems
 * (procfs, sysfs, cgroup ...) skipped, names kept as raw bytes (a hostile name need not be
 * valid UTF-8). Yields lstat data for the cache and the size limits.
 */
import type { BigIntStats } from "node:fs";
import { lstat, readdir, readFile, stat } from "node:fs/promises";

export interface WalkedFile {
  /** The path the host opens, raw bytes. */
  path: Buffer;
  stat: BigIntStats;
}

export interface WalkError {
  path: string;
  message: string;
}

/** Filesystem types with nothing worth scanning and, for some, reads that never end. */
const VIRTUAL_FS = new Set([
  "proc",
  "sysfs",
  "cgroup",
  "cgroup2",
  "devpts",
  "mqueue",
  "debugfs",
  "tracefs",
  "securityfs",
  "pstore",
  "bpf",
  "configfs",
  "fusectl",
  "binfmt_misc",
  "autofs",
  "hugetlbfs",
  "nsfs",
  "efivarfs",
  "selinuxfs",
  "rpc_pipefs",
  "nfsd",
]);

/** Octal escapes (\040 for space) in mountinfo fields. */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/**
 * Mount points of virtual filesystems from a mountinfo text, as seen from inside that mount
 * namespace. Pure: tested on recorded samples.
 */
export function virtualMountPoints(mountinfo: string): string[] {
  const out: string[] = [];
  for (const line of mountinfo.split("\n")) {
    const sep = line.indexOf(" - ");
    if (sep < 0) continue;
    const left = line.slice(0, sep).split(" ");
    const right = line.slice(sep + 3).split(" ");
    const mountPoint = left[4];
    const fsType = right[0];
    if (mountPoint && fsType && VIRTUAL_FS.has(fsType)) out.push(unescapeMount(mountPoint));
  }
  return out;
}

/** Virtual mount points under `root` (host paths), read from a mountinfo file; [] on error. */
export async function skipDirsFor(root: string, mountinfoPath: string): Promise<Set<string>> {
  try {
    const text = await readFile(mountinfoPath, "utf8");
    const prefix = root === "/" ? "" : root.replace(/\/+$/, "");
    return new Set(virtualMountPoints(text).map((m) => (m === "/" ? root : prefix + m)));
  } catch {
    return new Set();
  }
}

export interface WalkOptions {
  /** Host paths of directories not to enter (virtual mounts). */
  skip: ReadonlySet<string>;
  onError: (e: WalkError) => void;
  /** Stop after this many files (a bound against a tree built to never end). */
  maxFiles: number;
}

const SLASH = Buffer.from("/");

/** Depth-first walk; yields regular files. Errors (a directory vanishing, EACCES) are reported. */
export async function* walkFiles(start: string, opts: WalkOptions): AsyncGenerator<WalkedFile> {
  let count = 0;
  let st: BigIntStats;
  try {
    // The start itself is followed: /proc/<pid>/root is a (magic) link, and /var/spool/mail
    // is a link to ../mail on Debian. Below it, links are never followed.
    st = await stat(start, { bigint: true });
  } catch (e) {
    opts.onError({ path: start, message: (e as Error).message });
    return;
  }
  if (st.isFile()) {
    yield { path: Buffer.from(start), stat: st };
    return;
  }
  if (!st.isDirectory()) return;
  const stack: Buffer[] = [Buffer.from(start.length > 1 ? start.replace(/\/+$/, "") : start)];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    const dirText = dir.toString();
    if (opts.skip.has(dirText)) continue;
    let names: Buffer[];
    try {
      names = (await readdir(dir, { encoding: "buffer" })) as Buffer[];
    } catch (e) {
      opts.onError({ path: dirText, message: (e as Error).message });
      continue;
    }
    names.sort(Buffer.compare);
    const subdirs: Buffer[] = [];
    // lstat in small parallel batches: one at a time leaves the libuv pool idle.
    for (let i = 0; i < names.length; i += 64) {
      const batch = names
        .slice(i, i + 64)
        .map((name) =>
          dir.length === 1 ? Buffer.concat([SLASH, name]) : Buffer.concat([dir, SLASH, name]),
        );
      const stats = await Promise.all(
        batch.map((full) =>
          lstat(full, { bigint: true }).catch((e: Error) => {
            opts.onError({ path: full.toString(), message: e.message });
            return null;
          }),
        ),
      );
      for (let j = 0; j < batch.length; j++) {
        const s = stats[j];
        const full = batch[j]!;
        if (!s) continue;
        if (s.isDirectory()) subdirs.push(full);
        else if (s.isFile()) {
          if (++count > opts.maxFiles) {
            opts.onError({ path: start, message: `stopped after ${opts.maxFiles} files` });
            return;
          }
          yield { path: full, stat: s };
        }
      }
    }
    // Reverse so that the stack pops them in name order.
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
}
