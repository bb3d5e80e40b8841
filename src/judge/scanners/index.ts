/**
 * A scanner's report judged: its findings, from what the tool said, marked against the known
 * false positives. Pure: the reports come from observe/scanners, already run.
 */
import { type Finding, sortFindings } from "../../model/finding.js";
import type { ScanGap, ToolReport } from "../../observe/scanners/types.js";
import { chkrootkitFindings } from "./chkrootkit.js";
import { clamavFindings } from "./clamav.js";
import { type FalsePositiveRule, markFalsePositives } from "./false-positives.js";
import { lynisFindings } from "./lynis.js";
import { packagesFindings } from "./packages.js";
import { rkhunterFindings } from "./rkhunter.js";
import { yaraFindings } from "./yara.js";

/** A tool's report with the findings judged from it. */
export type JudgedToolReport = ToolReport & { findings: Finding[] };

export interface ScanResult {
  reports: JudgedToolReport[];
  /** Every tool's findings, worst first. */
  findings: Finding[];
  gaps: ScanGap[];
}

/** Findings from what one tool said, before the false-positive marks. */
export function toolFindings(r: ToolReport): Finding[] {
  const said = r.said;
  if (said === null) return [];
  switch (said.tool) {
    case "clamav":
      return clamavFindings(said.hits);
    case "rkhunter":
      return rkhunterFindings(said.log, said.logFile);
    case "chkrootkit":
      return said.roots.flatMap((root) =>
        chkrootkitFindings(root.items, root.where, root.containerId, root.outputFile, root.busybox),
      );
    case "lynis":
      return lynisFindings(said.report, said.reportFile);
    case "packages":
      return packagesFindings(said.roots);
    case "yara":
      return yaraFindings(said.hits, said.rules);
  }
}

export function judgeToolReport(
  r: ToolReport,
  falsePositives: readonly FalsePositiveRule[],
): JudgedToolReport {
  return { ...r, findings: markFalsePositives(toolFindings(r), falsePositives) };
}

export function scanResult(reports: JudgedToolReport[]): ScanResult {
  return {
    reports,
    findings: sortFindings(reports.flatMap((r) => r.findings)),
    gaps: reports.flatMap((r) => r.gaps),
  };
}
