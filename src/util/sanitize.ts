/**
 * Everything read from a breached host is attacker-controlled. These helpers make such
 * strings safe to show: control characters (ANSI escapes, newlines, NUL, C1, bidi
 * overrides) are made visible instead of interpreted, and lengths are bounded.
 */

// C0 controls, DEL, C1 controls, and Unicode bidi/format characters that can reorder text.
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]/g;

function escapeChar(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  switch (ch) {
    case "\n":
      return "\\n";
    case "\r":
      return "\\r";
    case "\t":
      return "\\t";
    case "\u001b":
      return "\\e";
    default:
      return code <= 0xff
        ? `\\x${code.toString(16).padStart(2, "0")}`
        : `\\u${code.toString(16).padStart(4, "0")}`;
  }
}

/** Neutralise control characters for a terminal line; cut to `max` characters. */
export function safeText(input: string, max = 500): string {
  let s = input.replace(UNSAFE, escapeChar);
  if (s.length > max) s = `${s.slice(0, max)}… (+${s.length - max} chars)`;
  return s;
}

/** Escape for HTML text and attribute values. */
export function escapeHtml(input: string): string {
  return input.replace(/[&<>"'`]/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Decode bytes as UTF-8 with replacement characters (never throws). */
export function decodeUtf8(bytes: Uint8Array): string {
  return new TextDecoder("utf-8", { fatal: false }).decode(bytes);
}
