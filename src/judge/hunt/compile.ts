/**
 * Rules compiled for the scanner: regexes built once, literals turned into the byte
 * strings to search for, each also in the form Docker's json-file driver writes it
 * (`<`, `>`, `&` become \u003c \u003e \u0026; `"` and `\` are escaped), so a literal is
 * found in a raw container log without decoding every line.
 */
import type { Applies, HuntRule } from "./rule-file.js";

export interface CompiledRule {
  /** The finding id: the rule's id. */
  findingRule: string;
  rule: HuntRule;
  regexes: RegExp[];
  /** Patterns capture a `key` group: the threshold counts per key value. */
  keyed: boolean;
  /** Extra check on the shown text after a pattern matched (built-in rules, e.g. CIDR IOCs). */
  verify?: (text: string) => boolean;
}

export interface CompiledLiteral {
  bytes: Buffer;
  /** Indexes into CompiledRuleSet.rules. */
  rules: number[];
}

export interface CompiledRuleSet {
  rules: CompiledRule[];
  literals: CompiledLiteral[];
}

/** How Docker's json-file driver (Go's JSON encoder, HTML-safe) writes a string's content. */
export function dockerJsonEscape(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === "\\") out += "\\\\";
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || ch === "<" || ch === ">" || ch === "&" || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, "0")}`;
    } else out += ch;
  }
  return out;
}

export type CompilableRule = HuntRule & { verify?: (text: string) => boolean };

export function compileRules(rules: readonly CompilableRule[]): CompiledRuleSet {
  const compiled: CompiledRule[] = [];
  const byText = new Map<string, CompiledLiteral>();
  rules.forEach((rule, i) => {
    const regexes = rule.patterns.map((p) => new RegExp(p, rule.flags));
    const cr: CompiledRule = {
      findingRule: rule.id,
      rule,
      regexes,
      keyed: rule.patterns.some((p) => p.includes("(?<key>")),
    };
    if (rule.verify) cr.verify = rule.verify;
    compiled.push(cr);
    for (const lit of rule.literals) {
      for (const form of new Set([lit, dockerJsonEscape(lit)])) {
        let entry = byText.get(form);
        if (!entry) {
          entry = { bytes: Buffer.from(form, "utf8"), rules: [] };
          byText.set(form, entry);
        }
        if (!entry.rules.includes(i)) entry.rules.push(i);
      }
    }
  });
  return { rules: compiled, literals: [...byText.values()] };
}

/** The rules that apply to a log of a container or of the host. */
export function selectRules(rules: readonly HuntRule[], scope: "container" | "host"): HuntRule[] {
  return rules.filter((r) => r.applies === "any" || r.applies === (scope satisfies Applies));
}
