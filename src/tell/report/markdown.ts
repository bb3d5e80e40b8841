/**
 * The report in Markdown, for a ticket or an email: the same sections as the HTML. Host
 * strings are escaped (text.ts `md`): no markup, link or raw HTML comes from them.
 */
import { severityRank } from "../../model/finding.js";
import type { Incident, ReportFinding } from "../../model/report-model.js";
import { md, placeTitle, rate, when } from "./text.js";

const STATE = {
  compromised: "COMPROMISED",
  "at-risk": "AT RISK (misconfiguration, no sign of compromise)",
  suspicious: "SUSPICIOUS",
} as const;

/** Markdown timeline rows at most (the full timeline is in timeline.csv). */
export const MD_TIMELINE_MAX = 500;

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return "_None._\n";
  const cell = (s: string) => s.replace(/\n/g, " ");
  return `| ${head.join(" | ")} |\n|${head.map(() => "---").join("|")}|\n${rows
    .map((r) => `| ${r.map(cell).join(" | ")} |`)
    .join("\n")}\n`;
}

function evidence(e: ReportFinding["evidence"][number]): string {
  const parts: string[] = [];
  if (e.pid !== undefined) parts.push(`pid ${e.pid}`);
  if (e.path !== undefined) parts.push(md(e.path, 400));
  if (e.sha256 !== undefined) parts.push(`sha256 ${md(e.sha256, 64)}`);
  if (e.file !== undefined)
    parts.push(`${md(e.file, 300)}${e.line !== undefined ? `:${e.line}` : ""}`);
  for (const [k, v] of Object.entries(e.facts ?? {})) parts.push(`${md(k, 60)}=${md(v, 300)}`);
  if (e.text !== undefined) parts.push(`line: ${md(e.text, 600)}`);
  return parts.join(" · ");
}

export function renderMarkdown(inc: Incident): string {
  const o: string[] = [];
  const s = inc.summary;
  const unverified = new Set(inc.bundles.filter((b) => !b.verified).map((b) => b.name));
  o.push(`# breachkit report: ${inc.hosts.map((h) => md(h, 100)).join(", ") || "incident"}`, "");
  if (!inc.verified) {
    o.push(
      `> **WARNING: ${unverified.size} bundle(s) DO NOT VERIFY** (${[...unverified].map((n) => md(n, 200)).join(", ")}): what they hold is shown, marked, and may have been altered since they were sealed.`,
      "",
    );
  }
  o.push(`**${md(inc.verdict.headline, 600)}**`, "");
  o.push(
    `Generated ${when(inc.generatedAt)} by ${md(inc.tool.name)} ${md(inc.tool.version)} from ${inc.bundles.length} bundle(s); events from ${when(s.first)} to ${when(s.last)}.`,
    "",
  );

  o.push("## Summary", "");
  o.push(
    `- **Entry point:** ${s.entryPoint ? `${md(s.entryPoint.place)}: ${md(s.entryPoint.text, 600)} (${md(s.entryPoint.rule)}; ${md(s.entryPoint.file ?? "")}${s.entryPoint.line !== null ? `:${s.entryPoint.line}` : ""}; ${when(s.entryPoint.time)})` : "not found in the bundles"}`,
    `- **What ran:** ${s.responsible.length > 0 ? s.responsible.map((r) => `${md(r.name, 100)} (pid ${r.pid ?? "?"}) in ${md(r.place)}, ${md(r.path ?? "?", 300)}, sha256 ${md(r.sha256 ?? "unknown", 64)}`).join("; ") : "no process with a direct sign of compromise"}`,
    `- **Where:** ${inc.verdict.places.map((p) => `${md(p.where)} ${STATE[p.state]}`).join("; ") || "nowhere"}`,
    `- **Spread:** ${s.spread.spread ? "yes" : "no"}: ${md(s.spread.text, 600)}`,
    `- **Contained:** ${s.containedAt ? `at ${when(s.containedAt)}` : s.contained === false ? "**NOT contained**" : "no containment in these bundles"}`,
    `- **Attack traffic:** ${inc.traffic.attackFirstSeen ? `first seen ${when(inc.traffic.attackFirstSeen)}, last seen ${when(inc.traffic.attackLastSeen)}` : "none measured at an attack's rate"}${inc.traffic.peak ? `; peak ${rate(inc.traffic.peak.txPacketsPerSec)} packets/s from ${md(inc.traffic.peak.place)} at ${when(inc.traffic.peak.time)}` : ""}`,
    "",
  );

  if (inc.fleet) {
    const f = inc.fleet;
    o.push(
      "## Hosts",
      "",
      `Fleet case ${md(f.case, 300)} (${md(f.command, 40)} on ${f.hosts.length} hosts). Each state is as the case's case.json records it (not sealed); each bundle was verified here.`,
      "",
      table(
        ["host", "state", "bundle", "findings", "worst"],
        f.hosts.map((h) => [
          md(h.name, 120),
          `${h.state === "ok" ? "ok" : `**${md(h.state, 40)}**`}${h.reason ? `: ${md(h.reason, 300)}` : ""}`,
          h.bundle === null
            ? "none"
            : `${md(h.bundle, 200)}${h.verified ? " (verified)" : " **DOES NOT VERIFY**"}`,
          String(h.findings),
          h.worst ?? "—",
        ]),
      ),
    );
  }

  o.push("## Containment proof", "");
  if (inc.containment.length === 0) o.push("_No containment.json in these bundles._", "");
  const procRows = (ps: Incident["summary"]["responsible"]) =>
    ps.map((p) => [
      md(p.place),
      String(p.pid ?? "—"),
      md(p.name, 100),
      md(p.path ?? "—", 300),
      md(p.sha256 ?? "—", 64),
      when(p.startTime),
    ]);
  const head = ["place", "pid", "name", "executable", "SHA-256", "started"];
  for (const c of inc.containment) {
    o.push(
      `### ${md(c.target)}: ${md(c.mode)}: ${md(c.verdict)}`,
      "",
      `${when(c.startedAt)} to ${when(c.endedAt)}; bundle ${md(c.bundle)}. Packets/s sent before ${rate(c.trafficBefore)}, after ${rate(c.trafficAfter)}; matching processes before ${c.before.length}, after ${c.after.length}, still running elsewhere ${c.stillRunning.length}.`,
      "",
      "Before:",
      "",
      table(head, procRows(c.before)),
      "After:",
      "",
      table(head, procRows(c.after)),
    );
    if (c.stillRunning.length > 0)
      o.push("Still running:", "", table(head, procRows(c.stillRunning)));
    o.push(
      "Actions:",
      "",
      table(
        ["time", "action", "command", "result", "undo"],
        c.actions.map((a) => [
          when(a.startedAt),
          md(a.description, 300),
          md(a.command, 300),
          a.ok ? "ok" : "**failed**",
          md(a.undo ?? "—", 300),
        ]),
      ),
    );
    for (const r of [...c.reasons, ...c.problems]) o.push(`- ${md(r, 600)}`);
    o.push("");
  }

  o.push("## Findings by place", "");
  const byPlace = new Map<string, ReportFinding[]>();
  for (const f of inc.findings) byPlace.set(f.where, [...(byPlace.get(f.where) ?? []), f]);
  if (byPlace.size === 0) o.push("_No findings._", "");
  for (const [p, list] of byPlace) {
    const st = inc.verdict.places.find((x) => x.where === p)?.state;
    o.push(
      `### ${placeTitle(p, inc.fleet !== null, (x) => md(x))}${st ? `: ${STATE[st]}` : ""}`,
      "",
    );
    for (const f of list) {
      o.push(
        `- **${f.severity.toUpperCase()}** ${md(f.title, 400)} (${md(f.rule, 100)}, ${md(f.source, 40)})${f.falsePositive ? ` [probable false positive: ${md(f.falsePositive, 200)}]` : ""}${unverified.has(f.bundle) ? " **(from a bundle that does NOT verify)**" : ""}`,
      );
      for (const e of f.evidence.slice(0, 5)) o.push(`  - ${evidence(e)}`);
      if (f.next) o.push(`  - next: ${md(f.next, 600)}`);
    }
    o.push("");
  }

  o.push("## Traffic", "");
  const byP = new Map<string, number>();
  for (const p of inc.traffic.points)
    byP.set(p.place, Math.max(byP.get(p.place) ?? 0, p.txPacketsPerSec));
  o.push(
    table(
      ["place", "max packets/s sent", "samples"],
      [...byP.entries()]
        .sort((a, b) => b[1] - a[1])
        .map(([p, v]) => [
          md(p),
          rate(v),
          String(inc.traffic.points.filter((x) => x.place === p).length),
        ]),
    ),
  );
  o.push(
    "Destinations:",
    "",
    table(
      ["place", "protocol", "address", "port", "seen"],
      inc.traffic.destinations.map((d) => [
        md(d.place),
        md(d.proto, 20),
        md(d.address, 100),
        String(d.port),
        String(d.count),
      ]),
    ),
  );

  o.push("## Accounts and logins", "");
  if (inc.accounts.findings.length === 0)
    o.push("_No new accounts, keys or logins from new addresses were found._", "");
  for (const f of inc.accounts.findings)
    o.push(`- **${f.severity.toUpperCase()}** ${md(f.where)}: ${md(f.title, 400)}`);
  o.push(
    "",
    "Recent logins:",
    "",
    table(
      ["time", "place", "user", "from"],
      inc.accounts.logins
        .slice(0, 30)
        .map((l) => [when(l.time), md(l.place), md(l.user, 100), md(l.from, 200)]),
    ),
  );

  o.push("## Timeline", "");
  const notable = inc.timeline.filter((e) => severityRank(e.severity) >= severityRank("medium"));
  o.push(
    `${inc.timeline.length} events in all (timeline.csv, timeline.jsonl); the ${Math.min(notable.length, MD_TIMELINE_MAX)} of medium severity or above:`,
    "",
  );
  o.push(
    table(
      ["time", "severity", "source", "place", "event", "bundle file:line"],
      notable
        .slice(0, MD_TIMELINE_MAX)
        .map((e) => [
          when(e.time),
          e.severity,
          e.source,
          md(e.place),
          md(e.message, 400),
          `${md(e.bundle, 200)}/${md(e.file ?? "", 300)}${e.line !== null ? `:${e.line}` : ""}`,
        ]),
    ),
  );

  o.push("## Audit", "");
  if (inc.audit.length === 0)
    o.push("_No audit bundle was given (breachkit audit --out DIR)._", "");
  else
    o.push(
      table(
        ["severity", "place", "check", "fix", "CIS", "cost"],
        inc.audit.map((f) => {
          const facts = Object.assign({}, ...f.evidence.map((e) => e.facts ?? {})) as Record<
            string,
            string
          >;
          return [
            f.severity,
            md(f.where),
            md(f.title, 300),
            md(facts.fix ?? f.next, 600),
            md(facts.cis ?? "—", 40),
            md(facts.cost ?? "—", 100),
          ];
        }),
      ),
    );
  if (inc.prevention.length > 0) {
    o.push("What was done and what prevents a repeat:", "");
    for (const p of inc.prevention) o.push(`- ${md(p, 800)}`);
    o.push("");
  }

  o.push("## Integrity", "");
  o.push(
    table(
      ["bundle", "made by", "time", "SEAL", "verify"],
      inc.bundles.map((b) => [
        md(b.name, 200),
        md(b.command, 300),
        `${when(b.startedAt)} to ${when(b.endedAt)}${b.complete ? "" : " (incomplete)"}`,
        md(b.seal ?? "missing", 64),
        b.verified
          ? `intact (${b.files} files)`
          : `**DOES NOT VERIFY**: ${md(b.problem ?? "", 400)}`,
      ]),
    ),
  );
  if (inc.gaps.length > 0) {
    o.push("Gaps:", "");
    for (const g of inc.gaps.slice(0, 200)) o.push(`- ${md(g, 600)}`);
    o.push("");
  }
  return `${o.join("\n")}\n`;
}
