/**
 * The audit for a person: the score per area and overall, then the findings ranked, each with
 * its evidence, the exact fix and what applying it costs. Low and info are counted unless --all.
 * Every string from the host goes through safeText.
 */
import type { AuditOutput } from "../model/audit-output.js";
import { type Finding, type Severity, severityRank } from "../model/finding.js";
import type { Colors } from "../util/colors.js";
import { safeText } from "../util/sanitize.js";

const HIDDEN_FACTS = new Set(["fix", "cost", "area"]);

function badge(s: Severity, c: Colors): string {
  const label = s.toUpperCase().padEnd(8);
  if (s === "critical") return c.bold(c.red(label));
  if (s === "high") return c.red(label);
  if (s === "medium") return c.yellow(label);
  if (s === "low") return c.cyan(label);
  return c.dim(label);
}

function evidence(e: Finding["evidence"][number]): string {
  const parts: string[] = [];
  if (e.file !== undefined)
    parts.push(`${safeText(e.file, 200)}${e.line !== undefined ? `:${e.line}` : ""}`);
  else if (e.path !== undefined) parts.push(safeText(e.path, 200));
  if (e.pid !== undefined) parts.push(`pid ${e.pid}`);
  for (const [k, v] of Object.entries(e.facts ?? {})) {
    if (!HIDDEN_FACTS.has(k)) parts.push(`${safeText(k, 40)}=${safeText(v, 160)}`);
  }
  if (e.text !== undefined) parts.push(safeText(e.text, 240));
  return parts.join("  ");
}

function score(n: number | null): string {
  return n === null ? "-" : String(n);
}

export function formatAudit(
  out: AuditOutput,
  opts: { json: boolean; all: boolean },
  c: Colors,
): string {
  if (opts.json) return `${JSON.stringify(out, null, 2)}\n`;
  const lines: string[] = [];
  const color = out.overall >= 80 ? c.green : out.overall >= 50 ? c.yellow : c.red;
  lines.push(
    c.bold(
      `Audit of ${safeText(out.host, 80)}${out.root ? ` (disk at ${safeText(out.root, 200)})` : ""}: ${color(`${out.overall}/100`)}`,
    ),
  );
  lines.push(
    out.scores
      .filter((s) => s.checked)
      .map((s) => `${s.area} ${score(s.score)}`)
      .join("  ·  ") +
      c.dim(
        `   (${out.findings.length} findings, ${out.containersChecked} containers, ${(out.durationMs / 1000).toFixed(1)} s)`,
      ),
  );
  const floor = opts.all ? 0 : severityRank("medium");
  const shown = out.findings.filter((f) => severityRank(f.severity) >= floor);
  for (const f of shown) {
    const facts = f.evidence[0]?.facts ?? {};
    const place = f.containerId === null ? f.where : `container ${f.where}`;
    lines.push(
      "",
      `${badge(f.severity, c)} ${safeText(f.title, 300)} ${c.dim(`[${safeText(place, 80)}] (${f.rule})`)}`,
    );
    for (const e of f.evidence.slice(0, opts.all ? undefined : 3)) {
      const text = evidence(e);
      if (text) lines.push(`         ${text}`);
    }
    if (facts.fix) {
      const fix = facts.fix.split("\n").map((l) => safeText(l, 400));
      lines.push(`         ${c.cyan("fix:")} ${fix[0]}`);
      for (const l of fix.slice(1)) lines.push(`              ${l}`);
    } else if (f.next) lines.push(`         ${c.cyan("→")} ${safeText(f.next, 300)}`);
    if (facts.cost) lines.push(`         ${c.dim(`cost: ${safeText(facts.cost, 300)}`)}`);
  }
  const hidden = out.findings.length - shown.length;
  if (hidden > 0) lines.push("", c.dim(`${hidden} more findings below medium; --all lists them`));
  if (out.gaps.length > 0) {
    lines.push("", c.dim(`Not checked or partly read (${out.gaps.length}):`));
    for (const g of out.gaps.slice(0, opts.all ? undefined : 8))
      lines.push(c.dim(`  ${safeText(g.source, 40)}: ${safeText(g.message, 300)}`));
  }
  for (const s of out.ssh) {
    if (s.disagreements.length > 0)
      lines.push(
        "",
        c.yellow(
          `sshd -T and breachkit's parser disagree on ${safeText(s.where)} (please report): ${s.disagreements
            .slice(0, 3)
            .map((d) => safeText(d, 200))
            .join("; ")}`,
        ),
      );
  }
  if (out.sarif) lines.push("", `SARIF: ${safeText(out.sarif, 300)}`);
  if (out.bundle)
    lines.push(`Bundle: ${safeText(out.bundle.path, 300)}  SEAL ${out.bundle.manifestSha256}`);
  lines.push(
    out.atOrAboveThreshold > 0
      ? c.red(`${out.atOrAboveThreshold} finding(s) at or above ${out.threshold}`)
      : c.green(`nothing at or above ${out.threshold}`),
  );
  return `${lines.join("\n")}\n`;
}
