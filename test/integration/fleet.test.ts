/**
 * `breachkit fleet` against real OpenSSH servers (Debian's sshd) on 127.0.0.1, each with its
 * own port and host key, started here and stopped by pid. Six hosts: two that work, one with
 * nothing listening, one whose host key changed, one whose command hangs, one whose `cat`
 * alters what it copies. A process with a hostile name runs on "every host" (they are all
 * this machine), so the fleet rule sees its executable on both working hosts.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
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
const work = mkdtempSync(join(tmpdir(), "bk-fleet-it-"));
const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const HOSTILE = "\u001b[31m<img src=x onerror=alert(1)>\nkthread";

const servers: Sshd[] = [];
let hostile: ChildProcess | null = null;
let result: FleetOutput;
let exitCode: number | undefined;
let knownHosts: string;
let knownBefore: string;
let tmpBefore: Set<string>;
const caseDir = join(work, "case");

const tmpDirs = () => new Set(readdirSync("/tmp").filter((n) => n.startsWith("breachkit.")));

beforeAll(async () => {
  await execa("npm", ["run", "build"], { cwd: REPO });
  if (!existsSync(EXE))
    await execa("node", ["scripts/build-exe.mjs", "--arch", "x64"], { cwd: REPO });
  const userKey = join(work, "user_ed25519");
  const pub = await keygen(userKey, "fleet-test");
  // The hostile process: a copy of sleep under a name with ANSI, HTML and a newline.
  const hdir = join(work, "h");
  mkdirSync(hdir);
  const hexe = join(hdir, HOSTILE);
  copyFileSync("/usr/bin/sleep", hexe);
  chmodSync(hexe, 0o755);
  hostile = spawn(hexe, ["300"], { stdio: "ignore" });
  // A `cat` that changes the first byte of what it copies.
  const evil = join(work, "evil-bin");
  mkdirSync(evil);
  writeFileSync(join(evil, "cat"), "#!/bin/sh\nprintf X\ntail -c +2\n", { mode: 0o755 });
  // A command that never ends on that host (bounded: sleep 120).
  const hang = join(work, "hang.sh");
  writeFileSync(
    hang,
    `#!/bin/sh\ncase "$SSH_ORIGINAL_COMMAND" in *./breachkit*) exec sleep 120;; *) exec /bin/sh -c "$SSH_ORIGINAL_COMMAND";; esac\n`,
    { mode: 0o755 },
  );
  const [ok1, ok2, changed, hung, altered] = await Promise.all([
    startSshd({ name: "ok1", root: work, userKeyPub: pub }),
    startSshd({ name: "ok2", root: work, userKeyPub: pub }),
    startSshd({ name: "changed", root: work, userKeyPub: pub }),
    startSshd({ name: "hung", root: work, userKeyPub: pub, extra: [`ForceCommand ${hang}`] }),
    startSshd({
      name: "altered",
      root: work,
      userKeyPub: pub,
      setEnv: { PATH: `${evil}:/usr/sbin:/usr/bin:/sbin:/bin` },
    }),
  ]);
  servers.push(ok1!, ok2!, changed!, hung!, altered!);
  const closedPort = await freePort();
  // known_hosts: every server's real key, except "changed", recorded with another key.
  const other = (await keygen(join(work, "other_host_key"), "other")).split(" ");
  knownHosts = join(work, "known_hosts");
  knownBefore = [
    ok1!.knownHostsLine,
    ok2!.knownHostsLine,
    `[127.0.0.1]:${changed!.port} ${other[0]} ${other[1]}`,
    hung!.knownHostsLine,
    altered!.knownHostsLine,
    "",
  ].join("\n");
  writeFileSync(knownHosts, knownBefore, { mode: 0o600 });
  const inventory = join(work, "inventory.ini");
  writeFileSync(
    inventory,
    [
      "[web]",
      `ok1 ansible_host=127.0.0.1 ansible_port=${ok1!.port} ansible_user=root`,
      `ok2 ansible_host=127.0.0.1 ansible_port=${ok2!.port} ansible_user=root`,
      "[other]",
      `down ansible_host=127.0.0.1 ansible_port=${closedPort} ansible_user=root`,
      `changed ansible_host=127.0.0.1 ansible_port=${changed!.port} ansible_user=root`,
      `hung ansible_host=127.0.0.1 ansible_port=${hung!.port} ansible_user=root`,
      `altered ansible_host=127.0.0.1 ansible_port=${altered!.port} ansible_user=root`,
      "",
    ].join("\n"),
  );
  tmpBefore = tmpDirs();
  const r = await execa(
    "node",
    [
      CLI,
      "fleet",
      inventory,
      "triage",
      "--json",
      "--out",
      caseDir,
      "--exe",
      EXE,
      "--known-hosts",
      knownHosts,
      "--identity",
      userKey,
      "--timeout",
      "90",
      "--connect-timeout",
      "5",
    ],
    { reject: false, timeout: 540_000, env: { NO_COLOR: "1" } },
  );
  exitCode = r.exitCode;
  result = FleetOutputSchema.parse(JSON.parse(r.stdout)) as FleetOutput;
}, 600_000);

afterAll(async () => {
  if (hostile?.pid) hostile.kill("SIGKILL");
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(work, { recursive: true, force: true });
});

describe("breachkit fleet over OpenSSH", () => {
  it("ends every host in its state, the others complete", () => {
    const states = Object.fromEntries(result.hosts.map((h) => [h.name, h.state]));
    expect(states).toEqual({
      ok1: "ok",
      ok2: "ok",
      down: "unreachable",
      changed: "host-key-refused",
      hung: "timed-out",
      altered: "exe-altered",
    });
    expect(exitCode).toBe(1);
    const altered = result.hosts.find((h) => h.name === "altered")!;
    expect(altered.remoteSha256).not.toBe(result.exeSha256);
    expect(altered.exitCode).toBeNull(); // never run
    expect(result.exeSha256).toBe(sha256(readFileSync(EXE)));
    // Never accepted: known_hosts is as it was.
    expect(readFileSync(knownHosts, "utf8")).toBe(knownBefore);
  });

  it("returns a verified bundle per working host, and the case manifest names its SEAL", async () => {
    for (const name of ["ok1", "ok2"]) {
      const h = result.hosts.find((x) => x.name === name)!;
      expect(h.bundle).toMatchObject({ intact: true, seal: "ok", complete: true });
      expect(h.steps.map((s) => s.step)).toEqual(["connect", "copy", "run", "fetch", "clean"]);
      const v = await execa("node", [CLI, "verify", "--json", join(caseDir, h.bundle!.path)], {
        reject: false,
      });
      expect(v.exitCode).toBe(0);
      expect(JSON.parse(v.stdout).manifestSha256).toBe(h.bundle!.manifestSha256);
    }
    const manifest = JSON.parse(readFileSync(join(caseDir, "case.json"), "utf8"));
    expect(manifest.hosts.map((h: { name: string }) => h.name)).toEqual(
      result.hosts.map((h) => h.name),
    );
  });

  it("merges the findings and finds the same flagged executable on several hosts", () => {
    const merged = JSON.parse(
      readFileSync(join(caseDir, "findings.json"), "utf8"),
    ) as FleetOutput["findings"];
    expect(merged.length).toBe(result.findings.length);
    expect(new Set(merged.map((f) => f.host))).toEqual(new Set(["ok1", "ok2", "fleet"]));
    const sleepHash = sha256(readFileSync("/usr/bin/sleep"));
    const spread = merged.find(
      (f) => f.rule === "fleet.same-exe" && f.evidence.some((e) => e.sha256 === sleepHash),
    );
    expect(spread?.severity).toBe("critical");
    expect(spread?.evidence.map((e) => e.facts?.host).sort()).toEqual(["ok1", "ok2"]);
  });

  it("treats the hostile name as data: kept exact in JSON, one line per record in the exports", () => {
    const withName = result.findings.filter((f) =>
      JSON.stringify(f).includes(JSON.stringify(HOSTILE).slice(1, -1)),
    );
    expect(withName.length).toBeGreaterThanOrEqual(2);
    const bulk = readFileSync(join(caseDir, "exports", "opensearch-bulk.ndjson"), "utf8")
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
      const lines = readFileSync(join(caseDir, "exports", "timesketch", `${name}.jsonl`), "utf8")
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

  it("leaves nothing on the hosts", () => {
    const left = [...tmpDirs()].filter((n) => !tmpBefore.has(n));
    expect(left).toEqual([]);
  });
});
