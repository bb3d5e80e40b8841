/**
 * A scan from end to end, as `breachkit scan` runs it: each tool in turn (observe), its report
 * judged (judge) and written into the bundle before the next tool starts (evidence), so that
 * an interrupted scan keeps what finished. Wiring only: no decision is made here.
 */
import type { BundleWriter } from "../evidence/types.js";
import type { FalsePositiveRule } from "../judge/scanners/false-positives.js";
import {
  type JudgedToolReport,
  judgeToolReport,
  type ScanResult,
  scanResult,
} from "../judge/scanners/index.js";
import { type PackagesSaid, verifiedSetOf } from "../observe/packages/scan.js";
import { type RunScannerOptions, runScanner } from "../observe/scanners/engine.js";
import { TOOL_NAMES, type ToolName } from "../observe/scanners/types.js";

export interface RunScanOptions extends RunScannerOptions {
  tools: readonly ToolName[];
  bundle?: BundleWriter;
  falsePositives: readonly FalsePositiveRule[];
  /** Scan every file, also those verified unchanged against their package (--all-files). */
  allFiles?: boolean;
}

/**
 * The tools in the order they run: packages first, and added when ClamAV or YARA runs without
 * --all-files, since what it verifies is what they skip.
 */
export function scanOrder(tools: readonly ToolName[], allFiles: boolean): ToolName[] {
  const want = new Set(tools);
  if (!allFiles && (want.has("clamav") || want.has("yara"))) want.add("packages");
  return TOOL_NAMES.filter((t) => want.has(t));
}

async function writeReport(bundle: BundleWriter, r: JudgedToolReport): Promise<void> {
  const base = `scans/${r.tool}`;
  for (const [name, data] of Object.entries(r.raw)) {
    await bundle.writeFile(`${base}/${name}`, data, { source: r.tool });
  }
  await bundle.writeJson(
    `${base}/parsed.json`,
    {
      status: r.status,
      summary: r.summary,
      durationMs: r.durationMs,
      gaps: r.gaps,
      parsed: r.parsed,
    },
    { source: "breachkit" },
  );
  await bundle.writeJson(`${base}/findings.json`, r.findings, { source: "breachkit" });
}

export async function runScan(opts: RunScanOptions): Promise<ScanResult> {
  const reports: JudgedToolReport[] = [];
  let verified = opts.verified ?? null;
  for (const tool of scanOrder(opts.tools, opts.allFiles === true)) {
    if (opts.signal?.aborted) break;
    opts.progress.update(`${tool}: starting`);
    const report = await runScanner(tool, {
      ...opts,
      verified: opts.allFiles ? null : verified,
      packagesScope: opts.tools.includes("packages") ? "full" : "scanned-paths",
    });
    if (report.said?.tool === "packages") verified = verifiedSetOf(report.said as PackagesSaid);
    if (!opts.tools.includes(tool)) report.implicit = true;
    const r = judgeToolReport(report, opts.falsePositives);
    reports.push(r);
    opts.progress.done(`${tool}: ${r.summary}`);
    if (opts.bundle) {
      const bundle = opts.bundle;
      await bundle.step(`scan.${tool}`, `write scans/${tool}`, () => writeReport(bundle, r));
      bundle.log({
        step: `scan.${tool}`,
        action: `run ${tool}`,
        result: r.status === "ok" ? "ok" : r.status === "skipped" ? "skipped" : "error",
        durationMs: r.durationMs,
        details: { summary: r.summary, findings: r.findings.length },
      });
    }
  }
  // The asked tools first, in their order; the implicit package check after them.
  return scanResult([...reports.filter((r) => !r.implicit), ...reports.filter((r) => r.implicit)]);
}
