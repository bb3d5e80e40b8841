/**
 * Build the incident from its bundles and watch recordings: the verdict (compromised vs at
 * risk per place), the summary (entry point, what ran, where, spread, containment), the
 * findings, the containment proof, traffic, accounts and logins, audit, the timeline and the
 * integrity of every bundle. Pure: data in, model out; nothing here reads the host or a disk.
 */
import { type Finding, type Severity, severityRank } from "../../model/finding.js";
import type {
  BundleSummary,
  ContainmentSummary,
  FleetSection,
  Incident,
  ReportFinding,
  TrafficPoint,
} from "../../model/report-model.js";
import { keptAltered, sameExecutableRule } from "../fleet/merge.js";
import { isCompromiseSign, isMisconfiguration, verdictOf } from "../verdict.js";
import type { BundleInput, ContainReport, FleetCaseInput, WatchInput } from "./input.js";
import { isoOrNull } from "./log-time.js";
import { buildTimeline } from "./timeline.js";

/** A place sending this many packets a second or more is counted as attack traffic. */
export const ATTACK_PACKETS_PER_SEC = 1000;

/** Hunting rules whose hit is how an attacker got in (an exploit request, a web shell). */
const ENTRY_RULE =
  /^hunt\.(gitlab-exiftool|gitlab-uploads|webshell|download-and-run|reverse-shell|wordpress)/;

export interface BuildOptions {
  generatedAt: Date;
  tool: { name: string; version: string };
  /** A fleet case: its hosts (their bundles carry fleetHost). */
  fleet?: FleetCaseInput;
}

/** A fleet host's places are told apart: "NAME / host", "NAME / web" (splitFleetPlace). */
function placeOf(b: BundleInput | undefined, where: string): string {
  return b?.fleetHost !== undefined ? `${b.fleetHost} / ${where}` : where;
}

function kindOf(command: string | undefined): string {
  const first = (command ?? "").trim().split(/\s+/)[0] ?? "";
  return /^[a-z][a-z-]*$/.test(first) ? first : "unknown";
}

function summaryOf(b: BundleInput): BundleSummary {
  const m = b.manifest;
  return {
    name: b.name,
    path: b.path,
    kind: kindOf(m?.command),
    command: m?.command ?? "",
    host: m?.host ?? b.snapshot?.host.hostname ?? "",
    startedAt: m?.startedAt ?? "",
    endedAt: m?.endedAt ?? "",
    complete: m?.complete ?? false,
    incompleteReason: m?.incompleteReason ?? null,
    seal: b.verification.seal,
    manifestSha256: b.verification.manifestSha256,
    verified: b.verification.verified,
    problem: b.verification.problem,
    files: b.verification.files,
    bytes: b.verification.bytes,
  };
}

const findingKey = (f: Finding, b: BundleInput) =>
  `${b.fleetHost ?? ""}\0${f.rule}\0${f.where}\0${f.title}`;

/** Findings of every bundle, one of each (a verified bundle's copy first). */
function mergeFindings(
  bundles: readonly BundleInput[],
  kind: "incident" | "audit",
): ReportFinding[] {
  const ordered = [...bundles].sort(
    (a, b) => Number(b.verification.verified) - Number(a.verification.verified),
  );
  const out = new Map<string, ReportFinding>();
  for (const b of ordered) {
    for (const file of b.findings) {
      if (file.kind !== kind) continue;
      for (const f of file.findings) {
        const k = findingKey(f, b);
        if (!out.has(k)) out.set(k, { ...f, bundle: b.name });
      }
    }
  }
  return [...out.values()].sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      (a.where < b.where ? -1 : a.where > b.where ? 1 : 0) ||
      (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0),
  );
}

type Responsible = Incident["summary"]["responsible"][number];

function responsibleOf(
  bundles: readonly BundleInput[],
  findings: readonly ReportFinding[],
): Responsible[] {
  const out = new Map<string, Responsible>();
  for (const f of findings) {
    if (!isCompromiseSign(f)) continue;
    for (const e of f.evidence) {
      if (e.pid === undefined) continue;
      const b = bundles.find((x) => x.name === f.bundle);
      const p = b?.snapshot?.processes.find((x) => x.pid === e.pid);
      const sha = p?.exe.sha256 ?? e.sha256 ?? null;
      const k = `${f.where}\0${e.pid}`;
      if (out.has(k)) continue;
      out.set(k, {
        place: f.where,
        pid: e.pid,
        name: p?.comm ?? e.path?.split("/").pop() ?? "",
        path: p?.exe.path ? `${p.exe.path}${p.exe.deleted ? " (deleted)" : ""}` : (e.path ?? null),
        sha256: sha,
        startTime: p?.startTime ?? null,
      });
    }
  }
  return [...out.values()];
}

function matched(m: ContainReport["before"]["matches"][number]): Responsible {
  return {
    place: m.where,
    pid: m.pid,
    name: m.comm,
    path: m.exePath ? `${m.exePath}${m.deleted ? " (deleted)" : ""}` : null,
    sha256: m.sha256,
    startTime: m.startTime,
  };
}

function containmentOf(b: BundleInput): ContainmentSummary | null {
  const c = b.containment;
  if (!c) return null;
  return {
    bundle: b.name,
    target: c.target.name,
    mode: c.mode,
    verdict: c.verdict,
    contained: c.contained,
    startedAt: c.startedAt,
    endedAt: c.endedAt,
    reasons: c.reasons,
    problems: c.problems,
    actions: c.actions.map((a) => ({
      kind: a.kind,
      description: a.description,
      command: a.command,
      startedAt: a.startedAt,
      ok: a.ok,
      undo: a.undo,
    })),
    before: c.before.matches.map(matched),
    after: c.after.matches.map(matched),
    stillRunning: c.stillRunning.map(matched),
    trafficBefore: c.traffic.before.txPacketsPerSec,
    trafficAfter: c.traffic.after.txPacketsPerSec,
    stateAfter: c.target.stateAfter,
  };
}

function trafficPoints(
  bundles: readonly BundleInput[],
  watches: readonly WatchInput[],
): TrafficPoint[] {
  const out: TrafficPoint[] = [];
  const seen = new Set<string>();
  const push = (p: TrafficPoint) => {
    const t = isoOrNull(p.time);
    if (!t || !Number.isFinite(p.txPacketsPerSec)) return;
    const k = `${t}\0${p.place}`;
    if (seen.has(k)) return;
    seen.add(k);
    out.push({ ...p, time: t });
  };
  for (const b of bundles) {
    const s = b.snapshot;
    if (s) {
      const origin = kindOf(b.manifest?.command);
      for (const c of s.containers) {
        if (c.traffic)
          push({
            time: s.takenAt,
            place: placeOf(b, c.name),
            txPacketsPerSec: c.traffic.txPacketsPerSec,
            rxPacketsPerSec: c.traffic.rxPacketsPerSec,
            origin,
          });
      }
      const host = s.netns.find((n) => n.host);
      if (host && host.rates.length > 0) {
        push({
          time: s.takenAt,
          place: placeOf(b, "host"),
          txPacketsPerSec: host.rates.reduce((a, r) => a + r.txPacketsPerSec, 0),
          rxPacketsPerSec: host.rates.reduce((a, r) => a + r.rxPacketsPerSec, 0),
          origin,
        });
      }
    }
    const c = b.containment;
    if (c) {
      for (const [when, t, at] of [
        ["contain-before", c.traffic.before, c.before.takenAt],
        ["contain-after", c.traffic.after, c.after.takenAt],
      ] as const) {
        if (t.txPacketsPerSec !== null)
          push({
            time: at,
            place: c.target.name,
            txPacketsPerSec: t.txPacketsPerSec,
            rxPacketsPerSec: t.rxPacketsPerSec ?? 0,
            origin: when,
          });
      }
    }
  }
  for (const w of watches) {
    for (const s of w.samples) {
      for (const r of s.rows) {
        push({
          time: s.time,
          place: r.place,
          txPacketsPerSec: r.txPacketsPerSec,
          rxPacketsPerSec: r.rxPacketsPerSec,
          origin: "watch",
        });
      }
    }
  }
  return out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
}

export function buildIncident(
  bundles: readonly BundleInput[],
  watches: readonly WatchInput[],
  opts: BuildOptions,
): Incident {
  const summaries = bundles.map(summaryOf);
  // The timeline is built from the findings as the bundles hold them (its places are the
  // snapshots'); everything else sees a fleet host's places qualified with its name.
  const rawFindings = mergeFindings(bundles, "incident");
  const byName = new Map(bundles.map((b) => [b.name, b]));
  const qualify = (f: ReportFinding): ReportFinding => ({
    ...f,
    where: placeOf(byName.get(f.bundle), f.where),
  });
  const fleetRule = opts.fleet ? fleetFindings(bundles, opts.fleet) : [];
  const findings = sortReportFindings([...rawFindings.map(qualify), ...fleetRule]);
  const audit = mergeFindings(bundles, "audit").map(qualify);
  // The fleet rule's findings are about the fleet, not a place: the verdict and what ran are
  // told from the hosts' own; the rule tells the spread.
  const placeFindings = findings.filter((f) => f.bundle !== "fleet");
  const v = verdictOf(placeFindings, "high");
  const byPlace = new Map<string, ReportFinding[]>();
  for (const f of findings) {
    const l = byPlace.get(f.where) ?? [];
    l.push(f);
    byPlace.set(f.where, l);
  }
  const places = v.places.map((p) => ({
    where: p.where,
    containerId: p.containerId,
    state: p.state,
    worst: p.worst,
    because: [
      ...new Set(
        (byPlace.get(p.where) ?? [])
          .filter((f) =>
            p.state === "compromised"
              ? isCompromiseSign(f)
              : p.state === "at-risk"
                ? isMisconfiguration(f) && severityRank(f.severity) >= severityRank("high")
                : severityRank(f.severity) >= severityRank("medium") && !f.falsePositive,
          )
          .map((f) => f.rule),
      ),
    ].slice(0, 6),
  }));

  // Entry point: the earliest hit of a rule that names how the attacker got in.
  const entries = findings
    .filter(
      (f) =>
        ENTRY_RULE.test(f.rule) &&
        !f.falsePositive &&
        severityRank(f.severity) >= severityRank("medium"),
    )
    .flatMap((f) =>
      f.evidence
        .filter((e) => e.text !== undefined)
        .map((e) => ({ f, e, time: isoOrNull(e.facts?.time ?? null) })),
    )
    .sort(
      (a, b) =>
        severityRank(b.f.severity) - severityRank(a.f.severity) ||
        (a.time ?? "~").localeCompare(b.time ?? "~"),
    );
  const entry = entries[0];
  const responsible = responsibleOf(bundles, placeFindings);
  const compromised = places.filter((p) => p.state === "compromised").map((p) => p.where);
  const spreadF = findings.find(
    (f) => (f.rule === "spread.same-executable" || f.rule === "fleet.same-exe") && !f.falsePositive,
  );
  const containment = bundles.map(containmentOf).filter((c): c is ContainmentSummary => c !== null);
  const acted = containment.filter((c) => c.actions.some((a) => a.ok));
  const containedOne = containment.find((c) => c.contained);

  const points = trafficPoints(bundles, watches);
  const attackPlaces = new Set([
    ...compromised,
    ...findings
      .filter((f) => f.rule.startsWith("traffic.") && !f.falsePositive)
      .map((f) => f.where),
  ]);
  const attack = points.filter(
    (p) => attackPlaces.has(p.place) && p.txPacketsPerSec >= ATTACK_PACKETS_PER_SEC,
  );
  const peak = points.reduce<TrafficPoint | null>(
    (m, p) => (m === null || p.txPacketsPerSec > m.txPacketsPerSec ? p : m),
    null,
  );

  // Destinations: the remote ends of sockets the responsible processes hold, and watch's.
  const dests = new Map<string, Incident["traffic"]["destinations"][number]>();
  const pidsBy = new Set(responsible.map((r) => `${r.pid}`));
  for (const b of bundles) {
    for (const s of b.snapshot?.sockets ?? []) {
      if (!s.pids.some((p) => pidsBy.has(String(p)))) continue;
      if (s.remotePort === 0 || /^(0\.0\.0\.0|::)$/.test(s.remoteAddress)) continue;
      const place = responsible.find((r) => s.pids.includes(r.pid ?? -1))?.place ?? "host";
      const k = `${s.proto}\0${s.remoteAddress}\0${s.remotePort}\0${place}`;
      const d = dests.get(k);
      if (d) d.count++;
      else
        dests.set(k, {
          address: s.remoteAddress,
          port: s.remotePort,
          proto: s.proto,
          place,
          count: 1,
        });
    }
  }
  for (const w of watches) {
    for (const s of w.samples) {
      for (const r of s.rows) {
        if (!attackPlaces.has(r.place)) continue;
        for (const d of r.destinations) {
          const k = `watch\0${d.address}\0${d.port}\0${r.place}`;
          const e = dests.get(k);
          if (e) e.count += d.count;
          else
            dests.set(k, {
              address: d.address,
              port: d.port,
              proto: "watch",
              place: r.place,
              count: d.count,
            });
        }
      }
    }
  }

  const accountFindings = findings.filter(
    (f) => f.rule.startsWith("account.") || f.rule.startsWith("login."),
  );
  const logins = new Map<string, Incident["accounts"]["logins"][number]>();
  for (const b of bundles) {
    for (const a of b.snapshot?.accounts ?? []) {
      for (const l of a.logins) {
        if (l.type !== "USER_PROCESS") continue;
        const t = isoOrNull(l.time);
        if (!t) continue;
        const from = l.address ?? l.host ?? "";
        logins.set(`${a.scope}\0${l.user}\0${t}\0${from}`, {
          place: a.scope,
          user: l.user,
          from,
          time: t,
          source: l.source,
        });
      }
    }
  }

  const prevention: string[] = [];
  for (const c of acted) {
    prevention.push(
      `${c.target}: ${c.mode} (${c.verdict}); ${c.actions
        .filter((a) => a.ok)
        .map((a) => a.description)
        .join("; ")}`,
    );
  }
  for (const f of audit) {
    const fix = f.evidence.find((e) => e.facts?.fix)?.facts?.fix;
    if (fix && severityRank(f.severity) >= severityRank("medium"))
      prevention.push(`${f.title}: ${fix}`);
  }
  for (const b of bundles) {
    for (const o of b.outputs) {
      if (o.command === "audit") continue;
      const d = o.data as Record<string, unknown> | null;
      const said = [d?.headline, d?.summary, d?.verdict, d?.result].find(
        (x) => typeof x === "string",
      );
      if (typeof said === "string") prevention.push(`${o.command} (${b.name}/${o.file}): ${said}`);
    }
  }

  const tl = buildTimeline(bundles, [...rawFindings, ...fleetRule], watches);
  if (opts.fleet) {
    for (const e of tl.events) {
      const b = byName.get(e.bundle);
      if (b?.fleetHost !== undefined) e.place = placeOf(b, e.place);
    }
  }
  const gaps = [
    ...summaries
      .filter((s) => !s.verified)
      .map(
        (s) =>
          `${s.name} DOES NOT VERIFY (${s.problem ?? "?"}): its content is shown marked, and may have been altered since it was sealed`,
      ),
    ...summaries
      .filter((s) => !s.complete)
      .map((s) => `${s.name} is incomplete: ${s.incompleteReason ?? "no reason recorded"}`),
    ...bundles.flatMap((b) => b.gaps.map((g) => `${b.name}: ${g}`)),
    ...watches.flatMap((w) => w.gaps),
    ...(opts.fleet?.gaps ?? []),
    ...(tl.untimed > 0
      ? [`${tl.untimed} event(s) had no readable time and are not in the timeline`]
      : []),
  ];

  const times = tl.events.map((e) => e.time);
  return {
    generatedAt: opts.generatedAt.toISOString(),
    tool: opts.tool,
    hosts: opts.fleet
      ? opts.fleet.hosts.map((h) => h.name)
      : [...new Set(summaries.map((s) => s.host).filter(Boolean))],
    bundles: summaries,
    verified: summaries.every((s) => s.verified),
    verdict: { level: v.level, headline: v.headline, places },
    summary: {
      entryPoint: entry
        ? {
            text: entry.e.text ?? "",
            place: entry.f.where,
            file: entry.e.file ?? null,
            line: entry.e.line ?? null,
            time: entry.time,
            rule: entry.f.rule,
          }
        : null,
      responsible,
      spread: {
        spread: spreadF !== undefined || compromised.length > 1,
        places: compromised,
        text: spreadF
          ? spreadF.title
          : compromised.length > 1
            ? `signs of compromise in ${compromised.length} places: ${compromised.join(", ")}`
            : compromised.length === 1
              ? `signs of compromise only in ${compromised[0]}`
              : "no sign of compromise",
      },
      containedAt: containedOne?.endedAt ?? null,
      contained: containment.length === 0 ? null : containment.some((c) => c.contained),
      first: times[0] ?? null,
      last: times[times.length - 1] ?? null,
    },
    findings,
    containment,
    traffic: {
      points,
      peak,
      attackFirstSeen: attack[0]?.time ?? null,
      attackLastSeen: attack[attack.length - 1]?.time ?? null,
      destinations: [...dests.values()].sort((a, b) => b.count - a.count).slice(0, 50),
    },
    accounts: {
      findings: accountFindings,
      logins: [...logins.values()].sort((a, b) => (a.time < b.time ? 1 : -1)).slice(0, 100),
    },
    audit,
    prevention,
    timeline: tl.events,
    gaps,
    fleet: opts.fleet ? fleetSection(opts.fleet, bundles, findings) : null,
  };
}

function sortReportFindings(list: ReportFinding[]): ReportFinding[] {
  return list.sort(
    (a, b) =>
      severityRank(b.severity) - severityRank(a.severity) ||
      (a.where < b.where ? -1 : a.where > b.where ? 1 : 0) ||
      (a.rule < b.rule ? -1 : a.rule > b.rule ? 1 : 0),
  );
}

/**
 * The fleet rule (fleet.same-exe), computed again here from the verified bundles only (never
 * taken from the case's findings.json, which is not sealed); and fleet.kept-exe-altered, from
 * the hosts' --keep-exe records in case.json (no bundle holds them: an altered kept copy is
 * not run), its evidence saying where it comes from.
 */
function fleetFindings(bundles: readonly BundleInput[], fleet: FleetCaseInput): ReportFinding[] {
  const hosts = bundles
    .filter((b) => b.fleetHost !== undefined && b.verification.verified)
    .map((b) => ({
      host: b.fleetHost as string,
      findings: b.findings.filter((f) => f.kind === "incident").flatMap((f) => f.findings),
      snapshot: b.snapshot,
    }));
  const kept =
    fleet.exeSha256 === null
      ? []
      : keptAltered(fleet.hosts, fleet.exeSha256).map((f) => ({
          ...f,
          evidence: f.evidence.map((e) => ({
            ...e,
            facts: { ...e.facts, recordedIn: "the case's case.json (fleet's record; not sealed)" },
          })),
        }));
  return [...sameExecutableRule(hosts), ...kept].map(({ host: _host, ...f }) => ({
    ...f,
    bundle: "fleet",
  }));
}

function fleetSection(
  fleet: FleetCaseInput,
  bundles: readonly BundleInput[],
  findings: readonly ReportFinding[],
): FleetSection {
  return {
    case: fleet.case,
    command: fleet.command,
    hosts: fleet.hosts.map((h) => {
      const b = h.bundle === null ? undefined : bundles.find((x) => x.name === h.bundle);
      const own = b ? findings.filter((f) => f.bundle === b.name) : [];
      const worst = own.reduce<Severity | null>(
        (w, f) => (w === null || severityRank(f.severity) > severityRank(w) ? f.severity : w),
        null,
      );
      return {
        name: h.name,
        state: h.state,
        reason: h.reason,
        bundle: b?.name ?? null,
        verified: b ? b.verification.verified : null,
        findings: own.length,
        worst,
      };
    }),
  };
}
