/**
 * What loading the rule set costs a command, against what triage loaded before the lists
 * moved to rules/*.json (the hunting rules alone). Cold loads are what a command pays: each
 * run is a fresh process, so V8's first compile counts (zod is started before timing: every
 * command starts it anyway).
 *
 *   npx tsx bench/rule-set-load.ts [--runs 9]
 *
 * Prints the best and the median of N fresh processes for each, and the ratio of the new
 * load (lists and hunting rules) to the reference (hunting rules alone).
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const i = process.argv.indexOf("--runs");
const RUNS = i === -1 ? 9 : Number(process.argv[i + 1]);
const ME = fileURLToPath(import.meta.url);

if (process.argv[2] === "--child") {
  const what = process.argv[3];
  const { loadHuntRules } = await import("../src/judge/hunt/load.js");
  const { loadRuleSet } = await import("../src/judge/rule-set.js");
  // Every command parses with zod anyway (engine answers, the snapshot): start it first, so
  // that its one-time start is not charged to the lists.
  const { z } = await import("../src/util/zod.js");
  z.strictObject({ a: z.union([z.string(), z.number()]) }).safeParse({ a: 1 });
  const t = performance.now();
  const r = what === "hunt" ? await loadHuntRules() : await loadRuleSet();
  const ms = performance.now() - t;
  if (!r.ok) throw new Error(r.error.message);
  process.stdout.write(`${ms}\n`);
} else {
  const times = (what: string) => {
    const out: number[] = [];
    for (let n = 0; n < RUNS; n++) {
      const r = spawnSync(process.execPath, [...process.execArgv, ME, "--child", what], {
        encoding: "utf8",
      });
      if (r.status !== 0) throw new Error(r.stderr);
      out.push(Number(r.stdout.trim()));
    }
    return out.sort((a, b) => a - b);
  };
  const ref = times("hunt");
  const now = times("set");
  const med = (v: number[]) => v[Math.floor(v.length / 2)]!;
  const row = (name: string, v: number[]) =>
    console.log(`${name.padEnd(44)} best ${v[0]!.toFixed(1)} ms, median ${med(v).toFixed(1)} ms`);
  row("reference: loadHuntRules (hunting rules)", ref);
  row("loadRuleSet (ten lists + hunting rules)", now);
  console.log(
    `ratio (best): ${(now[0]! / ref[0]!).toFixed(2)}x, (median): ${(med(now) / med(ref)).toFixed(2)}x`,
  );
}
