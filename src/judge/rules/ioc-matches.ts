/** IOC matches against processes (hash, path, names, command line) and socket peers. */
import type { Finding } from "../../model/finding.js";
import type { Snapshot } from "../../model/snapshot.js";
import type { RuleContext } from "../context.js";
import { containAdvice, finding, processEvidence, whereOf } from "../facts.js";
import { describeIoc, matchAddress, matchProcess } from "../ioc/ioc-set.js";
import { socketPlace } from "./traffic.js";

export function iocMatchRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const iocs = ctx.iocs;
  if (!iocs?.entries.length) return [];
  const out: Finding[] = [];
  for (const p of snap.processes) {
    const matches = matchProcess(iocs, p);
    if (!matches.length) continue;
    const where = whereOf(snap, p);
    // A hash or an exact path is the file itself; a name or a pattern can collide.
    const exact = matches.some((m) => m.entry.kind === "sha256" || m.entry.kind === "path");
    out.push({
      ...finding({
        rule: "ioc.process",
        severity: "critical",
        confidence: exact ? "high" : "medium",
        title: `${p.comm} (pid ${p.pid}) matches IOC ${matches.map((m) => `${m.entry.kind}:${m.entry.value.length > 24 ? `${m.entry.value.slice(0, 24)}…` : m.entry.value}`).join(", ")}`,
        where,
        containerId: p.containerId,
        evidence: [
          processEvidence(p, {
            ioc: matches.map((m) => `${describeIoc(m.entry)} on ${m.field}`).join("; "),
          }),
        ],
        next: `Preserve /proc/${p.pid}/exe first. ${containAdvice(where)}`,
      }),
      source: "ioc",
    });
  }
  for (const s of snap.sockets) {
    const entry = matchAddress(iocs, s.remoteAddress);
    if (!entry || s.remotePort === 0) continue;
    const place = socketPlace(snap, s);
    out.push({
      ...finding({
        rule: "ioc.address",
        severity: "high",
        confidence: "high",
        title: `connection to IOC address ${s.remoteAddress}:${s.remotePort} (${s.state})`,
        where: place.where,
        containerId: place.containerId,
        evidence: [
          {
            ...(s.pids[0] !== undefined ? { pid: s.pids[0] } : {}),
            text: `${s.proto} ${s.localAddress}:${s.localPort} -> ${s.remoteAddress}:${s.remotePort} ${s.state}`,
            facts: { ioc: describeIoc(entry), pids: s.pids.join(",") || "unknown" },
          },
        ],
        next: `Find the process holding it (pids ${s.pids.join(", ") || "unknown"}). ${containAdvice(place.where)}`,
      }),
      source: "ioc",
    });
  }
  return out;
}
