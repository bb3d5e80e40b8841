/**
 * `--ioc` values as triage and contain take them: a path to an existing regular file is an
 * IOC file (the format of rules/README.md), anything else is one IOC (name, hash, address).
 * A value that looks like a file name but names no file is a usage error: a mistyped
 * `--ioc iocs.txt` must not quietly become "a process named iocs.txt" and match nothing.
 */
import { lstat, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { BreachkitError } from "../../util/errors.js";
import { safeText } from "../../util/sanitize.js";
import {
  EMPTY_IOCS,
  IOC_KINDS,
  type IocSet,
  iocFromArgs,
  mergeIocs,
  parseIocFile,
} from "./ioc-set.js";

const MAX_IOC_FILE_BYTES = 1024 * 1024;

/** Extensions of list files: no attacker's process name is worth losing an IOC file over. */
const LIST_FILE_EXT = /\.(txt|iocs?|csv|tsv|list|lst|json|ya?ml|conf)$/i;
const KIND_PREFIX = /^([a-z0-9]+):/;

/**
 * Whether a value that names no file was meant as one. A relative value with a slash
 * (`iocs/today.txt`, `./x`) is never an IOC (names have no slash, paths are absolute); an
 * absolute path is an exe path IOC unless it ends like a list file. `kind:` values, hashes
 * and addresses are IOCs.
 */
export function looksLikeIocFile(value: string): boolean {
  const v = value.trim();
  const prefix = KIND_PREFIX.exec(v)?.[1];
  if (prefix && (IOC_KINDS as readonly string[]).includes(prefix)) return false;
  if (v.startsWith("/")) return LIST_FILE_EXT.test(v);
  // A network (203.0.113.0/24, 2001:db8::/32) has a slash but is an IOC.
  if (/^[0-9a-f.:]+\/\d{1,3}$/i.test(v)) return false;
  return v.includes("/") || LIST_FILE_EXT.test(v);
}

export async function loadIocs(values: readonly string[], cwd: string): Promise<IocSet> {
  const sets: IocSet[] = [];
  for (const value of values) {
    const path = resolve(cwd, value);
    const st = await lstat(path).catch(() => null);
    if (st?.isFile()) {
      if (st.size > MAX_IOC_FILE_BYTES) {
        throw new BreachkitError("BAD_INPUT", `--ioc ${value}: the file is larger than 1 MiB`);
      }
      const r = parseIocFile(await readFile(path, "utf8"), value);
      if (!r.ok) {
        throw new BreachkitError(
          "BAD_INPUT",
          `--ioc ${safeText(value, 200)}:${r.error.line}: not an IOC list: ${safeText(r.error.message, 300)}`,
          `Fix that line: an IOC file holds one kind:value per line (name:wate, sha256:..., path:/tmp/x, ip:203.0.113.9; see rules/README.md). To match a file's path instead, write --ioc path:${safeText(path, 200)}.`,
        );
      }
      sets.push(r.value);
      continue;
    }
    if (looksLikeIocFile(value)) {
      const kind = value.trim().startsWith("/") ? "path" : "name";
      throw new BreachkitError(
        "USAGE",
        `--ioc ${safeText(value, 200)}: ${st ? "not a regular file" : "no such file"} (${safeText(path, 200)})`,
        `Give the path of an existing IOC file (see rules/README.md). To match it as one indicator instead, write --ioc ${kind}:${safeText(value, 200)}.`,
      );
    }
    const r = iocFromArgs([value]);
    if (!r.ok) throw new BreachkitError("BAD_INPUT", safeText(r.error.message, 300));
    sets.push(r.value);
  }
  return sets.length ? mergeIocs(...sets) : EMPTY_IOCS;
}
