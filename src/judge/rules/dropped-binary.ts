/**
 * A container process whose executable is not part of the image: it lives only in the
 * container's writable layer (Falco's "drop and execute new binary in container").
 */
import type { Finding } from "../../model/finding.js";
import type { Snapshot } from "../../model/snapshot.js";
import type { RuleContext } from "../context.js";
import { basename, containAdvice, finding, hiddenComponent, inTmpDir } from "../facts.js";
import { groupByPlaceAndExe, groupEvidence, pidsText } from "./group.js";

export function droppedBinaryRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const dropped = snap.processes.filter((p) => p.exe.upperLayer === true && p.containerId);
  return groupByPlaceAndExe(snap, dropped).map((g) => {
    const p = g.procs[0]!;
    const path = p.exe.path ?? "?";
    // Images that install software at start (pip, apt in an entrypoint) do this too; a
    // binary that also deleted itself or sits in a temp/hidden dir does not.
    const aggravated =
      p.exe.deleted || inTmpDir(ctx.lists, path) || hiddenComponent(ctx.lists, path) !== null;
    return finding({
      rule: "process.dropped-binary",
      severity: aggravated ? "critical" : "high",
      confidence: aggravated ? "high" : "medium",
      title: `${basename(path)} is not part of ${g.where}'s image: dropped into its writable layer (${pidsText(g)})`,
      where: g.where,
      containerId: g.containerId,
      evidence: groupEvidence(g),
      next: `Preserve /proc/${p.pid}/exe and the container's writable layer (\`breachkit collect\`) before anything recreates it. ${containAdvice(g.where)}`,
    });
  });
}
