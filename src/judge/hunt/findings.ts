/**
 * Hits become findings grouped per rule and file: one finding with a count and the
 * first few lines as evidence, never one finding per line.
 */
import type { Evidence, Finding } from "../../model/finding.js";
import type { CompiledRuleSet } from "./compile.js";
import type { Hit } from "./engine.js";
import type { HuntRule } from "./rule-file.js";

export interface HitOrigin {
  /** "host" or the container's name. */
  where: string;
  containerId: string | null;
}

export interface FindingsFromHitsOptions {
  /** Where a file's lines come from: one place for all, or per file. */
  origin: HitOrigin | ((file: string) => HitOrigin);
  /** Lines cited per finding. Default 5. */
  maxEvidence?: number;
}

function basename(p: string): string {
  const i = p.lastIndexOf("/");
  return i === -1 ? p : p.slice(i + 1);
}

export function findingsFromHits(
  hits: readonly Hit[],
  rules: CompiledRuleSet | readonly HuntRule[],
  opts: FindingsFromHitsOptions,
): Finding[] {
  const byId = new Map<string, HuntRule>(
    ("rules" in rules ? rules.rules.map((r) => r.rule) : rules).map((r) => [r.key ?? r.id, r]),
  );
  const groups = new Map<string, Hit[]>();
  for (const h of hits) {
    const k = `${h.rule}\0${h.file}`;
    const g = groups.get(k);
    if (g) g.push(h);
    else groups.set(k, [h]);
  }
  const max = opts.maxEvidence ?? 5;
  const out: Finding[] = [];
  for (const g of groups.values()) {
    const first = g[0]!;
    const rule = byId.get(first.rule);
    if (!rule) continue;
    const origin = typeof opts.origin === "function" ? opts.origin(first.file) : opts.origin;
    const count = g.reduce((n, h) => n + 1 + (h.more ?? 0), 0);
    const keys = new Map<string, number>();
    for (const h of g)
      if (h.key !== undefined) keys.set(h.key, (keys.get(h.key) ?? 0) + 1 + (h.more ?? 0));
    const evidence: Evidence[] = g.slice(0, max).map((h) => {
      const ev: Evidence = { file: h.file, line: h.line, text: h.text };
      const facts: Record<string, string> = {};
      if (h.time) facts.time = h.time;
      if (h.key !== undefined) facts.key = h.key;
      if (Object.keys(facts).length) ev.facts = facts;
      return ev;
    });
    const summary: Record<string, string> = {
      matches: String(count),
      lines: `${g[0]!.line}-${g[g.length - 1]!.line}`,
    };
    if (keys.size) {
      summary.top = [...keys]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 5)
        .map(([k, n]) => `${k} (${n})`)
        .join(", ");
    }
    evidence.push({ file: first.file, facts: summary });
    out.push({
      rule: rule.id,
      severity: rule.severity,
      confidence: rule.confidence,
      title: `${rule.title}: ${count} line${count === 1 ? "" : "s"} in ${basename(first.file)} (first at line ${first.line})`,
      where: origin.where,
      containerId: origin.containerId,
      evidence,
      next: rule.next.replaceAll("{where}", origin.where),
      source: "hunt",
      falsePositive: null,
    });
  }
  return out;
}
