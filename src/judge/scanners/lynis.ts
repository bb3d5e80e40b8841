/**
 * Lynis's report judged: a warning is medium, a suggestion info, both low confidence (Lynis
 * audits hardening, not compromise).
 */
import type { Finding } from "../../model/finding.js";
import type { LynisItem, LynisReport } from "../../observe/scanners/lynis.js";

export function lynisFindings(report: LynisReport, reportFile: string): Finding[] {
  const make = (it: LynisItem, warning: boolean): Finding => ({
    rule: warning ? "lynis.warning" : "lynis.suggestion",
    severity: warning ? "medium" : "info",
    confidence: "low",
    title: `Lynis ${it.id}: ${it.text}`.slice(0, 300),
    where: "host",
    containerId: null,
    evidence: [
      {
        file: reportFile,
        line: it.line,
        text: [it.text, it.details].filter(Boolean).join(" | "),
        facts: { test: it.id },
      },
    ],
    next: it.solution || `See https://cisofy.com/lynis/controls/${encodeURIComponent(it.id)}/`,
    source: "lynis",
    falsePositive: null,
  });
  return [
    ...report.warnings.map((w) => make(w, true)),
    ...report.suggestions.map((s) => make(s, false)),
  ];
}
