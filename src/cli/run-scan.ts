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
import { type RunScannerOptions, runScanner } from "../observe/scanners/engine.js";
import type { ToolName } from "../observe/scanners/types.js";

export interface RunScanOptions extends RunScannerOptions {
  tools: readonly ToolName[];
  bundle?: BundleWriter;
  falsePositives: readonly FalsePositiveRule[];
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
  for (const tool of opts.tools) {
    if (opts.signal?.aborted) break;
    opts.progress.update(`${tool}: starting`);
    const r = judgeToolReport(await runScanner(tool, opts), opts.falsePositives);
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
  return scanResult(reports);
}
