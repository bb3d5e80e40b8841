/**
 * Benchmark: `breachkit snapshot --json` against what an admin runs by hand for the same
 * picture (`ps aux`, `ss -tunap`, `docker ps -a`, `docker inspect` of every container), on
 * this host plus N sleeping processes the benchmark starts, and later ends by their pids.
 *
 *   npm run build && npx tsx bench/snapshot-vs-ps.ts [N] [ROUNDS]     (N = 2000, ROUNDS = 7)
 *
 * Run as root (like the tool: it reads every process's /proc entries). Every command is
 * spawned with an argv array, its output sent to /dev/null; rounds alternate the order, so
 * neither side always runs on the caches the other warmed. The snapshot runs as users run
 * it, through bin/breachkit, in three ways:
 * - with the hash store of this boot (the usual case: every run after the first);
 * - with an empty hash store (the first run of a boot: node, dockerd and containerd hashed);
 * - with the JS reader instead of the native one (a host without a C compiler).
 * Each uses a hash store directory of the benchmark's own, never the user's. Then, in this
 * one process, the process part alone (`readProcesses`) against `ps aux`. Prints medians,
 * minimums (on a shared machine the minimum is the least disturbed run) and the ratios
 * against the targets: snapshot <= the sum of the four, process part <= 1.5 x `ps aux`.
 */

import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readAccounts, usersByUid } from "../src/observe/accounts/index.js";
import { type HashCacheEntry, readHostFacts, readProcesses } from "../src/observe/proc/index.js";
import { nativeReaderPath } from "../src/observe/proc/native-read.js";
import { Sleepers } from "./sleepers.js";

const N = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 7);
const REPO = fileURLToPath(new URL("../", import.meta.url));
const CLI = fileURLToPath(new URL("../dist/cli/bin.cjs", import.meta.url));
const LAUNCHER = fileURLToPath(new URL("../bin/breachkit", import.meta.url));
const STORES = mkdtempSync(join(tmpdir(), "bk-bench-store-"));

// ---- the sleeping processes: ours, by pid, and only ours -----------------------------------

const sleepers = new Sleepers();

let stopping: Promise<void> | null = null;
const stopOnce = () => {
  stopping ??= sleepers.stop();
  return stopping;
};
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(sig, () => {
    console.error(`\n${sig}: ending the ${sleepers.size} sleep processes this benchmark started`);
    void stopOnce().finally(() => process.exit(130));
  });
}

// ---- timing -----------------------------------------------------------------------------

const devNull = openSync("/dev/null", "w");

/** Wall time of one command, output discarded; it must succeed for the figure to count. */
function timeCommand(
  file: string,
  args: readonly string[],
  env: Record<string, string> = {},
): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(file, args, {
      cwd: REPO,
      stdio: ["ignore", devNull, "pipe"],
      env: { ...process.env, ...env },
    });
    let stderr = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.once("error", reject);
    child.once("close", (code, signal) => {
      const ms = performance.now() - t0;
      if (code === 0) resolve(ms);
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

async function timeAsync(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
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

interface Reference {
  label: string;
  file: string;
  args: string[];
  /** Extra environment, made fresh for each run. */
  env?: () => Record<string, string>;
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error("run as root: the snapshot reads every process's /proc entries");
  }
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`);
  console.log(`load average before: ${loadavg()}`);

  await sleepers.start(N, 600);
  console.log(`started ${sleepers.size} sleep processes; ${processCount()} tasks on the host`);

  const ids = (await capture("docker", ["ps", "-aq", "--no-trunc"])).split("\n").filter(Boolean);
  const references: Reference[] = [
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
    console.log("no containers: docker inspect is left out of the sum");
  }
  const warmStore = join(STORES, "warm");
  let emptyStores = 0;
  const snapshotCmds: Reference[] = [
    {
      label: "breachkit snapshot --json",
      file: LAUNCHER,
      args: ["snapshot", "--json"],
      env: () => ({ BREACHKIT_HASH_CACHE: warmStore }),
    },
    {
      label: "  first of the boot (empty hash store)",
      file: LAUNCHER,
      args: ["snapshot", "--json"],
      env: () => ({ BREACHKIT_HASH_CACHE: join(STORES, `empty-${emptyStores++}`) }),
    },
    {
      label: "  JS reader (no C compiler), hash store",
      file: LAUNCHER,
      args: ["snapshot", "--json"],
      env: () => ({ BREACHKIT_HASH_CACHE: warmStore, BREACHKIT_PROC_READER: "js" }),
    },
  ];
  const run = (r: Reference) => timeCommand(r.file, r.args, r.env?.() ?? {});

  // Warm-up, untimed: page cache, the docker CLI, Node's own startup files, the hash store.
  for (const r of [...snapshotCmds, ...references]) await run(r);

  const times = new Map<string, number[]>();
  const record = (label: string, ms: number) => times.set(label, [...(times.get(label) ?? []), ms]);
  const sums: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runSnapshots = async () => {
      for (const r of snapshotCmds) record(r.label, await run(r));
    };
    let sum = 0;
    const runReferences = async () => {
      for (const r of references) {
        const ms = await run(r);
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

  // The process part alone, in this process: what one snapshot pays (a fresh hash cache,
  // every distinct executable hashed once) and what a second one in the same run pays.
  const facts = await readHostFacts();
  const { accounts } = await readAccounts({ root: "/", scope: "host", containerId: null });
  const native = nativeReaderPath(process.env);
  if (native === null)
    console.log("\nthe native reader is not built: the process part is the JS reader's");
  const base = {
    nativeReader: native,
    users: usersByUid(accounts),
    bootTimeMs: facts.bootTimeMs ?? 0,
    clockTicks: facts.host.clockTicks,
  };
  const warmCache = new Map<string, HashCacheEntry>();
  let seen = (await readProcesses({ ...base, hashCache: warmCache })).processes.length;
  const ps: number[] = [];
  const fresh: number[] = [];
  const warm: number[] = [];
  const jsWarm: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const runPs = async () => ps.push(await timeCommand("ps", ["aux"]));
    const runOurs = async () => {
      fresh.push(
        await timeAsync(async () => {
          seen = (await readProcesses({ ...base, hashCache: new Map() })).processes.length;
        }),
      );
      warm.push(await timeAsync(() => readProcesses({ ...base, hashCache: warmCache })));
      jsWarm.push(
        await timeAsync(() => readProcesses({ ...base, nativeReader: null, hashCache: warmCache })),
      );
    };
    if (round % 2 === 0) {
      await runPs();
      await runOurs();
    } else {
      await runOurs();
      await runPs();
    }
  }

  const row = (label: string, xs: readonly number[]) =>
    console.log(
      `  ${label.padEnd(42)} ${median(xs).toFixed(1).padStart(8)} ${min(xs).toFixed(1).padStart(8)}`,
    );
  console.log(`\nmedian and min wall time (ms) of ${ROUNDS} rounds, order alternating:`);
  console.log(`  ${"".padEnd(42)} ${"median".padStart(8)} ${"min".padStart(8)}`);
  const [main, ...variants] = snapshotCmds;
  if (main === undefined) return;
  row(main.label, times.get(main.label) ?? []);
  for (const r of variants) row(r.label, times.get(r.label) ?? []);
  for (const r of references) row(r.label, times.get(r.label) ?? []);
  row(`sum of the ${references.length} (per round)`, sums);
  const ratio = (r: Reference) => median(times.get(r.label) ?? []) / median(sums);
  const ratio1 = ratio(main);
  const snapMin = min(times.get(main.label) ?? []);
  console.log(
    `  snapshot / sum: ${ratio1.toFixed(2)} median, ${(snapMin / min(sums)).toFixed(2)} min  (target <= 1.00: ${ratio1 <= 1 ? "met" : "NOT met"})`,
  );
  console.log(
    `  first of the boot / sum: ${ratio(variants[0] ?? main).toFixed(2)}; JS reader / sum: ${ratio(variants[1] ?? main).toFixed(2)}`,
  );

  console.log(`\nprocess part alone, in this process (readProcesses saw ${seen} processes):`);
  row("ps aux", ps);
  row("readProcesses, fresh hash cache", fresh);
  row("readProcesses, warm hash cache", warm);
  row("  JS reader, warm hash cache", jsWarm);
  const ratio2 = median(fresh) / median(ps);
  console.log(
    `  processes / ps aux: ${ratio2.toFixed(2)} median, ${(min(fresh) / min(ps)).toFixed(2)} min  (target <= 1.50: ${ratio2 <= 1.5 ? "met" : "NOT met"}); warm cache ${(median(warm) / median(ps)).toFixed(2)}; JS reader warm ${(median(jsWarm) / median(ps)).toFixed(2)}`,
  );
  console.log(`\nload average after: ${loadavg()} (${facts.host.cpus} cpus)`);
}

main()
  .catch((e: unknown) => {
    console.error(e instanceof Error ? e.message : e);
    process.exitCode = 1;
  })
  .finally(async () => {
    await stopOnce();
    closeSync(devNull);
    rmSync(STORES, { recursive: true, force: true });
  });
