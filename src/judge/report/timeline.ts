/**
 * The incident's timeline from its bundles: process starts, logins, containers created,
 * started and stopped, filesystem changes (docker diff), log hits, scanner hits, findings,
 * breachkit's own actions, and watch alarms. Every event names its bundle, file and line.
 * Pure.
 */
import { SEVERITIES, type Severity, severityRank } from "../../model/finding.js";
import {
  findingSource,
  type ReportFinding,
  type TimelineEvent,
  type TimelineSource,
} from "../../model/report-model.js";
import type { BundleInput, WatchInput } from "./input.js";
import { isoOrNull, logLineTime } from "./log-time.js";

export interface TimelineResult {
  events: TimelineEvent[];
  /** Events left out because their time could not be read. */
  untimed: number;
}

/** pid -> the worst severity of a finding whose evidence names it, per place. */
function flaggedPids(findings: readonly ReportFinding[]): Map<string, Severity> {
  const out = new Map<string, Severity>();
  for (const f of findings) {
    if (f.falsePositive) continue;
    for (const e of f.evidence) {
      if (e.pid === undefined) continue;
      const k = `${f.where}\0${e.pid}`;
      const prev = out.get(k);
      if (!prev || severityRank(f.severity) > severityRank(prev)) out.set(k, f.severity);
    }
  }
  return out;
}

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

function severityOf(s: string): Severity {
  return (SEVERITIES as readonly string[]).includes(s) ? (s as Severity) : "info";
}

export function buildTimeline(
  bundles: readonly BundleInput[],
  findings: readonly ReportFinding[],
  watches: readonly WatchInput[],
): TimelineResult {
  const events: TimelineEvent[] = [];
  const seen = new Set<string>();
  let untimed = 0;
  const add = (e: Omit<TimelineEvent, "time"> & { time: string | null }, key?: string) => {
    const time = isoOrNull(e.time);
    if (time === null) {
      untimed++;
      return;
    }
    if (key !== undefined) {
      if (seen.has(key)) return;
      seen.add(key);
    }
    events.push({ ...e, time });
  };
  const flagged = flaggedPids(findings);

  for (const b of bundles) {
    const snap = b.snapshot;
    if (snap) {
      const names = new Map(snap.containers.map((c) => [c.id, c.name]));
      for (const p of snap.processes) {
        if (p.kernelThread || p.self) continue;
        const place = p.containerId
          ? (names.get(p.containerId) ?? p.containerName ?? p.containerId)
          : "host";
        const cmd = p.argv.length > 0 ? p.argv.join(" ") : p.comm;
        const exe = p.exe.path ? `${p.exe.path}${p.exe.deleted ? " (deleted)" : ""}` : "";
        add(
          {
            time: p.startTime,
            message: `Process started: ${p.comm} (pid ${p.pid}, user ${p.user ?? p.uid})${exe ? ` from ${exe}` : ""}: ${cmd}`,
            timestampDesc: "Process started",
            source: "process",
            severity: flagged.get(`${place}\0${p.pid}`) ?? "info",
            place,
            pid: p.pid,
            sha256: p.exe.sha256,
            bundle: b.name,
            file: "snapshot.json",
            line: b.snapshotPidLines.get(p.pid) ?? null,
          },
          `p\0${place}\0${p.pid}\0${p.startTime}`,
        );
      }
      for (const c of snap.containers) {
        const ev = (time: string | null, desc: string, what: string) =>
          add(
            {
              time,
              message: `Container ${what}: ${c.name} (image ${c.image})`,
              timestampDesc: desc,
              source: "container",
              severity: "info",
              place: c.name,
              pid: null,
              sha256: null,
              bundle: b.name,
              file: "snapshot.json",
              line: null,
            },
            `c\0${c.id}\0${desc}\0${time}`,
          );
        ev(c.createdAt, "Container created", "created");
        ev(c.startedAt, "Container started", "started");
        if (!c.running) ev(c.finishedAt, "Container stopped", "stopped");
      }
      for (const a of snap.accounts) {
        for (const l of a.logins) {
          if (l.type !== "USER_PROCESS" && l.source !== "btmp") continue;
          const failed = l.source === "btmp";
          const from = l.address ?? l.host ?? "";
          add(
            {
              time: l.time,
              message: `${failed ? "Failed login" : "Login"}: ${l.user} on ${l.tty}${from ? ` from ${from}` : ""} (${l.source})`,
              timestampDesc: failed ? "Failed login" : "Login",
              source: "login",
              severity: failed ? "low" : "info",
              place: a.scope,
              pid: l.pid || null,
              sha256: null,
              bundle: b.name,
              file: "snapshot.json",
              line: null,
            },
            `l\0${a.scope}\0${l.source}\0${l.user}\0${l.time}\0${l.tty}`,
          );
        }
      }
    }
    for (const ch of b.changes) {
      for (const c of ch.changes) {
        add(
          {
            time: ch.collectedAt,
            message: `Filesystem ${c.kind}: ${c.path} (docker diff against the image)`,
            timestampDesc: "Seen changed by docker diff (no time of its own: time collected)",
            source: "filesystem",
            severity: "info",
            place: ch.place,
            pid: null,
            sha256: null,
            bundle: b.name,
            file: ch.file,
            line: c.line,
          },
          `f\0${ch.place}\0${c.kind}\0${c.path}`,
        );
      }
    }
    for (const l of b.log) {
      add({
        time: l.time,
        message: `breachkit ${l.step}: ${l.action} (${l.result}${l.error ? `: ${l.error}` : ""})`,
        timestampDesc: l.changedHost ? "breachkit changed the host" : "breachkit step",
        source: "breachkit",
        severity: l.changedHost ? "medium" : l.result === "error" ? "low" : "info",
        place: "host",
        pid: null,
        sha256: null,
        bundle: b.name,
        file: "collection.log.jsonl",
        line: l.line,
      });
    }
  }

  // Findings: a log or scanner hit at the time its line says; others when they were judged.
  const judgedAt = new Map(
    bundles.map((b) => [b.name, b.snapshot?.takenAt ?? b.manifest?.endedAt ?? null]),
  );
  for (const f of findings) {
    const at = judgedAt.get(f.bundle) ?? null;
    const isLog = f.rule.startsWith("hunt.") || f.rule === "ioc.log";
    const source: TimelineSource = findingSource(f);
    const hits = f.evidence.filter((e) => e.file !== undefined && e.line !== undefined);
    if (isLog && hits.length > 0) {
      for (const e of hits) {
        const t = e.facts?.time ?? (e.text ? logLineTime(e.text, at) : null);
        add(
          {
            time: t ?? at,
            message: `${f.title}: ${e.text ?? ""}`,
            timestampDesc: t
              ? "Log line written"
              : "Log line found (no time in the line: time judged)",
            source,
            severity: f.severity,
            place: f.where,
            pid: null,
            sha256: null,
            bundle: f.bundle,
            file: e.file ?? null,
            line: e.line ?? null,
          },
          `h\0${f.rule}\0${f.where}\0${e.file}\0${e.line}`,
        );
      }
      continue;
    }
    const withPid = f.evidence.find((e) => e.pid !== undefined);
    const withSha = f.evidence.find((e) => e.sha256 !== undefined);
    const withFile = f.evidence.find((e) => e.file !== undefined);
    add(
      {
        time: at,
        message: `${source === "scanner" ? `${f.source}: ` : ""}${f.title}${f.falsePositive ? ` [probable false positive: ${f.falsePositive}]` : ""}`,
        timestampDesc:
          source === "scanner" ? "Scanner hit (time scanned)" : "Finding (time judged)",
        source,
        severity: f.severity,
        place: f.where,
        pid: withPid?.pid ?? null,
        sha256: withSha?.sha256 ?? null,
        bundle: f.bundle,
        file: withFile?.file ?? (source === "scanner" ? null : "findings.json"),
        line: withFile?.line ?? null,
      },
      `g\0${f.rule}\0${f.where}\0${f.title}`,
    );
  }

  for (const w of watches) {
    for (const s of w.samples) {
      for (const a of s.alarms) {
        add({
          time: s.time,
          message: `watch alarm ${a.rule}: ${a.text}`,
          timestampDesc: "watch alarm",
          source: "watch",
          severity: severityOf(a.severity),
          place: a.place,
          pid: null,
          sha256: null,
          bundle: w.file,
          file: w.file,
          line: s.line,
        });
      }
    }
  }

  events.sort(
    (a, b) =>
      (a.time < b.time ? -1 : a.time > b.time ? 1 : 0) ||
      cmp(a.bundle, b.bundle) ||
      cmp(a.file ?? "", b.file ?? "") ||
      (a.line ?? 0) - (b.line ?? 0),
  );
  return { events, untimed };
}
