/**
 * One shape for every audit check's finding: the exact fix and what applying it costs go in
 * the first evidence's facts (facts.fix, facts.cost, facts.area, facts.cis), and `next` says
 * the fix in one line for the terminal.
 */
import type { AuditArea } from "../../model/audit-output.js";
import type { Evidence, Finding, Severity } from "../../model/finding.js";

export interface AuditCheck {
  /** Stable id, e.g. "audit.ssh.password-auth" (also the SARIF ruleId). */
  rule: string;
  area: AuditArea;
  severity: Severity;
  confidence?: Finding["confidence"];
  title: string;
  where: string;
  containerId: string | null;
  evidence: Evidence[];
  /** The exact change: config lines, daemon.json keys, docker run / compose lines. */
  fix: string;
  /** What applying it costs: "reload sshd", "restart dockerd (containers stop unless live-restore)". */
  cost: string;
  /** CIS Docker Benchmark 1.8.0 id, when one applies. */
  cis?: string;
  next?: string;
}

export function auditFinding(c: AuditCheck): Finding {
  const facts: Record<string, string> = { area: c.area, fix: c.fix, cost: c.cost };
  if (c.cis) facts.cis = c.cis;
  const [first, ...rest] = c.evidence;
  const evidence: Evidence[] = [
    { ...(first ?? {}), facts: { ...(first?.facts ?? {}), ...facts } },
    ...rest,
  ];
  return {
    rule: c.rule,
    severity: c.severity,
    confidence: c.confidence ?? "high",
    title: c.cis ? `${c.title} (CIS ${c.cis})` : c.title,
    where: c.where,
    containerId: c.containerId,
    evidence,
    next: c.next ?? `Fix: ${c.fix.split("\n")[0]} (cost: ${c.cost})`,
    source: "audit",
    falsePositive: null,
  };
}

/** The area a finding belongs to (facts.area of its first evidence). */
export function areaOf(f: Finding): AuditArea | null {
  const a = f.evidence[0]?.facts?.area;
  return (a as AuditArea | undefined) ?? null;
}
