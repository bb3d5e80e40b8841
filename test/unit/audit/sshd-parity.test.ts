/**
 * The parser of sshd_config (used on --root and in containers) against Debian's real sshd -T
 * (used on the live host): the same files, the same connections, the same answers for every
 * keyword breachkit checks. Configs made to fail and to pass each SSH check, with Include
 * (globs, relative paths, inside Match) and Match (User, Group, Address CIDR, Host, negation).
 */
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RootFs } from "../../../src/observe/accounts/root-fs.js";
import {
  CHECKED_KEYS,
  effectiveSshd,
  type MatchContext,
  OPENSSH_DEFAULTS,
  readSshdConfig,
} from "../../../src/observe/audit/sshd-config.js";
import { runSshdT } from "../../../src/observe/audit/sshd-t.js";

const SSHD = "/usr/sbin/sshd";
let dir: string;
let hostKey: string;
let madeRunSshd = false;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-sshd-parity-"));
  hostKey = join(dir, "host_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  // sshd -T insists on its privilege separation directory, as the package's service creates it.
  if (!existsSync("/run/sshd")) {
    await mkdir("/run/sshd", { mode: 0o755 });
    madeRunSshd = true;
  }
});

afterAll(async () => {
  if (madeRunSshd) await rmdir("/run/sshd").catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

async function files(name: string, content: Record<string, string>): Promise<string> {
  const base = join(dir, name);
  for (const [rel, text] of Object.entries(content)) {
    const p = join(base, rel);
    await mkdir(join(p, ".."), { recursive: true });
    await writeFile(p, text.replaceAll("@D@", base));
  }
  return join(base, "sshd_config");
}

// sshd looks the user's groups up on this machine: root is in group root; the others do not
// exist here, so they are in no group (the parser is told the same).
const CONTEXTS: MatchContext[] = [
  { user: "root", host: "203.0.113.10", addr: "203.0.113.10", groups: ["root"] },
  { user: "alice", host: "203.0.113.10", addr: "203.0.113.10", groups: [] },
  { user: "bob", host: "10.1.2.3", addr: "10.1.2.3", groups: [] },
  { user: "deploy", host: "admin.example.org", addr: "192.168.7.9", groups: [] },
];

async function compare(config: string) {
  const tree = await readSshdConfig(new RootFs("/"), config);
  expect(tree.fatal).toBeNull();
  for (const ctx of CONTEXTS) {
    const real = await runSshdT(ctx, {
      env: process.env,
      configFile: config,
      hostKeys: [hostKey],
      executable: SSHD,
    });
    expect(real.ok, real.ok ? "" : real.error).toBe(true);
    if (!real.ok) return;
    const mine = effectiveSshd(tree, ctx);
    for (const key of CHECKED_KEYS) {
      expect(mine.values[key] ?? [], `${ctx.user}: ${key}`).toEqual(
        real.effective.values[key] ?? [],
      );
    }
  }
}

describe("sshd_config parser = sshd -T", () => {
  it("records OpenSSH's defaults right (an empty file)", async () => {
    const cfg = await files("empty", { sshd_config: "" });
    const real = await runSshdT(CONTEXTS[0]!, {
      env: process.env,
      configFile: cfg,
      hostKeys: [hostKey],
      executable: SSHD,
    });
    expect(real.ok).toBe(true);
    if (!real.ok) return;
    for (const [k, v] of Object.entries(OPENSSH_DEFAULTS)) {
      expect(real.effective.values[k], k).toEqual(v);
    }
    await compare(cfg);
  });

  it("a config that fails every check", async () => {
    await compare(
      await files("bad", {
        sshd_config: [
          "# everything the playbook says not to do",
          "PermitRootLogin yes",
          "PasswordAuthentication yes",
          "ChallengeResponseAuthentication yes",
          "PermitEmptyPasswords yes",
          "UsePAM yes",
          "MaxAuthTries 10",
          "X11Forwarding yes",
          "AllowTcpForwarding all",
          "Ciphers +aes128-cbc,3des-cbc",
          "MACs +hmac-md5",
          "KexAlgorithms +diffie-hellman-group1-sha1",
          "PubkeyAuthentication=no",
          "",
        ].join("\n"),
      }),
    );
  });

  it("a hardened config with drop-ins (relative Include, globs) and Match blocks", async () => {
    await compare(
      await files("good", {
        sshd_config: [
          "Include sshd_config.d/*.conf",
          "Include @D@/none/*.conf",
          "PasswordAuthentication yes",
          "KbdInteractiveAuthentication no",
          "PermitRootLogin prohibit-password",
          "AllowUsers alice bob",
          "AllowUsers deploy@192.168.*",
          "MaxAuthTries 3",
          "Ciphers -aes128-ctr,aes192*",
          "MACs ^hmac-sha2-512-etm@openssh.com",
          "Match Address 10.0.0.0/8,!10.9.0.0/16",
          "  PasswordAuthentication yes",
          "  AllowTcpForwarding local",
          "Match User deploy Host *.example.org",
          "  Include @D@/match/*.conf",
          "  MaxAuthTries 2",
          "Match Group adm,root",
          "  X11Forwarding yes",
          "  AuthenticationMethods publickey,password publickey,keyboard-interactive",
          "Match all",
          "  PermitRootLogin no",
          "",
        ].join("\n"),
        // Relative to /etc/ssh in sshd: written here with absolute paths instead.
        "sshd_config.d/10-keys.conf": "PasswordAuthentication no\nPubkeyAuthentication yes\n",
        "sshd_config.d/20-match.conf":
          "Match User alice\n  PermitRootLogin yes\n  MaxAuthTries 5\n",
        "match/a.conf": "AllowUsers deploy\nMatch User root\n  PasswordAuthentication yes\n",
      }).then(async (cfg) => {
        // sshd resolves a relative Include under /etc/ssh: make it absolute for this test copy.
        const { readFile } = await import("node:fs/promises");
        const text = await readFile(cfg, "utf8");
        await writeFile(
          cfg,
          text.replace("Include sshd_config.d/", `Include ${join(cfg, "..")}/sshd_config.d/`),
        );
        return cfg;
      }),
    );
  });

  it("refuses an Include loop like sshd does, and reads 10,000 Include lines", async () => {
    const loop = await files("loop", {
      sshd_config: "Include @D@/a.conf\n",
      "a.conf": "Include @D@/b.conf\n",
      "b.conf": "Include @D@/a.conf\n",
    });
    const tree = await readSshdConfig(new RootFs("/"), loop);
    expect(tree.fatal).toMatch(/Include nested more than 16/);
    const real = await runSshdT(CONTEXTS[0]!, {
      env: process.env,
      configFile: loop,
      hostKeys: [hostKey],
      executable: SSHD,
    });
    expect(real.ok).toBe(false);

    const many = await files("many", {
      sshd_config: `${"Include @D@/one.conf\n".repeat(10_000)}PasswordAuthentication yes\n`,
      "one.conf": "PasswordAuthentication no\nX11Forwarding yes\n",
    });
    const started = Date.now();
    await compare(many);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
