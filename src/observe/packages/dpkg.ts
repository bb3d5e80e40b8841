/**
 * dpkg's database read as debsums reads it: `info/<pkg>.md5sums` for every installed (or
 * half-configured) package, conffiles left out (debsums checks them only with -a), diversions
 * followed (a file diverted by another package lives at the diversion's target), `path-exclude`
 * rules from dpkg.cfg.d honoured for missing files, and `info/<pkg>.list` for ownership.
 */
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../../util/result.js";
import type { PackageDb, PackageFile } from "./types.js";

const ADMIN = "/var/lib/dpkg";
/** A hostile root can hold a database built to exhaust memory: bound what is read. */
const MAX_DB_FILE = 64 * 1024 * 1024;

export interface DpkgStanza {
  package: string;
  arch: string;
  multiArch: string;
  status: string;
  version: string;
  conffiles: string[];
  replaces: string[];
}

/** Parse /var/lib/dpkg/status (RFC 822-like stanzas, continuation lines start with a space). */
export function parseDpkgStatus(text: string): DpkgStanza[] {
  const out: DpkgStanza[] = [];
  for (const block of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let key = "";
    for (const line of block.split("\n")) {
      if (/^[ \t]/.test(line) && key) {
        fields.set(key, `${fields.get(key) ?? ""}\n${line}`);
        continue;
      }
      const m = /^([A-Za-z0-9-]+):\s?(.*)$/.exec(line);
      if (!m) continue;
      key = m[1]!.toLowerCase();
      fields.set(key, m[2]!);
    }
    const pkg = fields.get("package");
    if (!pkg) continue;
    const conffiles: string[] = [];
    for (const l of (fields.get("conffiles") ?? "").split("\n")) {
      const m = /^\s*(\/\S+)\s+[0-9a-f]+/.exec(l);
      if (m && !/ remove-on-upgrade$/.test(l)) conffiles.push(m[1]!);
    }
    const replaces = (fields.get("replaces") ?? "")
      .split(",")
      .map((s) => s.trim().split(/\s|:/)[0] ?? "")
      .filter(Boolean);
    out.push({
      package: pkg.trim(),
      arch: (fields.get("architecture") ?? "").trim(),
      multiArch: (fields.get("multi-arch") ?? "").trim(),
      status: (fields.get("status") ?? "").trim(),
      version: (fields.get("version") ?? "").trim(),
      conffiles,
      replaces,
    });
  }
  return out;
}

/** Parse `dpkg-divert --list`'s file, /var/lib/dpkg/diversions: triples of from, to, package. */
export function parseDiversions(text: string): { from: string; to: string; by: string }[] {
  const lines = text.split("\n");
  const out: { from: string; to: string; by: string }[] = [];
  for (let i = 0; i + 2 < lines.length; i += 3) {
    out.push({ from: lines[i]!, to: lines[i + 1]!, by: lines[i + 2]! });
  }
  return out;
}

/** One md5sums file: `<32 hex>  <path without leading slash>` per line. */
export function parseMd5sums(
  text: string,
  pkg: string,
  problems: string[],
): { path: string; md5: string }[] {
  const out: { path: string; md5: string }[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") continue;
    const m = /^([0-9a-f]{32}) {1,2}(.+)$/.exec(line);
    if (!m) {
      problems.push(`${pkg}.md5sums line ${i + 1}: not "<md5>  <path>"`);
      continue;
    }
    out.push({ md5: m[1]!, path: `/${m[2]!.replace(/^\.?\//, "")}` });
  }
  return out;
}

/** fnmatch(3) without FNM_PATHNAME, as Perl's File::FnMatch in debsums: `*` crosses `/`. */
export function globToRegExp(glob: string): RegExp {
  let re = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else if (c === "[") {
      const end = glob.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        const body = glob
          .slice(i + 1, end)
          .replace(/^!/, "^")
          .replace(/\\/g, "\\\\");
        re += `[${body}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\/]/g, "\\$&");
  }
  return new RegExp(`^${re}$`);
}

/** `path-exclude=GLOB` / `path-include=GLOB` lines of dpkg's configuration, last match wins. */
export function parsePathRules(texts: readonly string[]): { exclude: boolean; re: RegExp }[] {
  const rules: { exclude: boolean; re: RegExp }[] = [];
  for (const t of texts) {
    for (const line of t.split("\n")) {
      const m = /^\s*(?:--)?path-(exclude|include)[=\s]\s*(\S+)\s*$/.exec(line);
      if (m) rules.push({ exclude: m[1] === "exclude", re: globToRegExp(m[2]!) });
    }
  }
  return rules;
}

async function readBounded(path: string): Promise<string> {
  const buf = await readFile(path);
  if (buf.length > MAX_DB_FILE) throw new Error(`${path} is larger than ${MAX_DB_FILE} bytes`);
  return buf.toString("utf8");
}

/** The root-relative host path. */
function at(root: string, inside: string): string {
  return root === "/" ? inside : join(root, inside);
}

/** dpkg's database under `root`, or null when the root has none. */
export async function readDpkgDb(root: string): Promise<PackageDb | null> {
  let statusText: string;
  try {
    statusText = await readBounded(at(root, `${ADMIN}/status`));
  } catch {
    return null;
  }
  const problems: string[] = [];
  const stanzas = parseDpkgStatus(statusText);
  const installed = new Map<string, DpkgStanza>();
  for (const s of stanzas) {
    if (!/\s(installed|half-configured)$/.test(s.status) || s.version === "") continue;
    installed.set(s.package, s);
    if (s.arch) installed.set(`${s.package}:${s.arch}`, s);
  }
  const diversions = parseDiversions(
    await readBounded(at(root, `${ADMIN}/diversions`)).catch(() => ""),
  );
  const divertedTo = new Map<string, { to: string; by: string }>();
  for (const d of diversions) divertedTo.set(d.from, { to: d.to, by: d.by });
  const cfgDir = at(root, "/etc/dpkg/dpkg.cfg.d");
  const cfgNames = (await readdir(cfgDir).catch(() => [] as string[]))
    .filter((n) => /^[0-9a-zA-Z_-]+$/.test(n))
    .sort();
  const cfgTexts = await Promise.all([
    ...cfgNames.map((n) => readBounded(join(cfgDir, n)).catch(() => "")),
    readBounded(at(root, "/etc/dpkg/dpkg.cfg")).catch(() => ""),
  ]);
  const pathRules = parsePathRules(cfgTexts);

  const infoDir = at(root, `${ADMIN}/info`);
  let names: string[];
  try {
    names = await readdir(infoDir);
  } catch (e) {
    problems.push(`cannot list ${ADMIN}/info: ${errorMessage(e)}`);
    names = [];
  }
  const files: PackageFile[] = [];
  const sumsByPkg = new Map<string, Map<string, string>>();
  const present = new Set(names);
  const pkgs = new Set<string>();
  const sums = names.filter((n) => n.endsWith(".md5sums"));
  for (let i = 0; i < sums.length; i += 32) {
    const batch = sums.slice(i, i + 32);
    const texts = await Promise.all(
      batch.map((n) => readBounded(join(infoDir, n)).catch(() => null)),
    );
    for (let j = 0; j < batch.length; j++) {
      const pkg = batch[j]!.slice(0, -".md5sums".length);
      const stanza = installed.get(pkg);
      // debsums checks installed packages only, and needs their .list beside the sums.
      if (!stanza || !present.has(`${pkg}.list`)) continue;
      const text = texts[j];
      if (text === null || text === undefined) {
        problems.push(`cannot read ${ADMIN}/info/${batch[j]}`);
        continue;
      }
      pkgs.add(pkg);
      const conf = new Set(stanza.conffiles);
      const byPath = new Map<string, string>();
      for (const e of parseMd5sums(text, pkg, problems)) {
        byPath.set(e.path, e.md5);
        if (conf.has(e.path)) continue;
        let path = e.path;
        const d = divertedTo.get(path);
        if (d && d.by !== pkg && d.by !== pkg.replace(/:.*/, "")) path = d.to;
        files.push({ manager: "dpkg", package: pkg, path, algo: "md5", expected: e.md5 });
      }
      sumsByPkg.set(pkg, byPath);
    }
  }
  // Replaces: package -> the sums of every package that replaces it.
  const replacedBy = new Map<string, Map<string, string>>();
  for (const s of installed.values()) {
    for (const r of s.replaces) {
      const theirs = sumsByPkg.get(s.package) ?? sumsByPkg.get(`${s.package}:${s.arch}`);
      if (!theirs) continue;
      for (const target of [r, ...(s.arch ? [`${r}:${s.arch}`] : [])]) {
        const m = replacedBy.get(target) ?? new Map<string, string>();
        for (const [p, md5] of theirs) if (!m.has(p)) m.set(p, md5);
        replacedBy.set(target, m);
      }
    }
  }
  const diverted = new Set<string>();
  for (const d of diversions) {
    diverted.add(d.from);
    diverted.add(d.to);
  }
  // Ownership is read only when asked (a changed file, the unowned check): ~900 .list files.
  let ownersP: Promise<Map<string, string[]>> | null = null;
  const owners = () => {
    ownersP ??= (async () => {
      const owners = new Map<string, string[]>();
      const lists = names.filter((n) => n.endsWith(".list"));
      // .list files: ownership of every path (dpkg -S reads the same files).
      for (let i = 0; i < lists.length; i += 32) {
        const batch = lists.slice(i, i + 32);
        const texts = await Promise.all(
          batch.map((n) => readBounded(join(infoDir, n)).catch(() => null)),
        );
        for (let j = 0; j < batch.length; j++) {
          const pkg = batch[j]!.slice(0, -".list".length);
          const text = texts[j];
          if (text === null || text === undefined) {
            problems.push(`cannot read ${ADMIN}/info/${batch[j]}`);
            continue;
          }
          for (const p of text.split("\n")) {
            if (p === "") continue;
            const o = owners.get(p);
            if (o) o.push(pkg);
            else owners.set(p, [pkg]);
          }
        }
      }
      // The diversion's target belongs to the diverting package.
      for (const d of diversions) if (!owners.has(d.to)) owners.set(d.to, [d.by]);
      return owners;
    })();
    return ownersP;
  };
  return {
    manager: "dpkg",
    source: `${ADMIN}/status, ${ADMIN}/info/*.md5sums`,
    packages: pkgs.size,
    files,
    owners,
    replacedBy,
    diverted,
    excluded:
      pathRules.length === 0
        ? () => false
        : (path) => {
            let ex = false;
            for (const r of pathRules) if (r.re.test(path)) ex = r.exclude;
            return ex;
          },
    problems,
  };
}
