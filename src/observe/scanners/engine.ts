/**
 * runScan: the scanners in turn (they compete for the same two cores), each one's failure kept
 * to itself, findings marked against the known false positives, raw output into the bundle.
 */
import type { BundleWriter } from "../../evidence/types.js";
import { type Finding, sortFindings } from "../../model/finding.js";
import type { Progress } from "../../tell/progress.js";
import { errorMessage } from "../../util/result.js";
import { type ChkrootkitRoot, runChkrootkit } from "./chkrootkit.js";
import { type ClamavOptions, runClamav } from "./clamav.js";
import { type FalsePositiveRule, markFalsePositives } from "./false-positives.js";
import { runLynis } from "./lynis.js";
import { runRkhunter } from "./rkhunter.js";
import type { ScanCache } from "./scan-cache.js";
import type { ScanGap, ScanTarget, ToolName, ToolReport } from "./types.js";

export const DEFAULT_TIMEOUTS: Record<ToolName, number> = {
  clamav: 6 * 60 * 60_000,
  rkhunter: 20 * 60_000,
  chkrootkit: 20 * 60_000,
  lynis: 20 * 60_000,
};

export interface RunScanOptions {
  targets: readonly ScanTarget[];
  tools: readonly ToolName[];
  clamavDb: string;
  bundle?: BundleWriter;
  progress: Progress;
  timeoutMs?: Partial<Record<ToolName, number>>;
  cache: ((dbKey: string) => Promise<ScanCache>) | null;
  falsePositives: readonly FalsePositiveRule[];
  /** Tests point a tool at a fake executable (a script that hangs). */
  executables?: Partial<Record<ToolName, string>>;
  clamav?: Partial<
    Pick<ClamavOptions, "threads" | "inFlight" | "useSystemClamd" | "forceClamscan">
  >;
  /**
   * Bound a scanner to some of its tests (rkhunter --enable groups, chkrootkit test names,
   * Lynis groups); absent: the tool's full run.
   */
  tests?: Partial<Record<"rkhunter" | "chkrootkit" | "lynis", readonly string[]>>;
  signal?: AbortSignal;
}

export interface ScanResult {
  reports: ToolReport[];
  findings: Finding[];
  gaps: ScanGap[];
}

function chkrootkitRoots(targets: readonly ScanTarget[]): ChkrootkitRoot[] {
  const roots: ChkrootkitRoot[] = [];
  if (targets.some((t) => t.kind === "host"))
    roots.push({ where: "host", containerId: null, root: "/" });
  for (const t of targets) {
    // chkrootkit -r needs a whole root filesystem: only running containers have one to show.
    if (t.kind === "container" && t.pid !== null)
      roots.push({ where: t.name, containerId: t.id, root: t.root });
  }
  return roots;
}

async function runOne(tool: ToolName, opts: RunScanOptions): Promise<ToolReport> {
  const timeoutMs = opts.timeoutMs?.[tool] ?? DEFAULT_TIMEOUTS[tool];
  const exe = opts.executables?.[tool];
  const sig = opts.signal ? { signal: opts.signal } : {};
  switch (tool) {
    case "clamav":
      return runClamav({
        targets: opts.targets,
        dbDir: opts.clamavDb,
        cache: opts.cache,
        progress: opts.progress,
        timeoutMs,
        ...opts.clamav,
        ...(exe ? { clamdPath: exe, clamscanPath: exe } : {}),
        ...sig,
      });
    case "rkhunter":
      return runRkhunter({
        timeoutMs,
        ...(exe ? { executable: exe } : {}),
        ...(opts.tests?.rkhunter ? { tests: opts.tests.rkhunter } : {}),
        ...sig,
      });
    case "chkrootkit":
      return runChkrootkit({
        roots: chkrootkitRoots(opts.targets),
        timeoutMs,
        ...(exe ? { executable: exe } : {}),
        ...(opts.tests?.chkrootkit ? { tests: opts.tests.chkrootkit } : {}),
        ...sig,
      });
    case "lynis":
      return runLynis({
        timeoutMs,
        ...(exe ? { executable: exe } : {}),
        ...(opts.tests?.lynis ? { groups: opts.tests.lynis } : {}),
        ...sig,
      });
  }
}

async function writeReport(bundle: BundleWriter, r: ToolReport): Promise<void> {
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
  const reports: ToolReport[] = [];
  for (const tool of opts.tools) {
    if (opts.signal?.aborted) break;
    opts.progress.update(`${tool}: starting`);
    const started = Date.now();
    let r: ToolReport;
    try {
      r = await runOne(tool, opts);
    } catch (e) {
      r = {
        tool,
        status: "error",
        summary: `${tool} failed: ${errorMessage(e)}`,
        findings: [],
        gaps: [{ tool, what: tool, reason: errorMessage(e) }],
        durationMs: Date.now() - started,
        raw: {},
        parsed: null,
      };
    }
    r = { ...r, findings: markFalsePositives(r.findings, opts.falsePositives) };
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
  return {
    reports,
    findings: sortFindings(reports.flatMap((r) => r.findings)),
    gaps: reports.flatMap((r) => r.gaps),
  };
}
