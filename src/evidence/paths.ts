/**
 * Names inside an evidence bundle. Container names, host names and file names come from a
 * breached host, so they may hold slashes, newlines, ANSI escapes or "..": they must never
 * choose where a file lands, and a bundle must stay readable on other systems.
 */
import { createHash } from "node:crypto";

/** Characters kept as they are in a path component; everything else becomes "_". */
const UNSAFE_COMPONENT_CHAR = /[^A-Za-z0-9._@+=,%-]/g;
/** ext4 and most file systems allow 255 bytes per name; leave room for suffixes like ".1". */
const MAX_COMPONENT = 120;
const MAX_REL_PATH = 1024;

/**
 * A file-name-safe version of `name`: one path component, never empty, ".", ".." or hidden.
 * Names that are already safe come back unchanged (container names, host names); a name
 * that had to change gets a short hash of the original appended, so that two hostile names
 * that sanitise alike ("a/b", "a_b") do not collide.
 */
export function safePathComponent(name: string): string {
  let s = name.replace(UNSAFE_COMPONENT_CHAR, "_");
  // A leading dot hides a file (or makes "." and ".."); a leading "-" reads as an option.
  s = s.replace(/^[.-]+/, (m) => "_".repeat(m.length));
  // ".." inside a name is harmless to us but alarms every tool and reader that greps for it.
  s = s.replace(/\.{2,}/g, (m) => "_".repeat(m.length));
  if (s.length > MAX_COMPONENT) s = s.slice(0, MAX_COMPONENT);
  if (s === name && s.length > 0) return s;
  const tag = createHash("sha256").update(name, "utf8").digest("hex").slice(0, 8);
  return `${s === "" ? "_" : s}_${tag}`;
}

/**
 * Check a caller's bundle-relative path; returns the normalised "/"-separated path or a
 * reason it is refused. Refused: empty, absolute, "." or ".." components, empty components,
 * NUL and other control characters, over-long names. Callers sanitise host-supplied parts
 * with `safePathComponent`; this is the last line of defence, not a sanitiser.
 */
export function checkRelPath(
  relPath: string,
): { ok: true; path: string } | { ok: false; reason: string } {
  if (relPath.length === 0) return { ok: false, reason: "empty path" };
  if (relPath.length > MAX_REL_PATH) return { ok: false, reason: "path too long" };
  if (relPath.startsWith("/")) return { ok: false, reason: "absolute path" };
  if (/[\u0000-\u001f\u007f-\u009f]/.test(relPath)) {
    return { ok: false, reason: "control character (NUL, newline, escape) in path" };
  }
  if (relPath.includes("\\")) return { ok: false, reason: "backslash in path" };
  const parts = relPath.split("/");
  for (const p of parts) {
    if (p === "") return { ok: false, reason: "empty path component" };
    if (p === "." || p === "..") return { ok: false, reason: `"${p}" in path` };
    if (Buffer.byteLength(p, "utf8") > 255) return { ok: false, reason: "path component too long" };
  }
  return { ok: true, path: parts.join("/") };
}
