/**
 * Lynis: `audit system --cronjob` with a profile that keeps it from changing the host
 * (no `apt-get update`), run from "/" (it loads ./db from its working directory when present).
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorMessage } from "../../util/result.js";
import { findExecutable, runTool } from "./run-tool.js";
import type { ToolReport } from "./types.js";

export interface LynisItem {
  id: string;
  text: string;
  details: string;
  solution: string;
  line: number;
}

export interface LynisReport {
  warnings: LynisItem[];
  suggestions: LynisItem[];
  hardeningIndex: number | null;
  vulnerablePackages: string[];
  version: string | null;
  /** Lynis wrote its end marker: the audit ran to the end. */
  complete: boolean;
}

function item(value: string, line: number): LynisItem {
  const [id = "", text = "", details = "", solution = ""] = value.split("|");
  const clean = (s: string) => (s === "-" ? "" : s);
  return { id, text, details: clean(details), solution: clean(solution), line };
}

/** Parse a Lynis report file (`key=value`, arrays as `key[]=`). */
export function parseLynisReport(text: string): LynisReport {
  const r: LynisReport = {
    warnings: [],
    suggestions: [],
    hardeningIndex: null,
    vulnerablePackages: [],
    version: null,
    complete: false,
  };
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    const eq = line.indexOf("=");
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "warning[]") r.warnings.push(item(value, i + 1));
    else if (key === "suggestion[]") r.suggestions.push(item(value, i + 1));
    else if (key === "hardening_index" && /^\d{1,3}$/.test(value)) r.hardeningIndex = Number(value);
    else if (key === "vulnerable_package[]" && value) r.vulnerablePackages.push(value);
    else if (key === "lynis_version") r.version = value;
    else if (key === "report_datetime_end") r.complete = true;
  }
  return r;
}

export const LYNIS_PROFILE = [
  "# breachkit: do not change the host during the audit",
  "refresh-repositories=no",
  "skip-upgrade-test=yes",
  "error-on-warnings=yes",
  "",
].join("\n");

export function lynisArgs(
  profile: string,
  logFile: string,
  reportFile: string,
  groups: readonly string[] = [],
): string[] {
  return [
    "audit",
    "system",
    "--cronjob",
    "--profile",
    profile,
    "--log-file",
    logFile,
    "--report-file",
    reportFile,
    ...(groups.length > 0 ? ["--tests-from-group", groups.join(" ")] : []),
  ];
}

export interface RunLynisOptions {
  timeoutMs: number;
  executable?: string;
  /** Only the tests of these groups (`--tests-from-group`); empty or absent: the whole audit. */
  groups?: readonly string[];
  signal?: AbortSignal;
  env: Readonly<Record<string, string | undefined>>;
}

export async function runLynis(opts: RunLynisOptions): Promise<ToolReport> {
  const started = Date.now();
  const exe = await findExecutable(opts.executable ?? "lynis", opts.env);
  if (!exe) {
    return {
      tool: "lynis",
      status: "missing",
      summary: "lynis is not installed (apt-get install lynis)",
      said: null,
      gaps: [{ tool: "lynis", what: "lynis", reason: "not installed: apt-get install lynis" }],
      durationMs: 0,
      raw: {},
      parsed: null,
    };
  }
  const work = await mkdtemp(join(tmpdir(), "breachkit-lynis-"));
  try {
    const profile = join(work, "breachkit.prf");
    const logFile = join(work, "lynis.log");
    const reportFile = join(work, "lynis-report.dat");
    await writeFile(profile, LYNIS_PROFILE, { mode: 0o600 });
    const run = await runTool(exe, lynisArgs(profile, logFile, reportFile, opts.groups), {
      cwd: "/",
      timeoutMs: opts.timeoutMs,
      env: opts.env,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const reportText = await readFile(reportFile, "utf8").catch(() => "");
    const logText = await readFile(logFile, "utf8").catch(() => "");
    const report = parseLynisReport(reportText);
    const raw = {
      "lynis-report.dat": reportText,
      "lynis.log": logText,
      "stdout.txt": run.stdout,
      "stderr.txt": run.stderr,
    };
    // The report file is what is parsed: stdout being cut does not make it incomplete.
    const parsed = {
      ...report,
      argv: run.argv,
      exitCode: run.exitCode,
      truncated: run.truncated,
      incomplete: run.timedOut || !report.complete,
    };
    // error-on-warnings: 78 means "ran, has warnings"; 0 ran clean; others failed.
    const failed = !run.timedOut && run.exitCode !== 0 && run.exitCode !== 78;
    return {
      tool: "lynis",
      status: run.timedOut ? "timeout" : failed ? "error" : "ok",
      summary: run.timedOut
        ? `timed out after ${Math.round(opts.timeoutMs / 1000)} s`
        : failed
          ? `lynis failed (exit ${run.exitCode ?? run.signal})`
          : `hardening index ${report.hardeningIndex ?? "?"}, ${report.warnings.length} warning(s), ${report.suggestions.length} suggestion(s)`,
      said: { tool: "lynis", report, reportFile: "scans/lynis/lynis-report.dat" },
      gaps:
        run.timedOut || failed
          ? [
              {
                tool: "lynis",
                what: "lynis audit system",
                reason: run.timedOut ? "timed out" : `exit ${run.exitCode}`,
              },
            ]
          : [],
      durationMs: Date.now() - started,
      raw,
      parsed,
      incomplete: parsed.incomplete,
    };
  } catch (e) {
    return {
      tool: "lynis",
      status: "error",
      summary: `lynis could not run: ${errorMessage(e)}`,
      said: null,
      gaps: [{ tool: "lynis", what: "lynis", reason: errorMessage(e) }],
      durationMs: Date.now() - started,
      raw: {},
      parsed: null,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
