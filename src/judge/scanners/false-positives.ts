/**
 * Known false positives of the scanners (rules/false-positives.json): a matching finding is
 * marked with the reason, never dropped. The admin sees it, dimmed, and can judge.
 */
import type { Finding } from "../../model/finding.js";
import { readTextSync } from "../../util/assets.js";
import { BreachkitError } from "../../util/errors.js";
import { packagePath } from "../../util/package-root.js";
import { errorMessage } from "../../util/result.js";
import { z } from "../../util/zod.js";

const RuleSchema = z.object({
  tool: z.string(),
  id: z.string(),
  /** Regex (case-insensitive, ^ and $ per line) over the title and evidence paths and texts. */
  pattern: z.string(),
  /** When set, every evidence text line must match too (a list is noise only if all of it is). */
  everyLine: z.string().optional(),
  where: z.enum(["host", "container", "any"]),
  reason: z.string(),
});
const FileSchema = z.object({
  format: z.literal("breachkit-false-positives/1"),
  rules: z.array(RuleSchema),
});

export interface FalsePositiveRule {
  tool: string;
  id: string;
  pattern: RegExp;
  everyLine: RegExp | null;
  where: "host" | "container" | "any";
  reason: string;
}

/** Parse and compile the data file; a bad pattern is an error naming the rule. */
export function parseFalsePositives(json: string): FalsePositiveRule[] {
  const file = FileSchema.parse(JSON.parse(json));
  return file.rules.map((r) => {
    try {
      return {
        tool: r.tool,
        id: r.id,
        pattern: new RegExp(r.pattern, "im"),
        everyLine: r.everyLine ? new RegExp(r.everyLine, "i") : null,
        where: r.where,
        reason: r.reason,
      };
    } catch (e) {
      throw new Error(`false-positive rule ${r.id}: ${(e as Error).message}`);
    }
  });
}

/** The shipped rules file (rules/ is in the npm package). */
export function loadFalsePositives(): FalsePositiveRule[] {
  const path = packagePath("rules", "false-positives.json");
  try {
    return parseFalsePositives(readTextSync(path));
  } catch (e) {
    throw new BreachkitError(
      "BAD_INPUT",
      `cannot read breachkit's false-positive rules ${path}: ${errorMessage(e)}`,
      "this file ships with breachkit: restore it (git checkout, or reinstall breachkit)",
    );
  }
}

function textOf(f: Finding): { all: string; lines: string[] } {
  const lines: string[] = [];
  for (const e of f.evidence) {
    if (e.path !== undefined) lines.push(e.path);
    if (e.text !== undefined) lines.push(...e.text.split("\n"));
  }
  return { all: [f.title, ...lines].join("\n"), lines };
}

/** Mark findings of `tool` that match a rule; returns new objects, order kept. */
export function markFalsePositives(
  findings: readonly Finding[],
  rules: readonly FalsePositiveRule[],
): Finding[] {
  return findings.map((f) => {
    if (f.falsePositive !== null) return f;
    const { all, lines } = textOf(f);
    for (const r of rules) {
      if (r.tool !== f.source) continue;
      if (r.where === "host" && f.where !== "host") continue;
      if (r.where === "container" && f.where === "host") continue;
      if (!r.pattern.test(all)) continue;
      if (r.everyLine) {
        const body = lines.filter((l) => l.trim() !== "");
        if (body.length === 0 || !body.every((l) => r.everyLine!.test(l))) continue;
      }
      return { ...f, falsePositive: r.reason };
    }
    return f;
  });
}
