/**
 * Benchmark: BundleWriter.copyFile of a large file (hash computed while streaming) against the
 * reference `cp` then `sha256sum` of the copy, on the same file system, alternating runs.
 *
 *   npx tsx bench/copy-hash.ts [size in MiB, default 1024] [runs, default 3]
 *
 * Prints each run, the median ratio (target: at most 1.2) and this process's peak RSS.
 * Page cache: the source is written once and stays cached for both sides; each side writes a
 * fresh copy, so both pay for the write.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBundle } from "../src/evidence/bundle.js";

const sizeMiB = Number(process.argv[2] ?? 1024);
const runs = Number(process.argv[3] ?? 3);

async function makeFile(path: string, mib: number): Promise<void> {
  // Random-ish content (not zeros: some file systems and hashes shortcut zeros).
  const block = randomBytes(1 << 20);
  const fh = await open(path, "w");
  try {
    for (let i = 0; i < mib; i++) {
      block.writeUInt32LE(i, 0);
      await fh.write(block);
    }
  } finally {
    await fh.close();
  }
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return r.stdout;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const dir = await mkdtemp(join(tmpdir(), "bk-bench-"));
try {
  const src = join(dir, "big.log");
  process.stdout.write(`creating ${sizeMiB} MiB test file in ${dir}...\n`);
  await makeFile(src, sizeMiB);
  const rssBefore = process.resourceUsage().maxRSS;
  const ours: number[] = [];
  const ref: number[] = [];
  const ssl: number[] = [];
  const hasOpenssl = spawnSync("openssl", ["version"]).status === 0;
  for (let i = 0; i < runs; i++) {
    // breachkit: one pass, copy + hash
    const out = join(dir, `bundle-${i}`);
    const t0 = performance.now();
    const b = await createBundle({ outDir: out, host: "bench", command: "bench" });
    const entry = await b.copyFile("big.log", src);
    await b.seal({ complete: true });
    const tOurs = performance.now() - t0;

    // reference: cp, then sha256sum of the copy
    const copy = join(dir, `cp-${i}.log`);
    const t1 = performance.now();
    run("cp", [src, copy]);
    const sum = run("sha256sum", [copy]).split(" ")[0];
    const tRef = performance.now() - t1;

    // A stricter reference: coreutils' sha256sum does not use the CPU's SHA extensions,
    // OpenSSL (and so node) does.
    let tSsl = Number.NaN;
    if (hasOpenssl) {
      const copy2 = join(dir, `cp2-${i}.log`);
      const t2 = performance.now();
      run("cp", [src, copy2]);
      run("openssl", ["dgst", "-sha256", copy2]);
      tSsl = performance.now() - t2;
      await rm(copy2, { force: true });
      ssl.push(tSsl);
    }

    if (sum !== entry.sha256) throw new Error(`hash mismatch: ${sum} vs ${entry.sha256}`);
    ours.push(tOurs);
    ref.push(tRef);
    process.stdout.write(
      `run ${i + 1}: copyFile ${(tOurs / 1000).toFixed(2)} s, cp + sha256sum ${(tRef / 1000).toFixed(2)} s, ratio ${(tOurs / tRef).toFixed(2)}` +
        (hasOpenssl
          ? `; cp + openssl dgst ${(tSsl / 1000).toFixed(2)} s, ratio ${(tOurs / tSsl).toFixed(2)}`
          : "") +
        "\n",
    );
    await rm(out, { recursive: true, force: true });
    await rm(copy, { force: true });
  }
  const mo = median(ours);
  const mr = median(ref);
  process.stdout.write(
    `\n${sizeMiB} MiB: copyFile median ${(mo / 1000).toFixed(2)} s (${((sizeMiB / mo) * 1000).toFixed(0)} MiB/s), ` +
      `cp + sha256sum median ${(mr / 1000).toFixed(2)} s; ratio ${(mo / mr).toFixed(2)} (target <= 1.2)\n` +
      (hasOpenssl
        ? `cp + openssl dgst -sha256 median ${(median(ssl) / 1000).toFixed(2)} s; ratio ${(mo / median(ssl)).toFixed(2)}\n`
        : "") +
      `peak RSS of this process: ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB (before copies: ${(rssBefore / 1024).toFixed(0)} MiB)\n`,
  );
} finally {
  await rm(dir, { recursive: true, force: true });
}
