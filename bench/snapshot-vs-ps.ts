/**
 * Benchmark: `breachkit snapshot --json` (every executable hashed from its bytes, in this
 * run) against what an admin runs by hand for the same picture (`ps aux`, `ss -tunap`,
 * `docker ps -a`, `docker inspect` of every container), on this host plus N sleeping
 * processes the benchmark starts, and later ends by their handles.
 *
 *   npm run build && npx tsx bench/snapshot-vs-ps.ts [N] [ROUNDS]       (N = 2000, ROUNDS = 7)
 *   npm run build && npx tsx bench/snapshot-vs-ps.ts --big [ROUNDS]     (2,000 then 20,000)
 *   ... [--against DIR]   also DIR/bin/breachkit (another build, e.g. an older commit's, built
 *                         in DIR) in the same rounds: a before/after that a busy machine's
 *                         load, changing from one run of the benchmark to the next, cannot skew
 *
 * Run as root with the lab up (lab/README.md). Every command is spawned with an argv array,
 * its output sent to /dev/null; rounds alternate the order, so neither side always runs on
 * the caches the other warmed. The snapshot runs as users run it, through bin/breachkit,
 * and a second time from a copy of the package without its proc worker (hashing then runs
 * on the main thread after the reading): the worker's worth. Prints medians, minimums (on
 * a shared machine the minimum is the least disturbed run) and the ratio against the
 * target: snapshot <= 1.5 x the sum of the four.
 *
 * --big: the same with 2,000 sleepers, then with 20,000; prints the time ratio (target
 * <= 11x) and the snapshot's peak RSS at 20,000 (target < 400 MiB), from GNU time. The
 * waiting processes are forked (no exec) by a small C program the benchmark compiles with
 * gcc, which ends and reaps them when its stdin closes.
 */

import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  cpSync,
  existsSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Sleepers } from "./sleepers.js";

const against = process.argv.indexOf("--against");
const AGAINST = against === -1 ? null : process.argv[against + 1];
if (against !== -1) process.argv.splice(against, 2);
const BIG = process.argv[2] === "--big";
const N = BIG ? 2000 : Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? (BIG ? 3 : 7));
const REPO = fileURLToPath(new URL("../", import.meta.url));
const CLI = fileURLToPath(new URL("../dist/cli/bin.cjs", import.meta.url));
const LAUNCHER = fileURLToPath(new URL("../bin/breachkit", import.meta.url));
const WORK = mkdtempSync(join(tmpdir(), "bk-bench-snap-"));

// ---- the sleeping processes: ours, by handle, and only ours ---------------------------------

const sleepers = new Sleepers();

let stopping: Promise<void> | null = null;
const stopOnce = () => {
  stopping ??= sleepers.stop();
  return stopping;
};
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: ending the ${sleepers.size} sleep processes this benchmark started`);
    void Promise.all([stopOnce(), endForker()]).finally(() => process.exit(130));
  });
}

/**
 * One small C program, compiled here, that forks `n` children which wait for a signal, and
 * ends them all (SIGTERM, by pid: its own children) and reaps them when its stdin closes.
 * Forked without exec: 18,000 spawns of sleep (or forks of python) take many minutes here.
 */
const FORKER_C = `
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>
int main(int argc, char **argv) {
  long n = argc > 1 ? strtol(argv[1], 0, 10) : 0;
  pid_t *pids = calloc(n > 0 ? n : 1, sizeof *pids);
  long made = 0;
  for (; made < n; made++) {
    pid_t p = fork();
    if (p == 0) for (;;) pause();
    if (p < 0) break;
    pids[made] = p;
  }
  printf("ready %ld\\n", made);
  fflush(stdout);
  char buf[256];
  while (read(0, buf, sizeof buf) > 0) {}
  for (long i = 0; i < made; i++) kill(pids[i], SIGTERM);
  for (long i = 0; i < made; i++) waitpid(pids[i], 0, 0);
  return 0;
}
`;
const forkers: ChildProcess[] = [];
let forkerBinary: string | null = null;

async function fork(n: number): Promise<void> {
  if (forkerBinary === null) {
    const src = join(WORK, "forker.c");
    const bin = join(WORK, "forker");
    writeFileSync(src, FORKER_C);
    const cc = spawn("gcc", ["-O2", "-static", "-o", bin, src], { stdio: "inherit" });
    await new Promise<void>((resolve, reject) =>
      cc.once("close", (code) => (code === 0 ? resolve() : reject(new Error("gcc failed")))),
    );
    forkerBinary = bin;
  }
  const child = spawn(forkerBinary, [String(n)], { stdio: ["pipe", "pipe", "inherit"] });
  forkers.push(child);
  return new Promise((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`the forker exited (${code})`)));
    child.stdout?.once("data", () => resolve());
  });
}

async function endForker(): Promise<void> {
  for (const child of forkers.splice(0)) {
    if (child.exitCode !== null) continue;
    const gone = new Promise<void>((resolve) => child.once("close", () => resolve()));
    child.removeAllListeners("exit");
    child.stdin?.end();
    await gone;
  }
}

// ---- timing -----------------------------------------------------------------------------

const devNull = openSync("/dev/null", "w");

interface Timed {
  ms: number;
  /** Peak RSS in KiB, when run under GNU time. */
  maxRssKb: number | null;
}

/** Wall time of one command, output discarded; it must succeed for the figure to count. */
function timeCommand(file: string, args: readonly string[], rss = false): Promise<Timed> {
  const argv = rss ? ["-f", "%M", file, ...args] : args;
  const bin = rss ? "/usr/bin/time" : file;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(bin, argv, { cwd: REPO, stdio: ["ignore", devNull, "pipe"] });
    let stderr = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      if (stderr.length < 65536) stderr += d;
    });
    child.once("error", reject);
    child.once("close", (code, signal) => {
      const ms = performance.now() - t0;
      const last = stderr.trim().split("\n").pop() ?? "";
      if (code === 0) resolve({ ms, maxRssKb: rss ? Number(last) : null });
      else reject(new Error(`${file} ${args.join(" ")}: ${signal ?? `exit ${code}`} ${stderr}`));
    });
  });
}

function capture(file: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (d: string) => {
      out += d;
    });
    child.once("error", reject);
    child.once("close", (code) =>
      code === 0 ? resolve(out) : reject(new Error(`${file}: exit ${code}`)),
    );
  });
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2
    ? (s[(s.length - 1) / 2] ?? Number.NaN)
    : ((s[s.length / 2 - 1] ?? 0) + (s[s.length / 2] ?? 0)) / 2;
};
const min = (xs: readonly number[]) => Math.min(...xs);
const loadavg = () => readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ");
const processCount = () =>
  readFileSync("/proc/loadavg", "utf8").split(" ")[3]?.split("/")[1] ?? "?";

// ---- the benchmark ----------------------------------------------------------------------

interface Command {
  label: string;
  file: string;
  args: string[];
}

/** A copy of the package without dist/cli/proc-worker.cjs: hashing on the main thread. */
function packageWithoutWorker(): string {
  const root = join(WORK, "no-worker");
  for (const part of ["bin", "dist", "rules", "package.json"]) {
    cpSync(join(REPO, part), join(root, part), { recursive: true });
  }
  rmSync(join(root, "dist/cli/proc-worker.cjs"));
  return join(root, "bin/breachkit");
}

interface RoundsResult {
  times: Map<string, number[]>;
  sums: number[];
  maxRssKb: number;
}

async function rounds(
  snapshots: readonly Command[],
  references: readonly Command[],
  count: number,
): Promise<RoundsResult> {
  // Warm-up, untimed: page cache, the docker CLI, Node's own startup files.
  for (const r of [...snapshots, ...references]) await timeCommand(r.file, r.args);
  const times = new Map<string, number[]>();
  const record = (label: string, ms: number) => times.set(label, [...(times.get(label) ?? []), ms]);
  const sums: number[] = [];
  let maxRssKb = 0;
  for (let round = 0; round < count; round++) {
    const runSnapshots = async () => {
      for (const r of snapshots) {
        const t = await timeCommand(r.file, r.args, true);
        record(r.label, t.ms);
        maxRssKb = Math.max(maxRssKb, t.maxRssKb ?? 0);
      }
    };
    let sum = 0;
    const runReferences = async () => {
      for (const r of references) {
        const { ms } = await timeCommand(r.file, r.args);
        record(r.label, ms);
        sum += ms;
      }
    };
    if (round % 2 === 0) {
      await runSnapshots();
      await runReferences();
    } else {
      await runReferences();
      await runSnapshots();
    }
    sums.push(sum);
  }
  return { times, sums, maxRssKb };
}

function report(
  title: string,
  r: RoundsResult,
  snapshots: readonly Command[],
  references: readonly Command[],
) {
  const row = (label: string, xs: readonly number[]) =>
    console.log(
      `  ${label.padEnd(44)} ${median(xs).toFixed(1).padStart(8)} ${min(xs).toFixed(1).padStart(8)}`,
    );
  console.log(`\n${title}: median and min wall time (ms) of ${ROUNDS} rounds, order alternating:`);
  console.log(`  ${"".padEnd(44)} ${"median".padStart(8)} ${"min".padStart(8)}`);
  for (const s of snapshots) row(s.label, r.times.get(s.label) ?? []);
  for (const ref of references) row(ref.label, r.times.get(ref.label) ?? []);
  row(`sum of the ${references.length} (per round)`, r.sums);
  const main = snapshots[0];
  if (main === undefined) return;
  const xs = r.times.get(main.label) ?? [];
  const ratio = median(xs) / median(r.sums);
  console.log(
    `  snapshot / sum: ${ratio.toFixed(2)} median, ${(min(xs) / min(r.sums)).toFixed(2)} min  (target <= 1.50: ${ratio <= 1.5 ? "met" : "NOT met"})`,
  );
  for (const s of snapshots.slice(1)) {
    const ys = r.times.get(s.label) ?? [];
    console.log(`  ${s.label.trim()} / sum: ${(median(ys) / median(r.sums)).toFixed(2)} median`);
  }
  console.log(`  snapshot's peak RSS: ${(r.maxRssKb / 1024).toFixed(0)} MiB`);
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error("run as root: the snapshot reads every process's /proc entries");
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  console.log(`load average before: ${loadavg()}`);

  if (BIG) await fork(N);
  else await sleepers.start(N, 1200);
  console.log(`started ${N} waiting processes; ${processCount()} tasks on the host`);

  const ids = (await capture("docker", ["ps", "-aq", "--no-trunc"])).split("\n").filter(Boolean);
  const references: Command[] = [
    { label: "ps aux", file: "ps", args: ["aux"] },
    { label: "ss -tunap", file: "ss", args: ["-tunap"] },
    { label: "docker ps -a", file: "docker", args: ["ps", "-a"] },
  ];
  // `docker inspect` with no ids is an error, not an empty answer.
  if (ids.length > 0) {
    references.push({
      label: `docker inspect (${ids.length})`,
      file: "docker",
      args: ["inspect", ...ids],
    });
  } else {
    console.log("no containers: docker inspect is left out of the sum (is the lab up?)");
  }
  const snapshots: Command[] = [
    { label: "breachkit snapshot --json", file: LAUNCHER, args: ["snapshot", "--json"] },
  ];
  if (!BIG) {
    snapshots.push({
      label: "  without the proc worker",
      file: packageWithoutWorker(),
      args: ["snapshot", "--json"],
    });
  }
  if (AGAINST !== null && AGAINST !== undefined) {
    snapshots.push({
      label: "  the build in --against",
      file: join(AGAINST, "bin/breachkit"),
      args: ["snapshot", "--json"],
    });
  }
  const small = await rounds(snapshots, references, ROUNDS);
  report(`${processCount()} tasks`, small, snapshots, references);
  if (BIG) {
    await fork(20_000 - N);
    console.log(`\n${20_000 - N} more forked; ${processCount()} tasks on the host`);
    const big = await rounds(snapshots, references, ROUNDS);
    report(`${processCount()} tasks`, big, snapshots, references);
    const label = snapshots[0]?.label ?? "";
    const factor = median(big.times.get(label) ?? []) / median(small.times.get(label) ?? []);
    const mib = big.maxRssKb / 1024;
    console.log(
      `\n20,000 / 2,000 sleepers: snapshot time x${factor.toFixed(2)} (target <= 11: ${factor <= 11 ? "met" : "NOT met"}); peak RSS ${mib.toFixed(0)} MiB (target < 400: ${mib < 400 ? "met" : "NOT met"})`,
    );
  }
  console.log(`\nload average after: ${loadavg()}`);
}

main()
  .catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  })
  .finally(async () => {
    await endForker();
    await stopOnce();
    closeSync(devNull);
    rmSync(WORK, { recursive: true, force: true });
  });
