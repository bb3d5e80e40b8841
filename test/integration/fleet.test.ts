/**
 * `breachkit fleet` against real OpenSSH servers (Debian's sshd) on 127.0.0.1, each with its
 * own port and host key, started here and stopped by pid, and the real single executable.
 * Every host state comes from a real sshd and the real ssh client:
 *
 *   run A, `triage`, a generous --timeout (triage's time varies with the machine's load):
 *     ok1, ok2  work: a verified bundle each, their findings merged
 *     down      nothing listens on its port             -> unreachable
 *     changed   known_hosts holds another key for it    -> host-key-refused
 *     denied    the test's key is not authorised there  -> auth-failed
 *     altered   a `gzip` (and a `cat`) on its PATH alters the copy -> exe-altered (never run)
 *     failed    no gzip on its PATH (so the plain copy), and its memory limit (ulimit -v) is
 *               too tight for the executable: breachkit crashes at start
 *                                                     -> command-failed, with its exit code
 *   run B, `triage --timeout 4`, at the same time:
 *     hung      its Docker socket accepts and never answers, so breachkit waits on it until
 *               the host's `timeout` stops it          -> timed-out
 *
 *   runs K1 then K2, `snapshot --keep-exe --copy plain`, at the same time as A, B and C, with
 *   a small "executable" (a script that execs the real one: what is kept, checked and
 *   refused does not depend on the bytes, and 124 MiB copies to six hosts would double this
 *   file's time; bench/fleet.ts runs --keep-exe with the real executable):
 *     k1        K1: nothing kept -> sent, stored; K2: the kept copy reused (copy "kept")
 *     kalt      K1 as k1; between the runs the test replaces the kept file with a script that
 *               would leave a mark if run; K2: found altered, not run, set aside, a fresh copy
 *               sent, run and stored; the finding fleet.kept-exe-altered
 *     klink, kowner, kmode, kdir  K1 only: the kept file is a symbolic link, of another owner,
 *               mode 0755; the directory is mode 0755 -> refused (a fresh copy sent and run;
 *               stored over the refused file, set aside; not stored in the refused directory)
 *
 * Only ok1, ok2, hung and the k* hosts run breachkit for real; the copies of a ~124 MiB
 * executable are most of the time. A process with a hostile name runs on "every host" (they are all this
 * machine), so the fleet rule sees its executable on both working hosts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { FleetOutput } from "../../src/model/fleet-output.js";
import { FleetOutputSchema } from "../../src/model/fleet-output.js";
import { freePort, keygen, type Sshd, startSshd } from "../helpers/sshd.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const EXE = join(REPO, "dist", "breachkit-linux-x64");
const CLI = join(REPO, "dist", "cli", "bin.cjs");
const MAIN = join(REPO, "dist", "cli", "main.cjs");
const work = mkdtempSync(join(tmpdir(), "bk-fleet-it-"));
/** ktmpfs's TMPDIR: on another file system (tmpfs) than its HOME, so the kept file is copied. */
const shmTmp = mkdtempSync("/dev/shm/bk-fleet-it-");
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const HOSTILE = "\u001b[31m<img src=x onerror=alert(1)>\nkthread";

const servers: Sshd[] = [];
let hostile: ChildProcess | null = null;
let hangSocket: Server | null = null;
const held: Socket[] = [];
let a: FleetOutput;
let b: FleetOutput;
let c: FleetOutput;
let interrupted: { exitCode: number | undefined; ms: number };
let exitA: number | undefined;
let exitB: number | undefined;
let knownHosts: string;
let knownBefore: string;
let leftSsh: string[] = [];
const caseA = join(work, "case-a");
const caseB = join(work, "case-b");
let k1: FleetOutput;
let k2: FleetOutput;
let exitK2: number | undefined;
const keepServers: Record<string, Sshd> = {};
/** The small "executable" of the --keep-exe runs: a script that execs the real one. */
const WRAP = join(work, "breachkit-wrapper");
const keptDir = (s: Sshd) => join(s.dir, "home", ".cache", "breachkit", "exe");
const sha256File = (p: string) => sha256(readFileSync(p));

/** A kept copy put on a host by the test (as a run would leave it), then spoilt by `spoil`. */
function placeKept(s: Sshd, exeSha: string, spoil: (file: string, dir: string) => void) {
  const dir = keptDir(s);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const file = join(dir, exeSha);
  spoil(file, dir);
}

/**
 * Runs K1 and K2 (--keep-exe), one after the other, with the kept file of kalt replaced by a
 * script between them.
 */
async function keepRuns(inv1: string, inv2: string, exeSha: string) {
  const extra = ["--keep-exe", "--copy", "plain"];
  const r1 = await fleet(inv1, join(work, "case-k1"), "snapshot", 120, false, extra, WRAP);
  expect(r1.stdout.startsWith("{"), r1.stderr.slice(-3000)).toBe(true);
  k1 = FleetOutputSchema.parse(JSON.parse(r1.stdout)) as FleetOutput;
  // What someone with the ssh user's rights might do: the kept executable replaced, mode and
  // owner as they were. Run, it would leave a mark.
  writeFileSync(
    join(keptDir(keepServers.kalt!), exeSha),
    `#!/bin/sh
touch ${join(work, "altered-copy-ran")}
`,
  );
  const r2 = await fleet(inv2, join(work, "case-k2"), "snapshot", 120, false, extra, WRAP);
  expect(r2.stdout.startsWith("{"), r2.stderr.slice(-3000)).toBe(true);
  k2 = FleetOutputSchema.parse(JSON.parse(r2.stdout)) as FleetOutput;
  exitK2 = r2.exitCode;
}

/** Processes whose command line names this test's known_hosts: ssh clients fleet started. */
function sshProcessesOfThisTest(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8");
      if (cmd.includes(knownHosts)) found.push(`${pid}: ${cmd.replace(/\0/g, " ")}`);
    } catch {
      /* gone */
    }
  }
  return found;
}

function fleet(
  inventory: string,
  caseDir: string,
  command: string,
  timeoutS: number,
  detached = false,
  extra: string[] = [],
  exe = EXE,
) {
  return execa(
    "node",
    [
      CLI,
      "fleet",
      inventory,
      command,
      "--json",
      "--out",
      caseDir,
      "--exe",
      exe,
      "--known-hosts",
      knownHosts,
      "--identity",
      join(work, "user_ed25519"),
      "--timeout",
      String(timeoutS),
      "--connect-timeout",
      "10",
      ...extra,
    ],
    { reject: false, timeout: 280_000, stdin: "ignore", env: { NO_COLOR: "1" }, detached },
  );
}

/**
 * Run C: Ctrl-C as a terminal sends it, to fleet's whole process group, once the command
 * runs on the host (its bundle directory exists there).
 */
async function interruptedRun(inventory: string, host: Sshd) {
  const p = fleet(inventory, join(work, "case-c"), "triage", 120, true, ["--copy", "plain"]);
  const until = Date.now() + 200_000;
  const running = () => readdirSync(host.tmp).some((d) => existsSync(join(host.tmp, d, "out")));
  while (!running() && p.exitCode === null && Date.now() < until)
    await new Promise((r) => setTimeout(r, 100));
  await new Promise((r) => setTimeout(r, 500));
  const t0 = Date.now();
  if (p.pid) process.kill(-p.pid, "SIGINT");
  const r = await p;
  interrupted = { exitCode: r.exitCode, ms: Date.now() - t0 };
  return r;
}

beforeAll(async () => {
  // `npm test` builds dist/ first; the executable is built here unless a build of this dist/
  // is already there (exe.test.ts makes the same file).
  if (!existsSync(MAIN)) await execa("npm", ["run", "build"], { cwd: REPO });
  if (!existsSync(EXE) || statSync(EXE).mtimeMs < statSync(MAIN).mtimeMs)
    await execa("node", ["scripts/build-exe.mjs", "--arch", "x64"], { cwd: REPO });
  const pub = await keygen(join(work, "user_ed25519"), "fleet-test");
  const otherUser = await keygen(join(work, "other_user_ed25519"), "someone-else");
  // The hostile process: a copy of sleep under a name with ANSI, HTML and a newline.
  const hdir = join(work, "h");
  mkdirSync(hdir);
  const hexe = join(hdir, HOSTILE);
  copyFileSync("/usr/bin/sleep", hexe);
  chmodSync(hexe, 0o755);
  hostile = spawn(hexe, ["300"], { stdio: "ignore" });
  // A `gzip` and a `cat` that change the first byte of what they copy (the compressed copy
  // and the plain one).
  const evil = join(work, "evil-bin");
  mkdirSync(evil);
  writeFileSync(join(evil, "cat"), "#!/bin/sh\nprintf X\ntail -c +2\n", { mode: 0o755 });
  writeFileSync(join(evil, "gzip"), '#!/bin/sh\nprintf X\n/usr/bin/gzip "$@" | tail -c +2\n', {
    mode: 0o755,
  });
  // A PATH with what fleet needs on a host but gzip.
  const noGzip = join(work, "no-gzip-bin");
  mkdirSync(noGzip);
  for (const t of ["mktemp", "cat", "chmod", "sha256sum", "timeout", "mkdir", "rm", "tar", "sleep"])
    symlinkSync(`/usr/bin/${t}`, join(noGzip, t));
  // A host whose memory limit is too tight for breachkit (only its breachkit runs get it).
  const tight = join(work, "tight.sh");
  writeFileSync(
    tight,
    `#!/bin/sh\ncase "$SSH_ORIGINAL_COMMAND" in *./breachkit*) ulimit -v 100000;; esac\nexec /bin/sh -c "$SSH_ORIGINAL_COMMAND"\n`,
    { mode: 0o755 },
  );
  // A Docker socket that accepts and never answers (closed in afterAll).
  const sock = join(work, "hung-docker.sock");
  hangSocket = createServer((c) => {
    held.push(c);
    c.on("error", () => {});
  });
  await new Promise<void>((r) => hangSocket!.listen(sock, r));
  const noDocker = { DOCKER_HOST: "unix:///nonexistent-breachkit-fleet-test.sock" };
  const keepNames = ["k1", "kalt", "klink", "kowner", "kmode", "kdir", "ktmpfs"] as const;
  const keepStarted = await Promise.all(
    keepNames.map((name) =>
      startSshd({
        name,
        root: work,
        userKeyPub: pub,
        setEnv: name === "ktmpfs" ? { ...noDocker, TMPDIR: shmTmp } : noDocker,
      }),
    ),
  );
  keepNames.forEach((name, i) => {
    keepServers[name] = keepStarted[i]!;
  });
  writeFileSync(WRAP, `#!/bin/sh\nexec ${EXE} "$@"\n`, { mode: 0o755 });
  const exeSha = sha256File(WRAP);
  placeKept(keepServers.klink!, exeSha, (f) => symlinkSync(WRAP, f));
  placeKept(keepServers.kowner!, exeSha, (f) => {
    copyFileSync(WRAP, f);
    chmodSync(f, 0o700);
    chownSync(f, 65534, 65534);
  });
  placeKept(keepServers.kmode!, exeSha, (f) => {
    copyFileSync(WRAP, f);
    chmodSync(f, 0o755);
  });
  placeKept(keepServers.kdir!, exeSha, (f, dir) => {
    copyFileSync(WRAP, f);
    chmodSync(f, 0o700);
    chmodSync(dir, 0o755);
  });
  const [ok1, ok2, changed, denied, altered, failed, hung, stopped] = await Promise.all([
    startSshd({ name: "ok1", root: work, userKeyPub: pub }),
    startSshd({ name: "ok2", root: work, userKeyPub: pub }),
    startSshd({ name: "changed", root: work, userKeyPub: pub }),
    startSshd({ name: "denied", root: work, userKeyPub: otherUser }),
    startSshd({
      name: "altered",
      root: work,
      userKeyPub: pub,
      setEnv: { PATH: `${evil}:/usr/sbin:/usr/bin:/sbin:/bin` },
    }),
    startSshd({
      name: "failed",
      root: work,
      userKeyPub: pub,
      setEnv: { PATH: noGzip },
      extra: [`ForceCommand ${tight}`],
    }),
    startSshd({
      name: "hung",
      root: work,
      userKeyPub: pub,
      setEnv: { DOCKER_HOST: `unix://${sock}` },
    }),
    startSshd({
      name: "stopped",
      root: work,
      userKeyPub: pub,
      setEnv: { DOCKER_HOST: `unix://${sock}` },
    }),
  ]);
  servers.push(ok1!, ok2!, changed!, denied!, altered!, failed!, hung!, stopped!, ...keepStarted);
  const closedPort = await freePort();
  // known_hosts: every server's real key, except "changed", recorded with another key.
  const other = (await keygen(join(work, "other_host_key"), "other")).split(" ");
  knownHosts = join(work, "known_hosts");
  knownBefore = [
    ok1!.knownHostsLine,
    ok2!.knownHostsLine,
    `[127.0.0.1]:${changed!.port} ${other[0]} ${other[1]}`,
    denied!.knownHostsLine,
    altered!.knownHostsLine,
    failed!.knownHostsLine,
    hung!.knownHostsLine,
    stopped!.knownHostsLine,
    ...keepStarted.map((s) => s.knownHostsLine),
    "",
  ].join("\n");
  writeFileSync(knownHosts, knownBefore, { mode: 0o600 });
  // Run A's inventory in Ansible's INI format, run B's in Ansible's YAML format.
  const line = (name: string, port: number) =>
    `${name} ansible_host=127.0.0.1 ansible_port=${port} ansible_user=root`;
  const invA = join(work, "inventory.ini");
  writeFileSync(
    invA,
    [
      "[web]",
      line("ok1", ok1!.port),
      line("ok2", ok2!.port),
      "[other]",
      line("down", closedPort),
      line("changed", changed!.port),
      line("denied", denied!.port),
      line("altered", altered!.port),
      line("failed", failed!.port),
      "",
    ].join("\n"),
  );
  const invB = join(work, "inventory.yml");
  writeFileSync(
    invB,
    `all:\n  children:\n    slow:\n      hosts:\n        hung:\n          ansible_host: 127.0.0.1\n          ansible_port: ${hung!.port}\n          ansible_user: root\n`,
  );
  const invK1 = join(work, "keep1.ini");
  writeFileSync(invK1, `${keepNames.map((n) => line(n, keepServers[n]!.port)).join("\n")}\n`);
  const invK2 = join(work, "keep2.ini");
  writeFileSync(
    invK2,
    ["k1", "kalt", "ktmpfs"].map((n) => `${line(n, keepServers[n]!.port)}\n`).join(""),
  );
  const invC = join(work, "stopped.txt");
  writeFileSync(invC, `root@127.0.0.1:${stopped!.port}\n`);
  const [ra, rb, rc] = await Promise.all([
    fleet(invA, caseA, "triage", 240),
    // Runs B and C copy plain: one compression (run A's) on the test's cores, not three.
    fleet(invB, caseB, "triage", 4, false, ["--copy", "plain"]),
    interruptedRun(invC, stopped!),
    keepRuns(invK1, invK2, exeSha),
  ]);
  leftSsh = sshProcessesOfThisTest();
  exitA = ra.exitCode;
  exitB = rb.exitCode;
  expect(ra.stderr.length < 100_000 && ra.stdout.startsWith("{"), ra.stderr.slice(-3000)).toBe(
    true,
  );
  expect(rb.stdout.startsWith("{"), rb.stderr.slice(-3000)).toBe(true);
  a = FleetOutputSchema.parse(JSON.parse(ra.stdout)) as FleetOutput;
  b = FleetOutputSchema.parse(JSON.parse(rb.stdout)) as FleetOutput;
  expect(rc.stdout.startsWith("{"), rc.stderr.slice(-3000)).toBe(true);
  c = FleetOutputSchema.parse(JSON.parse(rc.stdout)) as FleetOutput;
  // Where the time went, for whoever reads a slow run's log.
  for (const h of [...a.hosts, ...b.hosts, ...c.hosts, ...k1.hosts, ...k2.hosts])
    console.log(
      `fleet ${h.name}: ${h.state} in ${h.durationMs} ms (${h.steps.map((s) => `${s.step} ${s.ms}`).join(", ")})`,
    );
}, 420_000);

afterAll(async () => {
  if (hostile?.pid) hostile.kill("SIGKILL");
  for (const c of held) c.destroy();
  await new Promise<void>((r) => (hangSocket ? hangSocket.close(() => r()) : r()));
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(work, { recursive: true, force: true });
  rmSync(shmTmp, { recursive: true, force: true });
});

describe("breachkit fleet over OpenSSH", () => {
  it("ends every host in its state, the others complete", () => {
    const states = Object.fromEntries([...a.hosts, ...b.hosts].map((h) => [h.name, h.state]));
    expect(states).toEqual({
      ok1: "ok",
      ok2: "ok",
      down: "unreachable",
      changed: "host-key-refused",
      denied: "auth-failed",
      altered: "exe-altered",
      failed: "command-failed",
      hung: "timed-out",
    });
    expect(exitA).toBe(1);
    expect(exitB).toBe(1);
    expect(a.exeSha256).toBe(sha256(readFileSync(EXE)));
    const host = (name: string) => [...a.hosts, ...b.hosts].find((h) => h.name === name)!;
    // Refused before anything was copied.
    for (const name of ["down", "changed", "denied"]) {
      expect(host(name).steps.map((s) => s.step)).toEqual(["connect"]);
      expect(host(name).stderrTail.length).toBeGreaterThan(0);
    }
    // Altered in transit: the host's hash differs, and it was never run.
    const altered = host("altered");
    expect(altered.remoteSha256).toMatch(/^[0-9a-f]{64}$/);
    expect(altered.remoteSha256).not.toBe(a.exeSha256);
    expect(altered.exitCode).toBeNull();
    expect(altered.copy).toBe("gzip");
    expect(altered.steps.map((s) => s.step)).toEqual(["connect", "copy", "clean"]);
    // Crashed at start: its exit code (killed by a signal: 128+N) and its last stderr lines.
    const failed = host("failed");
    // No gzip there: the plain copy, hashed as well.
    expect(failed.copy).toBe("plain");
    expect(failed.remoteSha256).toBe(a.exeSha256);
    expect(failed.exitCode).toBeGreaterThan(1);
    expect(failed.exitCode).not.toBe(124);
    expect(failed.reason).toMatch(/^triage (exited|was killed by signal) \d+/);
    expect(failed.bundle).toBeNull();
    // Stopped by the host's `timeout` at --timeout 4 (exit 124), not by the local bound 8 s later.
    const hung = host("hung");
    expect(hung.copy).toBe("plain");
    expect(hung.remoteSha256).toBe(a.exeSha256);
    expect(hung.exitCode).toBe(124);
    expect(hung.reason).toBe("triage did not finish within 4 s");
    const run = hung.steps.find((s) => s.step === "run")!.ms;
    expect(run).toBeGreaterThanOrEqual(4000);
    expect(run).toBeLessThan(12_000);
    // Never accepted: known_hosts is as it was.
    expect(readFileSync(knownHosts, "utf8")).toBe(knownBefore);
  });

  it("returns a verified bundle per working host, and the case manifest names its SEAL", async () => {
    const ok = a.hosts.filter((x) => x.name === "ok1" || x.name === "ok2");
    expect(ok.length).toBe(2);
    for (const h of ok) {
      expect(h.bundle).toMatchObject({ intact: true, seal: "ok", complete: true });
      // The run, the fetch and the clean-up in one round trip.
      expect(h.steps.map((s) => s.step)).toEqual(["connect", "copy", "run", "fetch+clean"]);
      expect(h.remoteSha256).toBe(a.exeSha256);
      expect(h.keep).toBeNull();
      // Sent compressed, hashed after decompression on the host.
      expect(h.copy).toBe("gzip");
    }
    // `breachkit verify` agrees with the SEAL the case recorded.
    const verified = await Promise.all(
      ok.map((h) =>
        execa("node", [CLI, "verify", "--json", join(caseA, h.bundle!.path)], { reject: false }),
      ),
    );
    verified.forEach((v, i) => {
      expect(v.exitCode).toBe(0);
      expect(JSON.parse(v.stdout).manifestSha256).toBe(ok[i]!.bundle!.manifestSha256);
    });
    const manifest = JSON.parse(readFileSync(join(caseA, "case.json"), "utf8"));
    expect(manifest.hosts.map((h: { name: string }) => h.name)).toEqual(a.hosts.map((h) => h.name));
    expect(manifest.counts).toEqual({
      ok: 2,
      unreachable: 1,
      "host-key-refused": 1,
      "auth-failed": 1,
      "exe-altered": 1,
      "command-failed": 1,
    });
  });

  it("merges the findings and finds the same flagged executable on several hosts", () => {
    const merged = JSON.parse(
      readFileSync(join(caseA, "findings.json"), "utf8"),
    ) as FleetOutput["findings"];
    expect(merged.length).toBe(a.findings.length);
    expect(new Set(merged.map((f) => f.host))).toEqual(new Set(["ok1", "ok2", "fleet"]));
    const sleepHash = sha256(readFileSync("/usr/bin/sleep"));
    const spread = merged.find(
      (f) => f.rule === "fleet.same-exe" && f.evidence.some((e) => e.sha256 === sleepHash),
    );
    expect(spread?.severity).toBe("critical");
    expect(spread?.evidence.map((e) => e.facts?.host).sort()).toEqual(["ok1", "ok2"]);
  });

  it("treats the hostile name as data: kept exact in JSON, one line per record in the exports", () => {
    const withName = a.findings.filter((f) =>
      JSON.stringify(f).includes(JSON.stringify(HOSTILE).slice(1, -1)),
    );
    expect(withName.length).toBeGreaterThanOrEqual(2);
    const bulk = readFileSync(join(caseA, "exports", "opensearch-bulk.ndjson"), "utf8")
      .trimEnd()
      .split("\n");
    expect(bulk.length % 2).toBe(0);
    const docs = bulk.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(docs.some((d) => JSON.stringify(d).includes("\\u001b[31m<img"))).toBe(true);
    const ecs = docs.find(
      (d) => (d.rule as { id?: string } | undefined)?.id === "fleet.same-exe",
    ) as {
      event: { kind: string };
      process: { hash: { sha256: string } };
    };
    expect(ecs.event.kind).toBe("alert");
    expect(ecs.process.hash.sha256).toMatch(/^[0-9a-f]{64}$/);
    for (const name of ["ok1", "ok2"]) {
      const lines = readFileSync(join(caseA, "exports", "timesketch", `${name}.jsonl`), "utf8")
        .trimEnd()
        .split("\n");
      for (const l of lines)
        expect(JSON.parse(l)).toMatchObject({
          message: expect.any(String),
          datetime: expect.any(String),
          timestamp_desc: expect.any(String),
        });
    }
  });

  it("gives one report of the case: a section per host, the fleet rule from the verified bundles", async () => {
    const out = join(work, "report");
    const r = await execa("node", [CLI, "report", caseA, "--json", "--out", out], {
      reject: false,
      env: { NO_COLOR: "1" },
    });
    expect(r.exitCode, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout) as {
      verified: boolean;
      fleet: { hosts: { name: string; state: string; verified: boolean | null }[] };
    };
    expect(rep.verified).toBe(true);
    expect(rep.fleet.hosts.map((h) => [h.name, h.state, h.verified])).toEqual(
      a.hosts.map((h) => [h.name, h.state, h.bundle ? true : null]),
    );
    const md = readFileSync(join(out, "report.md"), "utf8");
    expect(md).toContain("## Hosts");
    expect(md).toMatch(/### the fleet \(across hosts\)/);
    expect(md).toMatch(/### ok1: host \(outside all containers\)/);
    expect(md).toMatch(/### ok2: host \(outside all containers\)/);
  });

  it("stops on Ctrl-C (SIGINT to its process group) and still cleans up the host", () => {
    const [h] = c.hosts;
    expect(h?.state).toBe("command-failed");
    expect(h?.reason).toBe("interrupted: triage was stopped");
    // The clean-up ran over the shared connection, which the Ctrl-C did not reach.
    expect(h?.steps.map((s) => s.step)).toEqual(["connect", "copy", "run", "fetch", "clean"]);
    expect(interrupted.exitCode).toBe(1);
    // Well before the run's own --timeout (120 s) would end it: the
    // clean-up gives the stopped triage 10 s after TERM to seal, then KILLs it.
    expect(interrupted.ms).toBeLessThan(35_000);
  });

  it("--keep-exe: stores a verified copy, then reuses it after hashing it on the host", () => {
    const host = (o: FleetOutput, name: string) => o.hosts.find((h) => h.name === name)!;
    const first = host(k1, "k1");
    expect(first.state).toBe("ok");
    expect(first.copy).toBe("plain");
    expect(first.keep).toEqual({
      found: "none",
      detail: null,
      foundSha256: null,
      setAside: null,
      stored: true,
    });
    const second = host(k2, "k1");
    expect(second.state).toBe("ok");
    expect(second.copy).toBe("kept");
    expect(second.keep).toMatchObject({ found: "ok", foundSha256: k2.exeSha256, stored: false });
    expect(second.remoteSha256).toBe(k2.exeSha256);
    expect(second.bundle).toMatchObject({ intact: true, seal: "ok" });
    // Check and run in one round trip, then the fetch and the clean-up in the same one.
    expect(second.steps.map((s) => s.step)).toEqual(["connect", "check", "run", "fetch+clean"]);
    const f = join(keptDir(keepServers.k1!), k2.exeSha256);
    expect(statSync(f).mode & 0o7777).toBe(0o700);
    expect(sha256File(f)).toBe(k2.exeSha256);
    // The run's hard link to the kept file went with its temporary directory.
    expect(statSync(f).nlink).toBe(1);
    expect(readdirSync(keepServers.k1!.tmp)).toEqual([]);
  });

  it("--keep-exe: a TMPDIR on another file system gets a copy of the kept file (no link), run and removed", () => {
    const h = k2.hosts.find((x) => x.name === "ktmpfs")!;
    expect([h.state, h.copy, h.keep?.found, h.remoteSha256]).toEqual([
      "ok",
      "kept",
      "ok",
      k2.exeSha256,
    ]);
    expect(h.bundle).toMatchObject({ intact: true, seal: "ok" });
    const f = join(keptDir(keepServers.ktmpfs!), k2.exeSha256);
    expect([statSync(f).nlink, sha256File(f)]).toEqual([1, k2.exeSha256]);
    expect(readdirSync(shmTmp)).toEqual([]);
  });

  it("--keep-exe: a kept copy altered between runs is not run, set aside, replaced and reported", () => {
    const h = k2.hosts.find((x) => x.name === "kalt")!;
    expect(k1.hosts.find((x) => x.name === "kalt")?.keep?.stored).toBe(true);
    expect(h.state).toBe("ok");
    expect(h.copy).toBe("plain");
    expect(h.remoteSha256).toBe(k2.exeSha256);
    const dir = keptDir(keepServers.kalt!);
    const aside = readdirSync(dir).filter((n) => n.includes(".altered-"));
    expect(aside.length).toBe(1);
    const altered = sha256File(join(dir, aside[0]!));
    expect(h.keep).toEqual({
      found: "altered",
      detail: null,
      foundSha256: altered,
      setAside: `~/.cache/breachkit/exe/${aside[0]}`,
      stored: true,
    });
    expect(existsSync(join(work, "altered-copy-ran"))).toBe(false);
    expect(sha256File(join(dir, k2.exeSha256))).toBe(k2.exeSha256);
    const finding = k2.findings.find((x) => x.rule === "fleet.kept-exe-altered");
    expect(finding).toMatchObject({ host: "kalt", severity: "high", source: "fleet" });
    expect(finding?.evidence[0]?.sha256).toBe(altered);
    expect(exitK2).toBe(1);
  });

  it("--keep-exe: the report of the case shows the altered kept copy (from case.json, said so)", async () => {
    const out = join(work, "report-k2");
    const r = await execa("node", [CLI, "report", join(work, "case-k2"), "--json", "--out", out], {
      reject: false,
      env: { NO_COLOR: "1" },
    });
    expect(r.exitCode, r.stderr).not.toBe(2);
    expect((JSON.parse(r.stdout) as { verified: boolean }).verified).toBe(true);
    const md = readFileSync(join(out, "report.md"), "utf8");
    // the finding (Markdown escapes its brackets), with where it comes from
    expect(md).toContain("**HIGH** the breachkit executable kept on kalt");
    expect(md).toContain("(fleet.kept-exe-altered, fleet)");
    expect(md).toContain("recordedIn=the case's case.json");
  });

  it("--keep-exe: refuses a kept file that is a link, of another owner or mode, or in a directory not 0700", () => {
    const exeSha = k1.exeSha256;
    for (const name of ["klink", "kowner", "kmode", "kdir"]) {
      const h = k1.hosts.find((x) => x.name === name)!;
      expect([name, h.state, h.copy, h.keep?.found]).toEqual([name, "ok", "plain", "refused"]);
      expect(h.remoteSha256).toBe(exeSha);
    }
    for (const name of ["klink", "kowner", "kmode"]) {
      const h = k1.hosts.find((x) => x.name === name)!;
      expect(h.keep?.detail).toMatch(/not a regular file of the ssh user's with mode 0700/);
      // Set aside (not deleted), a fresh verified copy stored in its place.
      expect(h.keep?.setAside).toMatch(
        /^~\/\.cache\/breachkit\/exe\/[0-9a-f]{64}\.refused-\d{8}T\d{6}Z$/,
      );
      expect(h.keep?.stored).toBe(true);
      const f = join(keptDir(keepServers[name]!), exeSha);
      const st = statSync(f);
      expect([name, st.mode & 0o7777, st.uid, sha256File(f)]).toEqual([name, 0o700, 0, exeSha]);
    }
    const kdir = k1.hosts.find((x) => x.name === "kdir")!;
    expect(kdir.keep).toMatchObject({ stored: false, setAside: null });
    expect(kdir.keep?.detail).toMatch(/is not a directory of the ssh user's with mode 0700/);
  });

  it("leaves nothing on the hosts and no ssh running", () => {
    for (const s of servers) expect([s.name, readdirSync(s.tmp)]).toEqual([s.name, []]);
    expect(leftSsh).toEqual([]);
  });
});
