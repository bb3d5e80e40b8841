/**
 * SSH read from a disk (--root): sshd_config with a relative Include and a Match block,
 * accounts from its passwd, and authorized keys made by the real ssh-keygen (RSA 2048,
 * ed25519), their sizes read from the key blobs; the judge's hygiene findings on them.
 */
import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { sshFindings } from "../../../src/judge/audit/ssh.js";
import { observeSsh } from "../../../src/observe/audit/ssh.js";

let root: string;

async function put(rel: string, text: string) {
  const p = join(root, rel);
  await mkdir(join(p, ".."), { recursive: true });
  await writeFile(p, text);
}

async function pub(type: string, bits?: number): Promise<string> {
  const f = join(root, `..`, `${root.split("/").pop()}-${type}-${bits ?? 0}`);
  execFileSync("ssh-keygen", [
    "-q",
    "-t",
    type,
    ...(bits ? ["-b", String(bits)] : []),
    "-N",
    "",
    "-f",
    f,
  ]);
  return (await readFile(`${f}.pub`, "utf8")).trim();
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "bk-audit-root-"));
  const rsa = await pub("rsa", 2048);
  const ed = await pub("ed25519");
  await put(
    "etc/passwd",
    "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/bash\ngit:x:998:998::/home/git:/usr/sbin/nologin\n",
  );
  await put("etc/group", "root:x:0:\nbob:x:1000:\ngit:x:998:\n");
  await put(
    "etc/ssh/sshd_config",
    "Include sshd_config.d/*.conf\nPasswordAuthentication no\nMatch User bob\n  PasswordAuthentication yes\n",
  );
  await put("etc/ssh/sshd_config.d/10-root.conf", "PermitRootLogin yes\n");
  await put("root/.ssh/authorized_keys", `${ed}\n`);
  await put("home/bob/.ssh/authorized_keys", `${rsa}\n${ed}\n`);
  await put("home/git/.ssh/authorized_keys", `${ed}\n`);
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
  execFileSync("sh", ["-c", `rm -f ${root}-*`]);
});

describe("SSH on a disk (--root)", () => {
  it("reads the effective config per account and the keys with their sizes", async () => {
    const { obs } = await observeSsh({
      root,
      where: "disk",
      containerId: null,
      live: false,
      env: {},
    });
    expect(obs.fatal).toBeNull();
    expect(obs.configFiles).toEqual([
      "/etc/ssh/sshd_config",
      "/etc/ssh/sshd_config.d/10-root.conf",
    ]);
    const bob = obs.contexts.find((c) => c.user === "bob")!;
    const rootCtx = obs.contexts.find((c) => c.user === "root")!;
    expect(bob.values.passwordauthentication).toEqual(["yes"]);
    expect(bob.origins.passwordauthentication?.match).toMatch(/Match User bob/);
    expect(rootCtx.values.passwordauthentication).toEqual(["no"]);
    expect(rootCtx.values.permitrootlogin).toEqual(["yes"]);
    const sizes = obs.keys.map((k) => `${k.user}:${k.type}:${k.bits}`).sort();
    expect(sizes).toEqual([
      "bob:ssh-ed25519:256",
      "bob:ssh-rsa:2048",
      "git:ssh-ed25519:256",
      "root:ssh-ed25519:256",
    ]);

    const rules = sshFindings(obs).map((f) => `${f.rule}`);
    expect(rules).toEqual(
      expect.arrayContaining([
        "audit.ssh.password-auth", // bob, through the Match block
        "audit.ssh.root-login", // PermitRootLogin yes, passwords off for root
        "audit.ssh.key-rsa-short",
        "audit.ssh.key-no-shell", // git
        "audit.ssh.root-key-no-from",
        "audit.ssh.key-duplicate", // the ed25519 key opens root, bob and git
      ]),
    );
    const pw = sshFindings(obs).find((f) => f.rule === "audit.ssh.password-auth")!;
    expect(pw.title).toMatch(/for bob\)/);
    expect(pw.evidence[0]!.file).toBe("/etc/ssh/sshd_config");
    expect(pw.evidence[0]!.line).toBe(4);
    expect(pw.evidence[0]!.facts!.fix).toMatch(
      /Match block .*change line \/etc\/ssh\/sshd_config:4/,
    );
  });
});
