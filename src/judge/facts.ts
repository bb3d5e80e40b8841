/**
 * Shared, pure lookups over a Snapshot for the rules: where a process lives, its
 * ancestors, the container it belongs to, and how to build a Finding with the common
 * fields filled in. Internal to the judge.
 */
import type { Evidence, Finding } from "../model/finding.js";
import type { Container, Process, Snapshot } from "../model/snapshot.js";
import { redactArgv } from "../util/redact.js";
import { type RuleLists, underDir, unknownHiddenComponent } from "./rule-lists.js";

export interface SnapIndex {
  byPid: ReadonlyMap<number, Process>;
  containerById: ReadonlyMap<string, Container>;
}

const indexCache = new WeakMap<Snapshot, SnapIndex>();

export function indexOf(snap: Snapshot): SnapIndex {
  let idx = indexCache.get(snap);
  if (!idx) {
    idx = {
      byPid: new Map(snap.processes.map((p) => [p.pid, p])),
      containerById: new Map(snap.containers.map((c) => [c.id, c])),
    };
    indexCache.set(snap, idx);
  }
  return idx;
}

/** The container's name, or a short id when the name is unknown. */
export function containerLabel(snap: Snapshot, containerId: string): string {
  return indexOf(snap).containerById.get(containerId)?.name ?? containerId.slice(0, 12);
}

/** "host" or the container's name: the `where` of a finding. */
export function whereOf(snap: Snapshot, p: Pick<Process, "containerId" | "containerName">): string {
  if (!p.containerId) return "host";
  return p.containerName ?? containerLabel(snap, p.containerId);
}

/** Parent, grandparent ... up to pid 1 (bounded: a corrupt ppid loop cannot hang us). */
export function ancestors(snap: Snapshot, p: Process): Process[] {
  const { byPid } = indexOf(snap);
  const out: Process[] = [];
  const seen = new Set<number>([p.pid]);
  let cur = byPid.get(p.ppid);
  while (cur && !seen.has(cur.pid) && out.length < 64) {
    out.push(cur);
    seen.add(cur.pid);
    cur = byPid.get(cur.ppid);
  }
  return out;
}

export function basename(path: string): string {
  const i = path.lastIndexOf("/");
  return i === -1 ? path : path.slice(i + 1);
}

/** Under one of the world-writable staging dirs where droppers put payloads (rules/staging-dirs.json). */
export function inTmpDir(lists: RuleLists, path: string): boolean {
  return underDir(lists.stagingDirs, path);
}

/**
 * The first hidden component of the path ("." prefixed, not . or ..), unless it is a
 * developer tool's dir (rules/dev-tool-dirs.json: VS Code server, nvm, cargo ...).
 */
export function hiddenComponent(lists: RuleLists, path: string): string | null {
  return unknownHiddenComponent(lists.devToolDirs, path);
}

export function processEvidence(p: Process, facts?: Record<string, string>): Evidence {
  const ev: Evidence = { pid: p.pid };
  if (p.exe.path) ev.path = p.exe.path;
  if (p.exe.sha256) ev.sha256 = p.exe.sha256;
  // Findings are quoted in reports and tickets: the same redaction as the bundle's files.
  const cmd = redactArgv(p.argv).join(" ");
  ev.text = cmd === "" ? `[${p.comm}]` : cmd.length > 1000 ? `${cmd.slice(0, 1000)}…` : cmd;
  const f: Record<string, string> = { comm: p.comm, user: p.user ?? String(p.uid), ...facts };
  if (p.exe.deleted) f.deleted = "yes";
  if (p.exe.upperLayer === true) f.layer = "writable (not in image)";
  ev.facts = f;
  return ev;
}

export interface FindingInput {
  rule: string;
  severity: Finding["severity"];
  confidence: Finding["confidence"];
  title: string;
  where: string;
  containerId: string | null;
  evidence: Evidence[];
  next: string;
  falsePositive?: string | null;
}

export function finding(f: FindingInput): Finding {
  return { ...f, source: "triage", falsePositive: f.falsePositive ?? null };
}

/** The next step for something live in a place: contain the container, or isolate the host. */
export function containAdvice(where: string): string {
  return where === "host"
    ? "Isolate the host (firewall it off or unplug its uplink) and collect evidence: `breachkit collect`."
    : `Contain it with \`breachkit contain ${where}\` (pauses it, keeps memory and evidence).`;
}

export function preserveAdvice(p: Process): string {
  return `Preserve /proc/${p.pid}/exe (copy it) before stopping anything: the file is gone from disk.`;
}

/** Days between an ISO time (or YYYY-MM-DD date) and now; NaN when unparsable. */
export function daysBefore(now: Date, when: string): number {
  const t = Date.parse(when.length === 10 ? `${when}T00:00:00Z` : when);
  return Number.isNaN(t) ? Number.NaN : (now.getTime() - t) / 86_400_000;
}

/** Whether an (ISO time or date) is within `days` before now (future times count too). */
export function isRecent(now: Date, when: string | null, days: number): boolean {
  if (!when) return false;
  const d = daysBefore(now, when);
  return !Number.isNaN(d) && d <= days;
}
