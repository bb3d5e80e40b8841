/**
 * Findings for a person: a one-line verdict, then places (worst first), each with its
 * findings ranked by severity, their evidence and the next step. Readable with hundreds
 * of findings: low and info are counted, not listed, unless --all.
 */

import type { Verdict } from "../judge/verdict.js";
import { type Finding, type Severity, severityRank } from "../model/finding.js";
import type { Colors } from "../util/colors.js";
import { safeText } from "../util/sanitize.js";

export interface RenderFindingsOptions {
  all?: boolean;
  /** Evidence lines shown per finding (all with --all). */
  maxEvidence?: number;
  /** Findings listed per place before "N more". */
  maxPerPlace?: number;
}

function badge(s: Severity, c: Colors): string {
  const label = s.toUpperCase().padEnd(8);
  switch (s) {
    case "critical":
      return c.bold(c.red(label));
    case "high":
      return c.red(label);
    case "medium":
      return c.yellow(label);
    case "low":
      return c.cyan(label);
    default:
      return c.dim(label);
  }
}

export function evidenceLine(e: Finding["evidence"][number]): string {
  const parts: string[] = [];
  if (e.pid !== undefined) parts.push(`pid ${e.pid}`);
  if (e.path !== undefined) parts.push(safeText(e.path, 200));
  if (e.sha256 !== undefined) parts.push(`sha256 ${e.sha256.slice(0, 16)}…`);
  if (e.file !== undefined)
    parts.push(`${safeText(e.file, 200)}${e.line !== undefined ? `:${e.line}` : ""}`);
  for (const [k, v] of Object.entries(e.facts ?? {}))
    parts.push(`${safeText(k, 40)}=${safeText(v, 120)}`);
  let line = parts.join("  ");
  if (e.text !== undefined) line += `${line ? "\n        " : ""}${safeText(e.text, 240)}`;
  return line;
}

export function renderFindings(
  findings: readonly Finding[],
  verdict: Verdict,
  c: Colors,
  opts: RenderFindingsOptions = {},
): string {
  const out: string[] = [];
  const head =
    verdict.level === "compromised"
      ? c.bold(c.red(safeText(verdict.headline)))
      : verdict.level === "suspicious" || verdict.level === "at-risk"
        ? c.bold(c.yellow(safeText(verdict.headline)))
        : c.bold(c.green(safeText(verdict.headline)));
  out.push(head);
  const floor = opts.all ? 0 : severityRank("medium");
  const shown = findings.filter((f) => severityRank(f.severity) >= floor && !f.falsePositive);
  const hidden = findings.length - shown.length;
  const maxEv = opts.all ? Number.POSITIVE_INFINITY : (opts.maxEvidence ?? 3);
  const maxPer = opts.all ? Number.POSITIVE_INFINITY : (opts.maxPerPlace ?? 12);

  const places = new Map<string, Finding[]>();
  for (const f of opts.all ? findings : shown) {
    const list = places.get(f.where) ?? [];
    list.push(f);
    places.set(f.where, list);
  }
  const ordered = [...places.entries()].sort(
    (a, b) =>
      Math.max(...b[1].map((f) => severityRank(f.severity))) -
        Math.max(...a[1].map((f) => severityRank(f.severity))) || a[0].localeCompare(b[0]),
  );
  for (const [where, list] of ordered) {
    const sorted = [...list].sort((a, b) => severityRank(b.severity) - severityRank(a.severity));
    const isHost = sorted[0]?.containerId === null && where === "host";
    const state = verdict.places.find((p) => p.where === where)?.state;
    const label =
      state === "compromised"
        ? c.red(" COMPROMISED")
        : state === "at-risk"
          ? c.yellow(" AT RISK (misconfiguration, no sign of compromise)")
          : "";
    out.push(
      "",
      c.bold(isHost ? "host (outside all containers)" : `container ${safeText(where)}`) + label,
    );
    for (const f of sorted.slice(0, maxPer)) {
      const fp = f.falsePositive
        ? c.dim(` [probable false positive: ${safeText(f.falsePositive, 120)}]`)
        : "";
      out.push(`  ${badge(f.severity, c)} ${safeText(f.title, 200)}${fp} ${c.dim(`(${f.rule})`)}`);
      for (const e of f.evidence.slice(0, maxEv)) out.push(`        ${evidenceLine(e)}`);
      if (f.evidence.length > maxEv) out.push(c.dim(`        … ${f.evidence.length - maxEv} more`));
      if (f.next) out.push(`        ${c.cyan("→")} ${safeText(f.next, 300)}`);
    }
    if (sorted.length > maxPer) {
      out.push(c.dim(`  … ${sorted.length - maxPer} more findings here (--all to list them)`));
    }
  }
  if (hidden > 0 && !opts.all) {
    const fps = findings.filter((f) => f.falsePositive).length;
    out.push(
      "",
      c.dim(
        `${hidden} more findings below medium${fps ? ` (${fps} marked as probable false positives)` : ""}; --all lists them`,
      ),
    );
  }
  return `${out.join("\n")}\n`;
}
