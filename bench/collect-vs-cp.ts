/**
 * Benchmark: `breachkit collect --container X --no-host` (the built CLI) against the reference
 * `cp LOGFILE` then `sha256sum` of the copy, for a container whose json-file log is large.
 *
 *   npm run build && npx tsx bench/collect-vs-cp.ts [payload MiB, default 1024] [runs, default 3]
 *
 * The log is written by the container through its normal json-file driver. Writing it line by
 * line is slow (dockerd makes one JSON entry per line), so the container prints one endless
 * line of base64 from /dev/urandom: the driver cuts it into 16 KiB entries, about 0.5 % JSON
 * overhead, and 1 GiB goes through in seconds. The container (label breachkit.test=1) is
 * removed by id at the end.
 *
 * Prints each run, the median ratio (target <= 1.2) and the collect process's peak RSS
 * (VmHWM, target < 200 MiB), read with /usr/bin/time -v when installed, else by polling.
 * collect's time includes everything the admin waits for: node start, the snapshot, the
 * bundle, the seal. Both sides read the log from the page cache after the first run.
 */
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildLabImage } from "../lab/lab-core.js";

const payloadMiB = Number(process.argv[2] ?? 1024);
const runs = Number(process.argv[3] ?? 3);
const CLI = join(import.meta.dirname, "..", "dist", "cli", "bin.cjs");
const GNU_TIME = "/usr/bin/time";

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Run the CLI; returns wall ms, peak RSS in KiB and the JSON summary. */
async function collectOnce(
  container: string,
  out: string,
): Promise<{
  ms: number;
  hwmKiB: number;
  summary: { complete: boolean; files: number; bytes: number };
}> {
  const useTime = existsSync(GNU_TIME);
  const args = [CLI, "collect", "--container", container, "--no-host", "--out", out, "--json"];
  const t0 = performance.now();
  const child = useTime
    ? spawn(GNU_TIME, ["-v", process.execPath, ...args], { stdio: ["ignore", "pipe", "pipe"] })
    : spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  let polled = 0;
  const poll = useTime
    ? null
    : setInterval(() => {
        readFile(`/proc/${child.pid}/status`, "utf8").then(
          (s) => {
            const m = /VmHWM:\s+(\d+) kB/.exec(s);
            if (m) polled = Math.max(polled, Number(m[1]));
          },
          () => undefined,
        );
      }, 20);
  const code = await new Promise<number | null>((r) => child.once("close", r));
  const ms = performance.now() - t0;
  if (poll) clearInterval(poll);
  if (code !== 0) throw new Error(`collect exited with ${code}: ${stderr.slice(-2000)}`);
  const hwm = useTime
    ? Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(stderr)?.[1])
    : polled;
  return { ms, hwmKiB: hwm, summary: JSON.parse(stdout) };
}

if (!existsSync(CLI)) throw new Error(`build the CLI first: npm run build (${CLI} is missing)`);
const image = await buildLabImage();
const inputMiB = Math.ceil((payloadMiB * 3) / 4);
const id = run("docker", [
  "run",
  "-d",
  "--label",
  "breachkit.test=1",
  "--label",
  "breachkit.test.bench=collect-vs-cp",
  "--network",
  "none",
  "--log-driver",
  "json-file",
  image.ref,
  "/bin/sh",
  "-c",
  `dd if=/dev/urandom bs=1048576 count=${inputMiB} 2>/dev/null | base64 | tr -d '\\n'; echo`,
]).trim();
const dir = await mkdtemp(join(tmpdir(), "bk-bench-collect-"));
try {
  process.stdout.write(`container ${id.slice(0, 12)} writing ~${payloadMiB} MiB to its log...\n`);
  const tw = performance.now();
  run("docker", ["wait", id]);
  const logPath = run("docker", ["inspect", "--format", "{{.LogPath}}", id]).trim();
  const size = (await stat(logPath)).size;
  process.stdout.write(
    `log ${logPath}: ${(size / 2 ** 20).toFixed(0)} MiB written in ${((performance.now() - tw) / 1000).toFixed(1)} s\n`,
  );
  const expected = run("sha256sum", [logPath]).split(" ")[0];

  const ours: number[] = [];
  const ref: number[] = [];
  let peak = 0;
  for (let i = 0; i < runs; i++) {
    const out = join(dir, `bundle-${i}`);
    const r = await collectOnce(id, out);
    if (!r.summary.complete) throw new Error("collect did not complete");
    const manifest = JSON.parse(
      await readFile(join(out, readdirSync(out)[0]!, "manifest.json"), "utf8"),
    ) as { files: { source: string; sha256: string }[] };
    const entry = manifest.files.find((f) => f.source === logPath);
    if (entry?.sha256 !== expected) throw new Error("the bundle's log hash differs from sha256sum");
    await rm(out, { recursive: true, force: true });

    const copy = join(dir, `cp-${i}.log`);
    const t1 = performance.now();
    run("cp", [logPath, copy]);
    const sum = run("sha256sum", [copy]).split(" ")[0];
    const tRef = performance.now() - t1;
    if (sum !== expected) throw new Error("cp copy differs");
    await rm(copy, { force: true });

    ours.push(r.ms);
    ref.push(tRef);
    peak = Math.max(peak, r.hwmKiB);
    process.stdout.write(
      `run ${i + 1}: collect ${(r.ms / 1000).toFixed(2)} s (peak RSS ${(r.hwmKiB / 1024).toFixed(0)} MiB), cp + sha256sum ${(tRef / 1000).toFixed(2)} s, ratio ${(r.ms / tRef).toFixed(2)}\n`,
    );
  }
  const mo = median(ours);
  const mr = median(ref);
  process.stdout.write(
    `\nlog ${(size / 2 ** 20).toFixed(0)} MiB: collect median ${(mo / 1000).toFixed(2)} s, cp + sha256sum median ${(mr / 1000).toFixed(2)} s; ratio ${(mo / mr).toFixed(2)} (target <= 1.2)\n` +
      `collect peak RSS ${(peak / 1024).toFixed(0)} MiB (target < 200 MiB)\n`,
  );
} finally {
  spawnSync("docker", ["rm", "-f", id], { stdio: "ignore" });
  await rm(dir, { recursive: true, force: true });
}
