/**
 * Paths inside another root, resolved as that root's own processes would see them. Through
 * /proc/<pid>/root the kernel resolves an absolute symlink against the CALLER's root: a
 * container's `/bin/sh -> /bin/busybox` would open the host's busybox. So symlinks are
 * followed here, by hand, relative to the container's root, with directories cached (a package
 * database lists thousands of files in a few hundred directories). For the host ("/") the
 * kernel's own resolution is the right one and nothing is done here.
 */
import { lstat, readlink } from "node:fs/promises";
import { posix } from "node:path";

const MAX_LINKS = 40;

export class RootResolver {
  private readonly dirs = new Map<string, Promise<string>>();

  constructor(readonly root: string) {}

  /** The host path for an inside path (no resolution). */
  host(inside: string): string {
    if (this.root === "/") return inside;
    return `${this.root.replace(/\/+$/, "")}${inside === "/" ? "" : inside}`;
  }

  /** Resolve every symlink in `inside` (the last one too when `followLast`); an inside path. */
  async resolve(inside: string, followLast = true, hops = 0): Promise<string> {
    if (this.root === "/") return inside;
    const norm = posix.normalize(`/${inside}`).replace(/\/+$/, "") || "/";
    if (norm === "/") return "/";
    const parent = await this.resolveDir(posix.dirname(norm), hops);
    const leaf = posix.basename(norm);
    const candidate = parent === "/" ? `/${leaf}` : `${parent}/${leaf}`;
    if (!followLast) return candidate;
    let st: Awaited<ReturnType<typeof lstat>>;
    try {
      st = await lstat(this.host(candidate));
    } catch {
      // Missing: the caller's open() says ENOENT for it.
      return candidate;
    }
    if (!st.isSymbolicLink()) return candidate;
    if (hops >= MAX_LINKS) {
      const e = new Error(`too many levels of symbolic links: ${inside}`) as NodeJS.ErrnoException;
      e.code = "ELOOP";
      throw e;
    }
    const target = await readlink(this.host(candidate), "utf8");
    const next = target.startsWith("/") ? target : `${parent}/${target}`;
    return this.resolve(next, true, hops + 1);
  }

  private resolveDir(dir: string, hops: number): Promise<string> {
    if (dir === "/" || dir === ".") return Promise.resolve("/");
    let p = this.dirs.get(dir);
    if (!p) {
      p = this.resolve(dir, true, hops);
      this.dirs.set(dir, p);
    }
    return p;
  }
}
