/**
 * Parser for /proc/<pid>/mountinfo, used to find a container's writable layer (the overlay
 * `upperdir`) from any of its processes, without asking the engine.
 */

export interface MountinfoEntry {
  mountId: number;
  parentId: number;
  root: string;
  mountPoint: string;
  fsType: string;
  source: string;
  superOptions: string;
}

/**
 * mountinfo octal-escapes space, tab, newline and backslash in paths (`\040`), and overlay
 * escapes commas and '=' in its option values the same way. Only ASCII is ever escaped, so
 * mapping each escape to one character is exact.
 */
export function unescapeMountinfo(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) =>
    String.fromCharCode(Number.parseInt(oct, 8)),
  );
}

/** One line: `id parent maj:min root mountpoint opts [optional fields...] - fstype source superopts`. */
export function parseMountinfoLine(line: string): MountinfoEntry | null {
  const f = line.split(" ");
  const sep = f.indexOf("-", 6);
  if (sep < 0 || f.length < sep + 4) return null;
  const mountId = Number(f[0]);
  const parentId = Number(f[1]);
  if (!Number.isInteger(mountId) || !Number.isInteger(parentId)) return null;
  return {
    mountId,
    parentId,
    root: unescapeMountinfo(f[3] ?? ""),
    mountPoint: unescapeMountinfo(f[4] ?? ""),
    fsType: f[sep + 1] ?? "",
    source: unescapeMountinfo(f[sep + 2] ?? ""),
    superOptions: f.slice(sep + 3).join(" "),
  };
}

/**
 * The `upperdir=` of the overlay mounted on "/" (the container's writable layer on the host),
 * or null when the root is not an overlay. When several mounts stack on "/", the last one
 * listed is the one the process sees.
 */
export function upperDirFromMountinfo(text: string): string | null {
  let root: MountinfoEntry | null = null;
  for (const line of text.split("\n")) {
    const e = parseMountinfoLine(line);
    if (e !== null && e.mountPoint === "/") root = e;
  }
  if (root === null || root.fsType !== "overlay") return null;
  // Option values have their commas escaped, so a plain split on ',' is safe.
  for (const opt of root.superOptions.split(",")) {
    if (opt.startsWith("upperdir=")) {
      const dir = unescapeMountinfo(opt.slice("upperdir=".length));
      return dir === "" ? null : dir;
    }
  }
  return null;
}
