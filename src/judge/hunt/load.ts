/**
 * Load and self-check hunting rules: every `example:` must hit and every `not:` must
 * not, both as a plain line and as a Docker json-file line, so a rule that a later edit
 * broke fails at load time with its file and line, not silently in the field.
 */
import { err, ok, type Result } from "../../util/result.js";
import { type CompiledRuleSet, compileRules } from "./compile.js";
import { huntBuffer } from "./engine.js";
import { DEFAULT_RULE_DIR, type HuntRule, type RuleFileError, readRuleDir } from "./rule-file.js";

/** A line as Docker's json-file driver writes it. */
export function dockerJsonLine(message: string, time = "2026-03-01T10:00:00.000000000Z"): string {
  // JSON.stringify escapes less than Docker (not < > &): add those, as Go's encoder does.
  const log = JSON.stringify(`${message}\n`).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  return `{"log":${log},"stream":"stdout","time":"${time}"}`;
}

/** Check a rule's examples and counter-examples against the real scanner. */
export function checkExamples(rule: HuntRule): string | null {
  return checkExamplesAt(rule)?.message ?? null;
}

/** The first example that does not hit (or `not:` that does), with its line in the file. */
export function checkExamplesAt(rule: HuntRule): { line: number; message: string } | null {
  const set = compileRules([{ ...rule, threshold: 1 }]);
  for (const [lines, want, at] of [
    [rule.examples, true, rule.lines?.examples],
    [rule.counterExamples, false, rule.lines?.counterExamples],
  ] as const) {
    for (const [n, line] of lines.entries()) {
      for (const form of [line, dockerJsonLine(line)]) {
        const hit = huntBuffer(Buffer.from(`${form}\n`), set, "example").length > 0;
        if (hit !== want) {
          return {
            line: at?.[n] ?? 0,
            message: `${want ? "example" : "not"}: ${JSON.stringify(line.slice(0, 80))} ${want ? "does not hit" : "hits"} the rule${form === line ? "" : " (as a Docker json-file line)"}`,
          };
        }
      }
    }
  }
  return null;
}

export interface LoadedRules {
  rules: HuntRule[];
  compiled: CompiledRuleSet;
}

/** Read, validate, self-check and compile the rules of a directory (default: rules/hunt). */
export async function loadHuntRules(
  dir: string = DEFAULT_RULE_DIR,
): Promise<Result<LoadedRules, RuleFileError>> {
  return loadHuntRuleDirs([dir]);
}

/**
 * The rules of several directories, in order (shipped first, then a user's): one id per
 * rule across all of them, so a duplicate is an error naming both files.
 */
export async function loadHuntRuleDirs(
  dirs: readonly string[],
  opts: { optional?: readonly string[] } = {},
): Promise<Result<LoadedRules, RuleFileError>> {
  const rules: HuntRule[] = [];
  const byId = new Map<string, HuntRule>();
  for (const dir of dirs) {
    const read = await readRuleDir(dir, opts.optional?.includes(dir) === true);
    if (!read.ok) return read;
    for (const rule of read.value) {
      const at = (line: number) => `${rule.file}${line ? `:${line}` : ""}`;
      const first = byId.get(rule.id);
      if (first) {
        const line = rule.lines?.id ?? 0;
        return err({
          file: rule.file,
          line,
          message: `${at(line)}: duplicate rule id "${rule.id}" (also in ${first.file})`,
        });
      }
      byId.set(rule.id, rule);
      const bad = checkExamplesAt(rule);
      if (bad)
        return err({ file: rule.file, line: bad.line, message: `${at(bad.line)}: ${bad.message}` });
      rules.push(rule);
    }
  }
  return ok({ rules, compiled: compileRules(rules) });
}
