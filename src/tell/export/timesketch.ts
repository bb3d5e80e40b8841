/**
 * One host's timeline as Timesketch JSONL: one JSON object per line with the fields
 * Timesketch requires (`message`, `datetime` in ISO 8601, `timestamp_desc`), plus breachkit's
 * facts. Import with `timesketch_importer` or the web UI's upload.
 */
import type { FleetFinding } from "../../model/fleet-output.js";
import type { ExportHost } from "./opensearch.js";

export function toTimesketchJsonl(
  h: ExportHost,
  findings: readonly FleetFinding[],
  at: string,
): string {
  const rows: Record<string, unknown>[] = [];
  const s = h.snapshot;
  if (s) {
    for (const p of s.processes) {
      if (p.kernelThread) continue;
      rows.push({
        message: `process ${p.comm} (pid ${p.pid}) started: ${p.exe.path ?? "?"}`,
        datetime: p.startTime,
        timestamp_desc: "Process Start",
        host: h.host,
        pid: p.pid,
        ppid: p.ppid,
        user: p.user,
        executable: p.exe.path,
        sha256: p.exe.sha256,
        command_line: p.argv.join(" "),
        container: p.containerName,
        data_type: "breachkit:process",
      });
    }
    for (const a of s.accounts) {
      for (const l of a.logins) {
        rows.push({
          message: `${l.source} ${l.type} ${l.user} ${l.tty} ${l.host}`,
          datetime: l.time,
          timestamp_desc: l.source === "btmp" ? "Failed Login" : "Login Record",
          host: h.host,
          user: l.user,
          source_ip: l.address,
          scope: a.scope,
          data_type: `breachkit:${l.source}`,
        });
      }
    }
  }
  for (const f of findings) {
    if (f.host !== h.host) continue;
    rows.push({
      message: f.title,
      datetime: at,
      timestamp_desc: "Finding",
      host: h.host,
      rule: f.rule,
      severity: f.severity,
      where: f.where,
      sha256: f.evidence[0]?.sha256 ?? null,
      data_type: "breachkit:finding",
    });
  }
  rows.sort((a, b) => String(a.datetime).localeCompare(String(b.datetime)));
  return rows.map((r) => `${JSON.stringify(r)}\n`).join("");
}
