/**
 * The lists analysts tune (rules/*.json), validated when loaded, each optionally extended
 * or replaced by the file of the same name in a user's directory (`--rules DIR`). Judge
 * rules receive them in their RuleContext (see rule-set.ts) and never read a file.
 *
 * Every list file carries its own examples and near-misses (the Sigma habit the hunting
 * rules already follow): they are checked at load with the same matchers the rules use,
 * so an edit that breaks a list fails at load with `file:line: what is wrong`.
 */
import { join } from "node:path";
import { readDirSync, readTextSync } from "../util/assets.js";
import { BreachkitError } from "../util/errors.js";
import { packagePath } from "../util/package-root.js";
import { err, errorMessage, ok, type Result } from "../util/result.js";
import { z } from "../util/zod.js";
import type { RuleFileError } from "./hunt/rule-file.js";
import { jsonValueLines, parseJsonWithLine } from "./json-lines.js";

/** rules/ of this package. */
export const SHIPPED_RULES_DIR = packagePath("rules");

/** The format version of list files this breachkit reads. */
export const LIST_FORMAT_VERSION = 1;

/** Names matched whole, or by prefix for entries written with a trailing `*`. */
export interface NameList {
  exact: ReadonlySet<string>;
  prefixes: readonly string[];
  /** Compare lower-cased (entries are stored lower-cased). */
  caseInsensitive: boolean;
}

export interface RuleLists {
  /** Remote ports of mining pools: socket.mining-port. */
  miningPorts: ReadonlySet<number>;
  /** Kernel threads' names: process.kthread-masquerade. */
  kernelThreads: NameList;
  /** Cryptominers' names (case-insensitive): process.miner. */
  minerNames: NameList;
  /** Daemons an attacker poses as: process.name-mismatch. */
  wellKnownDaemons: ReadonlySet<string>;
  /** World-writable scratch directories, each ending with "/": exe-in-tmp, and what collect preserves. */
  stagingDirs: readonly string[];
  /** Hidden directories developers' tools run from: not hiding by themselves. */
  devToolDirs: ReadonlySet<string>;
  /** Service accounts that must never have a login shell: account.service-shell. */
  nologinServices: ReadonlySet<string>;
  /** Capabilities (upper case, no CAP_) that take over the host: container.dangerous-caps. */
  hostCapabilities: ReadonlySet<string>;
  /** Capabilities that reach outside the container: container.dangerous-caps. */
  riskyCapabilities: ReadonlySet<string>;
  /** Host files (and directories, ending with "/") that collect copies. */
  hostFiles: readonly string[];
}

// ---- matchers: the judge and the load-time self-check use the same functions ----

export function nameListOf(entries: readonly string[], caseInsensitive: boolean): NameList {
  const norm = (s: string) => (caseInsensitive ? s.toLowerCase() : s);
  return {
    exact: new Set(entries.filter((e) => !e.endsWith("*")).map(norm)),
    prefixes: entries.filter((e) => e.endsWith("*")).map((e) => norm(e.slice(0, -1))),
    caseInsensitive,
  };
}

export function matchesName(list: NameList, name: string): boolean {
  const n = list.caseInsensitive ? name.toLowerCase() : name;
  return list.exact.has(n) || list.prefixes.some((p) => n.startsWith(p));
}

export function underDir(dirs: readonly string[], path: string): boolean {
  return dirs.some((d) => path.startsWith(d));
}

/** The first hidden component of a path ("." prefixed, not . or ..), unless it is a known tool dir. */
export function unknownHiddenComponent(
  devToolDirs: ReadonlySet<string>,
  path: string,
): string | null {
  for (const part of path.split("/")) {
    if (part.length > 1 && part.startsWith(".") && part !== "..") {
      return devToolDirs.has(part) ? null : part;
    }
  }
  return null;
}

/** "cap_sys_admin" and "SYS_ADMIN" are the same capability. */
export function normCapability(c: string): string {
  return c.toUpperCase().replace(/^CAP_/, "");
}

// ---- the lists' specifications ----

type Value = string | number;

interface ListSpec {
  /** File name without .json. */
  file: string;
  key: keyof RuleLists;
  /** What one entry is, for errors. */
  what: string;
  /** Whether a value is a valid entry (the file's shape is zod's job; this is the list's). */
  valid: (v: Value) => boolean;
  /** What a sample (example, near-miss) is. */
  sample: "number" | "string";
  /** The same entry written two ways has one key (capabilities: any case, CAP_ or not). */
  same?: (v: Value) => string;
  /** Build the matcher from the entries: does a sample match the list? */
  matcher: (values: readonly Value[]) => (sample: Value) => boolean;
  build: (values: readonly Value[]) => RuleLists[keyof RuleLists];
}

const strs = (v: readonly Value[]) => v.map(String);
const str =
  (re: RegExp, also: (s: string) => boolean = () => true) =>
  (v: Value): boolean =>
    typeof v === "string" && re.test(v) && also(v);
const port = (v: Value) => typeof v === "number" && Number.isInteger(v) && v >= 1 && v <= 65535;
const nameGlob = str(/^[\w/:.+-]{1,64}\*?$/);
const plainName = str(/^[\w.@+-]{1,64}$/);
const capability = str(/^(CAP_)?[A-Za-z_]{2,40}$/);
const dirPath = str(/^\/([^/\0]+\/)+$/, (s) => !/\/\.\.?\//.test(s));
const hostPath = str(/^\/[^\0]+$/, (s) => !/(^|\/)\.\.?(\/|$)/.test(s) && !s.includes("//"));
const dotDir = str(/^\.[^/\0]{1,63}$/, (s) => s !== "..");

const setOf = (v: readonly Value[]) => new Set(strs(v));
const capSet = (v: readonly Value[]) => new Set(strs(v).map(normCapability));

/** A list of names matched by {@link matchesName} (a trailing "*" matches by prefix). */
function nameListSpec(
  file: string,
  key: keyof RuleLists,
  what: string,
  caseInsensitive: boolean,
): ListSpec {
  const build = (v: readonly Value[]) => nameListOf(strs(v), caseInsensitive);
  return {
    file,
    key,
    what,
    valid: nameGlob,
    sample: "string",
    matcher: (v) => {
      const list = build(v);
      return (s) => matchesName(list, String(s));
    },
    build,
  };
}

/** A list of exact names: a sample matches when it is one of them. */
function nameSetSpec(file: string, key: keyof RuleLists, what: string): ListSpec {
  return {
    file,
    key,
    what,
    valid: plainName,
    sample: "string",
    matcher: (v) => {
      const set = setOf(v);
      return (s) => set.has(String(s));
    },
    build: setOf,
  };
}

/** A set of capabilities, compared without the CAP_ prefix and case. */
function capSetSpec(file: string, key: keyof RuleLists, what: string): ListSpec {
  return {
    file,
    key,
    what,
    valid: capability,
    sample: "string",
    same: (v) => normCapability(String(v)),
    matcher: (v) => {
      const set = capSet(v);
      return (s) => set.has(normCapability(String(s)));
    },
    build: capSet,
  };
}

const SPECS: readonly ListSpec[] = [
  {
    file: "mining-ports",
    key: "miningPorts",
    what: "a port number, 1 to 65535",
    valid: port,
    sample: "number",
    matcher: (v) => {
      const set = new Set(v);
      return (s) => set.has(s);
    },
    build: (v) => new Set(v.map(Number)),
  },
  nameListSpec(
    "kernel-threads",
    "kernelThreads",
    'a kernel thread\'s name; a trailing "*" matches by prefix',
    false,
  ),
  nameListSpec(
    "miner-names",
    "minerNames",
    'a miner\'s name (any case); a trailing "*" matches by prefix',
    true,
  ),
  nameSetSpec("well-known-daemons", "wellKnownDaemons", "a process name (comm)"),
  {
    file: "staging-dirs",
    key: "stagingDirs",
    what: 'an absolute directory path ending with "/"',
    valid: dirPath,
    sample: "string",
    matcher: (v) => (s) => underDir(strs(v), String(s)),
    build: strs,
  },
  {
    file: "dev-tool-dirs",
    key: "devToolDirs",
    what: 'a hidden directory\'s name, like ".nvm"',
    valid: dotDir,
    // A sample is an executable's path: it matches when no unknown hidden dir is in it.
    sample: "string",
    matcher: (v) => {
      const set = setOf(v);
      return (s) => unknownHiddenComponent(set, String(s)) === null;
    },
    build: setOf,
  },
  nameSetSpec("nologin-services", "nologinServices", "an account name"),
  capSetSpec("host-capabilities", "hostCapabilities", "a capability, like SYS_ADMIN"),
  capSetSpec("risky-capabilities", "riskyCapabilities", "a capability, like NET_ADMIN"),
  {
    file: "host-files",
    key: "hostFiles",
    what: 'an absolute path; a directory ends with "/"',
    valid: hostPath,
    sample: "string",
    matcher: (v) => (s) => strs(v).includes(String(s)),
    build: strs,
  },
];

/** The list files breachkit knows, by file name. */
export const LIST_FILES: readonly string[] = SPECS.map((s) => `${s.file}.json`);

/** Files of rules/ that other parts of breachkit read: allowed in a --rules directory. */
const OTHER_FILES = new Set(["false-positives.json", "watch.json"]);

// ---- parsing with line numbers ----

const keyOf = (spec: ListSpec, v: Value) => (spec.same ? spec.same(v) : String(v));

interface ParsedList {
  mode: "extend" | "replace" | null;
  entries: Value[];
  remove: Value[];
  examples: Value[];
  nearMisses: Value[];
  /** The line of a value by its path; computed only when an error needs it. */
  lineOf: (path: readonly PropertyKey[]) => number;
}

let schema: ReturnType<typeof buildListSchema> | undefined;

/**
 * One schema for every list file, built on first use. zod checks the file's shape; the
 * values are checked by each list's ListSpec: a zod union per entry cost more (cold, as a
 * command runs it) than reading all ten files, for no better message.
 */
function buildListSchema() {
  return z.strictObject({
    version: z.literal(LIST_FORMAT_VERSION, {
      error: `"version" must be ${LIST_FORMAT_VERSION} (the list format this breachkit reads)`,
    }),
    description: z.string({ error: '"description" must say what the list is for' }).min(1),
    mode: z.enum(["extend", "replace"], { error: '"mode" is "extend" or "replace"' }).optional(),
    entries: z.array(z.unknown()),
    remove: z.array(z.unknown()).optional(),
    examples: z.array(z.unknown()).optional(),
    nearMisses: z.array(z.unknown()).optional(),
  });
}

function isScalar(v: unknown): v is Value {
  return typeof v === "string" || (typeof v === "number" && Number.isFinite(v));
}

/** An entry's value: a bare value, or {"value": …, "reason": "why"}; null when neither. */
function entryValue(e: unknown): Value | null {
  if (isScalar(e)) return e;
  if (typeof e !== "object" || e === null || Array.isArray(e)) return null;
  const o = e as Record<string, unknown>;
  if (Object.keys(o).some((k) => k !== "value" && k !== "reason")) return null;
  if ("reason" in o && (typeof o.reason !== "string" || o.reason === "")) return null;
  return isScalar(o.value) ? o.value : null;
}

function pathText(path: readonly PropertyKey[]): string {
  return path.reduce<string>(
    (s, k) => (typeof k === "number" ? `${s}[${k}]` : s === "" ? String(k) : `${s}.${String(k)}`),
    "",
  );
}

/** Parse one list file; `user` files must say how they combine with the shipped list. */
export function parseListFile(
  text: string,
  file: string,
  spec: ListSpec,
  user: boolean,
): Result<ParsedList, RuleFileError> {
  const fail = (line: number, message: string) =>
    err({ file, line, message: `${file}${line ? `:${line}` : ""}: ${message}` });
  const json = parseJsonWithLine(text);
  if (!json.ok) return fail(json.error.line, json.error.message);
  const data = json.value;
  let lines: Map<string, number> | undefined;
  const lineOf = (path: readonly PropertyKey[]) => {
    lines ??= jsonValueLines(text);
    for (let n = path.length; n >= 0; n--) {
      const l = lines.get(path.slice(0, n).map(String).join("."));
      if (l !== undefined) return l;
    }
    return 0;
  };
  schema ??= buildListSchema();
  const parsed = schema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    let path: PropertyKey[] = [...issue.path];
    let message = issue.message;
    let at = path;
    if (issue.code === "unrecognized_keys") {
      at = [...path, issue.keys[0]!];
      message = `unknown key "${issue.keys[0]}" (known: version, description, mode, entries, remove, examples, nearMisses)`;
    } else if (issue.code === "invalid_type" && issue.input === undefined) {
      message = `missing "${String(path[path.length - 1])}"`;
      path = path.slice(0, -1);
    } else if (path[0] === "examples" || path[0] === "nearMisses") {
      message = `a sample must be ${spec.sample === "number" ? "a number" : "a string"}`;
    } else if ((path[0] === "entries" || path[0] === "remove") && path.length >= 2) {
      message = `an entry is ${spec.what}, or {"value": …, "reason": "why"}`;
      path = path.slice(0, 2);
    }
    if (at === issue.path) at = path;
    const where = pathText(path);
    return fail(lineOf(at), where ? `${where}: ${message}` : message);
  }
  const d = parsed.data;
  if (user && d.mode === undefined) {
    return fail(
      1,
      'missing "mode": "extend" adds to the shipped list (and may "remove" entries), "replace" replaces it',
    );
  }
  if (!user && d.mode !== undefined)
    return fail(lineOf(["mode"]), '"mode" is for a --rules directory only');
  if (d.remove && d.mode !== "extend") {
    return fail(
      lineOf(["remove"]),
      '"remove" goes with "mode": "extend" (a replacement lists what it keeps)',
    );
  }
  const rawEntries = d.entries.map(entryValue);
  const rawRemove = (d.remove ?? []).map((v) => (isScalar(v) ? v : null));
  for (const key of ["entries", "remove"] as const) {
    const values = key === "entries" ? rawEntries : rawRemove;
    const bad = values.findIndex((v) => v === null || !spec.valid(v));
    if (bad !== -1) {
      return fail(
        lineOf([key, bad]),
        `${key}[${bad}]: ${key === "entries" ? "an entry" : "a removed entry"} is ${spec.what}${key === "entries" ? ', or {"value": …, "reason": "why"}' : ""}`,
      );
    }
  }
  for (const key of ["examples", "nearMisses"] as const) {
    const bad = (d[key] ?? []).findIndex((v) => typeof v !== spec.sample || !isScalar(v));
    if (bad !== -1) {
      return fail(
        lineOf([key, bad]),
        `${key}[${bad}]: a sample must be ${spec.sample === "number" ? "a number" : "a string"}`,
      );
    }
  }
  // Checked above: no nulls left.
  const entries = rawEntries as Value[];
  const seen = new Map<string, number>();
  for (const [n, v] of entries.entries()) {
    const k = keyOf(spec, v);
    const first = seen.get(k);
    if (first !== undefined) {
      return fail(
        lineOf(["entries", n]),
        `entries[${n}]: ${JSON.stringify(v)} is already entries[${first}]`,
      );
    }
    seen.set(k, n);
  }
  return ok({
    mode: d.mode ?? null,
    entries,
    remove: rawRemove as Value[],
    examples: (d.examples ?? []) as Value[],
    nearMisses: (d.nearMisses ?? []) as Value[],
    lineOf,
  });
}

/** Check a list file's examples and near-misses against the list as it stands after that file. */
function checkSamples(
  spec: ListSpec,
  values: readonly Value[],
  parsed: ParsedList,
  file: string,
): RuleFileError | null {
  const test = spec.matcher(values);
  for (const [key, want] of [
    ["examples", true],
    ["nearMisses", false],
  ] as const) {
    for (const [n, value] of parsed[key].entries()) {
      if (test(value) !== want) {
        const line = parsed.lineOf([key, n]);
        return {
          file,
          line,
          message: `${file}:${line}: ${want ? "example" : "near-miss"} ${JSON.stringify(value)} ${want ? "does not match" : "matches"} the list`,
        };
      }
    }
  }
  return null;
}

function readText(file: string): Result<string | null, RuleFileError> {
  try {
    return ok(readTextSync(file));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return ok(null);
    return err({ file, line: 0, message: `${file}: cannot read: ${errorMessage(e)}` });
  }
}

export interface LoadedLists {
  lists: RuleLists;
  files: string[];
}

/**
 * The shipped lists, each overridden by the file of the same name in `userDir` when there
 * is one. Synchronous: a few small files of the package (and of the user's directory).
 */
export function loadLists(
  userDir?: string,
  shippedDir: string = SHIPPED_RULES_DIR,
): Result<LoadedLists, RuleFileError> {
  if (userDir !== undefined) {
    let names: string[];
    try {
      names = readDirSync(userDir);
    } catch (e) {
      return err({
        file: userDir,
        line: 0,
        message: `${userDir}: cannot read the rules directory: ${errorMessage(e)}`,
      });
    }
    for (const name of names.sort()) {
      if (name.endsWith(".json") && !LIST_FILES.includes(name) && !OTHER_FILES.has(name)) {
        const file = join(userDir, name);
        return err({
          file,
          line: 0,
          message: `${file}: not a list breachkit knows (known: ${LIST_FILES.join(", ")})`,
        });
      }
    }
  }
  const out: Partial<Record<keyof RuleLists, RuleLists[keyof RuleLists]>> = {};
  const files: string[] = [];
  for (const spec of SPECS) {
    const shippedFile = join(shippedDir, `${spec.file}.json`);
    const text = readText(shippedFile);
    if (!text.ok) return text;
    if (text.value === null) {
      return err({
        file: shippedFile,
        line: 0,
        message: `${shippedFile}: missing (the package is incomplete)`,
      });
    }
    const shipped = parseListFile(text.value, shippedFile, spec, false);
    if (!shipped.ok) return shipped;
    let values: Value[] = shipped.value.entries;
    const bad = checkSamples(spec, values, shipped.value, shippedFile);
    if (bad) return err(bad);
    files.push(shippedFile);
    if (userDir !== undefined) {
      const userFile = join(userDir, `${spec.file}.json`);
      const utext = readText(userFile);
      if (!utext.ok) return utext;
      if (utext.value !== null) {
        const user = parseListFile(utext.value, userFile, spec, true);
        if (!user.ok) return user;
        const u = user.value;
        if (u.mode === "replace") values = u.entries;
        else {
          const have = new Set(values.map((v) => keyOf(spec, v)));
          // Removing what is not there is a typo or a stale file: say so.
          const missing = u.remove.findIndex((v) => !have.has(keyOf(spec, v)));
          if (missing !== -1) {
            const line = u.lineOf(["remove", missing]);
            return err({
              file: userFile,
              line,
              message: `${userFile}:${line}: remove[${missing}]: ${JSON.stringify(u.remove[missing])} is not in the shipped list`,
            });
          }
          const removed = new Set(u.remove.map((v) => keyOf(spec, v)));
          values = [...values, ...u.entries.filter((v) => !have.has(keyOf(spec, v)))].filter(
            (v) => !removed.has(keyOf(spec, v)),
          );
        }
        const ubad = checkSamples(spec, values, u, userFile);
        if (ubad) return err(ubad);
        files.push(userFile);
      }
    }
    out[spec.key] = spec.build(values);
  }
  return ok({ lists: out as RuleLists, files });
}

/** A rule set error as the error that ends a command (exit 2), naming file and line. */
export function ruleSetError(e: RuleFileError, userDir?: string): BreachkitError {
  const shipped = !e.file.startsWith(userDir ?? "\0") && e.file.startsWith(SHIPPED_RULES_DIR);
  return new BreachkitError(
    shipped ? "INTERNAL" : "BAD_INPUT",
    e.message,
    shipped
      ? "breachkit's own rules are broken: reinstall it"
      : "fix the file: rules/README.md documents every rule and list format",
  );
}

let shipped: RuleLists | undefined;

/**
 * The shipped lists, for evidence collection when no rule set is passed in (collect). Read
 * once per process; a broken package is a bug, not the user's input.
 */
export function shippedLists(): RuleLists {
  if (!shipped) {
    const r = loadLists();
    if (!r.ok) throw ruleSetError(r.error);
    shipped = r.value.lists;
  }
  return shipped;
}
