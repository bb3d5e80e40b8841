/**
 * An attacker pads authorized_keys to push a key past what a reader looks at (issue 23 item 5):
 * the whole file is streamed, and a file this big is itself a finding.
 */
import { afterAll, describe, expect, it } from "vitest";
import { shippedLists } from "../../../../src/judge/rule-set.js";
import { accountsRule } from "../../../../src/judge/rules/accounts.js";
import { readAccounts } from "../../../../src/observe/accounts/read-accounts.js";
import { makeTree, readAccountsFixture, type Tree } from "../../../helpers/accounts-fixtures.js";
import { SnapshotBuilder } from "../../../helpers/snapshot-builder.js";

const NOW = new Date("2026-12-01T00:00:00Z");
const ED25519_FP = "SHA256:Hc9/2+opox6AbBiR9XeKm7tW4Iha2PmT6OrXHpvlLiU";
const trees: Tree[] = [];

afterAll(async () => {
  for (const t of trees) await t.cleanup();
});

async function rootWithKeys(content: Buffer): Promise<Tree> {
  const t = await makeTree({
    "etc/passwd": "root:x:0:0:root:/root:/bin/bash\n",
    "root/.ssh/authorized_keys": content,
  });
  trees.push(t);
  return t;
}

describe("authorized_keys padded to hide a key", () => {
  it("finds a key after 2 MiB of padding (comments, blanks, one 100 KB line) and flags the size", async () => {
    const key = (await readAccountsFixture("ssh", "k_ed25519.pub")).toString().trim();
    const comment = `# ${"x".repeat(1021)}\n`;
    const padding = Buffer.from(comment.repeat(2048) + "\n".repeat(1000) + "A".repeat(100_000));
    const t = await rootWithKeys(Buffer.concat([padding, Buffer.from(`\n${key}\n`)]));
    const { accounts, gaps } = await readAccounts({
      root: t.root,
      scope: "host",
      containerId: null,
      now: NOW,
    });
    const file = accounts.authorizedKeys.find((f) => f.path === "/root/.ssh/authorized_keys");
    expect(file?.keys.map((k) => [k.fingerprint, k.line])).toEqual([[ED25519_FP, 2048 + 1000 + 2]]);
    expect(gaps.map((g) => g.message)).toContain(
      "/root/.ssh/authorized_keys: lines 3049 longer than 65536 bytes, not keys",
    );
    const snap = new SnapshotBuilder().accounts({ authorizedKeys: [file!] }).build();
    const findings = accountsRule(snap, { now: NOW, lists: shippedLists() });
    expect(findings.map((f) => f.rule)).toContain("account.authorized-keys-oversized");
  });

  it("past the read bound: a gap, and still the oversized finding", async () => {
    const key = (await readAccountsFixture("ssh", "k_ed25519.pub")).toString().trim();
    const t = await rootWithKeys(Buffer.from(`${"\n".repeat(3 * 1024 * 1024)}${key}\n`));
    const { accounts, gaps } = await readAccounts({
      root: t.root,
      scope: "host",
      containerId: null,
      now: NOW,
      maxKeysFileBytes: 2 * 1024 * 1024,
    });
    const file = accounts.authorizedKeys.find((f) => f.path === "/root/.ssh/authorized_keys");
    expect(file?.keys).toEqual([]);
    expect(gaps.map((g) => g.message)).toContain(
      `/root/.ssh/authorized_keys: ${3 * 1024 * 1024 + key.length + 1} bytes, only the first ${2 * 1024 * 1024} read`,
    );
    const snap = new SnapshotBuilder().accounts({ authorizedKeys: [file!] }).build();
    const findings = accountsRule(snap, { now: NOW, lists: shippedLists() });
    const f = findings.find((x) => x.rule === "account.authorized-keys-oversized");
    expect(f?.severity).toBe("high");
  });

  it("checks every user's keys, past 10,000 accounts", async () => {
    const key = (await readAccountsFixture("ssh", "k_ed25519.pub")).toString();
    const passwd = Array.from(
      { length: 10_050 },
      (_, i) => `u${i}:x:${2000 + i}:100::/home/u${i}:/bin/sh`,
    );
    const t = await makeTree({
      "etc/passwd": `root:x:0:0:root:/root:/bin/bash\n${passwd.join("\n")}\n`,
      "home/u10049/.ssh/authorized_keys": key,
    });
    trees.push(t);
    const { accounts } = await readAccounts({
      root: t.root,
      scope: "host",
      containerId: null,
      now: NOW,
    });
    expect(accounts.authorizedKeys.map((f) => [f.user, f.keys[0]?.fingerprint])).toEqual([
      ["u10049", ED25519_FP],
    ]);
  });
});
