/**
 * Lynis merged into the audit (--lynis): its warnings and suggestions as findings of the same
 * model (judge/scanners/lynis.ts decides their severity), in the area "lynis", with Lynis's
 * own solution as the fix; its hardening index is reported beside the audit's scores.
 */
import type { Finding } from "../../model/finding.js";
import type { LynisReport } from "../../observe/scanners/lynis.js";
import { lynisFindings } from "../scanners/lynis.js";

export function lynisAuditFindings(report: LynisReport, reportFile: string): Finding[] {
  return lynisFindings(report, reportFile).map((f) => ({
    ...f,
    evidence: f.evidence.map((e, i) =>
      i === 0
        ? {
            ...e,
            facts: {
              ...(e.facts ?? {}),
              area: "lynis",
              fix: f.next,
              cost: "as Lynis's control describes",
            },
          }
        : e,
    ),
  }));
}
