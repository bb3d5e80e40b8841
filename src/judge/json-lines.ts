/**
 * Line numbers for JSON files analysts edit: V8's parse errors name no line (Node 20's not
 * even a position), and a schema error names a path, not where it is in the file.
 */
import { err, errorMessage, ok, type Result } from "../util/result.js";

/** JSON.parse, or where it fails: the line of the first syntax error (0 when not found). */
export function parseJsonWithLine(
  text: string,
): Result<unknown, { line: number; message: string }> {
  try {
    return ok(JSON.parse(text) as unknown);
  } catch (e) {
    const bad = jsonSyntaxError(text);
    return bad
      ? err({ line: lineAtOffset(text, bad.offset), message: `not valid JSON: ${bad.message}` })
      : err({ line: 0, message: `not valid JSON: ${errorMessage(e)}` });
  }
}

/** The line on which each value of a (valid) JSON text starts, by path ("entries.3"). */
export function jsonValueLines(text: string): Map<string, number> {
  const out = new Map<string, number>();
  let i = 0;
  let line = 1;
  const ws = () => {
    while (i < text.length) {
      const c = text[i];
      if (c === "\n") line++;
      else if (c !== " " && c !== "\t" && c !== "\r") break;
      i++;
    }
  };
  // JSON strings cannot hold a raw newline: no line counting inside.
  const str = () => {
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
  };
  const value = (path: string, depth: number): void => {
    ws();
    out.set(path, line);
    const c = text[i];
    const sub = (k: string) => (path === "" ? k : `${path}.${k}`);
    if ((c === "{" || c === "[") && depth < 64) {
      const close = c === "{" ? "}" : "]";
      i++;
      ws();
      if (text[i] === close) {
        i++;
        return;
      }
      for (let n = 0; i < text.length; n++) {
        let key = String(n);
        if (c === "{") {
          ws();
          const s = i;
          str();
          key = String(JSON.parse(text.slice(s, i)));
          ws();
          i++; // the colon
        }
        value(sub(key), depth + 1);
        ws();
        if (text[i++] !== ",") return;
      }
    } else if (c === '"') str();
    else while (i < text.length && !" \t\r\n,]}".includes(text[i]!)) i++;
  };
  value("", 0);
  return out;
}

/** The first syntax error of a JSON text (offset and what was expected), or null when it parses. */
export function jsonSyntaxError(text: string): { offset: number; message: string } | null {
  let i = 0;
  class Bad extends Error {
    constructor(
      readonly offset: number,
      message: string,
    ) {
      super(message);
    }
  }
  const shown = () => (i < text.length ? JSON.stringify(text[i]) : "the end of the file");
  const ws = () => {
    while (i < text.length && " \t\r\n".includes(text[i]!)) i++;
  };
  const expect = (what: string): never => {
    throw new Bad(i, `expected ${what}, found ${shown()}`);
  };
  const str = () => {
    if (text[i] !== '"') expect("a string in double quotes");
    i++;
    while (i < text.length && text[i] !== '"') {
      if (text.charCodeAt(i) < 0x20) expect("a closing quote before the end of the line");
      if (text[i] === "\\") {
        i++;
        if (text[i] === "u") {
          if (!/^[0-9a-fA-F]{4}$/.test(text.slice(i + 1, i + 5))) expect("4 hex digits after \\u");
          i += 4;
        } else if (!'"\\/bfnrt'.includes(text[i] ?? ""))
          expect('an escape (\\n, \\", \\u0041 ...)');
      }
      i++;
    }
    if (i >= text.length) expect("a closing quote");
    i++;
  };
  const value = (depth: number): void => {
    ws();
    const c = text[i];
    if (depth > 256) throw new Bad(i, "nested too deeply");
    if (c === "{" || c === "[") {
      const obj = c === "{";
      i++;
      ws();
      if (text[i] === (obj ? "}" : "]")) {
        i++;
        return;
      }
      for (;;) {
        if (obj) {
          ws();
          str();
          ws();
          if (text[i] !== ":") expect('":"');
          i++;
        }
        value(depth + 1);
        ws();
        if (text[i] === ",") {
          i++;
          ws();
          if (text[i] === (obj ? "}" : "]"))
            expect(obj ? "another key (no comma before })" : "another value (no comma before ])");
          continue;
        }
        if (text[i] === (obj ? "}" : "]")) {
          i++;
          return;
        }
        expect(obj ? '"," or "}"' : '"," or "]"');
      }
    }
    if (c === '"') {
      str();
      return;
    }
    const m = /^(-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?|true|false|null)/.exec(
      text.slice(i, i + 400),
    );
    if (!m) expect("a value");
    i += m![0].length;
  };
  try {
    value(0);
    ws();
    if (i < text.length) expect("the end of the file");
    return null;
  } catch (e) {
    if (e instanceof Bad) return { offset: e.offset, message: e.message };
    throw e;
  }
}

export function lineAtOffset(text: string, offset: number): number {
  let n = 1;
  for (let i = 0; i < offset && i < text.length; i++) if (text.charCodeAt(i) === 10) n++;
  return n;
}
