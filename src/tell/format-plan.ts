/**
 * contain's plan, shown before anything changes: the target, the indicators, the matching
 * processes and each step with its undo. Every string from the host through safeText.
 */
import type { PlanView } from "../act/contain.js";
import type { MatchedProcess } from "../act/contain-plan.js";
import type { Colors } from "../util/colors.js";
import { safeText } from "../util/sanitize.js";

const t = (s: string, max = 200) => safeText(s, max);

/** The matching processes; with `status`, a column saying whether each one can still run. */
export function processTable(
  rows: readonly MatchedProcess[],
  c: Colors,
  status?: (m: MatchedProcess) => string,
): string[] {
  if (rows.length === 0) return [`  ${c.dim("(none)")}`];
  const statusHead = status ? "STATUS".padEnd(10) : "";
  const lines = [
    `  ${c.dim(`${"PID".padEnd(8)}${statusHead}${"WHERE".padEnd(22)}${"USER".padEnd(10)}${"SHA256".padEnd(14)}COMMAND`)}`,
  ];
  for (const m of rows) {
    const exe = m.exePath ? ` [${t(m.exePath, 120)}${m.deleted ? " (deleted)" : ""}]` : "";
    const st = status ? status(m).padEnd(10) : "";
    const stShown = st.startsWith("RUNNING") ? c.red(st) : st;
    lines.push(
      `  ${String(m.pid).padEnd(8)}${stShown}${t(m.where, 20).padEnd(22)}${t(m.user, 9).padEnd(10)}${(m.sha256?.slice(0, 12) ?? "-").padEnd(14)}${t(m.commandLine, 120)}${exe}`,
    );
    lines.push(`  ${"".padEnd(8)}${c.dim(`matched by ${t(m.matchedBy.join("; "), 300)}`)}`);
    lines.push(`  ${"".padEnd(8)}${c.dim(`runs ${t(m.runsFrom, 200)}`)}`);
  }
  return lines;
}

export function formatPlan(view: PlanView, c: Colors, dryRun: boolean): string {
  const p = view.plan;
  const lines: string[] = [];
  lines.push(
    `${c.bold("contain")} ${t(p.target.name)} (${p.target.id.slice(0, 12)}, ${t(p.target.state)}, network ${t(p.target.networkMode)}, restart ${t(p.target.restartPolicy)}), mode ${c.bold(p.mode)}`,
  );
  lines.push("");
  lines.push(`Indicators (${view.indicators.length}):`);
  for (const i of view.indicators) lines.push(`  ${t(i, 300)}`);
  if (view.indicators.length === 0) {
    lines.push(
      `  ${c.yellow("none")}: triage found no suspicious process in it and no --ioc was given; the verdict rests on its state and traffic`,
    );
  }
  lines.push("");
  lines.push(`Before (${view.takenAt}): ${view.matches.length} matching process(es)`);
  lines.push(...processTable(view.matches, c));
  if (view.spared.length) {
    lines.push(
      `Set aside: ${view.spared.length} process(es) share an indicator but run a program's own file (a program, not the intrusion; never killed)`,
    );
    lines.push(...processTable(view.spared, c));
  }
  lines.push("");
  lines.push(dryRun ? "Plan (dry run: nothing will be changed):" : "Plan:");
  if (p.steps.length === 0) lines.push("  no change to the container");
  for (const s of p.steps) {
    lines.push(`  - ${t(s.description, 300)}`);
    lines.push(
      `      ${c.dim(`${t(s.command, 300)}${s.undo ? `   (undo: ${t(s.undo, 300)})` : "   (cannot be undone)"}`)}`,
    );
  }
  for (const n of view.notes) lines.push(`  ${c.dim(`note: ${t(n, 300)}`)}`);
  if (!dryRun) lines.push("  The evidence is preserved into a bundle first.");
  return `${lines.join("\n")}\n`;
}
