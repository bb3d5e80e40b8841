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

/** What fleet recorded of a host's --keep-exe copy (case.json's host: name, user, keep). */
export interface KeptCopyHost {
  name: string;
  user?: string | null | undefined;
  keep?:
    | {
        found: string;
        foundSha256: string | null;
        setAside: string | null;
      }
    | null
    | undefined;
}

/**
 * fleet.kept-exe-altered: the copy --keep-exe kept on a host no longer has the executable's
 * SHA-256. Whoever runs as the ssh user there (or as root) changed breachkit's own executable:
 * not run, set aside on the host, replaced with a fresh verified copy. From the hosts' records
 * (fleet's own, or case.json's when a report reads a case).
 */
export function keptAltered(hosts: readonly KeptCopyHost[], exeSha256: string): FleetFinding[] {
  return hosts.flatMap((h) =>
    h?.keep?.found === "altered"
      ? [
          {
            rule: "fleet.kept-exe-altered",
            severity: "high" as const,
            confidence: "high" as const,
            title: `the breachkit executable kept on ${h.name} (--keep-exe) was altered since it was stored: SHA-256 ${(h.keep.foundSha256 ?? "(none reported)").slice(0, 16)}…, not ${exeSha256.slice(0, 16)}…`,
            where: "host",
            containerId: null,
            evidence: [
              {
                ...(h.keep.foundSha256 ? { sha256: h.keep.foundSha256 } : {}),
                path: h.keep.setAside ?? `~/.cache/breachkit/exe/${exeSha256}`,
                facts: {
                  expectedSha256: exeSha256,
                  user: h.user ?? "(ssh's default)",
                  setAside: h.keep.setAside ?? "(not moved)",
                },
              },
            ],
            next: "Something that runs as the ssh user (or root) on this host wrote to breachkit's kept executable: it was not run, and a fresh copy was verified and used. Preserve the set-aside file (copy it off the host and hash it), then look for what wrote it (the user's logins and processes at that file's change time).",
            source: "fleet",
            falsePositive: null,
            host: h.name,
          },
        ]
      : [],
  );
}
