/**
 * sudoers: the rules (every line that is not blank, a comment or a `Defaults` setting, with
 * backslash-continued lines joined) and the include directives, followed inside the root.
 *
 * Traps of the format: `#include`/`#includedir` look like comments but are directives (the
 * `@` spellings are the modern ones); `#1000` at the start of a line is a user given by uid,
 * not a comment; a relative include path is relative to the including file's directory
 * (sudo >= 1.9.1); `#includedir` skips names that end in `~` or contain a `.` (editor backups
 * and package leftovers such as `foo.dpkg-old`), and reads the rest in sorted order.
 */
import path from "node:path";
import type { SudoRule } from "../../model/snapshot.js";
import { decodeUtf8 } from "../../util/sanitize.js";
import { describeFailure, type RootFs } from "./root-fs.js";

export type SudoersEntry =
  | { kind: "rule"; line: number; text: string }
  | { kind: "include" | "includedir"; line: number; path: string };

const INCLUDE = /^[#@](include|includedir)[ \t]+(.*)$/;
const DEFAULTS = /^Defaults([ \t:@>!]|$)/;
// A user list starting with a uid: "#1000 ALL=(ALL) ALL", "#0,alice ...".
const UID_USER = /^#\d+[ \t,]/;

const MAX_DEPTH = 8;
const MAX_FILE_BYTES = 4 * 1024 * 1024;
const MAX_FILES = 1000;

function includePath(arg: string): string {
  const s = arg.trim();
  if (s.startsWith('"')) {
    // Quoted form (for paths with spaces): backslash escapes the next character.
    let out = "";
    for (let i = 1; i < s.length; i++) {
      const c = s[i]!;
      if (c === "\\" && i + 1 < s.length) out += s[++i];
      else if (c === '"') break;
      else out += c;
    }
    return out;
  }
  return s.replace(/\\(.)/g, "$1");
}

/** Parse one sudoers file's text into rules and include directives, in file order. */
export function parseSudoers(text: string): SudoersEntry[] {
  const lines = text.split("\n").map((l) => (l.endsWith("\r") ? l.slice(0, -1) : l));
  const out: SudoersEntry[] = [];
  for (let i = 0; i < lines.length; i++) {
    const first = i + 1;
    const head = lines[i]!.trimStart();
    const inc = INCLUDE.exec(head);
    if (inc) {
      out.push({
        kind: inc[1] as "include" | "includedir",
        line: first,
        path: includePath(inc[2]!),
      });
      continue;
    }
    // A comment ends at its newline: sudo does not continue it with a trailing backslash.
    if (head === "" || (head.startsWith("#") && !UID_USER.test(head))) continue;
    let joined = head;
    while (joined.endsWith("\\") && i + 1 < lines.length) {
      joined = `${joined.slice(0, -1)} ${lines[++i]!.trimStart()}`;
    }
    if (DEFAULTS.test(joined)) continue;
    out.push({ kind: "rule", line: first, text: joined.trim() });
  }
  return out;
}

/** Whether `#includedir` reads this file name. */
export function includedirAccepts(name: string): boolean {
  return !name.endsWith("~") && !name.includes(".");
}

export type SudoersRead = {
  rules: SudoRule[];
  /** Files and directories read, with mtimes, keyed by path inside the root. */
  times: Record<string, string>;
  /** Problems, as "path: reason". A missing /etc/sudoers is one (sudo is not installed). */
  problems: string[];
};

/**
 * Read /etc/sudoers and everything it includes, inside `fs`'s root. Includes nest at most
 * MAX_DEPTH deep; a file already read (by resolved path) is not read again, which ends loops.
 */
export async function readSudoers(fs: RootFs, start = "/etc/sudoers"): Promise<SudoersRead> {
  const result: SudoersRead = { rules: [], times: {}, problems: [] };
  const seen = new Set<string>();

  const readFile = async (file: string, depth: number): Promise<void> => {
    if (seen.size >= MAX_FILES) {
      result.problems.push(`${file}: not read, more than ${MAX_FILES} sudoers files`);
      return;
    }
    const r = await fs.read(file, { maxBytes: MAX_FILE_BYTES });
    if (!r.ok) {
      result.problems.push(`${file}: ${describeFailure(r.error)}`);
      return;
    }
    const f = r.value;
    if (seen.has(f.innerPath)) {
      result.problems.push(`${file}: already included (include loop)`);
      return;
    }
    seen.add(f.innerPath);
    if (f.truncated)
      result.problems.push(`${f.innerPath}: larger than ${MAX_FILE_BYTES} bytes, cut`);
    const mtime = f.mtime.toISOString();
    result.times[f.innerPath] = mtime;
    for (const entry of parseSudoers(decodeUtf8(f.bytes))) {
      if (entry.kind === "rule") {
        result.rules.push({
          file: f.innerPath,
          line: entry.line,
          text: entry.text,
          fileMtime: mtime,
        });
        continue;
      }
      const target = path.posix.resolve(path.posix.dirname(f.innerPath), entry.path);
      if (depth >= MAX_DEPTH) {
        result.problems.push(`${target}: not read, includes nested deeper than ${MAX_DEPTH}`);
        continue;
      }
      if (entry.kind === "include") {
        await readFile(target, depth + 1);
        continue;
      }
      const dir = await fs.list(target);
      if (!dir.ok) {
        result.problems.push(`${target}: ${describeFailure(dir.error)}`);
        continue;
      }
      const st = await fs.stat(target);
      if (st.ok) result.times[dir.value.innerPath] = st.value.mtime.toISOString();
      for (const name of dir.value.names) {
        if (includedirAccepts(name)) await readFile(`${dir.value.innerPath}/${name}`, depth + 1);
      }
    }
  };

  await readFile(start, 0);
  return result;
}
