/**
 * `--ioc` values as triage and contain take them: a path to an existing regular file is an
 * IOC file (the format of rules/README.md), anything else is one IOC (name, hash, address).
 */
import { lstat, readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { BreachkitError } from "../../util/errors.js";
import { safeText } from "../../util/sanitize.js";
import { EMPTY_IOCS, type IocSet, iocFromArgs, mergeIocs, parseIocFile } from "./ioc-set.js";

const MAX_IOC_FILE_BYTES = 1024 * 1024;

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
    const r = iocFromArgs([value]);
    if (!r.ok) throw new BreachkitError("BAD_INPUT", safeText(r.error.message, 300));
    sets.push(r.value);
  }
  return sets.length ? mergeIocs(...sets) : EMPTY_IOCS;
}
