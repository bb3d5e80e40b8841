/**
 * Benchmark: `breachkit watch` at 1 Hz against a loop of `docker stats --no-stream` over the
 * same containers, side by side in one run (issue 15: watch at most 2% of one core on average
 * over 60 s with 50 containers and 2,000 extra processes; RSS growth under 5 MiB over 10 min).
 *
 *   npm run build && flock /tmp/bk-docker.lock npx tsx bench/watch.ts \
 *     [--containers 50] [--sleepers 2000] [--seconds 60] [--minutes 10]
 *
 * Run as root (like the tool). What it starts it ends: N busybox containers (`--network none`,
 * the lab's image built from local parts, label breachkit.bench=watch) removed by id, the
 * sleeping processes (by their child handles), and the watch process (by its handle). Also on
 * error and on SIGINT/SIGTERM/SIGHUP.
 *
 * 1. `watch --json --interval 1` starts; after a 5 s warm-up its CPU time (utime + stime of
 *    its /proc/<pid>/stat: every thread, worker included) is taken over --seconds, and the
 *    engine's (dockerd's) over the same window: watch asks it for the container list.
 * 2. Then `docker stats --no-stream <ids>` in a loop for --seconds: the CLI's CPU (the loop's
 *    children, from bash's `times`) and dockerd's over the same window.
 * 3. watch keeps running until --minutes have passed since it started: its RSS (VmRSS) after
 *    the first minute and at the end, and the highest seen; the growth is end - first minute.
 *
 * Prints each figure, the ratio (docker stats loop CPU / watch CPU, both with dockerd's share),
 * and the pass/fail of the bars. The machine has 2 cores and other work runs beside:
 * say so with the figures.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { buildLabImage } from "../lab/lab-core.js";
import { Sleepers } from "./sleepers.js";

const ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..");
const BIN = join(ROOT, "dist/cli/bin.cjs");
const LABEL = "breachkit.bench=watch";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name} takes a positive number`);
  return v;
}

const N = arg("containers", 50);
const SLEEPERS = arg("sleepers", 2000);
const SECONDS = arg("seconds", 60);
const MINUTES = arg("minutes", 3);
const TICKS = 100; // USER_HZ on every Linux architecture in use

const ids: string[] = [];
const sleepers = new Sleepers();
let watch: ChildProcess | null = null;

/** utime + stime of a process in seconds, or null when it is gone. */
function cpuSeconds(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(f[11]) + Number(f[12])) / TICKS;
  } catch {
    return null;
  }
}

function rssBytes(pid: number): number | null {
  try {
    const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** dockerd's pid from its pid file (the engine's own record), or null. */
function dockerdPid(): number | null {
  for (const f of ["/var/run/docker.pid", "/run/docker.pid"]) {
    try {
      const pid = Number(readFileSync(f, "utf8").trim());
      if (pid > 0 && readFileSync(`/proc/${pid}/comm`, "utf8").trim() === "dockerd") return pid;
    } catch {
      /* next */
    }
  }
  return null;
}

async function cleanup(): Promise<void> {
  if (watch && watch.exitCode === null && watch.signalCode === null) watch.kill("SIGTERM");
  await sleepers.stop().catch((e: unknown) => console.error(`cleanup: sleepers: ${String(e)}`));
  for (let i = 0; i < ids.length; i += 25) {
    await execa("docker", ["rm", "--force", ...ids.slice(i, i + 25)], { reject: false });
  }
  ids.length = 0;
}
let cleaning: Promise<void> | null = null;
const cleanupOnce = () => {
  cleaning ??= cleanup();
  return cleaning;
};
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.once(sig, () => {
    console.error(`${sig}: cleaning up`);
    void cleanupOnce().finally(() => process.exit(130));
  });
}

const mib = (b: number) => `${(b / 1024 / 1024).toFixed(2)} MiB`;

async function main(): Promise<void> {
  const image = await buildLabImage();
  console.log(
    `image ${image.ref}; starting ${N} containers (--network none) and ${SLEEPERS} sleeping processes`,
  );
  for (let i = 0; i < N; i += 5) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(5, N - i) }, () =>
        execa("docker", [
          "run",
          "-d",
          "--network",
          "none",
          "--label",
          LABEL,
          image.ref,
          "sleep",
          "7200",
        ]),
      ),
    );
    ids.push(...batch.map((r) => r.stdout.trim()));
  }
  await sleepers.start(SLEEPERS, 7200);
  const dockerd = dockerdPid();
  const procs = readFileSync("/proc/loadavg", "utf8").trim();
  console.log(
    `containers ${ids.length}, sleepers ${sleepers.size}, dockerd pid ${dockerd ?? "?"}, loadavg ${procs}`,
  );

  // 1. watch
  const started = performance.now();
  watch = spawn("node", [BIN, "watch", "--json", "--interval", "1"], {
    stdio: ["ignore", "pipe", "inherit"],
    env: { ...process.env, NO_COLOR: "1" },
  });
  let samples = 0;
  let lastRows = 0;
  let partial = "";
  watch.stdout!.on("data", (d: Buffer) => {
    partial += d.toString("utf8");
    let i = partial.indexOf("\n");
    while (i >= 0) {
      const line = partial.slice(0, i);
      partial = partial.slice(i + 1);
      samples++;
      lastRows = (JSON.parse(line) as { rows: unknown[] }).rows.length;
      i = partial.indexOf("\n");
    }
  });
  const pid = watch.pid!;
  await sleep(5000);
  const w0 = cpuSeconds(pid)!;
  const d0 = dockerd === null ? null : cpuSeconds(dockerd);
  const s0 = samples;
  const t0 = performance.now();
  await sleep(SECONDS * 1000);
  const w1 = cpuSeconds(pid)!;
  const d1 = dockerd === null ? null : cpuSeconds(dockerd);
  const wall = (performance.now() - t0) / 1000;
  const watchCpu = w1 - w0;
  const watchDockerd = d0 === null || d1 === null ? 0 : d1 - d0;
  const watchPct = (watchCpu / wall) * 100;
  console.log(
    `watch: ${samples - s0} samples in ${wall.toFixed(1)} s (${lastRows} rows each), CPU ${watchCpu.toFixed(2)} s = ${watchPct.toFixed(2)}% of one core; dockerd meanwhile ${watchDockerd.toFixed(2)} s`,
  );

  // 2. docker stats --no-stream in a loop, the CLI's CPU from bash's `times`
  const d2 = dockerd === null ? null : cpuSeconds(dockerd);
  const t2 = performance.now();
  const loop = await execa(
    "bash",
    [
      "-c",
      `end=$((SECONDS+${SECONDS})); n=0; while [ $SECONDS -lt $end ]; do docker stats --no-stream "$@" >/dev/null || exit 1; n=$((n+1)); done; echo $n; times`,
      "bench",
      ...ids,
    ],
    { reject: false },
  );
  const wall2 = (performance.now() - t2) / 1000;
  const d3 = dockerd === null ? null : cpuSeconds(dockerd);
  if (loop.exitCode !== 0) throw new Error(`docker stats loop failed: ${loop.stderr}`);
  const out = loop.stdout.trim().split("\n");
  const runs = Number(out[0]);
  // `times`: the shell's user/sys, then its children's: "0m1.234s 0m0.567s"
  const childLine = out[out.length - 1] ?? "";
  const secs = [...childLine.matchAll(/(\d+)m([\d.]+)s/g)].map(
    (m) => Number(m[1]) * 60 + Number(m[2]),
  );
  const cliCpu = (secs[0] ?? 0) + (secs[1] ?? 0);
  const statsDockerd = d2 === null || d3 === null ? 0 : d3 - d2;
  const statsPct = (cliCpu / wall2) * 100;
  console.log(
    `docker stats --no-stream loop: ${runs} runs in ${wall2.toFixed(1)} s, CLI CPU ${cliCpu.toFixed(2)} s = ${statsPct.toFixed(2)}% of one core; dockerd meanwhile ${statsDockerd.toFixed(2)} s = ${((statsDockerd / wall2) * 100).toFixed(2)}%`,
  );
  const watchTotal = ((watchCpu + watchDockerd) / wall) * 100;
  const statsTotal = ((cliCpu + statsDockerd) / wall2) * 100;
  console.log(
    `ratio (docker stats loop / watch), each with dockerd's share: ${statsTotal.toFixed(2)}% / ${watchTotal.toFixed(2)}% = ${(statsTotal / watchTotal).toFixed(1)}x; processes alone: ${(statsPct / watchPct).toFixed(1)}x`,
  );
  console.log(
    `bar: watch <= 2% of one core: ${watchPct <= 2 ? "met" : "NOT met"} (${watchPct.toFixed(2)}%)`,
  );

  // 3. RSS over --minutes since watch started
  const minuteMark = started + 60_000;
  if (performance.now() < minuteMark) await sleep(minuteMark - performance.now());
  const rss0 = rssBytes(pid)!;
  let rssMax = rss0;
  const end = started + MINUTES * 60_000;
  while (performance.now() < end) {
    await sleep(Math.min(10_000, Math.max(0, end - performance.now())));
    rssMax = Math.max(rssMax, rssBytes(pid) ?? 0);
  }
  const rss1 = rssBytes(pid)!;
  console.log(
    `RSS: ${mib(rss0)} after 1 min, ${mib(rss1)} after ${MINUTES} min (highest ${mib(rssMax)}): growth ${mib(rss1 - rss0)}; bar < 5 MiB: ${rss1 - rss0 < 5 * 1024 * 1024 ? "met" : "NOT met"}; ${samples} samples`,
  );
}

try {
  await main();
} finally {
  await cleanupOnce();
}
