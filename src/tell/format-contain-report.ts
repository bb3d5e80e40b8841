/**
 * contain's result: the evidence and its seal, each action with its undo, the processes after,
 * and the verdict CONTAINED or NOT CONTAINED with its reasons.
 */
import type { ContainmentReport } from "../act/contain.js";
import type { Colors } from "../util/colors.js";
import { safeText } from "../util/sanitize.js";
import { formatMemoryDumps } from "./format-collect.js";
import { processTable } from "./format-plan.js";

const t = (s: string, max = 200) => safeText(s, max);

export function formatContainReport(
  r: ContainmentReport,
  bundleDir: string,
  manifestSha256: string,
  c: Colors,
): string {
  const lines: string[] = [""];
  lines.push(
    `Evidence: ${t(bundleDir, 300)} (${r.evidence.files} files${r.evidence.complete ? "" : `, ${c.yellow("incomplete")}: ${t(r.evidence.incompleteReason ?? "", 200)}`})`,
  );
  lines.push(`  sealed, manifest sha256 ${manifestSha256}`);
  lines.push(...formatMemoryDumps(r.memory, c));
  lines.push("");
  lines.push("Actions:");
  if (r.actions.length === 0) lines.push("  none");
  for (const a of r.actions) {
    const status = a.ok ? c.green("done") : c.red("FAILED");
    lines.push(
      `  ${a.startedAt}  ${status}  ${t(a.command, 200)}${a.error ? `: ${t(a.error, 300)}` : ""}`,
    );
  }
  if (r.undo.length) {
    lines.push("To undo:");
    for (const u of r.undo) lines.push(`  $ ${t(u, 600)}`);
  }
  lines.push("");
  lines.push(`After (${r.after.takenAt}): ${r.after.matches.length} matching process(es)`);
  const running = new Set(r.stillRunning.map((m) => `${m.pid}@${m.startTime}`));
  const held = r.mode === "pause" ? "frozen" : r.mode === "isolate" ? "isolated" : "held";
  lines.push(
    ...processTable(r.after.matches, c, (m) =>
      running.has(`${m.pid}@${m.startTime}`)
        ? "RUNNING"
        : m.containerId === r.target.id
          ? held
          : "frozen",
    ),
  );
  if (r.after.spared.length) {
    lines.push(
      `Set aside: ${r.after.spared.length} process(es) share an indicator but run a program's own file (a program, not the intrusion; not counted)`,
    );
    lines.push(...processTable(r.after.spared, c));
  }
  lines.push("");
  lines.push(r.contained ? c.bold(c.green("CONTAINED")) : c.bold(c.red("NOT CONTAINED")));
  for (const x of r.reasons) lines.push(`  ${c.green("ok")}   ${t(x, 400)}`);
  for (const x of r.problems) lines.push(`  ${c.red("FAIL")} ${t(x, 600)}`);
  if (r.next.length) {
    lines.push("");
    lines.push("Next:");
    for (const n of r.next) lines.push(`  - ${t(n, 400)}`);
  }
  return `${lines.join("\n")}\n`;
}
