/**
 * Benchmark: `breachkit update --check` over 50 containers against a local registry (Debian's
 * docker-registry on 127.0.0.1, started here and stopped by pid), each container on its own
 * repository (so 50 distinct manifests; 10 of the tags moved, so 10 manifests are also fetched
 * and hashed), against what an admin does by hand for the same answer, run side by side:
 * `docker inspect` of the 50 containers, `docker image inspect` of their image, and one
 * `curl -sI` (HEAD, the manifest types in Accept) per repository, one after the other.
 *
 *   npm run build && flock /tmp/bk-docker.lock npx tsx bench/update-check.ts [ROUNDS]   (ROUNDS = 5)
 *
 * Target: update --check < 2 s. Rounds alternate the order; prints medians and minimums (on a
 * shared machine the minimum is the least disturbed run) and the ratio. Everything it creates
 * (containers, images, the registry and its directory) is removed by id at the end.
 */
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { buildImage, docker, startRegistry } from "../test/helpers/registry.js";

const N = 50;
const MOVED = 10;
const ROUNDS = Number(process.argv[2] ?? 5);
const LAUNCHER = fileURLToPath(new URL("../bin/breachkit", import.meta.url));
const RUN = `b${Date.now().toString(36)}`;
const ACCEPT =
  "Accept: application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

function time(argv: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(argv[0] ?? "", argv.slice(1), { stdio: ["ignore", "ignore", "pipe"] });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0 && r.status !== 1) {
    throw new Error(
      `${argv.slice(0, 3).join(" ")} exited ${r.status}: ${r.stderr.toString().slice(0, 500)}`,
    );
  }
  return ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

async function main() {
  const reg = await startRegistry();
  const containers: string[] = [];
  const images: string[] = [];
  try {
    process.stderr.write(`registry ${reg.host}; building and pushing ${N} repositories...\n`);
    const v1 = await buildImage(`${reg.host}/bench/seed:1`, { version: "1", healthy: true });
    const v2 = await buildImage(`${reg.host}/bench/seed:2`, { version: "2", healthy: true });
    images.push(v1, v2);
    const refs = Array.from({ length: N }, (_, i) => `${reg.host}/bench/app-${i}:1.0.0`);
    for (const ref of refs) {
      await docker(["tag", v1, ref]);
      await docker(["push", "-q", ref]);
    }
    for (const [i, ref] of refs.entries()) {
      containers.push(
        await docker([
          "create",
          "--label",
          `bk-bench=${RUN}`,
          "--name",
          `bk-bench-upd-${RUN}-${i}`,
          ref,
        ]),
      );
    }
    // Move 10 tags in the registry; the local tags stay on the running image.
    for (const ref of refs.slice(0, MOVED)) {
      await docker(["tag", v2, ref]);
      await docker(["push", "-q", ref]);
      await docker(["tag", v1, ref]);
    }
    const breachkit = [
      LAUNCHER,
      "update",
      "--check",
      "--json",
      "--no-tags",
      "--label",
      `bk-bench=${RUN}`,
      "--insecure-registry",
      reg.host,
    ];
    const curls = refs.map((ref) => {
      const [, path, tag] = /^[^/]+\/(.+):([^:]+)$/.exec(ref) ?? [];
      return [
        "curl",
        "-sfI",
        "-o",
        "/dev/null",
        "-H",
        ACCEPT,
        `http://${reg.host}/v2/${path}/manifests/${tag}`,
      ];
    });
    const reference = () =>
      time(["docker", "inspect", ...containers]) +
      time(["docker", "image", "inspect", v1]) +
      curls.reduce((sum, c) => sum + time(c), 0);
    // Check the answer once: 10 updates, 40 current.
    const out = spawnSync(breachkit[0] ?? "", breachkit.slice(1), { encoding: "utf8" });
    const parsed = JSON.parse(out.stdout) as { counts: Record<string, number> };
    process.stderr.write(`answer: ${JSON.stringify(parsed.counts)}\n`);
    if (parsed.counts["update-available"] !== MOVED || parsed.counts.current !== N - MOVED) {
      throw new Error("update --check did not see the 10 moved tags");
    }
    const bk: number[] = [];
    const ref: number[] = [];
    const startup: number[] = [];
    const inside: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      startup.push(time([LAUNCHER, "--version"]));
      const t = spawnSync(breachkit[0] ?? "", breachkit.slice(1), { encoding: "utf8" });
      inside.push((JSON.parse(t.stdout) as { durationMs: number }).durationMs);
      if (r % 2 === 0) {
        bk.push(time(breachkit));
        ref.push(reference());
      } else {
        ref.push(reference());
        bk.push(time(breachkit));
      }
    }
    const load = spawnSync("cat", ["/proc/loadavg"], { encoding: "utf8" }).stdout.trim();
    console.log(
      `update --check over ${N} containers (${MOVED} moved tags), ${ROUNDS} rounds, load ${load}`,
    );
    console.log(
      `  breachkit update --check      median ${median(bk).toFixed(0)} ms  min ${Math.min(...bk).toFixed(0)} ms  (target < 2000 ms)`,
    );
    console.log(
      `  docker inspect + ${N} x curl -sI  median ${median(ref).toFixed(0)} ms  min ${Math.min(...ref).toFixed(0)} ms`,
    );
    console.log(
      `  ratio breachkit / reference   median ${(median(bk) / median(ref)).toFixed(2)}  min ${(Math.min(...bk) / Math.min(...ref)).toFixed(2)}`,
    );
    console.log(
      `  of which: node start-up (breachkit --version) median ${median(startup).toFixed(0)} ms; the check itself (durationMs) median ${median(inside).toFixed(0)} ms`,
    );
    console.log(`  target ${median(bk) < 2000 ? "met" : "NOT met"} (median)`);
  } finally {
    for (const id of containers) await docker(["rm", "-f", id]).catch(() => {});
    for (const id of images) await docker(["rmi", "-f", id]).catch(() => {});
    await reg.stop();
  }
}

main().catch((e: unknown) => {
  console.error(e instanceof Error ? e.message : String(e));
  process.exitCode = 1;
});
