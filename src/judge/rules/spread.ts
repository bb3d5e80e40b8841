/**
 * Spread: the same suspicious executable (by SHA-256), or processes matching the same
 * IOC, in more than one place (the host outside all containers, or several containers).
 * The breach did not stay where it started. Common binaries shared legitimately (the same
 * /usr/bin/node in three replicas) never start a group: one instance must be suspicious
 * by its executable (deleted, temp dir, not in the image ...) or match an IOC.
 */
import type { Finding } from "../../model/finding.js";
import type { Process, Snapshot } from "../../model/snapshot.js";
import type { RuleContext } from "../context.js";
import { basename, finding, processEvidence, whereOf } from "../facts.js";
import { describeIoc, matchProcess } from "../ioc/ioc-set.js";
import { MAX_PID_EVIDENCE } from "./group.js";
import { type Traits, traitsOf } from "./process-traits.js";

/** Suspicious because of the executable itself (not only its name). */
function exeSuspicious(t: Traits): boolean {
  return (
    t.deleted === "dropped" ||
    t.deleted === "memfd" ||
    t.tmp ||
    t.hidden !== null ||
    t.dropped ||
    t.miner !== null
  );
}

/** Directories the package manager owns (not /usr/local or /opt, where anyone installs). */
const PACKAGED = /^\/(usr\/)?(s?bin|lib|lib64|libexec)\//;

/** A package-managed binary that is the same on many systems (bash, node): never spread by itself. */
function ordinary(p: Process): boolean {
  return (
    p.exe.path !== null && PACKAGED.test(p.exe.path) && !p.exe.deleted && p.exe.upperLayer !== true
  );
}

function describePlaces(
  snap: Snapshot,
  procs: readonly Process[],
): { places: string[]; text: string } {
  const byPlace = new Map<string, number[]>();
  for (const p of procs) {
    const w = whereOf(snap, p);
    byPlace.set(w, [...(byPlace.get(w) ?? []), p.pid]);
  }
  const places = [...byPlace.keys()].sort((a, b) =>
    a === "host" ? -1 : b === "host" ? 1 : a.localeCompare(b),
  );
  const text = places
    .map((w) => {
      const pids = byPlace.get(w)!;
      const where = w === "host" ? "on the host" : `in ${w}`;
      return `${where} (pid${pids.length > 1 ? "s" : ""} ${pids.slice(0, 5).join(", ")}${pids.length > 5 ? " …" : ""})`;
    })
    .join(" and ");
  return { places, text };
}

function spreadFinding(
  snap: Snapshot,
  procs: Process[],
  label: string,
  why: string,
  confidence: Finding["confidence"],
): Finding | null {
  const { places, text } = describePlaces(snap, procs);
  if (places.length < 2) return null;
  const onHost = places[0] === "host";
  const containers = places.filter((p) => p !== "host");
  const steps = containers.map((c) => `\`breachkit contain ${c}\``);
  if (onHost)
    steps.push(
      "isolate the host itself (firewall or unplug): containing the containers is not enough",
    );
  return finding({
    rule: "spread.same-executable",
    severity: "critical",
    confidence,
    title: `breach not contained: ${label} runs ${text}`,
    where: onHost ? "host" : containers[0]!,
    containerId: null,
    evidence: procs
      .slice(0, MAX_PID_EVIDENCE)
      .map((p) => processEvidence(p, { where: whereOf(snap, p), why })),
    next: `Treat every place as compromised: ${steps.join("; ")}. Preserve /proc/<pid>/exe of each pid first.`,
  });
}

export function spreadRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const out: Finding[] = [];
  const seen = new Set<string>();
  const traits = new Map(snap.processes.map((p) => [p.pid, traitsOf(snap, p, ctx)]));

  const bySha = new Map<string, Process[]>();
  for (const p of snap.processes) {
    if (!p.exe.sha256) continue;
    bySha.set(p.exe.sha256, [...(bySha.get(p.exe.sha256) ?? []), p]);
  }
  for (const [sha, procs] of bySha) {
    const seeds = procs.filter((p) => {
      const t = traits.get(p.pid)!;
      return exeSuspicious(t) || t.iocs.length > 0;
    });
    if (!seeds.length) continue;
    const counted = procs.filter((p) => seeds.includes(p) || !ordinary(p));
    const f = spreadFinding(
      snap,
      counted,
      basename(seeds[0]!.exe.path ?? seeds[0]!.comm),
      `same executable sha256 ${sha.slice(0, 16)}…`,
      "high",
    );
    if (f) {
      out.push(f);
      seen.add(
        counted
          .map((p) => p.pid)
          .sort()
          .join(","),
      );
    }
  }

  if (ctx.iocs) {
    const byIoc = new Map<string, Process[]>();
    for (const p of snap.processes) {
      for (const m of matchProcess(ctx.iocs, p)) {
        const key = describeIoc(m.entry);
        byIoc.set(key, [...(byIoc.get(key) ?? []), p]);
      }
    }
    for (const [ioc, procs] of byIoc) {
      const key = procs
        .map((p) => p.pid)
        .sort()
        .join(",");
      if (seen.has(key)) continue;
      seen.add(key);
      const f = spreadFinding(snap, procs, `a match of IOC ${ioc}`, `IOC ${ioc}`, "medium");
      if (f) out.push(f);
    }
  }
  return out;
}
