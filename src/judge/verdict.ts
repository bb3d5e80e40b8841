/**
 * The one-line answer of triage: compromised, suspicious or no sign of compromise, and
 * where. Pure: findings in, verdict out.
 */
import { type Finding, type Severity, severityRank } from "../model/finding.js";

export type VerdictLevel = "compromised" | "suspicious" | "clean";

export interface PlaceSummary {
  where: string;
  containerId: string | null;
  worst: Severity;
  counts: Record<Severity, number>;
}

export interface Verdict {
  level: VerdictLevel;
  /** Places with findings at medium or above, worst first. */
  places: PlaceSummary[];
  /** The count of findings at or above the --fail-on threshold (false positives excluded). */
  atOrAboveThreshold: number;
  threshold: Severity;
  headline: string;
}

const zero = (): Record<Severity, number> => ({ info: 0, low: 0, medium: 0, high: 0, critical: 0 });

export function placesOf(findings: readonly Finding[]): PlaceSummary[] {
  const by = new Map<string, PlaceSummary>();
  for (const f of findings) {
    if (f.falsePositive) continue;
    let p = by.get(f.where);
    if (!p) {
      p = { where: f.where, containerId: f.containerId, worst: "info", counts: zero() };
      by.set(f.where, p);
    }
    p.counts[f.severity]++;
    if (severityRank(f.severity) > severityRank(p.worst)) p.worst = f.severity;
  }
  return [...by.values()].sort(
    (a, b) => severityRank(b.worst) - severityRank(a.worst) || a.where.localeCompare(b.where),
  );
}

export function verdictOf(findings: readonly Finding[], threshold: Severity = "high"): Verdict {
  const real = findings.filter((f) => !f.falsePositive);
  const places = placesOf(real).filter((p) => severityRank(p.worst) >= severityRank("medium"));
  const atOrAbove = real.filter((f) => severityRank(f.severity) >= severityRank(threshold)).length;
  const compromised = real.some(
    (f) =>
      f.severity === "critical" ||
      (f.severity === "high" && f.confidence === "high" && !f.rule.startsWith("container.")),
  );
  const level: VerdictLevel = compromised
    ? "compromised"
    : places.length > 0
      ? "suspicious"
      : "clean";
  const where = places
    .filter((p) => (level === "compromised" ? severityRank(p.worst) >= severityRank("high") : true))
    .map((p) => (p.containerId ? `container ${p.where}` : p.where))
    .slice(0, 4);
  const headline =
    level === "compromised"
      ? `COMPROMISED: ${where.join(", ")}`
      : level === "suspicious"
        ? `SUSPICIOUS: worth a look in ${where.join(", ")}`
        : "NO SIGN OF COMPROMISE found by the fast checks";
  return { level, places, atOrAboveThreshold: atOrAbove, threshold, headline };
}
