/**
 * Benchmark: dumping a process's memory with breachkit (collect --memory's dump: the ELF core
 * streamed and hashed into a bundle, the indicators scanned on the way) against `gcore` from
 * Debian's gdb on the same process, side by side in the same run.
 *
 *   npx tsx bench/memory-vs-gcore.ts [MiB] [ROUNDS] [CHUNK_KiB]  (1024, 3, breachkit's 1024)
 *
 * Run as root, after `npm run build` (the indicator scan's worker is the built one). The benchmark starts one process (python3) holding MiB of resident memory
 * (1 MiB of random bytes repeated: binary content, as a heap is, not zeros the scanner could
 * skip), and ends it by pid at the end. Each round runs both tools, alternating which goes
 * first, each writing into a fresh temporary directory removed after the round. Prints the
 * medians and the ratio against the target: breachkit <= 1.5 x gcore.
 *
 * After the rounds it prints the floor: SHA-256 of as many bytes alone, against gcore's median.
 *
 * Before the rounds, a file of 3 x MiB is written and removed (the warm-up). On this VM the
 * first write into memory the guest has never touched costs about 1.5 s of system time per
 * GiB (`dd if=/dev/zero bs=1M count=1024`: 1.84 s the first time, 0.15 s after); without the
 * warm-up, whichever tool writes first in a round pays it, and the ratio swings with the order.
 */
import { spawn } from "node:child_process";
import { createHash, randomFillSync } from "node:crypto";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { coreMachine, dumpProcessMemory } from "../src/act/memory-dump.js";
import { defaultScanWorker } from "../src/act/memory-scan.js";
import { createBundle } from "../src/evidence/bundle.js";

const mib = Number(process.argv[2] ?? 1024);
const rounds = Number(process.argv[3] ?? 3);
const chunkKiB = process.argv[4] === undefined ? undefined : Number(process.argv[4]);

const HOLDER = `
import os, sys, time
block = os.urandom(1 << 20)
data = bytearray(block) * int(sys.argv[1])
print("ready", flush=True)
time.sleep(3600)
`;

async function main() {
  const worker = defaultScanWorker();
  console.log(
    worker === null
      ? "indicator scan: in the main thread (dist/ not built: run npm run build for the worker)"
      : `indicator scan: in its worker (${worker})`,
  );
  const machine = coreMachine();
  if (machine === null) throw new Error("core files are written for x86-64 and arm64 only");
  // Before the holder starts: a failed warm-up (a full disk) leaves nothing running.
  const warmDir = mkdtempSync(join(tmpdir(), "bk-bench-warm-"));
  try {
    const t0 = performance.now();
    const fd = openSync(join(warmDir, "warm"), "w");
    const block = Buffer.alloc(1 << 20, 0xa5);
    for (let i = 0; i < 3 * mib; i++) writeSync(fd, block);
    closeSync(fd);
    console.log(
      `warm-up: ${3 * mib} MiB written and removed in ${Math.round(performance.now() - t0)} ms (the VM's first touch of fresh memory, paid before the rounds)`,
    );
  } finally {
    rmSync(warmDir, { recursive: true, force: true });
  }
  const child = spawn("python3", ["-c", HOLDER, String(mib)], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  await new Promise<void>((resolve, reject) => {
    child.once("exit", (c) => reject(new Error(`holder exited ${c}`)));
    child.stdout?.once("data", () => resolve());
  });
  const pid = child.pid!;
  // Interrupted: the holder this benchmark started is ended by its pid, not left behind.
  for (const sig of ["SIGINT", "SIGTERM"] as const) {
    process.once(sig, () => {
      child.kill("SIGKILL");
      process.exit(130);
    });
  }
  const ours: number[] = [];
  const theirs: number[] = [];
  try {
    for (let r = 0; r < rounds; r++) {
      const dir = mkdtempSync(join(tmpdir(), "bk-bench-mem-"));
      try {
        const runOurs = async () => {
          const t0 = performance.now();
          const bundle = await createBundle({ outDir: dir, host: "bench", command: "bench" });
          const rec = await dumpProcessMemory({
            bundle,
            pid,
            containerId: null,
            containerName: null,
            selfPid: process.pid,
            machine,
            ...(chunkKiB !== undefined ? { chunkSize: chunkKiB * 1024 } : {}),
          });
          await bundle.seal({ complete: true });
          ours.push(performance.now() - t0);
          if (!rec.complete)
            throw new Error(`breachkit's dump is incomplete: ${rec.incompleteReason}`);
          rmSync(join(bundle.dir, rec.file!));
          return rec.dumpedBytes;
        };
        const runGcore = async () => {
          const t0 = performance.now();
          await execa("gcore", ["-o", join(dir, "gcore"), String(pid)], { stdin: "ignore" });
          theirs.push(performance.now() - t0);
          rmSync(join(dir, `gcore.${pid}`), { force: true });
        };
        let bytes: number;
        if (r % 2 === 0) {
          bytes = await runOurs();
          await runGcore();
        } else {
          await runGcore();
          bytes = await runOurs();
        }
        console.log(
          `round ${r + 1}: breachkit ${Math.round(ours.at(-1)!)} ms (${(bytes / 2 ** 20).toFixed(0)} MiB), gcore ${Math.round(theirs.at(-1)!)} ms`,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  } finally {
    process.kill(pid, "SIGKILL");
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const a = median(ours);
  const b = median(theirs);
  // The floor: SHA-256 of as many bytes, alone, on one core (Node's, as the bundle hashes).
  const block = randomFillSync(Buffer.allocUnsafe(1 << 20));
  const hashMs: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const h = createHash("sha256");
    for (let i = 0; i < mib; i++) h.update(block);
    h.digest();
    hashMs.push(performance.now() - t0);
  }
  const floor = median(hashMs);
  console.log(
    `SHA-256 of ${mib} MiB alone (no read, no write, no scan): ${Math.round(floor)} ms, ${(floor / b).toFixed(2)} x gcore: no dump that hashes every byte it writes, in this run, on one core, takes less`,
  );
  console.log(
    `median over ${rounds} rounds, ${mib} MiB resident: breachkit ${Math.round(a)} ms, gcore ${Math.round(b)} ms, ratio ${(a / b).toFixed(2)} (target <= 1.50)`,
  );
}

await main();
