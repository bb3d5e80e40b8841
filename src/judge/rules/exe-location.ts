/** Executables run from world-writable scratch dirs or from hidden directories. */
import type { Finding } from "../../model/finding.js";
import type { Snapshot } from "../../model/snapshot.js";
import type { RuleContext } from "../context.js";
import { basename, containAdvice, finding, hiddenComponent, inTmpDir } from "../facts.js";
import { groupByPlaceAndExe, groupEvidence, pidsText } from "./group.js";

export function executableLocationRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const out: Finding[] = [];
  const live = snap.processes.filter((p) => p.exe.path && !p.exe.memfd && !p.kernelThread);
  const tmp = live.filter((p) => inTmpDir(ctx.lists, p.exe.path!));
  for (const g of groupByPlaceAndExe(snap, tmp)) {
    const path = g.procs[0]!.exe.path!;
    out.push(
      finding({
        rule: "process.exe-in-tmp",
        severity: "high",
        confidence: "medium",
        title: `${basename(path)} runs from temp dir ${path} (${pidsText(g)})`,
        where: g.where,
        containerId: g.containerId,
        evidence: groupEvidence(g),
        next: `Droppers stage payloads in /tmp, /var/tmp and /dev/shm: copy /proc/${g.procs[0]!.pid}/exe and check it. ${containAdvice(g.where)}`,
      }),
    );
  }
  const hidden = live.filter(
    (p) => !inTmpDir(ctx.lists, p.exe.path!) && hiddenComponent(ctx.lists, p.exe.path!),
  );
  for (const g of groupByPlaceAndExe(snap, hidden)) {
    const path = g.procs[0]!.exe.path!;
    out.push(
      finding({
        rule: "process.exe-in-hidden-dir",
        severity: "medium",
        confidence: "medium",
        title: `${basename(path)} runs from hidden directory ${hiddenComponent(ctx.lists, path)} (${path}, ${pidsText(g)})`,
        where: g.where,
        containerId: g.containerId,
        evidence: groupEvidence(g),
        next: `Check what put ${path} there (package? user tool?) and copy /proc/${g.procs[0]!.pid}/exe before it disappears.`,
      }),
    );
  }
  return out;
}
