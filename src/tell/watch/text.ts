/**
 * Cells of the watch screen: every string from the host neutralised (util/sanitize.ts),
 * then cut or padded to exactly the width of its column in terminal cells, so a container
 * or process name with escapes, newlines, wide characters or a megabyte of text cannot
 * move anything else on the screen.
 */
import { safeText } from "../../util/sanitize.js";

/** Terminal cells of one code point: 0 for combining marks, 2 for wide (CJK, emoji) ones. */
export function cellWidth(cp: number): number {
  if (
    (cp >= 0x300 && cp <= 0x36f) ||
    (cp >= 0x1ab0 && cp <= 0x1aff) ||
    (cp >= 0x1dc0 && cp <= 0x1dff) ||
    (cp >= 0x20d0 && cp <= 0x20ff) ||
    (cp >= 0xfe20 && cp <= 0xfe2f) ||
    (cp >= 0xfe00 && cp <= 0xfe0f)
  )
    return 0;
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1faff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  )
    return 2;
  return 1;
}

/** Cells a (safe) string takes. */
export function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += cellWidth(ch.codePointAt(0) ?? 0);
  return w;
}

/**
 * Exactly `width` cells: cut with "…" when longer, padded with spaces (on the left when
 * `right`) when shorter. The input must already be safe (no control characters).
 */
export function fitCells(s: string, width: number, right = false): string {
  if (width <= 0) return "";
  let w = 0;
  let out = "";
  const total = textWidth(s);
  if (total <= width) {
    const pad = " ".repeat(width - total);
    return right ? pad + s : s + pad;
  }
  for (const ch of s) {
    const cw = cellWidth(ch.codePointAt(0) ?? 0);
    if (w + cw > width - 1) break;
    out += ch;
    w += cw;
  }
  return `${out}…${" ".repeat(width - 1 - w)}`;
}

/** Host text made safe and fitted to its column. */
export function cell(hostile: string, width: number, right = false): string {
  // Bounded before anything else: a megabyte of name costs a slice, not a scan.
  const bounded = hostile.length > 400 ? hostile.slice(0, 400) : hostile;
  return fitCells(safeText(bounded, 300), width, right);
}

/** 1234 -> "1234", 12345 -> "12.3k", 1234567 -> "1.2M". */
export function human(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "-";
  if (n < 10_000) return n >= 100 || Number.isInteger(n) ? String(Math.round(n)) : n.toFixed(1);
  for (const [unit, div] of [
    ["k", 1e3],
    ["M", 1e6],
    ["G", 1e9],
    ["T", 1e12],
  ] as const) {
    const v = n / div;
    if (v < 999.5) return `${v < 100 ? v.toFixed(1) : Math.round(v)}${unit}`;
  }
  return `${Math.round(n / 1e15)}P`;
}

/** Bytes: 512 -> "512B", 1536 -> "1.5K", 3.2e9 -> "3.0G" (binary units). */
export function bytes(n: number): string {
  if (!Number.isFinite(n) || n < 0) return "-";
  const units = ["B", "K", "M", "G", "T"];
  let v = n;
  let i = 0;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v < 10 ? v.toFixed(1) : Math.round(v)}${units[i]}`;
}
