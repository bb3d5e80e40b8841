/**
 * The full runs of rkhunter, chkrootkit and Lynis (the test suite runs a few tests of each:
 * test/integration/scan-tools.test.ts): each tool run bare with the same arguments, then through
 * breachkit's adapter, side by side; the ratio is the adapter's cost (copying rkhunter's
 * database, parsing, the findings). A full rkhunter check took 850 s on a 2-core machine where
 * fork+exec costs about 10 ms: this is a bench, never a test.
 *
 *   npx tsx bench/scan-tools.ts [rkhunter|chkrootkit|lynis ...]   (default: all three)
 */
import { spawnSync } from "node:child_process";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { runChkrootkit } from "../src/observe/scanners/chkrootkit.js";
import { LYNIS_PROFILE, lynisArgs, runLynis } from "../src/observe/scanners/lynis.js";
import { rkhunterArgs, runRkhunter } from "../src/observe/scanners/rkhunter.js";
import type { ToolReport } from "../src/observe/scanners/types.js";

const TIMEOUT_MS = 60 * 60_000;
const picked = process.argv.slice(2);
const tools = picked.length > 0 ? picked : ["rkhunter", "chkrootkit", "lynis"];

/** Run a tool bare (stdin closed, output discarded); seconds taken. */
function bare(file: string, args: string[]): number {
  const t0 = performance.now();
  spawnSync(file, args, { stdio: ["ignore", "ignore", "ignore"], cwd: "/" });
  return (performance.now() - t0) / 1000;
}

async function viaAdapter(run: () => Promise<ToolReport>): Promise<[number, ToolReport]> {
  const t0 = performance.now();
  const r = await run();
  return [(performance.now() - t0) / 1000, r];
}

const work = await mkdtemp(join(tmpdir(), "bk-bench-scan-tools-"));
try {
  for (const tool of tools) {
    let bareS: number;
    let adapted: [number, ToolReport];
    if (tool === "rkhunter") {
      const db = join(work, "rk-db");
      const scratch = join(work, "rk-tmp");
      await cp("/var/lib/rkhunter/db", db, { recursive: true });
      await mkdir(scratch, { recursive: true });
      bareS = bare("rkhunter", rkhunterArgs(join(work, "rk.log"), db, scratch));
      adapted = await viaAdapter(() => runRkhunter({ timeoutMs: TIMEOUT_MS, env: process.env }));
    } else if (tool === "chkrootkit") {
      bareS = bare("chkrootkit", ["-q"]);
      adapted = await viaAdapter(() =>
        runChkrootkit({
          roots: [{ where: "host", containerId: null, root: "/" }],
          timeoutMs: TIMEOUT_MS,
          env: process.env,
        }),
      );
    } else if (tool === "lynis") {
      const profile = join(work, "bench.prf");
      await writeFile(profile, LYNIS_PROFILE);
      bareS = bare("lynis", lynisArgs(profile, join(work, "l.log"), join(work, "l.dat")));
      adapted = await viaAdapter(() => runLynis({ timeoutMs: TIMEOUT_MS, env: process.env }));
    } else {
      throw new Error(`unknown tool ${tool}`);
    }
    const [s, r] = adapted;
    console.log(
      `${tool.padEnd(10)} bare ${bareS.toFixed(1)} s  breachkit ${s.toFixed(1)} s  ratio ${(s / bareS).toFixed(2)}x  (${r.status}, ${r.summary})`,
    );
  }
} finally {
  await rm(work, { recursive: true, force: true });
}
