/**
 * scan's terminal report: per tool its status, then its findings by place; probable false
 * positives dimmed with their reason, never hidden.
 */
import type { ScanResult } from "../judge/scanners/index.js";
import type { Finding, Severity } from "../model/finding.js";
import type { Colors } from "../util/colors.js";
import { safeText } from "../util/sanitize.js";

function sevColor(c: Colors, s: Severity): (t: string) => string {
  return s === "critical" || s === "high" ? c.red : s === "medium" ? c.yellow : c.dim;
}

/** Findings grouped by tool, then by where; every string from the host through safeText. */
export function formatScan(r: ScanResult, c: Colors, bundleDir: string | null): string {
  const out: string[] = [];
  const t = (s: string) => safeText(s, 300);
  for (const rep of r.reports) {
    out.push(
      `${c.bold(rep.tool)}  ${rep.status === "ok" ? c.green(rep.status) : c.yellow(rep.status)}  ${t(rep.summary)}`,
    );
    const byWhere = new Map<string, Finding[]>();
    for (const f of r.findings.filter((x) => x.source === rep.tool)) {
      byWhere.set(f.where, [...(byWhere.get(f.where) ?? []), f]);
    }
    for (const [where, list] of byWhere) {
      out.push(`  ${c.bold(t(where))}`);
      const shown = list.filter((f) => f.severity !== "info").slice(0, 50);
      for (const f of shown) {
        const fp = f.falsePositive
          ? c.dim(` (probable false positive: ${t(f.falsePositive)})`)
          : "";
        out.push(
          `    ${sevColor(c, f.severity)(f.severity.padEnd(8))} ${f.falsePositive ? c.dim(t(f.title)) : t(f.title)}${fp}`,
        );
      }
      const hidden = list.length - shown.length;
      if (hidden > 0)
        out.push(c.dim(`    ... ${hidden} more (info or beyond 50): see --json or the bundle`));
    }
  }
  if (r.gaps.length > 0) {
    out.push(c.bold("gaps"));
    for (const g of r.gaps) out.push(`  ${g.tool}: ${t(g.what)}: ${t(g.reason)}`);
  }
  if (bundleDir) out.push(`bundle: ${t(bundleDir)}`);
  return `${out.join("\n")}\n`;
}
