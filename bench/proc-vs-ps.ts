/**
 * Benchmark: the process part of `breachkit snapshot` (readProcesses) against `ps aux`, on
 * this host plus N sleeping processes the benchmark starts and later ends by their pids.
 *
 *   npx tsx bench/proc-vs-ps.ts [N]      (default N = 2000)
 *
 * Prints the median wall time of each over several runs and the ratio against `ps aux`.
 * Every run hashes every distinct executable from its bytes (a fresh map per run, as each
 * breachkit run has): with the proc worker (dist/cli/proc-worker.cjs, npm run build) and
 * on the main thread alone; and, for the floor, the reading without hashing. "same run"
 * is what a second snapshot of one run (contain) costs, each file being hashed once a run.
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { readHostFacts } from "../src/observe/proc/host-facts.js";
import {
  defaultProcWorker,
  type HashCacheEntry,
  readProcesses,
} from "../src/observe/proc/processes.js";

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 2000);
const RUNS = 9;

function min(xs: number[]): number {
  return Math.min(...xs);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

async function time(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const pids: number[] = [];
function cleanup(): void {
  // Only the processes this benchmark started, by pid.
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, "SIGTERM");
    } catch {
      // Already gone.
    }
  }
}
process.on("exit", cleanup);
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    cleanup();
    process.exit(130);
  });
}

async function main(): Promise<void> {
  for (let i = 0; i < N; i++) {
    const child = spawn("sleep", ["600"], { stdio: "ignore" });
    if (child.pid !== undefined) pids.push(child.pid);
    child.unref();
  }
  const facts = await readHostFacts();
  if (defaultProcWorker() === null) console.log("the proc worker is not built: npm run build");
  const base = { bootTimeMs: facts.bootTimeMs ?? 0, clockTicks: facts.host.clockTicks };
  const psRows = (await run("ps", ["aux"], { maxBuffer: 64 * 1024 * 1024 })).stdout.split("\n");
  console.log(`started ${pids.length} sleep processes; ps aux lists ${psRows.length - 2}`);

  // Warm-up: page cache and JIT; a map filled as a first snapshot of a run fills it.
  const cache = new Map<string, HashCacheEntry>();
  await readProcesses({ ...base, hashCache: cache });
  await run("ps", ["aux"], { maxBuffer: 64 * 1024 * 1024 });

  const ps: number[] = [];
  const fresh: number[] = [];
  const here: number[] = [];
  const sameRun: number[] = [];
  const noHash: number[] = [];
  let count = 0;
  for (let i = 0; i < RUNS; i++) {
    ps.push(await time(() => run("ps", ["aux"], { maxBuffer: 64 * 1024 * 1024 })));
    fresh.push(
      await time(async () => {
        count = (await readProcesses({ ...base, hashCache: new Map() })).processes.length;
      }),
    );
    here.push(await time(() => readProcesses({ ...base, procWorker: null, hashCache: new Map() })));
    sameRun.push(await time(() => readProcesses({ ...base, hashCache: cache })));
    noHash.push(await time(() => readProcesses({ ...base, hashExecutables: false })));
  }
  // Both statistics: on a shared machine the minimum is the least disturbed run of each.
  const line = (label: string, xs: number[]) => {
    const med = median(xs);
    const low = min(xs);
    const ratios = `ratio ${(med / median(ps)).toFixed(2)} median, ${(low / min(ps)).toFixed(2)} min`;
    console.log(`${label.padEnd(40)} ${med.toFixed(1)} / ${low.toFixed(1)} ms  ${ratios}`);
  };
  console.log(`readProcesses saw ${count} processes; median / min of ${RUNS} runs:`);
  line("ps aux", ps);
  line("readProcesses (proc worker)", fresh);
  line("readProcesses (hashing on this thread)", here);
  line("readProcesses (second of a run)", sameRun);
  line("readProcesses (hashExecutables: false)", noHash);
}

main()
  .catch((e: unknown) => {
    console.error(e);
    process.exitCode = 1;
  })
  .finally(cleanup);
