/**
 * The Ansible example (examples/ansible/breachkit.yml, run by Debian's ansible-core) against
 * real OpenSSH servers on 127.0.0.1 started here (stopped by pid): on a host it can reach it
 * copies the real single executable, checks its SHA-256, runs `snapshot`, fetches the bundle
 * and verifies it here, and removes what it copied; a host whose key is not the one in
 * known_hosts is refused (Ansible's host key checking), the other still completes.
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keygen, type Sshd, startSshd } from "../helpers/sshd.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const EXE = join(REPO, "dist", "breachkit-linux-x64");
const CLI = join(REPO, "dist", "cli", "bin.cjs");
const MAIN = join(REPO, "dist", "cli", "main.cjs");
const PLAYBOOK = join(REPO, "examples", "ansible", "breachkit.yml");
const work = mkdtempSync(join(tmpdir(), "bk-ansible-it-"));
const caseDir = join(work, "case");
const controlDir = join(work, "cp");
const servers: Sshd[] = [];
let run: { exitCode: number | undefined; stdout: string; stderr: string };
let knownHosts: string;
let knownBefore: string;
let leftSsh: string[] = [];

beforeAll(async () => {
  if (!existsSync(MAIN)) await execa("npm", ["run", "build"], { cwd: REPO });
  if (!existsSync(EXE) || statSync(EXE).mtimeMs < statSync(MAIN).mtimeMs)
    await execa("node", ["scripts/build-exe.mjs", "--arch", "x64"], { cwd: REPO });
  const key = join(work, "user_ed25519");
  const pub = await keygen(key, "ansible-test");
  // No Docker engine on these "hosts": snapshot reads what it can without one.
  const noDocker = { DOCKER_HOST: `unix://${join(work, "no-docker.sock")}` };
  const [good, changed] = await Promise.all([
    startSshd({ name: "good", root: work, userKeyPub: pub, setEnv: noDocker }),
    startSshd({ name: "changed", root: work, userKeyPub: pub, setEnv: noDocker }),
  ]);
  servers.push(good!, changed!);
  const other = (await keygen(join(work, "other_host_key"), "other")).split(" ");
  knownHosts = join(work, "known_hosts");
  knownBefore = `${good!.knownHostsLine}\n[127.0.0.1]:${changed!.port} ${other[0]} ${other[1]}\n`;
  writeFileSync(knownHosts, knownBefore, { mode: 0o600 });
  const ssh = `ansible_ssh_private_key_file=${key} ansible_ssh_common_args="-o UserKnownHostsFile=${knownHosts} -o IdentitiesOnly=yes"`;
  const inventory = join(work, "inventory.ini");
  writeFileSync(
    inventory,
    [
      "[web]",
      `good ansible_host=127.0.0.1 ansible_port=${good!.port} ansible_user=root ${ssh}`,
      `changed ansible_host=127.0.0.1 ansible_port=${changed!.port} ansible_user=root ${ssh}`,
      "",
    ].join("\n"),
  );
  const r = await execa(
    "ansible-playbook",
    [
      "-i",
      inventory,
      PLAYBOOK,
      "-e",
      `breachkit_exe=${EXE}`,
      "-e",
      `breachkit_case=${caseDir}`,
      "-e",
      "breachkit_command=snapshot",
      "-e",
      "breachkit_timeout=120",
    ],
    {
      reject: false,
      timeout: 240_000,
      stdin: "ignore",
      env: {
        ANSIBLE_HOME: join(work, "ansible-home"),
        ANSIBLE_LOCAL_TEMP: join(work, "ansible-local"),
        ANSIBLE_HOST_KEY_CHECKING: "True",
        ANSIBLE_PIPELINING: "True",
        // One connection per host, in this test's directory, ended below by its socket.
        ANSIBLE_SSH_ARGS: "-o ControlMaster=auto -o ControlPersist=60s",
        ANSIBLE_SSH_CONTROL_PATH_DIR: controlDir,
        ANSIBLE_RETRY_FILES_ENABLED: "False",
        ANSIBLE_NOCOLOR: "1",
        ANSIBLE_PYTHON_INTERPRETER: "/usr/bin/python3",
      },
    },
  );
  run = { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
  // Ansible leaves its ssh masters for ControlPersist: end them through their sockets.
  for (const sock of existsSync(controlDir) ? readdirSync(controlDir) : [])
    await execa("ssh", ["-O", "exit", "-o", `ControlPath=${join(controlDir, sock)}`, "any"], {
      reject: false,
      stdin: "ignore",
    });
  await new Promise((r) => setTimeout(r, 500));
  leftSsh = readdirSync("/proc")
    .filter((n) => /^\d+$/.test(n))
    .flatMap((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(knownHosts) ? [pid] : [];
      } catch {
        return [];
      }
    });
}, 300_000);

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  rmSync(work, { recursive: true, force: true });
});

describe("the Ansible example", () => {
  it("fetches a bundle that verifies here, and refuses the host with another key", async () => {
    // 4: a host was unreachable (the refused key); the other completed.
    expect(run.exitCode, `${run.stdout.slice(-4000)}\n${run.stderr.slice(-2000)}`).toBe(4);
    expect(run.stdout).toMatch(/good\s*: ok=\d+\s+changed=\d+\s+unreachable=0\s+failed=0/);
    expect(run.stdout).toMatch(/changed\s*: ok=\d+\s+changed=\d+\s+unreachable=1/);
    expect(run.stdout).toMatch(
      /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED/,
    );
    expect(readFileSync(knownHosts, "utf8")).toBe(knownBefore);
    const dir = join(caseDir, "hosts", "good", "bundle");
    const bundles = readdirSync(dir).filter((n) => n.startsWith("breachkit-"));
    expect(bundles.length).toBe(1);
    const v = await execa("node", [CLI, "verify", "--json", join(dir, bundles[0]!)], {
      reject: false,
    });
    expect(v.exitCode, v.stderr).toBe(0);
    const snapshot = readFileSync(join(dir, bundles[0]!, "snapshot.json"));
    const manifest = JSON.parse(readFileSync(join(dir, bundles[0]!, "manifest.json"), "utf8"));
    expect(manifest.files.find((f: { path: string }) => f.path === "snapshot.json").sha256).toBe(
      createHash("sha256").update(snapshot).digest("hex"),
    );
    expect(
      JSON.parse(readFileSync(join(caseDir, "hosts", "good", "output.json"), "utf8")),
    ).toHaveProperty("schemaVersion");
    expect(existsSync(join(caseDir, "hosts", "changed"))).toBe(false);
  });

  it("leaves nothing on the host and no ssh running", () => {
    for (const s of servers) expect([s.name, readdirSync(s.tmp)]).toEqual([s.name, []]);
    expect(leftSsh).toEqual([]);
  });
});
