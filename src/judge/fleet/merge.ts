/**
 * Findings across a fleet: every host's own findings, marked with the host, and the fleet's
 * rule: the same executable (by SHA-256) that a host's findings cite, running on several
 * hosts. Pure: it reads nothing; the hosts' snapshots and findings come from their bundles.
 */
import { type Finding, sortFindings } from "../../model/finding.js";
import type { FleetFinding } from "../../model/fleet-output.js";
import type { Snapshot } from "../../model/snapshot.js";

export interface FleetHostData {
  /** The inventory's name. */
  host: string;
  findings: readonly Finding[];
  snapshot: Snapshot | null;
}

const CITED = new Set(["medium", "high", "critical"]);
const MAX_LISTED = 20;

/** fleet.same-exe: a flagged executable's hash found on two or more hosts. */
export function sameExecutableRule(hosts: readonly FleetHostData[]): FleetFinding[] {
  // Hashes the hosts' own findings cite (at medium or above, not a known false positive).
  const cited = new Map<string, { rules: Set<string>; paths: Set<string> }>();
  for (const h of hosts) {
    for (const f of h.findings) {
      if (!CITED.has(f.severity) || f.falsePositive !== null) continue;
      for (const e of f.evidence) {
        if (!e.sha256 || !/^[0-9a-f]{64}$/.test(e.sha256)) continue;
        const c = cited.get(e.sha256) ?? { rules: new Set(), paths: new Set() };
        c.rules.add(f.rule);
        if (e.path) c.paths.add(e.path);
        cited.set(e.sha256, c);
      }
    }
  }
  const out: FleetFinding[] = [];
  for (const [sha256, c] of cited) {
    const where: { host: string; pid: number; path: string | null }[] = [];
    for (const h of hosts) {
      const p = h.snapshot?.processes.find((q) => !q.self && q.exe.sha256 === sha256) ?? null;
      const inFinding = h.findings.some((f) => f.evidence.some((e) => e.sha256 === sha256));
      if (p) where.push({ host: h.host, pid: p.pid, path: p.exe.path });
      else if (inFinding) where.push({ host: h.host, pid: -1, path: null });
    }
    if (where.length < 2) continue;
    const names = where.map((w) => w.host);
    out.push({
      rule: "fleet.same-exe",
      severity: "critical",
      confidence: "high",
      title: `the same flagged executable (SHA-256 ${sha256.slice(0, 16)}…) on ${where.length} hosts: ${names.slice(0, MAX_LISTED).join(", ")}${names.length > MAX_LISTED ? ", …" : ""}`,
      where: "fleet",
      containerId: null,
      evidence: where.map((w) => ({
        sha256,
        ...(w.pid >= 0 ? { pid: w.pid } : {}),
        ...(w.path ? { path: w.path } : {}),
        facts: { host: w.host, flaggedBy: [...c.rules].sort().join(", ") },
      })),
      next: `It spread: contain it on every host listed (breachkit contain), not only on the first; then look for the way in common to them (a shared key, image or deployment).`,
      source: "fleet",
      falsePositive: null,
      host: "fleet",
    });
  }
  return out;
}

/** Every host's findings with its name, then the fleet rule's, worst first. */
export function mergeFleetFindings(hosts: readonly FleetHostData[]): FleetFinding[] {
  const all: FleetFinding[] = [];
  for (const h of hosts) for (const f of h.findings) all.push({ ...f, host: h.host });
  all.push(...sameExecutableRule(hosts));
  // sortFindings keeps the fields it is given (it only orders).
  return sortFindings(all) as FleetFinding[];
}
