/**
 * The text of a notification: the findings new since the last one sent on this channel, worst
 * first, and a digest of what is still open. Every string from the host through safeText (a
 * title can hold a hostile container or file name).
 */
import { type Severity, severityRank } from "../../model/finding.js";
import { safeText } from "../../util/sanitize.js";

export interface NotifyItem {
  fingerprint: string;
  severity: Severity;
  title: string;
  where: string;
  rule: string;
  next: string;
}

export interface NotifyContext {
  host: string;
  runDir: string;
  threshold: Severity;
  time: string;
}

const MAX_LISTED = 30;

export function worst(items: readonly NotifyItem[]): Severity {
  let w: Severity = "info";
  for (const i of items) if (severityRank(i.severity) > severityRank(w)) w = i.severity;
  return w;
}

export function subjectOf(
  ctx: NotifyContext,
  fresh: readonly NotifyItem[],
  prefix: string,
): string {
  return safeText(
    `${prefix} ${ctx.host}: ${fresh.length} new finding${fresh.length === 1 ? "" : "s"} (worst: ${worst(fresh)})`,
    200,
  );
}

export function textOf(
  ctx: NotifyContext,
  fresh: readonly NotifyItem[],
  open: readonly NotifyItem[],
): string {
  const sorted = [...fresh].sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
  const lines = [
    `breachkit on ${safeText(ctx.host, 100)}, ${ctx.time}: ${fresh.length} new at or above ${ctx.threshold}.`,
    "",
  ];
  for (const f of sorted.slice(0, MAX_LISTED)) {
    lines.push(`${f.severity.toUpperCase()}  ${safeText(f.where, 80)}: ${safeText(f.title, 240)}`);
    lines.push(`    ${safeText(f.next, 300)}`);
  }
  if (sorted.length > MAX_LISTED) lines.push(`... and ${sorted.length - MAX_LISTED} more`);
  const freshSet = new Set(fresh.map((f) => f.fingerprint));
  const still = open.filter((o) => !freshSet.has(o.fingerprint));
  lines.push("");
  if (still.length === 0) lines.push("Nothing else is open.");
  else {
    lines.push(`Still open (already notified): ${still.length}`);
    for (const f of still.slice(0, 10))
      lines.push(
        `  ${f.severity.toUpperCase()}  ${safeText(f.where, 80)}: ${safeText(f.title, 160)}`,
      );
    if (still.length > 10) lines.push(`  ... and ${still.length - 10} more`);
  }
  lines.push("", `Run: ${safeText(ctx.runDir, 300)} (breachkit schedule status)`);
  return `${lines.join("\n")}\n`;
}
