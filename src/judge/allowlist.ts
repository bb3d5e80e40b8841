/**
 * The admin's allowlist: known-good processes (by hash, path or parent) with a reason.
 * Matching findings are kept, marked `falsePositive` and lowered to info: the report
 * still shows them, the exit code no longer depends on them.
 */
import type { Finding } from "../model/finding.js";
import type { Process, Snapshot } from "../model/snapshot.js";
import type { AllowEntry, Allowlist } from "./context.js";
import { ancestors, basename, indexOf } from "./facts.js";

function ruleApplies(entry: AllowEntry, rule: string): boolean {
  if (!entry.rule) return true;
  return entry.rule.endsWith(".") ? rule.startsWith(entry.rule) : rule === entry.rule;
}

export function allowEntryFor(
  snap: Snapshot,
  p: Process,
  entries: readonly AllowEntry[],
  rule: string,
): AllowEntry | null {
  for (const e of entries) {
    if (!ruleApplies(e, rule)) continue;
    if (e.sha256 && p.exe.sha256 === e.sha256.toLowerCase()) return e;
    if (e.path && p.exe.path === e.path) return e;
    if (e.parent && ancestors(snap, p).some((a) => a.exe.path && basename(a.exe.path) === e.parent))
      return e;
  }
  return null;
}

/** Mark findings whose every cited process is allowlisted. Findings citing no process are left alone. */
export function applyAllowlist(
  snap: Snapshot,
  findings: readonly Finding[],
  allow: Allowlist | undefined,
): Finding[] {
  if (!allow?.entries.length) return [...findings];
  const { byPid } = indexOf(snap);
  return findings.map((f) => {
    if (f.falsePositive) return f;
    const procs = f.evidence.flatMap((e) =>
      e.pid !== undefined && byPid.has(e.pid) ? [byPid.get(e.pid)!] : [],
    );
    if (!procs.length) return f;
    const reasons = procs.map((p) => allowEntryFor(snap, p, allow.entries, f.rule));
    if (reasons.some((r) => r === null)) return f;
    return { ...f, severity: "info", falsePositive: `allowlisted: ${reasons[0]!.reason}` };
  });
}
