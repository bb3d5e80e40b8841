/**
 * A running process whose executable is gone from disk (`/proc/<pid>/exe` ends in
 * " (deleted)") or was never on disk (a memfd: fileless execution). The bytes are still
 * readable through /proc/<pid>/exe until the process ends: that is the evidence.
 */
import type { Finding } from "../../model/finding.js";
import type { Snapshot } from "../../model/snapshot.js";
import type { RuleContext } from "../context.js";
import { basename, containAdvice, finding, inTmpDir } from "../facts.js";
import { groupByPlaceAndExe, groupEvidence, pidsText } from "./group.js";
import { deletedKind, runtimeAncestor } from "./process-traits.js";

export function deletedExecutableRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const out: Finding[] = [];
  const dropped = snap.processes.filter((p) => deletedKind(snap, p, ctx.lists) === "dropped");
  for (const g of groupByPlaceAndExe(snap, dropped)) {
    const p = g.procs[0]!;
    const path = p.exe.path ?? "?";
    const strong = g.containerId !== null || inTmpDir(ctx.lists, path) || p.exe.upperLayer === true;
    out.push(
      finding({
        rule: "process.deleted-exe",
        severity: strong ? "critical" : "high",
        confidence: "high",
        title: `${basename(path)} runs from a deleted file ${path} (${pidsText(g)})`,
        where: g.where,
        containerId: g.containerId,
        evidence: groupEvidence(g),
        next: `Preserve /proc/${p.pid}/exe (copy it, with its hash) before stopping anything: the file is gone from disk. ${containAdvice(g.where)}`,
      }),
    );
  }
  const upgraded = snap.processes.filter((p) => deletedKind(snap, p, ctx.lists) === "upgraded");
  for (const g of groupByPlaceAndExe(snap, upgraded)) {
    const path = g.procs[0]!.exe.path ?? "?";
    out.push(
      finding({
        rule: "process.deleted-exe",
        severity: "low",
        confidence: "low",
        title: `${basename(path)} runs from a replaced package file ${path} (${pidsText(g)})`,
        where: g.where,
        containerId: g.containerId,
        evidence: groupEvidence(g),
        next: "Usually a package upgrade while it ran: compare the package's file hash with /proc/<pid>/exe, then restart the service.",
      }),
    );
  }
  return out;
}

export function memfdExecutionRule(snap: Snapshot, _ctx: RuleContext): Finding[] {
  const out: Finding[] = [];
  const memfd = snap.processes.filter((p) => p.exe.memfd);
  for (const g of groupByPlaceAndExe(snap, memfd)) {
    const p = g.procs[0]!;
    const runtime = runtimeAncestor(snap, p);
    const name = p.exe.path ?? "/memfd:?";
    if (runtime) {
      out.push(
        finding({
          rule: "process.memfd-exe",
          severity: "low",
          confidence: "low",
          title: `${p.comm} runs from a memfd (${name}), started by container runtime ${runtime.comm}`,
          where: g.where,
          containerId: g.containerId,
          evidence: groupEvidence(g, () => ({
            runtime: `${runtime.comm} (pid ${runtime.pid}, ${runtime.exe.path})`,
          })),
          next: "Expected: container runtimes (runc) run from a sealed memfd. Nothing to do unless the runtime's own binary is in doubt.",
          falsePositive: `container runtime: parent chain reaches ${runtime.exe.path}`,
        }),
      );
      continue;
    }
    out.push(
      finding({
        rule: "process.memfd-exe",
        severity: "high",
        confidence: "medium",
        title: `${p.comm} runs from a memfd, not from a file (${name}, ${pidsText(g)})`,
        where: g.where,
        containerId: g.containerId,
        evidence: groupEvidence(g, (q) => ({ ppid: String(q.ppid) })),
        next: `Fileless execution: copy /proc/${p.pid}/exe and check its hash and parent (pid ${p.ppid}). If it is known good, allowlist it by hash or parent with a reason.`,
      }),
    );
  }
  return out;
}
