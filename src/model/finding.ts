/**
 * Findings: what judge rules and scanner adapters return. One shape for triage,
 * scan and contain, so that reports and exit codes treat them alike.
 */
import { z } from "../util/zod.js";

export const SEVERITIES = ["info", "low", "medium", "high", "critical"] as const;
export const SeveritySchema = z.enum(SEVERITIES);
export type Severity = z.infer<typeof SeveritySchema>;

export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

/** One fact that supports a finding. Every field is optional: use the ones that apply. */
export const EvidenceSchema = z.object({
  pid: z.number().int().optional(),
  path: z.string().optional(),
  sha256: z.string().optional(),
  /** A file in the bundle or on the host, with a 1-based line number, for log hits. */
  file: z.string().optional(),
  line: z.number().int().optional(),
  /** A log line, command line or scanner output line (attacker-controlled: neutralise when shown). */
  text: z.string().optional(),
  /** Free label/value facts: "rate" -> "125000 pkt/s", "user" -> "git". */
  facts: z.record(z.string(), z.string()).optional(),
});
export type Evidence = z.infer<typeof EvidenceSchema>;

export const FindingSchema = z.object({
  /** Stable rule id, e.g. "process.deleted-exe", "clamav.hit", "rkhunter.warning". */
  rule: z.string(),
  severity: SeveritySchema,
  /** high: a direct observation of compromise; medium: strong hint; low: worth a look. */
  confidence: z.enum(["low", "medium", "high"]),
  title: z.string(),
  /** "host" or the container's name. */
  where: z.string(),
  containerId: z.string().nullable(),
  evidence: z.array(EvidenceSchema),
  /** What to do next, one or two sentences. */
  next: z.string(),
  /** triage, clamav, rkhunter, chkrootkit, lynis, ioc ... */
  source: z.string(),
  /** Set when the finding matches a known false positive: marked, never hidden. */
  falsePositive: z.string().nullable(),
});
export type Finding = z.infer<typeof FindingSchema>;

export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      a.where.localeCompare(b.where) ||
      a.rule.localeCompare(b.rule) ||
      a.title.localeCompare(b.title),
  );
}
