/**
 * ClamAV throughput: `clamscan -r` against breachkit's scan engine on the same tree and the same
 * database, then the engine again with its cache warm. Each engine run starts its own clamds, so
 * clamd's in-memory clean-file cache never carries over between runs. The CPU column (this
 * process and its reaped children) stays honest when other work shares the machine.
 *
 *   npx tsx bench/scan-clamav.ts [TREE] [DB_DIR]
 * defaults: /usr/lib/x86_64-linux-gnu, test/fixtures/clamav-db
 */
import { spawnSync } from "node:child_process";
import { createReadStream, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { cpus, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { runClamav } from "../src/observe/scanners/clamav.js";
import { openScanCache } from "../src/observe/scanners/scan-cache.js";
import { walkFiles } from "../src/observe/scanners/walk.js";
import { silentProgress } from "../src/util/progress.js";

const tree = resolve(process.argv[2] ?? "/usr/lib/x86_64-linux-gnu");
const db = resolve(process.argv[3] ?? "test/fixtures/clamav-db");

async function warmPageCache(): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  for await (const f of walkFiles(tree, { skip: new Set(), onError: () => {}, maxFiles: 1e7 })) {
    files++;
    bytes += Number(f.stat.size);
    await new Promise<void>((ok) => {
      const s = createReadStream(f.path);
      s.on("data", () => {});
      s.on("close", () => ok());
      s.on("error", () => ok());
    });
  }
  return { files, bytes };
}

/**
 * CPU seconds of this process and its reaped children (clamscan, our clamds once stopped): other
 * work on the machine stretches wall times, not these.
 */
function cpuSeconds(): number {
  const f = readFileSync("/proc/self/stat", "utf8").split(") ")[1]?.split(" ") ?? [];
  // Fields 14-17 of stat(5): utime stime cutime cstime, here 0-based after "state" at 0.
  return [11, 12, 13, 14].reduce((s, i) => s + Number(f[i] ?? 0), 0) / 100;
}

function clamscan(): { seconds: number; cpu: number } {
  const c = cpuSeconds();
  const t = performance.now();
  const r = spawnSync("clamscan", ["-d", db, "-r", "-i", "--no-summary", tree], {
    stdio: ["ignore", "pipe", "pipe"],
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0 && r.status !== 1) throw new Error(`clamscan exit ${r.status}: ${r.stderr}`);
  return { seconds: (performance.now() - t) / 1000, cpu: cpuSeconds() - c };
}

async function engine(cacheDir: string, processes?: number) {
  const c = cpuSeconds();
  const t = performance.now();
  const r = await runClamav({
    env: process.env,
    targets: [{ kind: "host", paths: [tree] }],
    dbDir: db,
    cache: (key) => openScanCache(cacheDir, key),
    progress: silentProgress,
    timeoutMs: 3_600_000,
    useSystemClamd: false,
    ...(processes ? { processes } : {}),
  });
  if (r.status !== "ok") throw new Error(`engine: ${r.summary}`);
  return { seconds: (performance.now() - t) / 1000, cpu: cpuSeconds() - c, summary: r.summary };
}

const cacheDir = await mkdtemp(join(tmpdir(), "breachkit-bench-cache-"));
try {
  const size = await warmPageCache();
  console.log(
    `tree ${tree}: ${size.files} files, ${(size.bytes / 2 ** 20).toFixed(0)} MiB; db ${db}; ${cpus().length} CPUs`,
  );
  const line = (what: string, r: { seconds: number; cpu: number }, more = "") =>
    console.log(
      `${what.padEnd(26)} ${r.seconds.toFixed(2).padStart(6)} s wall ${r.cpu.toFixed(2).padStart(6)} s CPU   ${more}`,
    );
  const cs = clamscan();
  line("clamscan -r", cs);
  // One clamd with 4 threads: what the engine did before it ran one daemon per core plus one.
  const lone = await engine(cacheDir, 1);
  line("breachkit (1 clamd, cold)", lone, lone.summary);
  await rm(cacheDir, { recursive: true, force: true });
  const cold = await engine(cacheDir);
  line("breachkit (clamd, cold)", cold, cold.summary);
  const warm = await engine(cacheDir);
  line("breachkit (clamd, warm)", warm, warm.summary);
  const cs2 = clamscan();
  line("clamscan -r (again)", cs2);
  const ref = Math.min(cs.seconds, cs2.seconds);
  console.log(
    `ratio clamscan / breachkit cold: ${(ref / cold.seconds).toFixed(2)}x (target >= 1.8x)`,
  );
  console.log(
    `ratio cold / warm:               ${(cold.seconds / warm.seconds).toFixed(1)}x (target >= 10x)`,
  );
} finally {
  await rm(cacheDir, { recursive: true, force: true });
}
