/** Every audit check together, the findings ranked, and a score per area and overall. */
import {
  AUDIT_AREAS,
  type AuditArea,
  type ContainerObservation,
  type DaemonObservation,
  type PreventionObservation,
  type SshObservation,
} from "../../model/audit-output.js";
import { type Finding, type Severity, severityRank } from "../../model/finding.js";
import { type Advisory, imageFindings } from "./advisories.js";
import { areaOf } from "./common.js";
import { containerFindings, daemonFindings } from "./docker.js";
import { preventionFindings } from "./prevention.js";
import { sshFindings } from "./ssh.js";

export interface AuditObservations {
  ssh: SshObservation[];
  daemon: DaemonObservation | null;
  containers: ContainerObservation[];
  prevention: PreventionObservation | null;
  live: boolean;
  now: Date;
  advisories: readonly Advisory[];
  /** Findings from Lynis (--lynis), already in the model. */
  lynis: Finding[] | null;
}

/** Points one finding takes off its area's 100. */
const WEIGHT: Record<Severity, number> = { critical: 40, high: 20, medium: 8, low: 2, info: 0 };

export interface AreaScore {
  area: AuditArea;
  score: number | null;
  checked: boolean;
  counts: Record<Severity, number>;
}

export function scoreAreas(
  findings: readonly Finding[],
  checked: ReadonlySet<AuditArea>,
  containerCount = 0,
): { areas: AreaScore[]; overall: number } {
  const areas: AreaScore[] = AUDIT_AREAS.map((area) => {
    const mine = findings.filter(
      (f) => (areaOf(f) ?? (f.source === "lynis" ? "lynis" : null)) === area,
    );
    const counts = { info: 0, low: 0, medium: 0, high: 0, critical: 0 } as Record<Severity, number>;
    for (const f of mine) counts[f.severity]++;
    const isChecked = checked.has(area);
    const scoreOf = (list: readonly Finding[]) =>
      Math.max(0, 100 - list.reduce((n, f) => n + WEIGHT[f.severity], 0));
    let score = scoreOf(mine);
    if (area === "containers" || area === "images") {
      // Per container, then the mean: ten containers with one missing limit each are not ten
      // times worse than one; containers without findings count as 100.
      const byPlace = new Map<string, Finding[]>();
      for (const f of mine) byPlace.set(f.where, [...(byPlace.get(f.where) ?? []), f]);
      const places = Math.max(byPlace.size, containerCount);
      const sum = [...byPlace.values()].reduce((n, list) => n + scoreOf(list), 0);
      score = places === 0 ? 100 : Math.round((sum + 100 * (places - byPlace.size)) / places);
    }
    return { area, score: isChecked ? score : null, checked: isChecked, counts };
  });
  const scored = areas.filter((a) => a.score !== null).map((a) => a.score!);
  let overall = scored.length ? Math.round(scored.reduce((a, b) => a + b, 0) / scored.length) : 0;
  // One critical finding caps the whole: an average must not hide it.
  if (findings.some((f) => f.severity === "critical" && !f.falsePositive))
    overall = Math.min(overall, 40);
  return { areas, overall };
}

/** Severity first, then area in the order of the playbook, then place and rule. */
export function rankAudit(findings: readonly Finding[]): Finding[] {
  const order = (f: Finding) => AUDIT_AREAS.indexOf((areaOf(f) ?? "lynis") as AuditArea);
  return [...findings].sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      order(a) - order(b) ||
      a.where.localeCompare(b.where) ||
      a.rule.localeCompare(b.rule) ||
      a.title.localeCompare(b.title),
  );
}

export function judgeAudit(o: AuditObservations): {
  findings: Finding[];
  areas: AreaScore[];
  overall: number;
} {
  const findings: Finding[] = [];
  const checked = new Set<AuditArea>();
  for (const s of o.ssh) {
    if (s.configFiles.length > 0 || s.keys.length > 0 || s.fatal) checked.add("ssh");
    findings.push(...sshFindings(s));
  }
  if (o.daemon) {
    if (o.daemon.engineAvailable || o.daemon.daemonJson.exists || o.daemon.cmdline)
      checked.add("daemon");
    findings.push(...daemonFindings(o.daemon));
  }
  const daemonNnp =
    o.daemon?.daemonJson.parsed?.["no-new-privileges"] === true ||
    (o.daemon?.cmdline?.args.some(
      (a) => a === "--no-new-privileges" || a === "--no-new-privileges=true",
    ) ??
      false);
  if (o.containers.length > 0 || o.daemon?.engineAvailable) {
    checked.add("containers");
    checked.add("images");
  }
  for (const c of o.containers) {
    findings.push(...containerFindings(c, daemonNnp));
    findings.push(...imageFindings(c, o.advisories, o.now));
  }
  if (o.prevention) {
    checked.add("prevention");
    findings.push(...preventionFindings(o.prevention, o.containers, o.now, o.live));
  }
  if (o.lynis) {
    checked.add("lynis");
    findings.push(...o.lynis);
  }
  const ranked = rankAudit(findings);
  const { areas, overall } = scoreAreas(ranked, checked, o.containers.length);
  return { findings: ranked, areas, overall };
}
