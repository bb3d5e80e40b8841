/**
 * Package integrity over the whole host: breachkit's check (src/observe/packages/verify.ts)
 * against `debsums -s` side by side, in the same run, with the answers compared line by line.
 * Order: breachkit, debsums, breachkit again (the page cache warms on the first run: the
 * second breachkit run shows the warm figure, the first a colder one).
 *
 *   npx tsx bench/packages.ts
 */
import { spawnSync } from "node:child_process";
import { verifyRoot } from "../src/observe/packages/verify.js";

async function ours(): Promise<{ s: number; lines: string[]; checked: number; bytes: number }> {
  const t0 = performance.now();
  const r = await verifyRoot({ root: "/", where: "host", containerId: null, unowned: false });
  const s = (performance.now() - t0) / 1000;
  const lines = [
    ...r.changed.map((c) => `debsums: changed file ${c.path} (from ${c.package} package)`),
    ...r.missing.map((m) => `debsums: missing file ${m.path} (from ${m.package} package)`),
  ].sort();
  return { s, lines, checked: r.checked, bytes: r.bytes };
}

function debsums(): { s: number; lines: string[] } {
  const t0 = performance.now();
  const r = spawnSync("debsums", ["-s"], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const s = (performance.now() - t0) / 1000;
  const lines = r.stderr
    .split("\n")
    .filter((l) => /^debsums: (changed|missing) file /.test(l))
    .sort();
  return { s, lines };
}

const first = await ours();
console.log(
  `breachkit (1st): ${first.s.toFixed(1)} s, ${first.checked} files, ${(first.bytes / 1e6).toFixed(0)} MB hashed`,
);
const ref = debsums();
console.log(`debsums -s:      ${ref.s.toFixed(1)} s`);
const second = await ours();
console.log(`breachkit (2nd): ${second.s.toFixed(1)} s`);
const same = JSON.stringify(first.lines) === JSON.stringify(ref.lines);
console.log(
  `answers: breachkit ${first.lines.length} lines, debsums ${ref.lines.length} lines, identical: ${same}`,
);
if (!same) {
  const a = new Set(first.lines);
  const b = new Set(ref.lines);
  for (const l of ref.lines.filter((x) => !a.has(x)).slice(0, 20))
    console.log(`  only debsums: ${l}`);
  for (const l of first.lines.filter((x) => !b.has(x)).slice(0, 20))
    console.log(`  only breachkit: ${l}`);
}
console.log(
  `ratio debsums / breachkit: ${(ref.s / first.s).toFixed(2)}x (1st run), ${(ref.s / second.s).toFixed(2)}x (2nd run); target >= 2x`,
);
