/**
 * Findings and timeline events of a fleet case as OpenSearch / Elasticsearch `_bulk` NDJSON,
 * with Elastic Common Schema (ECS) field names where ECS has one (`@timestamp`, `event.*`,
 * `host.name`, `process.pid`, `process.executable`, `process.hash.sha256`, `container.*`,
 * `rule.id`, `message`); breachkit's own facts under `breachkit.*`. Every line is one
 * JSON.stringify'd object, so no string from a host can break a line or the format.
 *
 *   curl -H 'Content-Type: application/x-ndjson' --data-binary @opensearch-bulk.ndjson \
 *        http://localhost:9200/_bulk
 */

import { severityRank } from "../../model/finding.js";
import type { FleetFinding } from "../../model/fleet-output.js";
import type { Snapshot } from "../../model/snapshot.js";

export interface ExportHost {
  host: string;
  snapshot: Snapshot | null;
}

/** ECS event.severity: a number, higher is worse. */
const ecsSeverity = (s: FleetFinding["severity"]) => (severityRank(s) + 1) * 20;

export function findingDocs(findings: readonly FleetFinding[], at: string): object[] {
  return findings.map((f) => {
    const e = f.evidence[0];
    return {
      "@timestamp": at,
      message: f.title,
      event: {
        kind: "alert",
        category: ["intrusion_detection"],
        module: "breachkit",
        dataset: "breachkit.finding",
        severity: ecsSeverity(f.severity),
      },
      rule: { id: f.rule, name: f.rule },
      host: { name: f.host },
      ...(e?.pid !== undefined || e?.path || e?.sha256
        ? {
            process: {
              ...(e.pid !== undefined ? { pid: e.pid } : {}),
              ...(e.path ? { executable: e.path } : {}),
              ...(e.sha256 ? { hash: { sha256: e.sha256 } } : {}),
            },
          }
        : {}),
      ...(f.containerId ? { container: { id: f.containerId, name: f.where } } : {}),
      breachkit: {
        severity: f.severity,
        confidence: f.confidence,
        where: f.where,
        source: f.source,
        next: f.next,
        falsePositive: f.falsePositive,
        evidence: f.evidence,
      },
    };
  });
}

/** Timeline events of one host's snapshot: process starts and login records. */
export function timelineDocs(h: ExportHost): object[] {
  const s = h.snapshot;
  if (!s) return [];
  const out: object[] = [];
  for (const p of s.processes) {
    if (p.kernelThread) continue;
    out.push({
      "@timestamp": p.startTime,
      message: `process ${p.comm} (pid ${p.pid}) started: ${p.exe.path ?? "?"}`,
      event: {
        kind: "event",
        category: ["process"],
        type: ["start"],
        dataset: "breachkit.process",
      },
      host: { name: h.host, hostname: s.host.hostname },
      process: {
        pid: p.pid,
        parent: { pid: p.ppid },
        name: p.comm,
        args: p.argv,
        ...(p.exe.path ? { executable: p.exe.path } : {}),
        ...(p.exe.sha256 ? { hash: { sha256: p.exe.sha256 } } : {}),
      },
      user: { id: String(p.uid), ...(p.user ? { name: p.user } : {}) },
      ...(p.containerId ? { container: { id: p.containerId, name: p.containerName } } : {}),
    });
  }
  for (const a of s.accounts) {
    for (const l of a.logins) {
      out.push({
        "@timestamp": l.time,
        message: `${l.source} ${l.type} ${l.user} ${l.tty} ${l.host}`,
        event: {
          kind: "event",
          category: ["authentication"],
          dataset: `breachkit.${l.source}`,
          ...(l.source === "btmp" ? { outcome: "failure" } : {}),
        },
        host: { name: h.host, hostname: s.host.hostname },
        user: { name: l.user },
        ...(l.address ? { source: { ip: l.address } } : {}),
        breachkit: { scope: a.scope, tty: l.tty, remoteHost: l.host, type: l.type },
      });
    }
  }
  return out;
}

/** The _bulk body: an action line before every document. */
export function toBulkNdjson(
  findings: readonly FleetFinding[],
  hosts: readonly ExportHost[],
  at: string,
  index = "breachkit",
): string {
  const lines: string[] = [];
  for (const d of findingDocs(findings, at)) {
    lines.push(JSON.stringify({ index: { _index: `${index}-findings` } }), JSON.stringify(d));
  }
  for (const h of hosts) {
    for (const d of timelineDocs(h)) {
      lines.push(JSON.stringify({ index: { _index: `${index}-timeline` } }), JSON.stringify(d));
    }
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
