/**
 * Benchmark: a fleet's per-host overhead (connect, copy, check, fetch, verify, clean up) on N
 * loopback hosts (a real Debian sshd each, started here, stopped by pid) with --forks 10,
 * side by side in the same run with what plain OpenSSH does on the same hosts at the same
 * parallelism:
 *
 *   ssh true     `ssh -o BatchMode=yes HOST true`: a connection, a login, a command
 *   ssh copy     `ssh HOST 'cat > /dev/null' < EXE`: the executable's bytes through ssh, with
 *                ssh's default cipher (what an admin's own copy would cost)
 *   ssh copy gcm the same with `-c aes128-gcm@openssh.com` (the fastest plain ssh here)
 *   local run    the same command run here, without ssh (median of 3)
 *   fleet        `breachkit fleet HOSTS snapshot --forks 10`
 *
 * Per host: fleet's time, its overhead (fleet minus the local run), each step, the copy mode
 * (gzip or plain), and the ratio of the overhead to `ssh true` + `ssh copy` (what an admin
 * pays by hand to start a remote command and send it this executable). The overhead also holds
 * the run's slow-down from sharing the cores with the other hosts' runs (run minus the local
 * run), so the transfer steps alone (connect + copy + fetch + clean) are printed too. The command is `snapshot` with no Docker engine reachable on
 * the "hosts" (DOCKER_HOST names no socket), so the run itself is the same small job everywhere.
 *
 *   npm run build && npm run build:exe -- --arch x64 && npx tsx bench/fleet.ts [hosts, default 20] [gzip|plain|kept]
 *
 * (the second argument is fleet's --copy, default gzip; `kept` runs fleet twice with
 * --keep-exe: the first run sends the executable (gzip) and stores it on each host, the
 * second reuses it, hashed on the host; both are printed, the second is the figure).
 *
 * Two references for "running the executable locally": the local run alone (median of 3),
 * and the same N local runs FORKS at a time (median per run, and their wall): on this machine
 * the hosts' runs share the same cores, so the second is the fair one for the overhead of fleet
 * itself. Each host's sshd, and each local run, has its own PID namespace and /proc (ownPids):
 * the runs see only their own processes, as on hosts of their own.
 *
 * Every "host" is this machine (2 cores here, shared with other work): the hosts' sshd, the
 * encryption at both ends and the runs all compete for the same cores, so the figures are
 * noisy and pessimistic for a real fleet (where each host has its own CPU). Say the load.
 */
import { spawn, spawnSync } from "node:child_process";
import { createReadStream, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { keygen, type Sshd, startSshd } from "../test/helpers/sshd.js";

const REPO = fileURLToPath(new URL("../", import.meta.url));
const EXE = join(REPO, "dist", "breachkit-linux-x64");
const CLI = join(REPO, "dist", "cli", "bin.cjs");
const n = Number(process.argv[2] ?? 20);
const copyMode = process.argv[3] ?? "gzip";
const FORKS = 10;
const work = mkdtempSync(join(tmpdir(), "bk-bench-fleet-"));
const servers: Sshd[] = [];
const NO_DOCKER = "unix:///nonexistent-breachkit-bench.sock";
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;
/**
 * A command in its own PID namespace with its own /proc, as each "host" (its sshd) runs: every
 * host is this machine, and without it each host's snapshot would see, and hash (124 MiB each),
 * the other hosts' runs of their own copies of the executable (measured: 6-7 per host in a
 * kept run of 10 hosts, which made the runs 2-2.5 times slower than the same runs made here).
 */
const ownPids = (cmd: string, args: string[]): [string, string[]] => [
  "unshare",
  ["--pid", "--fork", "--mount-proc", "--kill-child", cmd, ...args],
];
const fmt = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

/** One ssh to a host; resolves with its wall time in ms (throws when it fails). */
function sshTimed(
  s: Sshd,
  key: string,
  remote: string,
  stdinFile?: string,
  extra: string[] = [],
): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const c = spawn(
      "ssh",
      [
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${join(work, "known_hosts")}`,
        "-o",
        "IdentitiesOnly=yes",
        "-i",
        key,
        "-p",
        String(s.port),
        ...extra,
        "root@127.0.0.1",
        remote,
      ],
      { stdio: [stdinFile ? "pipe" : "ignore", "ignore", "pipe"] },
    );
    let err = "";
    c.stderr?.on("data", (d: Buffer) => {
      err += d.toString();
    });
    if (stdinFile && c.stdin) createReadStream(stdinFile).pipe(c.stdin);
    c.on("close", (code) =>
      code === 0
        ? resolve(performance.now() - t0)
        : reject(new Error(`ssh ${remote} to ${s.port}: exit ${code}: ${err}`)),
    );
  });
}

/** Run f on every host, FORKS at a time; the per-host times in host order. */
async function eachHost(f: (s: Sshd) => Promise<number>): Promise<number[]> {
  const out: number[] = new Array(servers.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(FORKS, servers.length) }, async () => {
      for (;;) {
        const i = next++;
        if (i >= servers.length) return;
        out[i] = await f(servers[i] as Sshd);
      }
    }),
  );
  return out;
}

const key = join(work, "user");
let sshTrue: number[] = [];
let sshCopy: number[] = [];
let sshCopyGcm: number[] = [];
/** The wall time of the N local runs, FORKS at a time. */
let localParWallMs = 0;

try {
  const pub = await keygen(key, "bench");
  for (let i = 0; i < n; i++) {
    servers.push(
      await startSshd({
        name: `h${i}`,
        root: work,
        userKeyPub: pub,
        setEnv: { DOCKER_HOST: NO_DOCKER },
        pidNamespace: true,
      }),
    );
  }
  writeFileSync(join(work, "known_hosts"), `${servers.map((s) => s.knownHostsLine).join("\n")}\n`);
  writeFileSync(
    join(work, "hosts.txt"),
    `${servers.map((s) => `root@127.0.0.1:${s.port}`).join("\n")}\n`,
  );
  // The references, on the same hosts, at the same parallelism.
  sshTrue = await eachHost((s) => sshTimed(s, key, "true"));
  sshCopy = await eachHost((s) => sshTimed(s, key, "cat > /dev/null", EXE));
  sshCopyGcm = await eachHost((s) =>
    sshTimed(s, key, "cat > /dev/null", EXE, ["-c", "aes128-gcm@openssh.com"]),
  );
  const local: number[] = [];
  for (let i = 0; i < 3; i++) {
    const out = mkdtempSync(join(work, "local-"));
    const t0 = performance.now();
    spawnSync(...ownPids(EXE, ["snapshot", "--json", "--out", out]), {
      env: { PATH: "/usr/bin:/bin", DOCKER_HOST: NO_DOCKER },
      stdio: "ignore",
    });
    local.push(performance.now() - t0);
  }
  const localMs = median(local);
  // The same runs, FORKS at a time, as the hosts' runs are.
  const tPar = performance.now();
  const localPar = await eachHost(
    () =>
      new Promise<number>((resolve) => {
        const out = mkdtempSync(join(work, "local-"));
        const t = performance.now();
        const c = spawn(...ownPids(EXE, ["snapshot", "--json", "--out", out]), {
          env: { PATH: "/usr/bin:/bin", DOCKER_HOST: NO_DOCKER },
          stdio: "ignore",
        });
        c.on("close", () => resolve(performance.now() - t));
      }),
  );
  const localParMs = median(localPar);
  localParWallMs = performance.now() - tPar;
  const kept = copyMode === "kept";
  if (kept) {
    process.stdout.write("run 1 of 2 (--keep-exe: sends the executable and stores it):\n");
    fleetRun(1, localMs, localParMs, ["--copy", "gzip", "--keep-exe"]);
    // A later run comes hours later: the first run's writes (a fresh and a kept copy per
    // host) are on disk by then, not still being written back while the second run runs.
    spawnSync("sync");
    process.stdout.write("run 2 of 2 (--keep-exe: reuses the copy kept on each host):\n");
    fleetRun(2, localMs, localParMs, ["--copy", "gzip", "--keep-exe"]);
  } else {
    fleetRun(1, localMs, localParMs, ["--copy", copyMode]);
  }
} finally {
  for (const s of servers) await s.stop();
  rmSync(work, { recursive: true, force: true });
}

function fleetRun(i: number, localMs: number, localParMs: number, extra: string[]) {
  const load0 = loadavg()[0] ?? 0;
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
      String(FORKS),
      ...extra,
      "--out",
      join(work, `case${i}`),
      "--exe",
      EXE,
      "--known-hosts",
      join(work, "known_hosts"),
      "--identity",
      key,
    ],
    { encoding: "utf8", maxBuffer: 1 << 28, env: { ...process.env, NO_COLOR: "1" } },
  );
  const wall = performance.now() - t0;
  const load1 = loadavg()[0] ?? 0;
  const out = JSON.parse(r.stdout) as {
    hosts: {
      name: string;
      state: string;
      copy: string | null;
      durationMs: number;
      steps: { step: string; ms: number }[];
    }[];
  };
  process.stdout.write(
    `fleet of ${n} loopback hosts, --forks ${FORKS} ${extra.join(" ")}: ${fmt(wall)} wall; local snapshot run ${fmt(localMs)} (median of 3), ${fmt(localParMs)} (median of ${n}, ${FORKS} at a time); load average ${load0.toFixed(1)} before, ${load1.toFixed(1)} after\n`,
  );
  process.stdout.write(
    "  host                      state  copy     fleet  overhead  transfer   ssh true  ssh copy  copy gcm  overhead/(true+copy)  steps\n",
  );
  const overheads: number[] = [];
  const overheadsPar: number[] = [];
  const transfers: number[] = [];
  const ratios: number[] = [];
  out.hosts.forEach((h, i) => {
    const steps = h.steps.map((s) => `${s.step} ${s.ms}`).join(", ");
    const overhead = h.durationMs - localMs;
    const transfer = h.steps.filter((s) => s.step !== "run").reduce((t, s) => t + s.ms, 0);
    const ref = (sshTrue[i] ?? 0) + (sshCopy[i] ?? 0);
    overheads.push(overhead);
    overheadsPar.push(h.durationMs - localParMs);
    transfers.push(transfer);
    ratios.push(overhead / ref);
    process.stdout.write(
      `  ${h.name.padEnd(25)} ${h.state.padEnd(6)} ${(h.copy ?? "-").padEnd(5)} ${fmt(h.durationMs).padStart(8)} ${fmt(overhead).padStart(9)} ${fmt(transfer).padStart(9)} ${fmt(sshTrue[i] ?? 0).padStart(10)} ${fmt(sshCopy[i] ?? 0).padStart(9)} ${fmt(sshCopyGcm[i] ?? 0).padStart(9)}  ${(overhead / ref).toFixed(2).padStart(20)}  (${steps})\n`,
    );
  });
  const stepNames = [...new Set(out.hosts.flatMap((h) => h.steps.map((x) => x.step)))];
  const stepMedians = stepNames
    .map((name) => {
      const ms = out.hosts.flatMap((h) => h.steps.filter((x) => x.step === name).map((x) => x.ms));
      return `${name} ${fmt(median(ms))}`;
    })
    .join(", ");
  process.stdout.write(`median step times: ${stepMedians}\n`);
  process.stdout.write(
    `median per host: fleet overhead ${fmt(median(overheadsPar))} over the local runs ${FORKS} at a time, ${fmt(median(overheads))} over the local run alone (of which all but the run, i.e. connect + check + copy + fetch + clean: ${fmt(median(transfers))}), ssh true ${fmt(median(sshTrue))}, ssh copy ${fmt(median(sshCopy))} (AES-GCM: ${fmt(median(sshCopyGcm))}); overhead / (ssh true + ssh copy) ${median(ratios).toFixed(2)} (1.00: fleet adds nothing to what ssh itself costs). Wall per host: ${fmt(wall / n)} (fleet's wall / ${n}) against ${fmt(localParWallMs / n)} for the local runs ${FORKS} at a time: ${fmt((wall - localParWallMs) / n)} more per host. Issue target: overhead < 0.5 s per host: ${median(overheadsPar) < 500 ? "met" : "NOT met"} (median host over the local runs ${FORKS} at a time), ${median(overheads) < 500 ? "met" : "NOT met"} (over the local run alone), ${wall - localParWallMs < 500 * n ? "met" : "NOT met"} (by wall, per host).\n`,
  );
}
