/**
 * breachkit's rkhunter step (scan --rkhunter: its tests split over 2 rkhunter processes, each
 * with its own copy of the database, temp dir and log, run with --novl, logs merged) against a
 * plain `rkhunter --check --sk` on the same machine, one after the other in the same run. The
 * plain run is given a copy of the database and a temp log too (else it would rewrite the host's
 * rkhunter_prop_list.dat and /var/log/rkhunter.log); everything else is rkhunter's default.
 * Prints both times, the warnings each found, and the ratio (target: breachkit <= 0.5 x plain).
 *
 *   npx tsx bench/rkhunter.ts [TEST,...]   (default: the full check; it takes many minutes here)
 */
import { spawnSync } from "node:child_process";
import { cp, mkdir, mkdtemp, readFile, rm } from "node:fs/promises";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { parseRkhunterLog, runRkhunter } from "../src/observe/scanners/rkhunter.js";

const tests = process.argv[2] ? process.argv[2].split(",") : [];
const work = await mkdtemp(join(tmpdir(), "bk-bench-rkhunter-"));
const load = () =>
  loadavg()
    .map((l) => l.toFixed(1))
    .join(" ");

async function plain(): Promise<{ seconds: number; warnings: string[] }> {
  const db = join(work, "plain-db");
  const scratch = join(work, "plain-tmp");
  const log = join(work, "plain.log");
  await cp("/var/lib/rkhunter/db", db, { recursive: true });
  await mkdir(scratch, { recursive: true });
  const args = ["--check", "--sk", "--dbdir", db, "--tmpdir", scratch, "--logfile", log];
  if (tests.length > 0) args.push("--enable", tests.join(","));
  const t0 = performance.now();
  spawnSync("rkhunter", args, { stdio: ["ignore", "ignore", "ignore"], cwd: "/" });
  const seconds = (performance.now() - t0) / 1000;
  const parsed = parseRkhunterLog(await readFile(log, "utf8").catch(() => ""));
  return { seconds, warnings: parsed.warnings.map((w) => [w.text, ...w.lines].join(" | ")) };
}

try {
  console.log(`load before: ${load()} (2 cores; other sessions' work shares them)`);
  const p = await plain();
  console.log(
    `plain rkhunter --check --sk${tests.length ? ` --enable ${tests.join(",")}` : ""}: ${p.seconds.toFixed(1)} s, ${p.warnings.length} warning(s)`,
  );
  console.log(`load between: ${load()}`);
  const t0 = performance.now();
  const r = await runRkhunter({
    timeoutMs: 4 * 60 * 60_000,
    env: process.env,
    ...(tests.length > 0 ? { tests } : {}),
  });
  const ours = (performance.now() - t0) / 1000;
  const parsed = r.parsed as { secondsPerProcess?: number[]; complete?: boolean };
  const log = r.said?.tool === "rkhunter" ? r.said.log : null;
  const mine = (log?.warnings ?? []).map((w) => [w.text, ...w.lines].join(" | "));
  console.log(
    `breachkit rkhunter step: ${ours.toFixed(1)} s (${r.status}, complete ${parsed.complete}, processes ${JSON.stringify(parsed.secondsPerProcess)} s), ${mine.length} warning(s)`,
  );
  console.log(`load after: ${load()}`);
  const a = new Set(p.warnings);
  const b = new Set(mine);
  const onlyPlain = [...a].filter((w) => !b.has(w));
  const onlyOurs = [...b].filter((w) => !a.has(w));
  console.log(`warnings only in plain: ${onlyPlain.length}; only in breachkit: ${onlyOurs.length}`);
  for (const w of onlyPlain) console.log(`  plain only: ${w.slice(0, 200)}`);
  for (const w of onlyOurs) console.log(`  breachkit only: ${w.slice(0, 200)}`);
  console.log(`ratio breachkit / plain: ${(ours / p.seconds).toFixed(2)} (target <= 0.5)`);
} finally {
  await rm(work, { recursive: true, force: true });
}
