/**
 * ClamAV over host paths with package skipping (breachkit scan --clamav: the package check
 * first, then only files not verified unchanged) against `clamscan -r` over the same paths,
 * side by side, with the test signature database (test/fixtures/clamav-db). Then the hits of
 * both are compared on a directory holding the test signatures (EICAR and the lab signature),
 * planted under the first path given, so "same hits" is checked on known-bad files.
 *
 *   npx tsx bench/clamav-skip.ts [PATH ...]   (default: /usr/bin /usr/sbin /usr/lib/x86_64-linux-gnu /etc /opt)
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LAB_SIGNATURE_TEXT } from "../lab/lab-content.js";
import { runScan } from "../src/cli/run-scan.js";
import { loadFalsePositives } from "../src/judge/scanners/false-positives.js";
import { silentProgress } from "../src/util/progress.js";
import { CLAMAV_TEST_DB, EICAR_TEXT } from "../test/helpers/scanners.js";

const picked = process.argv.slice(2);
const paths =
  picked.length > 0
    ? picked
    : ["/usr/bin", "/usr/sbin", "/usr/lib/x86_64-linux-gnu", "/etc", "/opt"];
// Known-bad files where both must find them: a temp dir (always scanned) under /tmp.
const bad = await mkdtemp("/tmp/bk-bench-clamav-skip-");
await writeFile(join(bad, "eicar.com"), EICAR_TEXT);
await writeFile(join(bad, "lab-signature.bin"), `${LAB_SIGNATURE_TEXT}\n`);
const all = [...paths, bad];
try {
  const t0 = performance.now();
  const r = await runScan({
    env: process.env,
    targets: [{ kind: "host", paths: all }],
    tools: ["clamav"],
    clamavDb: CLAMAV_TEST_DB,
    progress: silentProgress,
    cache: null,
    falsePositives: loadFalsePositives(),
    clamav: { useSystemClamd: false },
  });
  const oursS = (performance.now() - t0) / 1000;
  const clam = r.reports.find((x) => x.tool === "clamav")!;
  const pk = r.reports.find((x) => x.tool === "packages");
  console.log(`breachkit scan --clamav (with package skipping): ${oursS.toFixed(1)} s`);
  console.log(`  packages: ${pk?.summary}`);
  console.log(`  clamav:   ${clam.summary}`);
  const t1 = performance.now();
  const c = spawnSync("clamscan", ["-d", CLAMAV_TEST_DB, "-r", "-i", "--no-summary", ...all], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
    stdio: ["ignore", "pipe", "pipe"],
  });
  const refS = (performance.now() - t1) / 1000;
  console.log(`clamscan -r: ${refS.toFixed(1)} s (exit ${c.status})`);
  const theirs = c.stdout
    .split("\n")
    .map((l) => /^(.*): (\S+) FOUND$/.exec(l))
    .filter((m): m is RegExpExecArray => m !== null)
    .map((m) => `${m[1]} ${m[2]}`)
    .sort();
  const ours = r.findings
    .flatMap((f) => (f.source === "clamav" ? f.evidence : []))
    .map((e) => `${e.path} ${e.facts?.signature}`)
    .sort();
  console.log(
    `hits: breachkit ${ours.length}, clamscan ${theirs.length}, same: ${JSON.stringify(ours) === JSON.stringify(theirs)}`,
  );
  for (const h of theirs) console.log(`  clamscan: ${h}`);
  for (const h of ours) console.log(`  breachkit: ${h}`);
  console.log(`ratio clamscan / breachkit: ${(refS / oursS).toFixed(2)}x (target >= 5x)`);
} finally {
  await rm(bad, { recursive: true, force: true });
}
