/**
 * Where rkhunter's time goes: the same test group run twice side by side, once as breachkit
 * runs it today (--logfile, the log kept as evidence) and once with --nolog (warnings only,
 * on stdout with --rwo). Measured here (2 cores, loaded by other sessions): known_rkts took
 * more than 600 s with its log (stopped at the 600 s bound) and 245 s with --nolog: most of a
 * check's cost is rkhunter's logging (several forks per logged line), not the checks.
 * Each run has its own copy of the database and its own temp dir; the host's DB is untouched.
 *
 *   npx tsx bench/rkhunter.ts [GROUP]   (default: known_rkts; "all" for the full check, ~850 s+)
 */
import { spawnSync } from "node:child_process";
import { cp, mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rkhunterArgs } from "../src/observe/scanners/rkhunter.js";

const group = process.argv[2] ?? "known_rkts";
const work = await mkdtemp(join(tmpdir(), "bk-bench-rkhunter-"));

async function run(name: string, nolog: boolean): Promise<number> {
  const db = join(work, `${name}-db`);
  const scratch = join(work, `${name}-tmp`);
  await cp("/var/lib/rkhunter/db", db, { recursive: true });
  await mkdir(scratch, { recursive: true });
  let args = rkhunterArgs(join(work, `${name}.log`), db, scratch, group === "all" ? [] : [group]);
  if (nolog) {
    const i = args.indexOf("--logfile");
    args = [...args.slice(0, i), "--nolog", ...args.slice(i + 2)];
  }
  const t0 = performance.now();
  spawnSync("rkhunter", args, { stdio: ["ignore", "ignore", "ignore"], cwd: "/" });
  return (performance.now() - t0) / 1000;
}

try {
  const withLog = await run("log", false);
  console.log(`rkhunter --check --sk (${group}), with its log: ${withLog.toFixed(1)} s`);
  const noLog = await run("nolog", true);
  console.log(`rkhunter --check --sk (${group}), --nolog:       ${noLog.toFixed(1)} s`);
  console.log(
    `ratio nolog / log: ${(noLog / withLog).toFixed(2)} (target for breachkit's step <= 0.5)`,
  );
} finally {
  await rm(work, { recursive: true, force: true });
}
