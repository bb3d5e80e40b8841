/** baseline save and diff, and schedule's reports, for a person. */
import type { Verdict } from "../judge/verdict.js";
import type { BaselineDiffOutput, BaselineSaveOutput } from "../model/baseline-output.js";
import type { ScheduleOutput } from "../model/schedule-output.js";
import type { Colors } from "../util/colors.js";
import { safeText } from "../util/sanitize.js";
import { renderFindings } from "./findings.js";

const t = (s: string, max = 300) => safeText(s, max);

export function formatBaselineSave(o: BaselineSaveOutput, c: Colors): string {
  const lines = [
    `${c.bold(c.green("baseline saved"))}  ${t(o.path)}`,
    `  host ${t(o.host)}, taken ${o.takenAt}${o.root !== "/" ? `, host files from ${t(o.root)}` : ""}`,
    `  seal sha256 ${o.seal}  (write it down: it proves this baseline later)`,
    `  ${Object.entries(o.counts)
      .map(([k, v]) => `${v} ${k}`)
      .join(", ")}`,
  ];
  if (o.gaps.length > 0) {
    lines.push(`  ${c.yellow(`${o.gaps.length} gap(s)`)} (not read):`);
    for (const g of o.gaps.slice(0, 8)) lines.push(`    ${t(g.source, 80)}: ${t(g.message, 160)}`);
    if (o.gaps.length > 8) lines.push(`    … and ${o.gaps.length - 8} more (--json lists them)`);
  }
  return `${lines.join("\n")}\n`;
}

export function formatBaselineDiff(
  o: BaselineDiffOutput,
  verdict: Verdict,
  c: Colors,
  all: boolean,
): string {
  const lines: string[] = [];
  lines.push(
    `drift since ${o.baseline.takenAt} (baseline ${t(o.baseline.path)}, seal ${o.baseline.seal.slice(0, 16)}…)`,
  );
  if (o.findings.length === 0) {
    lines.push(c.green("no drift: nothing new since the baseline"));
  } else {
    const v = {
      ...verdict,
      headline: `${o.findings.length} change(s) since the baseline, ${o.atOrAboveThreshold} at or above ${verdict.threshold}`,
    };
    lines.push(renderFindings(o.findings, v, c, { all }).trimEnd());
  }
  const gone = Object.entries(o.removed);
  if (gone.length > 0)
    lines.push(
      c.dim(
        `gone since the baseline (not findings): ${gone.map(([k, n]) => `${n} ${k}`).join(", ")}`,
      ),
    );
  lines.push(c.dim(`compared: ${o.compared.join(", ")}  (${o.durationMs} ms)`));
  return `${lines.join("\n")}\n`;
}

export function formatSchedule(o: ScheduleOutput, c: Colors): string {
  const lines: string[] = [];
  switch (o.command) {
    case "schedule install":
      lines.push(
        `${c.bold(c.green("installed"))} (${o.writer}): every ${o.every}, jobs ${o.jobs.join(",")}`,
      );
      for (const f of o.files) lines.push(`  wrote ${t(f)}`);
      for (const s of o.steps) lines.push(`  ran ${t(s)}`);
      break;
    case "schedule remove":
      if (o.files.length === 0) lines.push("nothing installed: nothing removed");
      else lines.push(c.bold("removed"));
      for (const f of o.files) lines.push(`  removed ${t(f)}`);
      for (const s of o.steps) lines.push(`  ran ${t(s)}`);
      break;
    case "schedule status":
      if (!o.installed) lines.push("not installed (breachkit schedule install)");
      else
        lines.push(
          `installed (${o.installed.writer}) every ${o.installed.every}, jobs ${o.installed.jobs.join(",")}, since ${o.installed.installedAt}`,
        );
      lines.push(`next run: ${o.nextRun ?? "unknown"}`);
      if (o.runs.length === 0) lines.push("no runs yet");
      for (const r of o.runs.slice(0, 10))
        lines.push(
          `  ${r.startedAt}  ${r.result.padEnd(8)} ${r.newFindings} new, ${r.openFindings} open  ${t(r.dir)}`,
        );
      break;
    case "schedule run": {
      lines.push(`${c.bold("run")} ${t(o.dir)}: ${o.result}`);
      for (const j of o.jobs)
        lines.push(
          `  ${j.name.padEnd(12)} ${j.status.padEnd(8)} exit ${j.exitCode ?? "-"} ${j.findings} finding(s)${j.note ? `  ${t(j.note)}` : ""}`,
        );
      lines.push(
        `  drift: ${o.driftSinceBaseline ?? "no baseline"} since the baseline, ${o.newSincePrevious} new since the previous run`,
      );
      lines.push(
        `  notify: ${o.notified.length} new sent at or above ${o.threshold}, ${o.open} still open`,
      );
      for (const n of o.notifications)
        lines.push(
          `    ${n.channel.padEnd(8)} ${n.ok ? c.green("sent") : c.red("failed")} ${t(n.detail)}`,
        );
      for (const g of o.gaps)
        lines.push(`  ${c.yellow("gap")} ${t(g.source, 80)}: ${t(g.message)}`);
      break;
    }
  }
  return `${lines.join("\n")}\n`;
}
