/**
 * Benchmark: `breachkit backup CONTAINER` (the built CLI: node start, inspect, the repository
 * check, pause, restic backup, unpause) against the reference `restic backup` of the same
 * volume directory alone, side by side in the same run.
 *
 *   npm run build && npx tsx bench/backup.ts [volume MiB, default 1024] [runs, default 3]
 *
 * The volume is filled with random data (incompressible, no duplicate chunks) in 16 MiB files.
 * Each run gives each side a fresh repository (made with restic init before the clock starts),
 * so neither profits from the other's or an earlier run's data; the order of the two sides
 * alternates between runs. Both read the volume from the page cache after the first run.
 * The container (a busybox sleeper, label breachkit.test=1) and the volume are removed by id
 * and name at the end. Target: breachkit's median total at most 1.15x restic's.
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { buildLabImage } from "../lab/lab-core.js";

const sizeMiB = Number(process.argv[2] ?? 1024);
const runs = Number(process.argv[3] ?? 3);
const CLI = join(import.meta.dirname, "..", "dist", "cli", "bin.cjs");
const FILE_MIB = 16;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", env, maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function timed(cmd: string, args: string[], env: NodeJS.ProcessEnv): number {
  const t0 = performance.now();
  run(cmd, args, env);
  return performance.now() - t0;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "bk-bench-backup-"));
  const name = `bk-bench-backup-${process.pid}`;
  const volume = `${name}-data`;
  let containerId = "";
  try {
    const pw = join(dir, "pw");
    await writeFile(pw, "bench-password\n", { mode: 0o600 });
    const env = { ...process.env, RESTIC_PASSWORD_FILE: pw };
    run("docker", ["volume", "create", volume]);
    const mountpoint = run("docker", [
      "volume",
      "inspect",
      "--format",
      "{{.Mountpoint}}",
      volume,
    ]).trim();
    const files = Math.max(1, Math.round(sizeMiB / FILE_MIB));
    for (let i = 0; i < files; i++) {
      const size = Math.min(FILE_MIB, sizeMiB) * 1024 * 1024;
      await writeFile(join(mountpoint, `data-${i}.bin`), randomBytes(size));
    }
    const image = await buildLabImage();
    containerId = run("docker", [
      "run",
      "-d",
      "--network",
      "none",
      "--name",
      name,
      "--label",
      "breachkit.test=1",
      "-v",
      `${volume}:/data`,
      image.ref,
      "sh",
      "-c",
      "sleep 3600",
    ]).trim();
    const host = hostname();
    const loadBefore = run("cat", ["/proc/loadavg"]).trim();
    console.log(`volume ${sizeMiB} MiB in ${files} file(s); ${runs} run(s); load ${loadBefore}`);
    const restics: number[] = [];
    const breachkits: number[] = [];
    for (let i = 0; i < runs; i++) {
      const repoA = join(dir, `restic-${i}`);
      const repoB = join(dir, `breachkit-${i}`);
      run("restic", ["init", "--repo", repoA], env);
      run("restic", ["init", "--repo", repoB], env);
      const ref = () =>
        timed(
          "restic",
          [
            "backup",
            "--json",
            "--quiet",
            "--repo",
            repoA,
            "--host",
            host,
            "--tag",
            "breachkit",
            "--tag",
            `container=${name}`,
            mountpoint,
          ],
          env,
        );
      const bk = () =>
        timed(
          process.execPath,
          [CLI, "backup", name, "--repo", repoB, "--password-file", pw, "--json"],
          env,
        );
      let a: number;
      let b: number;
      if (i % 2 === 0) {
        a = ref();
        b = bk();
      } else {
        b = bk();
        a = ref();
      }
      restics.push(a);
      breachkits.push(b);
      console.log(
        `run ${i + 1}: restic backup ${(a / 1000).toFixed(2)} s, breachkit backup ${(b / 1000).toFixed(2)} s, ratio ${(b / a).toFixed(3)}`,
      );
      await rm(repoA, { recursive: true, force: true });
      await rm(repoB, { recursive: true, force: true });
    }
    const ma = median(restics);
    const mb = median(breachkits);
    console.log(
      `median: restic ${(ma / 1000).toFixed(2)} s, breachkit ${(mb / 1000).toFixed(2)} s`,
    );
    const ratios = breachkits.map((b, i) => b / restics[i]!);
    console.log(`median of the per-run ratios: ${median(ratios).toFixed(3)}`);
    console.log(
      `ratio breachkit/restic: ${(mb / ma).toFixed(3)} (target <= 1.15); load after ${run("cat", ["/proc/loadavg"]).trim()}`,
    );
  } finally {
    if (containerId) spawnSync("docker", ["rm", "-f", containerId]);
    spawnSync("docker", ["volume", "rm", volume]);
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
