/**
 * Benchmark: start-up of the single executable against the npm-installed command, side by
 * side in the same run, alternating, median of N runs each:
 *
 *   exe --version     dist/breachkit-linux-x64 --version (Node 24; it also hashes its own
 *                     ~123 MiB through /proc/self/exe and self-checks its assets)
 *   exe schema --list the executable's start-up and one command, without that hashing
 *   node --version    node dist/cli/bin.cjs --version (the project's Node; the reference)
 *
 *   npm run build && npm run build:exe -- --arch x64 && npx tsx bench/startup-exe.ts [runs, default 15]
 *
 * Prints each median and the ratios exe/node. The machine's other load makes these noisy:
 * compare the ratio, not the milliseconds, and run it twice.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const EXE = join(REPO, "dist", "breachkit-linux-x64");
const CLI = join(REPO, "dist", "cli", "bin.cjs");
const runs = Number(process.argv[2] ?? 15);
if (!existsSync(EXE) || !existsSync(CLI)) {
  process.stderr.write("build first: npm run build && npm run build:exe -- --arch x64\n");
  process.exit(2);
}

const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", NO_COLOR: "1" };
function ms(cmd: string, args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  const t = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${r.stderr}`);
  return t;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

const sides = {
  "exe --version": () => ms(EXE, ["--version"]),
  "exe schema --list": () => ms(EXE, ["schema", "--list"]),
  "node bin.cjs --version": () => ms(process.execPath, [CLI, "--version"]),
  "node bin.cjs schema --list": () => ms(process.execPath, [CLI, "schema", "--list"]),
};
const times: Record<string, number[]> = Object.fromEntries(Object.keys(sides).map((k) => [k, []]));
for (const f of Object.values(sides)) f(); // page cache warm for every side
for (let i = 0; i < runs; i++) for (const [k, f] of Object.entries(sides)) times[k]!.push(f());

process.stdout.write(
  `startup, median of ${runs} runs each (node ${process.version} for bin.cjs)\n`,
);
for (const [k, xs] of Object.entries(times)) {
  process.stdout.write(`  ${k.padEnd(28)} ${median(xs).toFixed(0).padStart(6)} ms\n`);
}
const m = (k: string) => median(times[k]!);
process.stdout.write(
  `ratio exe/node --version:     ${(m("exe --version") / m("node bin.cjs --version")).toFixed(2)}\n` +
    `ratio exe/node schema --list: ${(m("exe schema --list") / m("node bin.cjs schema --list")).toFixed(2)}\n`,
);
