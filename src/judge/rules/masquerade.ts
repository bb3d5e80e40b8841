/** Processes that hide behind another name: a kernel thread's, or another program's. */
import type { Finding } from "../../model/finding.js";
import type { Snapshot } from "../../model/snapshot.js";
import type { RuleContext } from "../context.js";
import { containAdvice, finding } from "../facts.js";
import { groupByPlaceAndExe, groupEvidence, pidsText } from "./group.js";
import { inSystemDir, kernelThreadMasquerade, nameMismatch } from "./process-traits.js";

export function kernelThreadMasqueradeRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const masked = snap.processes.filter((p) => kernelThreadMasquerade(p, ctx.lists));
  return groupByPlaceAndExe(snap, masked).map((g) => {
    const p = g.procs[0]!;
    // The name it hides behind: a bracketed argv[0], else comm (argv[0] is then often its path).
    const posedAs = kernelThreadMasquerade(p, ctx.lists)?.startsWith("argv[0]")
      ? (p.argv[0] ?? p.comm)
      : p.comm;
    return finding({
      rule: "process.kthread-masquerade",
      severity: "high",
      confidence: "high",
      title: `${p.exe.path ?? "a user-space process"} poses as kernel thread ${posedAs} (${pidsText(g)})`,
      where: g.where,
      containerId: g.containerId,
      evidence: groupEvidence(g, (q) => ({ why: kernelThreadMasquerade(q, ctx.lists) ?? "" })),
      next: `Kernel threads have no executable; this one runs ${p.exe.path ?? "a file"}. Copy /proc/${p.pid}/exe. ${containAdvice(g.where)}`,
    });
  });
}

export function nameMismatchRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const out: Finding[] = [];
  const odd = snap.processes.filter((p) => nameMismatch(p, ctx.lists));
  for (const g of groupByPlaceAndExe(snap, odd)) {
    const p = g.procs[0]!;
    const m = nameMismatch(p, ctx.lists)!;
    const fromSystem = inSystemDir(p.exe.path!);
    out.push(
      finding({
        rule: "process.name-mismatch",
        severity: m.impersonates && !fromSystem ? "high" : "medium",
        confidence: m.impersonates ? "medium" : "low",
        title: `process named "${p.comm}" runs ${p.exe.path} (${pidsText(g)})`,
        where: g.where,
        containerId: g.containerId,
        evidence: groupEvidence(g, () => ({ executable: m.exeName })),
        next: m.impersonates
          ? `"${p.comm}" is a well-known daemon's name, but the executable is ${m.exeName}: copy /proc/${p.pid}/exe and compare its hash with the real ${p.comm}.`
          : `Check why ${m.exeName} calls itself "${p.comm}" (a symlink or a process title is harmless; a renamed tool is not).`,
      }),
    );
  }
  return out;
}
