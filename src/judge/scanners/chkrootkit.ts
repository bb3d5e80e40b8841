/**
 * chkrootkit's items judged: INFECTED is high (its checks are string matches, so medium
 * confidence), a WARNING block medium, vulnerable-but-disabled and unexplained output low.
 */
import type { Finding, Severity } from "../../model/finding.js";
import type { ChkrootkitItem } from "../../observe/scanners/chkrootkit.js";

/** Items that become findings: infected, disabled-but-vulnerable, warnings, unexplained output. */
export function chkrootkitFindings(
  items: readonly ChkrootkitItem[],
  where: string,
  containerId: string | null,
  outputFile: string,
): Finding[] {
  const out: Finding[] = [];
  for (const it of items) {
    let severity: Severity;
    let confidence: Finding["confidence"];
    if (it.kind === "infected") {
      severity = "high";
      confidence = "medium";
    } else if (it.kind === "warning") {
      severity = "medium";
      confidence = "low";
    } else if (it.kind === "disabled") {
      severity = "low";
      confidence = "low";
    } else if (
      it.kind === "other" ||
      (it.kind === "clean" && it.lines.some((l) => /Warning|Possible/i.test(l)))
    ) {
      severity = "low";
      confidence = "low";
    } else continue;
    const name = it.check ? `${it.check}: ` : "";
    const head = it.kind === "warning" ? it.status.replace(/^WARNING: /, "") : it.status;
    out.push({
      rule: `chkrootkit.${it.kind === "clean" ? "other" : it.kind}`,
      severity,
      confidence,
      title: `chkrootkit: ${name}${head.trim()}`.slice(0, 300),
      where,
      containerId,
      evidence: [
        {
          file: outputFile,
          line: it.line,
          text: (it.lines.length ? it.lines : [it.status]).slice(0, 200).join("\n"),
        },
      ],
      next:
        it.kind === "infected"
          ? "Compare the named binary with its package (dpkg --verify, debsums) from a trusted system, and preserve it before changing anything."
          : "Read the listed lines: chkrootkit is noisy; a path or process you cannot explain deserves a look.",
      source: "chkrootkit",
      falsePositive: null,
    });
  }
  return out;
}
