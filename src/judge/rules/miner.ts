/**
 * Miners: a miner's name or pool arguments, or very high CPU together with another
 * suspicious trait. High CPU alone is a busy server, not a finding.
 */
import type { Finding } from "../../model/finding.js";
import type { Snapshot } from "../../model/snapshot.js";
import { type RuleContext, thresholdsOf } from "../context.js";
import { containAdvice, finding, processEvidence, whereOf } from "../facts.js";
import { minerSign, suspiciousProcesses } from "./process-traits.js";

export function minerRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const t = thresholdsOf(ctx);
  const suspicious = suspiciousProcesses(snap, ctx);
  const out: Finding[] = [];
  for (const p of snap.processes) {
    const sign = minerSign(p, ctx.lists);
    const hot = p.cpuPercent >= t.cpuPercent;
    const others = (suspicious.get(p.pid) ?? []).filter((r) => !r.startsWith("miner"));
    if (!sign && !(hot && others.length)) continue;
    const where = whereOf(snap, p);
    const why = [
      sign ? `miner sign: ${sign}` : null,
      hot ? `${p.cpuPercent.toFixed(0)}% CPU` : null,
      ...others,
    ]
      .filter((x): x is string => x !== null)
      .join("; ");
    out.push(
      finding({
        rule: "process.miner",
        severity: sign && (hot || others.length) ? "critical" : "high",
        confidence: sign ? "high" : "medium",
        title: `likely cryptominer: ${p.comm} (pid ${p.pid}): ${why}`,
        where,
        containerId: p.containerId,
        evidence: [processEvidence(p, { cpu: `${p.cpuPercent.toFixed(1)}%`, why })],
        next: `Copy /proc/${p.pid}/exe and note its pool connections (sockets of pid ${p.pid}). ${containAdvice(where)}`,
      }),
    );
  }
  return out;
}
