/**
 * rkhunter, run so that it changes nothing on the host: its file-properties database is copied
 * to a temporary directory (`--check` rewrites rkhunter_prop_list.dat otherwise), its log goes to
 * our file (not /var/log), no mail, no colors, no waiting for Enter.
 */
import { cp, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { errorMessage } from "../../util/result.js";
import { findExecutable, runTool, type ToolRun, truncationReason } from "./run-tool.js";
import type { ToolReport } from "./types.js";

export interface RkhunterWarning {
  /** HH:MM:SS from the log (empty on stdout). */
  time: string;
  text: string;
  /** The 9-space-indented continuation lines, trimmed. */
  lines: string[];
  /** 1-based line of the "Warning:" line in the log. */
  line: number;
}

export interface RkhunterLog {
  warnings: RkhunterWarning[];
  summary: Record<string, number>;
  /** The log has the "End date" line: rkhunter finished. */
  complete: boolean;
}

const STAMP = /^\[(\d\d:\d\d:\d\d)\] ?/;
const SUMMARY_KEYS = ["Files checked", "Suspect files", "Rootkits checked", "Possible rootkits"];

/** Parse rkhunter's log (or its --rwo stdout: the same lines without the time stamps). */
export function parseRkhunterLog(text: string): RkhunterLog {
  const warnings: RkhunterWarning[] = [];
  const summary: Record<string, number> = {};
  let current: RkhunterWarning | null = null;
  let complete = false;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.replace(/\r$/, "");
    const m = STAMP.exec(raw);
    const time = m ? m[1]! : "";
    const rest = m ? raw.slice(m[0].length) : raw;
    if (rest.startsWith("Warning: ")) {
      current = { time, text: rest.slice("Warning: ".length).trim(), lines: [], line: i + 1 };
      warnings.push(current);
      continue;
    }
    if (current && /^ {9}\S/.test(rest)) {
      current.lines.push(rest.trim());
      continue;
    }
    current = null;
    const kv = /^([A-Za-z ]+?)\s*: (\d+)$/.exec(rest);
    if (kv && SUMMARY_KEYS.includes(kv[1]!)) summary[kv[1]!] = Number(kv[2]);
    if (rest.startsWith("Info: End date is")) complete = true;
  }
  return { warnings, summary, complete };
}

/**
 * `tests`: only these test names or groups (`--enable`, see `rkhunter --list tests`); a full
 * check takes minutes to a quarter of an hour on a slow host, a few groups well under one.
 */
export function rkhunterArgs(
  logFile: string,
  dbDir: string,
  tmpDir: string,
  tests: readonly string[] = [],
): string[] {
  return [
    "--check",
    "--sk",
    "--nocolors",
    "--rwo",
    "--nomow",
    "--logfile",
    logFile,
    "--dbdir",
    dbDir,
    "--tmpdir",
    tmpDir,
    ...(tests.length > 0 ? ["--enable", tests.join(",")] : []),
  ];
}

/**
 * Whether what was parsed is the whole answer: the log must reach its end line, and the
 * output the parse fell back on (stdout, when the log is missing) must not have been cut.
 */
function cut(run: ToolRun, parsed: RkhunterLog): { truncated: boolean; incomplete: boolean } {
  return {
    truncated: run.truncated,
    incomplete: run.truncated || run.timedOut || !parsed.complete,
  };
}

export interface RunRkhunterOptions {
  timeoutMs: number;
  /** Tests point this at a fake tool. */
  executable?: string;
  hostDbDir?: string;
  /** Only these tests or groups (rkhunter --enable); empty or absent: the full check. */
  tests?: readonly string[];
  signal?: AbortSignal;
  env: Readonly<Record<string, string | undefined>>;
}

export async function runRkhunter(opts: RunRkhunterOptions): Promise<ToolReport> {
  const started = Date.now();
  const base = {
    tool: "rkhunter" as const,
    said: null,
    gaps: [],
    raw: {} as Record<string, string>,
    parsed: null as unknown,
  };
  const exe = await findExecutable(opts.executable ?? "rkhunter", opts.env);
  if (!exe) {
    return {
      ...base,
      status: "missing",
      summary: "rkhunter is not installed (apt-get install rkhunter)",
      gaps: [
        { tool: "rkhunter", what: "rkhunter", reason: "not installed: apt-get install rkhunter" },
      ],
      durationMs: 0,
    };
  }
  const work = await mkdtemp(join(tmpdir(), "breachkit-rkhunter-"));
  try {
    const dbCopy = join(work, "db");
    const scratch = join(work, "tmp");
    await mkdir(scratch, { recursive: true });
    await cp(opts.hostDbDir ?? "/var/lib/rkhunter/db", dbCopy, { recursive: true }).catch(() =>
      mkdir(dbCopy, { recursive: true }),
    );
    const logFile = join(work, "rkhunter.log");
    const run = await runTool(exe, rkhunterArgs(logFile, dbCopy, scratch, opts.tests), {
      timeoutMs: opts.timeoutMs,
      env: opts.env,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const logText = await readFile(logFile, "utf8").catch(() => "");
    const parsed = parseRkhunterLog(logText || run.stdout);
    const said = { tool: "rkhunter" as const, log: parsed, logFile: "scans/rkhunter/rkhunter.log" };
    const raw = { "rkhunter.log": logText, "stdout.txt": run.stdout, "stderr.txt": run.stderr };
    const durationMs = Date.now() - started;
    if (run.timedOut) {
      return {
        ...base,
        status: "timeout",
        summary: `timed out after ${Math.round(opts.timeoutMs / 1000)} s (partial log kept)`,
        said,
        gaps: [
          { tool: "rkhunter", what: "rkhunter --check", reason: "timed out; results are partial" },
        ],
        raw,
        parsed: { ...parsed, argv: run.argv, exitCode: run.exitCode, ...cut(run, parsed) },
        incomplete: true,
        durationMs,
      };
    }
    // 0: nothing, 1: warnings; anything else is rkhunter failing (bad option, missing db).
    const failed = run.exitCode !== 0 && run.exitCode !== 1;
    const shape = cut(run, parsed);
    const cutGap = truncationReason(run);
    return {
      ...base,
      status: failed ? "error" : "ok",
      summary: failed
        ? `rkhunter failed (exit ${run.exitCode ?? run.signal}): ${run.stderr.trim().split("\n")[0] ?? ""}`
        : `${parsed.warnings.length} warning(s), exit ${run.exitCode}, ${Math.round(run.durationMs / 1000)} s`,
      said,
      gaps: [
        ...(failed
          ? [
              {
                tool: "rkhunter" as const,
                what: "rkhunter --check",
                reason: `exit ${run.exitCode}`,
              },
            ]
          : []),
        ...(cutGap ? [{ tool: "rkhunter" as const, what: "rkhunter output", reason: cutGap }] : []),
      ],
      raw,
      parsed: { ...parsed, argv: run.argv, exitCode: run.exitCode, ...shape },
      incomplete: shape.incomplete,
      durationMs,
    };
  } catch (e) {
    return {
      ...base,
      status: "error",
      summary: `rkhunter could not run: ${errorMessage(e)}`,
      gaps: [{ tool: "rkhunter", what: "rkhunter", reason: errorMessage(e) }],
      durationMs: Date.now() - started,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
