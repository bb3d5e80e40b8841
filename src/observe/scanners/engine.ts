/**
 * One scanner run with its options, its failure kept to itself: a tool that throws gives an
 * error report, never a crash. The CLI runs them in turn (they compete for the same two
 * cores) and has each report judged and written (cli/run-scan.ts).
 */
import type { Progress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import { runPackages, type VerifiedSet } from "../packages/scan.js";
import { type ChkrootkitRoot, runChkrootkit } from "./chkrootkit.js";
import { type ClamavOptions, runClamav } from "./clamav.js";
import { runLynis } from "./lynis.js";
import { runRkhunter } from "./rkhunter.js";
import type { ScanCache } from "./scan-cache.js";
import type { ScanTarget, ToolName, ToolReport } from "./types.js";
import { runYara } from "./yara.js";

export const DEFAULT_TIMEOUTS: Record<ToolName, number> = {
  clamav: 6 * 60 * 60_000,
  rkhunter: 20 * 60_000,
  chkrootkit: 20 * 60_000,
  lynis: 20 * 60_000,
  packages: 2 * 60 * 60_000,
  yara: 6 * 60 * 60_000,
};

export interface RunScannerOptions {
  targets: readonly ScanTarget[];
  clamavDb: string;
  progress: Progress;
  timeoutMs?: Partial<Record<ToolName, number>>;
  cache: ((dbKey: string) => Promise<ScanCache>) | null;
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
  /** Files verified unchanged against their package (filled by the packages step): skipped by ClamAV and YARA. */
  verified?: VerifiedSet | null;
  /** "scanned-paths": packages runs only for ClamAV's and YARA's sake (see runPackages). */
  packagesScope?: "full" | "scanned-paths";
  /** The YARA rules file (scan --yara RULES). */
  yaraRules?: string;
  /** The CLI's environment: PATH for finding the tools, and theirs when they run. */
  env: Readonly<Record<string, string | undefined>>;
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

async function runOne(tool: ToolName, opts: RunScannerOptions): Promise<ToolReport> {
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
        env: opts.env,
        ...opts.clamav,
        ...(exe ? { clamdPath: exe, clamscanPath: exe } : {}),
        verified: opts.verified ?? null,
        ...sig,
      });
    case "rkhunter":
      return runRkhunter({
        timeoutMs,
        env: opts.env,
        ...(exe ? { executable: exe } : {}),
        ...(opts.tests?.rkhunter ? { tests: opts.tests.rkhunter } : {}),
        ...sig,
      });
    case "chkrootkit":
      return runChkrootkit({
        roots: chkrootkitRoots(opts.targets),
        timeoutMs,
        env: opts.env,
        ...(exe ? { executable: exe } : {}),
        ...(opts.tests?.chkrootkit ? { tests: opts.tests.chkrootkit } : {}),
        ...sig,
      });
    case "lynis":
      return runLynis({
        timeoutMs,
        env: opts.env,
        ...(exe ? { executable: exe } : {}),
        ...(opts.tests?.lynis ? { groups: opts.tests.lynis } : {}),
        ...sig,
      });
    case "packages":
      return runPackages({
        targets: opts.targets,
        progress: opts.progress,
        scope: opts.packagesScope ?? "full",
        ...sig,
      });
    case "yara":
      return runYara({
        targets: opts.targets,
        rules: opts.yaraRules ?? "",
        timeoutMs,
        env: opts.env,
        verified: opts.verified ?? null,
        ...(exe ? { executable: exe } : {}),
        ...sig,
      });
  }
}

/** Run one tool; whatever it throws becomes an error report. */
export async function runScanner(tool: ToolName, opts: RunScannerOptions): Promise<ToolReport> {
  const started = Date.now();
  try {
    return await runOne(tool, opts);
  } catch (e) {
    return {
      tool,
      status: "error",
      summary: `${tool} failed: ${errorMessage(e)}`,
      said: null,
      gaps: [{ tool, what: tool, reason: errorMessage(e) }],
      durationMs: Date.now() - started,
      raw: {},
      parsed: null,
    };
  }
}
