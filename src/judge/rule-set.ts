/**
 * The rule set as data: the tuned lists (rule-lists.ts) and the hunting rules
 * (rules/hunt/*.rule), shipped and, with `--rules DIR`, the user's. Commands load it once,
 * before they read or change anything, and pass it down; judge rules receive its lists in
 * their RuleContext and never read a file themselves.
 */
import { join } from "node:path";
import { ok, type Result } from "../util/result.js";
import { type HuntRule, loadHuntRuleDirs, type RuleFileError } from "./hunt/index.js";
import { loadLists, type RuleLists, ruleSetError, SHIPPED_RULES_DIR } from "./rule-lists.js";

export * from "./rule-lists.js";

export interface RuleSet {
  lists: RuleLists;
  /** Shipped hunting rules first, then the user's; ids unique across both. */
  hunt: readonly HuntRule[];
  /** Every file the set was read from, in load order (for the record). */
  files: readonly string[];
}

/** The rule set: lists and hunting rules, shipped and (with `userDir`) the user's. */
export async function loadRuleSet(userDir?: string): Promise<Result<RuleSet, RuleFileError>> {
  const lists = loadLists(userDir);
  if (!lists.ok) return lists;
  // A user's hunting rules sit beside the lists or in hunt/, as in rules/.
  const dirs = [join(SHIPPED_RULES_DIR, "hunt")];
  if (userDir !== undefined) dirs.push(userDir, join(userDir, "hunt"));
  const hunt = await loadHuntRuleDirs(dirs, {
    optional: userDir === undefined ? [] : dirs.slice(1),
  });
  if (!hunt.ok) return hunt;
  return ok({
    lists: lists.value.lists,
    hunt: hunt.value.rules,
    files: [...lists.value.files, ...hunt.value.rules.map((r) => r.file)],
  });
}

/** Load the rule set for a command, or end it with the file and line of what is wrong. */
export async function ruleSetOrThrow(userDir?: string): Promise<RuleSet> {
  const r = await loadRuleSet(userDir);
  if (!r.ok) throw ruleSetError(r.error, userDir);
  return r.value;
}
