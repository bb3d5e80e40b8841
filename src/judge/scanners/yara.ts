/**
 * YARA matches judged: a rule's own metadata decides what it means (a `severity` meta of
 * info/low/medium/high/critical is taken as is; otherwise high, the rule was written to find
 * something bad); a match on a running process's executable is critical.
 */
import { type Finding, SEVERITIES, type Severity } from "../../model/finding.js";
import type { YaraHit } from "../../observe/scanners/yara.js";

export function yaraFindings(hits: readonly YaraHit[], rulesFile: string): Finding[] {
  return hits.map((h) => {
    const l = h.location;
    const metaSeverity = (h.meta.severity ?? "").toLowerCase();
    let severity: Severity = (SEVERITIES as readonly string[]).includes(metaSeverity)
      ? (metaSeverity as Severity)
      : "high";
    if (l.pid !== null && severity !== "info" && severity !== "low") severity = "critical";
    const shown = l.where === "host" ? l.path : `${l.where}:${l.path}`;
    const what = h.meta.description ? `: ${h.meta.description}` : "";
    return {
      rule: l.pid !== null ? "yara.process-exe" : "yara.match",
      severity,
      confidence: "medium",
      title:
        `YARA rule ${h.rule} matches ${l.pid !== null ? `the executable of process ${l.pid} (${shown})` : shown}${what}`.slice(
          0,
          300,
        ),
      where: l.where,
      containerId: l.containerId,
      evidence: [
        {
          path: l.path,
          ...(l.pid !== null ? { pid: l.pid } : {}),
          text: h.strings.join("\n"),
          facts: {
            rule: h.rule,
            rulesFile,
            hostPath: l.hostPath,
            ...Object.fromEntries(Object.entries(h.meta).map(([k, v]) => [`meta.${k}`, v])),
          },
        },
      ],
      next:
        l.pid !== null
          ? `Preserve the executable (breachkit collect reads /proc/${l.pid}/exe) and contain ${l.where === "host" ? "the host" : `the container (breachkit contain ${l.where})`} before stopping anything.`
          : "Preserve the file (copy with its hash) and read the rule's reference; find how the file arrived (logs around its mtime).",
      source: "yara",
      falsePositive: null,
    };
  });
}
