/**
 * The incident record, JSON and Markdown, with the sections NIST SP 800-61 asks a record to
 * keep: status, summary, indicators, actions with timestamps (who or what did them), chain of
 * custody (bundle hashes and times), impact, the evidence list and next steps.
 */

import { severityRank } from "../../model/finding.js";
import {
  type Incident,
  type IncidentRecord,
  REPORT_SCHEMA_VERSION,
} from "../../model/report-model.js";
import { md, rate, show, when } from "./text.js";

export function buildRecord(inc: Incident): IncidentRecord {
  const s = inc.summary;
  const state: IncidentRecord["status"]["state"] =
    inc.verdict.level === "clean"
      ? "no incident found"
      : s.contained === true
        ? "contained"
        : s.contained === false
          ? "open: not contained"
          : "open: not acted on";
  const indicators: IncidentRecord["indicators"] = [];
  const seen = new Set<string>();
  const ind = (kind: string, value: string | null | undefined, where: string) => {
    if (!value) return;
    const k = `${kind}\0${value}\0${where}`;
    if (seen.has(k)) return;
    seen.add(k);
    indicators.push({ kind, value: show(value, 500), where: show(where, 200) });
  };
  for (const r of s.responsible) {
    ind("sha256", r.sha256, r.place);
    ind("process name", r.name, r.place);
    ind("executable path", r.path, r.place);
  }
  for (const d of inc.traffic.destinations) ind("destination", `${d.address}:${d.port}`, d.place);
  if (s.entryPoint) ind("log line (entry point)", s.entryPoint.text, s.entryPoint.place);
  for (const f of inc.findings) {
    if (f.falsePositive || severityRank(f.severity) < severityRank("high")) continue;
    for (const e of f.evidence) if (e.sha256) ind("sha256", e.sha256, f.where);
  }
  const actions: IncidentRecord["actions"] = [];
  for (const e of inc.timeline) {
    if (e.source !== "breachkit") continue;
    if (
      e.timestampDesc !== "breachkit changed the host" &&
      !/^breachkit bundle: create /.test(e.message)
    )
      continue;
    actions.push({
      time: e.time,
      who: `breachkit (${show(e.bundle, 200)})`,
      what: show(e.message, 600),
      result: e.severity === "medium" ? "changed the host" : "evidence collected",
    });
  }
  for (const c of inc.containment) {
    actions.push({
      time: c.endedAt,
      who: `breachkit contain (${show(c.bundle, 200)})`,
      what: `containment of ${show(c.target, 100)} by ${c.mode}`,
      result: c.verdict,
    });
  }
  for (const b of inc.bundles) {
    actions.push({
      time: b.endedAt,
      who: `breachkit ${show(b.kind, 40)}`,
      what: `bundle ${show(b.name, 200)} sealed (${show(b.command, 300)})`,
      result: b.verified ? "verified intact" : `DOES NOT VERIFY: ${show(b.problem ?? "", 300)}`,
    });
  }
  actions.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  const impact: string[] = [];
  for (const p of inc.verdict.places)
    impact.push(
      `${show(p.where, 100)}: ${p.state}${p.because.length ? ` (${p.because.join(", ")})` : ""}`,
    );
  if (inc.traffic.peak && inc.traffic.attackFirstSeen)
    impact.push(
      `attack traffic from ${show(inc.traffic.peak.place, 100)}: up to ${rate(inc.traffic.peak.txPacketsPerSec)} packets/s, ${when(inc.traffic.attackFirstSeen)} to ${when(inc.traffic.attackLastSeen)}`,
    );
  if (s.spread.spread) impact.push(`spread: ${show(s.spread.text, 400)}`);
  if (inc.accounts.findings.length > 0)
    impact.push(`${inc.accounts.findings.length} account or login finding(s)`);
  const next: string[] = [];
  for (const f of inc.findings) {
    if (f.falsePositive || severityRank(f.severity) < severityRank("high") || !f.next) continue;
    const n = `${show(f.where, 100)}: ${show(f.next, 500)}`;
    if (!next.includes(n)) next.push(n);
  }
  for (const c of inc.containment)
    if (!c.contained)
      next.push(
        `${show(c.target, 100)} is NOT contained: ${c.problems.map((p) => show(p, 300)).join("; ")}`,
      );
  if (inc.audit.length === 0)
    next.push("harden the host: breachkit audit --out DIR, then fix what it lists");
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    format: "breachkit-incident-record",
    generatedAt: inc.generatedAt,
    status: { state, verdict: show(inc.verdict.headline, 600), verified: inc.verified },
    summary: [
      show(inc.verdict.headline, 600),
      s.entryPoint
        ? `Entry point: ${show(s.entryPoint.text, 300)} (${show(s.entryPoint.place, 100)}).`
        : "Entry point not identified.",
      s.responsible.length
        ? `Responsible: ${s.responsible.map((r) => `${show(r.name, 100)} in ${show(r.place, 100)}`).join(", ")}.`
        : "",
      s.containedAt
        ? `Contained at ${when(s.containedAt)}.`
        : s.contained === false
          ? "NOT contained."
          : "No containment recorded.",
    ]
      .filter(Boolean)
      .join(" "),
    indicators,
    actions,
    chainOfCustody: inc.bundles.map((b) => ({
      bundle: show(b.name, 300),
      seal: b.seal,
      manifestSha256: b.manifestSha256,
      collectedFrom: show(b.host, 200),
      startedAt: b.startedAt,
      endedAt: b.endedAt,
      command: show(b.command, 500),
      verified: b.verified,
      problem: b.problem === null ? null : show(b.problem, 500),
    })),
    impact,
    evidence: inc.bundles.map((b) => ({
      bundle: show(b.name, 300),
      files: b.files,
      bytes: b.bytes,
    })),
    nextSteps: next.slice(0, 30),
  };
}

export function renderRecordJson(r: IncidentRecord): string {
  return `${JSON.stringify(r, null, 2)}\n`;
}

export function renderRecordMarkdown(r: IncidentRecord): string {
  const o: string[] = [];
  const list = (xs: readonly string[]) =>
    xs.length ? xs.map((x) => `- ${md(x, 800)}`) : ["- none"];
  o.push(
    "# Incident record",
    "",
    `Generated ${when(r.generatedAt)} (sections after NIST SP 800-61).`,
    "",
  );
  o.push(
    "## Status",
    "",
    `- State: **${r.status.state}**`,
    `- Verdict: ${md(r.status.verdict)}`,
    `- Evidence verified: ${r.status.verified ? "yes" : "**NO**"}`,
    "",
  );
  o.push("## Summary", "", md(r.summary, 4000), "");
  o.push(
    "## Indicators",
    "",
    "| kind | value | where |",
    "|---|---|---|",
    ...r.indicators.map((i) => `| ${md(i.kind)} | ${md(i.value)} | ${md(i.where)} |`),
    "",
  );
  o.push(
    "## Actions",
    "",
    "| time | who | what | result |",
    "|---|---|---|---|",
    ...r.actions.map((a) => `| ${when(a.time)} | ${md(a.who)} | ${md(a.what)} | ${md(a.result)} |`),
    "",
  );
  o.push(
    "## Chain of custody",
    "",
    "| bundle | SEAL | manifest SHA-256 now | from | time | command | verified |",
    "|---|---|---|---|---|---|---|",
    ...r.chainOfCustody.map(
      (c) =>
        `| ${md(c.bundle)} | ${md(c.seal ?? "missing")} | ${md(c.manifestSha256 ?? "—")} | ${md(c.collectedFrom)} | ${when(c.startedAt)} to ${when(c.endedAt)} | ${md(c.command)} | ${c.verified ? "yes" : `**NO**: ${md(c.problem ?? "")}`} |`,
    ),
    "",
  );
  o.push("## Impact", "", ...list(r.impact), "");
  o.push(
    "## Evidence",
    "",
    ...r.evidence.map((e) => `- ${md(e.bundle)}: ${e.files} files, ${e.bytes} bytes`),
    "",
  );
  o.push("## Next steps", "", ...list(r.nextSteps), "");
  return `${o.join("\n")}\n`;
}
