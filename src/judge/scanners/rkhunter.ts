/**
 * rkhunter's warnings judged: one that names a rootkit, trojan, backdoor, sniffer, hidden
 * process or infection is high; the rest (configuration as much as compromise) medium.
 */
import type { Finding } from "../../model/finding.js";
import type { RkhunterLog } from "../../observe/scanners/rkhunter.js";

const SERIOUS = /rootkit|trojan|backdoor|sniffer|hidden process|suspicious string|infected/i;

/**
 * One finding per warning; a warning that introduces a list ("...using deleted files:",
 * "Suspicious file types found in /dev:") gives one finding per listed item, so that a known
 * false positive in the list (runc's memfd) does not mark a real item beside it.
 */
export function rkhunterFindings(log: RkhunterLog, logFile: string): Finding[] {
  const out: Finding[] = [];
  for (const w of log.warnings) {
    const items = w.text.endsWith(":") && w.lines.length > 0 ? w.lines.map((l) => [l]) : [w.lines];
    for (const item of items) {
      const serious = SERIOUS.test(w.text);
      const detail = item.length === 1 && items.length > 1 ? ` ${item[0]}` : "";
      out.push({
        rule: "rkhunter.warning",
        severity: serious ? "high" : "medium",
        confidence: serious ? "medium" : "low",
        title: `rkhunter: ${w.text}${detail}`,
        where: "host",
        containerId: null,
        evidence: [
          { file: logFile, line: w.line, text: [`Warning: ${w.text}`, ...item].join("\n") },
        ],
        next: serious
          ? "Look at the named files and processes now; compare with the package (dpkg --verify) and preserve them before changing anything."
          : "Check whether this is expected on this host; rkhunter warns about configuration as much as about compromise.",
        source: "rkhunter",
        falsePositive: null,
      });
    }
  }
  return out;
}
