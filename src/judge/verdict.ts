/**
 * The one-line answer of triage: compromised, at risk, suspicious or no sign of compromise,
 * and where. Pure: findings in, verdict out.
 *
 * A place is COMPROMISED on a direct observation of compromise (a critical finding, or a high
 * one with high confidence, that is not a configuration rule); AT RISK when what is high there
 * is a misconfiguration only (the Docker socket mounted, a privileged container, an audit
 * finding): a weakness to fix, not a sign that anyone used it; SUSPICIOUS otherwise.
 */
import { type Finding, type Severity, severityRank } from "../model/finding.js";

export type VerdictLevel = "compromised" | "at-risk" | "suspicious" | "clean";
export type PlaceState = "compromised" | "at-risk" | "suspicious";

export interface PlaceSummary {
  where: string;
  containerId: string | null;
  worst: Severity;
  counts: Record<Severity, number>;
  /** compromised, at-risk (misconfiguration only) or suspicious. */
  state: PlaceState;
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

/** A configuration or hardening finding: a weakness, never by itself a sign of compromise. */
export function isMisconfiguration(f: Pick<Finding, "rule" | "source">): boolean {
  return f.rule.startsWith("container.") || f.rule.startsWith("audit.") || f.source === "audit";
}

/** A direct observation of compromise. */
export function isCompromiseSign(f: Finding): boolean {
  if (f.falsePositive || isMisconfiguration(f)) return false;
  return f.severity === "critical" || (f.severity === "high" && f.confidence === "high");
}

function stateOf(list: readonly Finding[]): PlaceState {
  if (list.some(isCompromiseSign)) return "compromised";
  const high = list.filter((f) => severityRank(f.severity) >= severityRank("high"));
  const medium = list.filter((f) => severityRank(f.severity) >= severityRank("medium"));
  // At risk: everything of weight here is a misconfiguration.
  if (medium.length > 0 && medium.every(isMisconfiguration) && high.length > 0) return "at-risk";
  return "suspicious";
}

export function placesOf(findings: readonly Finding[]): PlaceSummary[] {
  const by = new Map<string, { p: PlaceSummary; list: Finding[] }>();
  for (const f of findings) {
    if (f.falsePositive) continue;
    let e = by.get(f.where);
    if (!e) {
      e = {
        p: {
          where: f.where,
          containerId: f.containerId,
          worst: "info",
          counts: zero(),
          state: "suspicious",
        },
        list: [],
      };
      by.set(f.where, e);
    }
    e.list.push(f);
    e.p.counts[f.severity]++;
    if (severityRank(f.severity) > severityRank(e.p.worst)) e.p.worst = f.severity;
  }
  const rank = { compromised: 2, suspicious: 1, "at-risk": 0 } as const;
  return [...by.values()]
    .map(({ p, list }) => ({ ...p, state: stateOf(list) }))
    .sort(
      (a, b) =>
        rank[b.state] - rank[a.state] ||
        severityRank(b.worst) - severityRank(a.worst) ||
        a.where.localeCompare(b.where),
    );
}

const named = (p: PlaceSummary) => (p.containerId ? `container ${p.where}` : p.where);

export function verdictOf(findings: readonly Finding[], threshold: Severity = "high"): Verdict {
  const real = findings.filter((f) => !f.falsePositive);
  const places = placesOf(real).filter((p) => severityRank(p.worst) >= severityRank("medium"));
  const atOrAbove = real.filter((f) => severityRank(f.severity) >= severityRank(threshold)).length;
  const compromised = places.filter((p) => p.state === "compromised");
  const atRisk = places.filter((p) => p.state === "at-risk");
  const suspicious = places.filter((p) => p.state === "suspicious");
  const level: VerdictLevel =
    compromised.length > 0
      ? "compromised"
      : suspicious.length > 0
        ? "suspicious"
        : atRisk.length > 0
          ? "at-risk"
          : "clean";
  const list = (ps: PlaceSummary[]) => ps.map(named).slice(0, 4).join(", ");
  const riskTail =
    atRisk.length > 0
      ? `; AT RISK (a misconfiguration, no sign of compromise): ${list(atRisk)}`
      : "";
  const headline =
    level === "compromised"
      ? `COMPROMISED: ${list(compromised)}${riskTail}`
      : level === "suspicious"
        ? `SUSPICIOUS: worth a look in ${list(suspicious)}${riskTail}`
        : level === "at-risk"
          ? `AT RISK: a misconfiguration, no sign of compromise, in ${list(atRisk)}`
          : "NO SIGN OF COMPROMISE found by the fast checks";
  return { level, places, atOrAboveThreshold: atOrAbove, threshold, headline };
}
