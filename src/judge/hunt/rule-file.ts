/**
 * Hunting rules as data: one rule per `*.rule` file, a tiny line format documented in
 * rules/README.md. Parsing validates everything a typo could break (unknown keys, bad
 * severities, patterns that do not compile, missing literals) and names the file and line.
 */
import { join } from "node:path";
import { SEVERITIES, type Severity } from "../../model/finding.js";
import { readDir, readText } from "../../util/assets.js";
import { packagePath } from "../../util/package-root.js";
import { err, ok, type Result } from "../../util/result.js";

export type Applies = "container" | "host" | "any";

export interface HuntRule {
  /**
   * The rule's one id, which its findings carry: `hunt.` + the file name without `.rule`
   * for rule files; `ioc.log` for IOCs hunted in logs.
   */
  id: string;
  /** Tells apart rules that share an id (each IOC of `ioc.log`); absent for rule files. */
  key?: string;
  title: string;
  severity: Severity;
  confidence: "low" | "medium" | "high";
  applies: Applies;
  /** What to do; `{where}` becomes the container's name (or "host"). */
  next: string;
  description: string;
  /** Exact byte strings; a line is looked at only if it holds one of them. */
  literals: string[];
  /** JS regex sources; a candidate line is a hit if one matches. */
  patterns: string[];
  /** JS regex flags for every pattern (i, s, u). */
  flags: string;
  /** Hits needed (per file, or per `key` group value) before any is reported. */
  threshold: number;
  /** Lines that must hit, and lines that must not: checked when the rule is loaded. */
  examples: string[];
  counterExamples: string[];
  references: string[];
  /** Where the rule came from, for errors. */
  file: string;
  /** Lines of `id:`, of each example and of each `not:` in the file (0 when not from a file). */
  lines?: { id: number; examples: number[]; counterExamples: number[] };
}

export interface RuleFileError {
  file: string;
  /** 1-based; 0 when the error is about the file as a whole. */
  line: number;
  message: string;
}

const KEYS = new Set([
  "id",
  "title",
  "severity",
  "confidence",
  "applies",
  "next",
  "description",
  "literal",
  "pattern",
  "flags",
  "threshold",
  "example",
  "not",
  "reference",
]);
const REPEATABLE = new Set(["literal", "pattern", "example", "not", "reference", "description"]);
const REQUIRED = ["id", "title", "severity", "confidence", "next", "literal", "pattern"];
const ID = /^hunt\.[a-z0-9][a-z0-9.-]{0,79}$/;
const MAX_FILE = 64 * 1024;

/** A value is taken as written, trimmed; a JSON string ("...") keeps edge spaces and escapes. */
function unquote(v: string): Result<string, string> {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    try {
      const s = JSON.parse(v) as unknown;
      if (typeof s === "string") return ok(s);
    } catch {
      return err(`bad quoted value ${v} (use JSON string escapes)`);
    }
  }
  return ok(v);
}

export function parseRuleFile(
  text: string,
  file: string,
  expectedId?: string,
): Result<HuntRule, RuleFileError> {
  const fail = (line: number, message: string) =>
    err({ file, line, message: `${file}${line ? `:${line}` : ""}: ${message}` });
  if (text.length > MAX_FILE) return fail(0, `rule file larger than ${MAX_FILE} bytes`);
  const seen = new Map<string, number>();
  const values = new Map<string, { value: string; line: number }[]>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    const t = raw.trim();
    if (t === "" || t.startsWith("#")) continue;
    const m = /^([a-z]+)\s*:(.*)$/.exec(t);
    if (!m) return fail(i + 1, `expected "key: value", got ${JSON.stringify(t.slice(0, 60))}`);
    const key = m[1]!;
    if (!KEYS.has(key)) return fail(i + 1, `unknown key "${key}" (known: ${[...KEYS].join(", ")})`);
    if (!REPEATABLE.has(key) && seen.has(key)) {
      return fail(i + 1, `"${key}" given twice (first on line ${seen.get(key)})`);
    }
    seen.set(key, i + 1);
    const uq = unquote(m[2]!.trim());
    if (!uq.ok) return fail(i + 1, uq.error);
    if (uq.value === "") return fail(i + 1, `"${key}" has an empty value`);
    values.set(key, [...(values.get(key) ?? []), { value: uq.value, line: i + 1 }]);
  }
  // A missing key has no line of its own: point at the top, where keys are read from.
  for (const k of REQUIRED) if (!values.has(k)) return fail(1, `missing "${k}:"`);
  const one = (k: string) => values.get(k)?.[0];
  const all = (k: string) => (values.get(k) ?? []).map((v) => v.value);

  const id = one("id")!;
  if (!ID.test(id.value))
    return fail(
      id.line,
      `id "${id.value}" must be "hunt." and lower-case letters, digits, "." and "-"${expectedId !== undefined ? ` (here: hunt.${expectedId})` : ""}`,
    );
  if (expectedId !== undefined && id.value !== `hunt.${expectedId}`) {
    return fail(
      id.line,
      `id "${id.value}" must be "hunt.${expectedId}", after the file name "${expectedId}.rule"`,
    );
  }
  const sev = one("severity")!;
  if (!(SEVERITIES as readonly string[]).includes(sev.value)) {
    return fail(sev.line, `severity "${sev.value}" is not one of ${SEVERITIES.join(", ")}`);
  }
  const conf = one("confidence")!;
  if (!["low", "medium", "high"].includes(conf.value)) {
    return fail(conf.line, `confidence "${conf.value}" is not one of low, medium, high`);
  }
  const applies = one("applies") ?? { value: "any", line: 0 };
  if (!["container", "host", "any"].includes(applies.value)) {
    return fail(applies.line, `applies "${applies.value}" is not one of container, host, any`);
  }
  const flags = one("flags") ?? { value: "", line: 0 };
  if (!/^[isu]*$/.test(flags.value) || new Set(flags.value).size !== flags.value.length) {
    return fail(flags.line, `flags "${flags.value}" may only hold i, s and u, once each`);
  }
  let threshold = 1;
  const th = one("threshold");
  if (th) {
    if (!/^[1-9]\d{0,6}$/.test(th.value))
      return fail(th.line, `threshold "${th.value}" is not a positive integer`);
    threshold = Number(th.value);
  }
  for (const lit of values.get("literal")!) {
    if (Buffer.byteLength(lit.value) < 3) {
      return fail(
        lit.line,
        `literal ${JSON.stringify(lit.value)} is shorter than 3 bytes: too common to prefilter on`,
      );
    }
  }
  for (const p of values.get("pattern")!) {
    try {
      new RegExp(p.value, flags.value);
    } catch (e) {
      return fail(
        p.line,
        `pattern does not compile: ${e instanceof Error ? e.message : String(e)}`,
      );
    }
  }
  return ok({
    id: id.value,
    title: one("title")!.value,
    severity: sev.value as Severity,
    confidence: conf.value as HuntRule["confidence"],
    applies: applies.value as Applies,
    next: one("next")!.value,
    description: all("description").join(" "),
    literals: all("literal"),
    patterns: all("pattern"),
    flags: flags.value,
    threshold,
    examples: all("example"),
    counterExamples: all("not"),
    references: all("reference"),
    file,
    lines: {
      id: id.line,
      examples: (values.get("example") ?? []).map((v) => v.line),
      counterExamples: (values.get("not") ?? []).map((v) => v.line),
    },
  });
}

/** rules/hunt of this package. */
export const DEFAULT_RULE_DIR = packagePath("rules", "hunt");

/**
 * Read every `*.rule` in a directory (sorted by name); the first bad file stops it. An
 * `optional` directory that does not exist holds no rules.
 */
export async function readRuleDir(
  dir: string = DEFAULT_RULE_DIR,
  optional = false,
): Promise<Result<HuntRule[], RuleFileError>> {
  let names: string[];
  try {
    names = (await readDir(dir)).filter((n) => n.endsWith(".rule")).sort();
  } catch (e) {
    if (optional && (e as NodeJS.ErrnoException).code === "ENOENT") return ok([]);
    return err({
      file: dir,
      line: 0,
      message: `cannot read rule directory ${dir}: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
  const rules: HuntRule[] = [];
  for (const name of names) {
    const file = join(dir, name);
    const r = parseRuleFile(await readText(file), file, name.slice(0, -".rule".length));
    if (!r.ok) return r;
    rules.push(r.value);
  }
  return ok(rules);
}
