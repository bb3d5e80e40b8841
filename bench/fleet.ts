/**
 * Benchmark: a fleet's per-host overhead (connect, copy, verify, clean up) against running the
 * executable locally, on N loopback hosts (real sshd each, started here and stopped by pid)
 * with --forks 10. The command is `snapshot` with no Docker engine reachable on the "hosts"
 * (DOCKER_HOST names no socket), so the run itself is the same small job everywhere.
 *
 *   npm run build && npm run build:exe -- --arch x64 && npx tsx bench/fleet.ts [hosts, default 20]
 *
 * Prints per host: total, each step, and total minus the local run's median ("overhead").
 * The target is an overhead under 0.5 s per host; the copy of a ~123 MiB executable is most of
 * it. Two cores shared with other work make the figures noisy: run it twice.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { keygen, type Sshd, startSshd } from "../test/helpers/sshd.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const EXE = join(REPO, "dist", "breachkit-linux-x64");
const CLI = join(REPO, "dist", "cli", "bin.cjs");
const n = Number(process.argv[2] ?? 20);
const work = mkdtempSync(join(tmpdir(), "bk-bench-fleet-"));
const servers: Sshd[] = [];
const NO_DOCKER = "unix:///nonexistent-breachkit-bench.sock";

try {
  const key = join(work, "user");
  const pub = await keygen(key, "bench");
  for (let i = 0; i < n; i++) {
    servers.push(
      await startSshd({
        name: `h${i}`,
        root: work,
        userKeyPub: pub,
        setEnv: { DOCKER_HOST: NO_DOCKER },
      }),
    );
  }
  writeFileSync(join(work, "known_hosts"), `${servers.map((s) => s.knownHostsLine).join("\n")}\n`);
  writeFileSync(
    join(work, "hosts.txt"),
    `${servers.map((s) => `root@127.0.0.1:${s.port}`).join("\n")}\n`,
  );
  // The reference: the same command, run locally, 3 times.
  const local: number[] = [];
  for (let i = 0; i < 3; i++) {
    const out = mkdtempSync(join(work, "local-"));
    const t0 = performance.now();
    spawnSync(EXE, ["snapshot", "--json", "--out", out], {
      env: { PATH: "/usr/bin:/bin", DOCKER_HOST: NO_DOCKER },
      stdio: "ignore",
    });
    local.push(performance.now() - t0);
  }
  const localMs = [...local].sort((a, b) => a - b)[1] as number;
  const t0 = performance.now();
  const r = spawnSync(
    process.execPath,
    [
      CLI,
      "fleet",
      join(work, "hosts.txt"),
      "snapshot",
      "--json",
      "--forks",
      "10",
      "--out",
      join(work, "case"),
      "--exe",
      EXE,
      "--known-hosts",
      join(work, "known_hosts"),
      "--identity",
      key,
    ],
    { encoding: "utf8", maxBuffer: 1 << 28 },
  );
  const wall = performance.now() - t0;
  const out = JSON.parse(r.stdout) as {
    hosts: {
      name: string;
      state: string;
      durationMs: number;
      steps: { step: string; ms: number }[];
    }[];
  };
  process.stdout.write(
    `fleet of ${n} loopback hosts, --forks 10: ${(wall / 1000).toFixed(1)} s wall; local snapshot run ${localMs.toFixed(0)} ms\n`,
  );
  const overheads: number[] = [];
  for (const h of out.hosts) {
    const steps = h.steps.map((s) => `${s.step} ${s.ms}`).join(", ");
    const overhead = h.durationMs - localMs;
    overheads.push(overhead);
    process.stdout.write(
      `  ${h.name.padEnd(22)} ${h.state.padEnd(10)} ${String(h.durationMs).padStart(6)} ms  overhead ${overhead.toFixed(0).padStart(6)} ms  (${steps})\n`,
    );
  }
  overheads.sort((a, b) => a - b);
  process.stdout.write(
    `median overhead per host ${overheads[Math.floor(overheads.length / 2)]?.toFixed(0)} ms (target < 500 ms)\n`,
  );
} finally {
  for (const s of servers) await s.stop();
  rmSync(work, { recursive: true, force: true });
}
