/**
 * Benchmark: `breachkit audit --json` on the lab (scenario contained) against Lynis's own
 * run time (`lynis audit system`, the whole audit, with breachkit's profile: no apt-get
 * update), on the same host in the same run. The target: audit under 2 s.
 *
 *   npm run build && npx tsx bench/audit.ts [--runs 5] [--no-lynis]
 *
 * Run as root (like the tool). What it starts it ends: the lab (labDown), Lynis (its own
 * temporary directory, removed by runLynis). Prints the wall time of each audit run (the CLI
 * process from start to exit) and its own durationMs, their medians, Lynis's time, and the
 * ratio Lynis / audit.
 */
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { labDown, labUp } from "../lab/lab-core.js";
import { runLynis } from "../src/observe/scanners/lynis.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  const v = i === -1 ? fallback : Number(process.argv[i + 1]);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name} takes a positive number`);
  return v;
}
const RUNS = Math.floor(arg("--runs", 5));
const CLI = fileURLToPath(new URL("../dist/cli/bin.cjs", import.meta.url));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main(): Promise<void> {
  process.stdout.write("bringing the lab up…\n");
  await labUp({ scenario: "contained", trojanSeconds: 300 });
  try {
    const walls: number[] = [];
    const own: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t = process.hrtime.bigint();
      const r = await execa("node", [CLI, "audit", "--json"], {
        reject: false,
        env: { ...process.env, NO_COLOR: "1" },
      });
      const wall = Number(process.hrtime.bigint() - t) / 1e6;
      const json = JSON.parse(r.stdout) as {
        durationMs: number;
        findings: unknown[];
        containersChecked: number;
      };
      walls.push(wall);
      own.push(json.durationMs);
      process.stdout.write(
        `audit run ${i + 1}: wall ${wall.toFixed(0)} ms, own ${json.durationMs} ms, ${json.findings.length} findings, ${json.containersChecked} containers, exit ${r.exitCode}\n`,
      );
    }
    const wall = median(walls);
    process.stdout.write(
      `audit median: wall ${wall.toFixed(0)} ms, own ${median(own)} ms (target < 2000 ms: ${wall < 2000 ? "met" : "NOT met"})\n`,
    );
    if (!process.argv.includes("--no-lynis")) {
      process.stdout.write("lynis audit system (whole audit)…\n");
      const t = process.hrtime.bigint();
      const lynis = await runLynis({ timeoutMs: 20 * 60_000, env: process.env });
      const ms = Number(process.hrtime.bigint() - t) / 1e6;
      process.stdout.write(
        `lynis: ${(ms / 1000).toFixed(1)} s (${lynis.status}: ${lynis.summary})\n`,
      );
      // A Lynis that timed out ran at least that long: the ratio is then a lower bound.
      const bound = lynis.status === "timeout" ? "at least " : "";
      process.stdout.write(
        `ratio lynis / audit (wall medians): ${bound}${(ms / wall).toFixed(1)}x\n`,
      );
    }
    process.stdout.write("note: 2 cores shared with other sessions' work: figures are noisy.\n");
  } finally {
    await labDown();
  }
}

main().catch((e) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
