/**
 * The thresholds of watch's alarms: rules/watch.json, validated at load like every rules/
 * file (a mistake stops the command with `file:line: what is wrong`), and a user's
 * watch.json in `--rules DIR` overriding the values it names.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { err, errorMessage, ok, type Result } from "../../util/result.js";
import { z } from "../../util/zod.js";
import type { RuleFileError } from "../hunt/rule-file.js";
import { jsonValueLines, parseJsonWithLine } from "../json-lines.js";
import { LIST_FORMAT_VERSION, SHIPPED_RULES_DIR } from "../rule-lists.js";

export const WATCH_RULES_FILE = "watch.json";

export const SEVERITIES = ["info", "low", "medium", "high", "critical"] as const;
export type Severity = (typeof SEVERITIES)[number];

export interface WatchThresholds {
  txPacketsPerSec: number;
  rxPacketsPerSec: number;
  destinationsPerPort: number;
  minSeverity: Severity;
}

const positive = z.number().positive().finite();

const ThresholdsSchema = z.strictObject({
  txPacketsPerSec: positive,
  rxPacketsPerSec: positive,
  destinationsPerPort: z.number().int().positive(),
  minSeverity: z.enum(SEVERITIES),
});

const FileSchema = (user: boolean) =>
  z.strictObject({
    version: z.literal(LIST_FORMAT_VERSION),
    description: z.string().min(1),
    thresholds: user ? ThresholdsSchema.partial() : ThresholdsSchema,
    reasons: z.record(z.string(), z.string()).optional(),
  });

function parseFile(
  text: string,
  file: string,
  user: boolean,
): Result<Partial<WatchThresholds>, RuleFileError> {
  const fail = (line: number, message: string) =>
    err({ file, line, message: `${file}${line ? `:${line}` : ""}: ${message}` });
  const json = parseJsonWithLine(text);
  if (!json.ok) return fail(json.error.line, json.error.message);
  const data = json.value;
  const parsed = FileSchema(user).safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = issue.code === "unrecognized_keys" ? [...issue.path, issue.keys[0]!] : issue.path;
    const lines = jsonValueLines(text);
    let line = 0;
    for (let n = path.length; n >= 0 && line === 0; n--)
      line = lines.get(path.slice(0, n).map(String).join(".")) ?? 0;
    const where = path.map(String).join(".");
    return fail(line, `${where ? `${where}: ` : ""}${issue.message}`);
  }
  const out: Partial<WatchThresholds> = {};
  for (const [k, v] of Object.entries(parsed.data.thresholds)) {
    if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  }
  return ok(out);
}

/** The shipped thresholds, overridden by `userDir`/watch.json when there is one. */
export function loadWatchThresholds(
  userDir?: string,
  shippedDir: string = SHIPPED_RULES_DIR,
): Result<WatchThresholds, RuleFileError> {
  const read = (dir: string, user: boolean): Result<Partial<WatchThresholds>, RuleFileError> => {
    const file = join(dir, WATCH_RULES_FILE);
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      return err({ file, line: 0, message: `${file}: cannot read: ${errorMessage(e)}` });
    }
    return parseFile(text, file, user);
  };
  const shipped = read(shippedDir, false);
  if (!shipped.ok) return shipped;
  let out = shipped.value as WatchThresholds;
  if (userDir !== undefined && existsSync(join(userDir, WATCH_RULES_FILE))) {
    const user = read(userDir, true);
    if (!user.ok) return user;
    out = { ...out, ...user.value };
  }
  return ok(out);
}
