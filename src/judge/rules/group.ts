/**
 * Many processes of one binary (a forking trojan, worker pools) make one finding, not
 * hundreds: group by place and executable, cite each pid up to a bound.
 */
import type { Evidence } from "../../model/finding.js";
import type { Process, Snapshot } from "../../model/snapshot.js";
import { processEvidence, whereOf } from "../facts.js";

export const MAX_PID_EVIDENCE = 20;

export interface ProcessGroup {
  where: string;
  containerId: string | null;
  procs: Process[];
}

export function groupByPlaceAndExe(snap: Snapshot, procs: readonly Process[]): ProcessGroup[] {
  const groups = new Map<string, ProcessGroup>();
  for (const p of procs) {
    const where = whereOf(snap, p);
    const key = `${where}\0${p.exe.sha256 ?? p.exe.path ?? `pid:${p.pid}`}`;
    let g = groups.get(key);
    if (!g) {
      g = { where, containerId: p.containerId, procs: [] };
      groups.set(key, g);
    }
    g.procs.push(p);
  }
  return [...groups.values()];
}

/** Evidence for a group's processes; the last entry counts those left out. */
export function groupEvidence(
  g: ProcessGroup,
  facts?: (p: Process) => Record<string, string>,
): Evidence[] {
  const ev = g.procs.slice(0, MAX_PID_EVIDENCE).map((p) => processEvidence(p, facts?.(p)));
  if (g.procs.length > MAX_PID_EVIDENCE) {
    ev.push({
      facts: { more: `${g.procs.length - MAX_PID_EVIDENCE} more processes of the same executable` },
    });
  }
  return ev;
}

/** "pid 4242" or "4 processes (pids 1, 2, 3 …)". */
export function pidsText(g: ProcessGroup): string {
  if (g.procs.length === 1) return `pid ${g.procs[0]!.pid}`;
  const shown = g.procs
    .slice(0, 5)
    .map((p) => p.pid)
    .join(", ");
  return `${g.procs.length} processes (pids ${shown}${g.procs.length > 5 ? " …" : ""})`;
}
