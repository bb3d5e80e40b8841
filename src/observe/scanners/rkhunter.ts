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
  /** The log has the "End date" line: rkhunter finished (every process, for a split run). */
  complete: boolean;
  /** How many "End date" lines the text holds (one per rkhunter process that finished). */
  ends?: number;
}

const STAMP = /^\[(\d\d:\d\d:\d\d)\] ?/;
const SUMMARY_KEYS = ["Files checked", "Suspect files", "Rootkits checked", "Possible rootkits"];

/** Parse rkhunter's log (or its --rwo stdout: the same lines without the time stamps). */
export function parseRkhunterLog(text: string): RkhunterLog {
  const warnings: RkhunterWarning[] = [];
  const summary: Record<string, number> = {};
  let current: RkhunterWarning | null = null;
  let ends = 0;
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
    // Detail lines: 9 spaces after the stamp (or on --rwo stdout), 11 for the second line of
    // a multi-line message in the log (written without a stamp).
    if (current && /^ {9,}\S/.test(rest)) {
      current.lines.push(rest.trim());
      continue;
    }
    current = null;
    const kv = /^([A-Za-z ]+?)\s*: (\d+)$/.exec(rest);
    if (kv && SUMMARY_KEYS.includes(kv[1]!)) summary[kv[1]!] = Number(kv[2]);
    if (rest.startsWith("Info: End date is")) ends++;
  }
  return { warnings, summary, complete: ends > 0, ends };
}

/**
 * rkhunter 1.4.6's test groups (`rkhunter --list tests`). A group name in --enable/--disable
 * stands for its tests; rkhunter also gates whole sections on the group names.
 */
export const RKHUNTER_GROUPS: Readonly<Record<string, readonly string[]>> = {
  additional_rkts: ["possible_rkt_files", "possible_rkt_strings"],
  group_accounts: ["group_changes", "passwd_changes"],
  local_host: [
    "filesystem",
    "group_changes",
    "passwd_changes",
    "startup_malware",
    "system_configs_ssh",
    "system_configs_syslog",
  ],
  malware: [
    "deleted_files",
    "hidden_procs",
    "ipc_shared_mem",
    "login_backdoors",
    "running_procs",
    "sniffer_logs",
    "susp_dirs",
    "suspscan",
    "tripwire",
  ],
  network: ["hidden_ports", "packet_cap_apps", "ports", "promisc"],
  os_specific: ["avail_modules", "loaded_modules"],
  properties: ["attributes", "hashes", "immutable", "scripts"],
  rootkits: [
    "avail_modules",
    "deleted_files",
    "hidden_procs",
    "ipc_shared_mem",
    "known_rkts",
    "loaded_modules",
    "login_backdoors",
    "possible_rkt_files",
    "possible_rkt_strings",
    "running_procs",
    "sniffer_logs",
    "susp_dirs",
    "suspscan",
    "tripwire",
    "trojans",
  ],
  shared_libs: ["shared_libs_path"],
  startup_files: ["startup_malware"],
  system_commands: ["attributes", "hashes", "immutable", "scripts", "shared_libs_path", "strings"],
  system_configs: ["system_configs_ssh", "system_configs_syslog"],
};

/**
 * The tests that one process runs as a whole, with their weight: seconds of a full check on
 * a quiet 2-core host (the recorded log test/fixtures/scanners/rkhunter-1.4.6-host.log). A
 * section's tests stay together where rkhunter shares work between them (the four
 * file-properties tests run in one loop over the same files; a section's set-up runs once).
 */
const UNITS: readonly { tests: readonly string[]; weight: number }[] = [
  { tests: ["attributes", "hashes", "immutable", "scripts"], weight: 47 },
  { tests: ["known_rkts"], weight: 35 },
  { tests: ["possible_rkt_files", "possible_rkt_strings"], weight: 22 },
  { tests: ["strings", "shared_libs_path"], weight: 9 },
  {
    tests: [
      "deleted_files",
      "hidden_procs",
      "ipc_shared_mem",
      "login_backdoors",
      "running_procs",
      "sniffer_logs",
      "susp_dirs",
      "suspscan",
      "tripwire",
    ],
    weight: 8,
  },
  {
    tests: [
      "filesystem",
      "group_changes",
      "passwd_changes",
      "startup_malware",
      "system_configs_ssh",
      "system_configs_syslog",
    ],
    weight: 6,
  },
  { tests: ["hidden_ports", "packet_cap_apps", "ports", "promisc"], weight: 5 },
  { tests: ["apps"], weight: 3 },
  { tests: ["trojans", "avail_modules", "loaded_modules"], weight: 1 },
];

/** The tests a name stands for: a group's tests, or the name itself. */
export function rkhunterLeaves(name: string): readonly string[] {
  return RKHUNTER_GROUPS[name] ?? [name];
}

function weightOf(tests: readonly string[]): number {
  let w = 0;
  for (const t of tests) w += UNITS.find((u) => u.tests.includes(t))?.weight ?? 1;
  return w;
}

/** Heaviest first onto the lightest bin; ties to the first bin. Deterministic. */
function balance<T>(items: readonly T[], weight: (t: T) => number, bins: number): T[][] {
  const out: T[][] = Array.from({ length: bins }, () => []);
  const load = new Array<number>(bins).fill(0);
  const sorted = items
    .map((item, i) => ({ item, i, w: weight(item) }))
    .sort((a, b) => b.w - a.w || a.i - b.i);
  for (const { item, w } of sorted) {
    const k = load.indexOf(Math.min(...load));
    out[k]!.push(item);
    load[k]! += w;
  }
  return out.filter((b) => b.length > 0);
}

/** What one rkhunter process runs: `--enable` these names, or all but `--disable` these. */
export interface RkhunterShare {
  enable?: readonly string[];
  disable?: readonly string[];
}

/**
 * Split a check over `processes` rkhunter processes so that together they run exactly the
 * tests one serial run would:
 * - `tests` given (a restricted run): the names themselves are dealt out, each process run with
 *   `--enable` of its names. rkhunter resolves each name the same way as in one run (a group's
 *   tests, a config-disabled test that is named outright), so the union is the serial set.
 * - the full check: every process keeps the configuration's enabled and disabled tests and is
 *   given `--disable` for the tests dealt to the others, plus each group none of whose tests it
 *   runs (so it skips that section's set-up work, e.g. the file-properties preparation). A test
 *   this table does not know (a newer rkhunter) is disabled nowhere, so it runs in every
 *   process: duplicated, never lost (the merge drops the repeated warnings).
 */
export function planRkhunterSplit(
  processes: number,
  tests: readonly string[] = [],
): RkhunterShare[] {
  const n = Math.max(1, Math.floor(processes));
  if (tests.length > 0) {
    if (n === 1) return [{ enable: tests }];
    return balance(tests, (t) => weightOf(rkhunterLeaves(t)), n).map((enable) => ({ enable }));
  }
  if (n === 1) return [{}];
  const bins = balance(UNITS, (u) => u.weight, n).map((units) => units.flatMap((u) => u.tests));
  return bins.map((mine, i) => {
    const others = bins.filter((_, j) => j !== i).flat();
    const groups = Object.entries(RKHUNTER_GROUPS)
      .filter(([, leaves]) => leaves.every((l) => !mine.includes(l)))
      .map(([g]) => g);
    return { disable: [...others, ...groups] };
  });
}

/**
 * One process's arguments. `--novl` (no verbose logging): rkhunter writes every warning and its
 * detail lines to the log as before, but not the "not found"/"OK" line of each file it looked
 * at; each logged line costs rkhunter several forks (date, grep, sed...), the largest part of a
 * check here. (`--nolog` cannot be used: with it rkhunter refuses --rwo, and without the log the
 * warnings lose their details.)
 */
export function rkhunterArgs(
  logFile: string,
  dbDir: string,
  tmpDir: string,
  tests: readonly string[] = [],
  share: RkhunterShare = {},
): string[] {
  const enable = share.enable ?? tests;
  return [
    "--check",
    "--sk",
    "--nocolors",
    "--rwo",
    "--nomow",
    "--novl",
    "--logfile",
    logFile,
    "--dbdir",
    dbDir,
    "--tmpdir",
    tmpDir,
    ...(share.disable && share.disable.length > 0 ? ["--disable", share.disable.join(",")] : []),
    ...(enable.length > 0 ? ["--enable", enable.join(",")] : []),
  ];
}

/**
 * The logs of a split run as one: warnings in process order, a warning that more than one
 * process logged (the start-up checks every process makes, a test run twice) kept once, line
 * numbers counted in the logs joined in that order (as the bundle keeps them), summary counts
 * added up, complete only when every process reached its end line.
 */
export function mergeRkhunterLogs(texts: readonly string[]): { text: string; log: RkhunterLog } {
  const parts = texts.map((t) => (t.length === 0 || t.endsWith("\n") ? t : `${t}\n`));
  const text = parts.join("");
  const warnings: RkhunterWarning[] = [];
  const summary: Record<string, number> = {};
  const seen = new Set<string>();
  let offset = 0;
  let complete = parts.length > 0;
  let ends = 0;
  for (const part of parts) {
    const log = parseRkhunterLog(part);
    const mine = new Set<string>();
    for (const w of log.warnings) {
      const key = JSON.stringify([w.text, w.lines]);
      mine.add(key);
      if (seen.has(key)) continue;
      warnings.push({ ...w, line: w.line + offset });
    }
    for (const k of mine) seen.add(k);
    for (const [k, v] of Object.entries(log.summary)) summary[k] = (summary[k] ?? 0) + v;
    if (!log.complete) complete = false;
    ends += log.ends ?? 0;
    offset += part.length === 0 ? 0 : part.split("\n").length - 1;
  }
  return { text, log: { warnings, summary, complete, ends } };
}

/**
 * Whether what was parsed is the whole answer: the log must reach its end line, and the
 * output the parse fell back on (stdout, when the log is missing) must not have been cut.
 */
function cut(
  runs: readonly ToolRun[],
  parsed: RkhunterLog,
): { truncated: boolean; incomplete: boolean } {
  const truncated = runs.some((r) => r.truncated);
  return {
    truncated,
    incomplete: truncated || runs.some((r) => r.timedOut) || !parsed.complete,
  };
}

export interface RunRkhunterOptions {
  timeoutMs: number;
  /** Tests point this at a fake tool. */
  executable?: string;
  hostDbDir?: string;
  /** Only these tests or groups (rkhunter --enable); empty or absent: the full check. */
  tests?: readonly string[];
  /**
   * rkhunter processes run side by side, each with its own copy of the database, temp dir and
   * log (default 2, the cores of a small server; 1: one serial run).
   */
  processes?: number;
  signal?: AbortSignal;
  env: Readonly<Record<string, string | undefined>>;
}

export const RKHUNTER_PROCESSES = 2;

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
    const shares = planRkhunterSplit(opts.processes ?? RKHUNTER_PROCESSES, opts.tests ?? []);
    const dirs = await Promise.all(
      shares.map(async (_, i) => {
        const dir = join(work, `p${i + 1}`);
        const dbCopy = join(dir, "db");
        const scratch = join(dir, "tmp");
        await mkdir(scratch, { recursive: true });
        await cp(opts.hostDbDir ?? "/var/lib/rkhunter/db", dbCopy, { recursive: true }).catch(() =>
          mkdir(dbCopy, { recursive: true }),
        );
        return { dbCopy, scratch, logFile: join(dir, "rkhunter.log") };
      }),
    );
    const runs = await Promise.all(
      shares.map((share, i) =>
        runTool(exe, rkhunterArgs(dirs[i]!.logFile, dirs[i]!.dbCopy, dirs[i]!.scratch, [], share), {
          timeoutMs: opts.timeoutMs,
          env: opts.env,
          ...(opts.signal ? { signal: opts.signal } : {}),
        }),
      ),
    );
    const logs = await Promise.all(dirs.map((d) => readFile(d.logFile, "utf8").catch(() => "")));
    // A process whose log is missing is parsed from its --rwo stdout (the warnings, unstamped).
    const merged = mergeRkhunterLogs(logs.map((l, i) => l || runs[i]!.stdout));
    const parsed = merged.log;
    const said = { tool: "rkhunter" as const, log: parsed, logFile: "scans/rkhunter/rkhunter.log" };
    const joinOut = (pick: (r: ToolRun) => string) =>
      runs.length === 1
        ? pick(runs[0]!)
        : runs.map((r, i) => `=== rkhunter process ${i + 1} ===\n${pick(r)}`).join("\n");
    const raw = {
      // The processes' logs one after the other (each from its start line to its end line):
      // the findings' line numbers count in this file.
      "rkhunter.log": merged.text,
      "stdout.txt": joinOut((r) => r.stdout),
      "stderr.txt": joinOut((r) => r.stderr),
    };
    const durationMs = Date.now() - started;
    const shape = cut(runs, parsed);
    const facts = {
      argv: runs[0]!.argv,
      argvs: runs.map((r) => r.argv),
      exitCode: worstExit(runs),
      exitCodes: runs.map((r) => r.exitCode),
      processes: runs.length,
      secondsPerProcess: runs.map((r) => Math.round(r.durationMs / 100) / 10),
    };
    if (runs.some((r) => r.timedOut)) {
      return {
        ...base,
        status: "timeout",
        summary: `timed out after ${Math.round(opts.timeoutMs / 1000)} s (partial log kept)`,
        said,
        gaps: [
          { tool: "rkhunter", what: "rkhunter --check", reason: "timed out; results are partial" },
        ],
        raw,
        parsed: { ...parsed, ...facts, ...shape },
        incomplete: true,
        durationMs,
      };
    }
    // 0: nothing, 1: warnings; anything else is rkhunter failing (bad option, missing db).
    const failedRuns = runs.filter((r) => r.exitCode !== 0 && r.exitCode !== 1);
    const failed = failedRuns.length > 0;
    const cutGap = runs.map((r) => truncationReason(r)).find((g) => g !== null) ?? null;
    const firstErr = failedRuns[0]?.stderr.trim().split("\n")[0] ?? "";
    return {
      ...base,
      status: failed ? "error" : "ok",
      summary: failed
        ? `rkhunter failed (exit ${failedRuns.map((r) => r.exitCode ?? r.signal).join(", ")}): ${firstErr}`
        : `${parsed.warnings.length} warning(s), exit ${facts.exitCode}, ${Math.round((Date.now() - started) / 1000)} s (${runs.length} process${runs.length === 1 ? "" : "es"})`,
      said,
      gaps: [
        ...failedRuns.map((r) => ({
          tool: "rkhunter" as const,
          what: "rkhunter --check",
          reason: `exit ${r.exitCode ?? r.signal}`,
        })),
        ...(cutGap ? [{ tool: "rkhunter" as const, what: "rkhunter output", reason: cutGap }] : []),
      ],
      raw,
      parsed: { ...parsed, ...facts, ...shape },
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

/** The exit code that says most: a failure over "warnings" (1) over "nothing" (0). */
function worstExit(runs: readonly ToolRun[]): number | null {
  const codes = runs.map((r) => r.exitCode);
  const bad = codes.find((c) => c !== 0 && c !== 1);
  if (bad !== undefined) return bad;
  return codes.includes(1) ? 1 : 0;
}
