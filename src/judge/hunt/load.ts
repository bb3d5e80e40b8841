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
  const set = compileRules([{ ...rule, threshold: 1 }]);
  for (const [lines, want] of [
    [rule.examples, true],
    [rule.counterExamples, false],
  ] as const) {
    for (const line of lines) {
      for (const form of [line, dockerJsonLine(line)]) {
        const hit = huntBuffer(Buffer.from(`${form}\n`), set, "example").length > 0;
        if (hit !== want) {
          return `${want ? "example" : "not"}: ${JSON.stringify(line.slice(0, 80))} ${want ? "does not hit" : "hits"} the rule${form === line ? "" : " (as a Docker json-file line)"}`;
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
  const read = await readRuleDir(dir);
  if (!read.ok) return read;
  const ids = new Set<string>();
  for (const rule of read.value) {
    if (ids.has(rule.id))
      return err({
        file: rule.file,
        line: 0,
        message: `${rule.file}: duplicate rule id "${rule.id}"`,
      });
    ids.add(rule.id);
    const bad = checkExamples(rule);
    if (bad) return err({ file: rule.file, line: 0, message: `${rule.file}: ${bad}` });
  }
  return ok({ rules: read.value, compiled: compileRules(read.value) });
}
