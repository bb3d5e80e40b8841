import { mkdir, open, readFile } from "node:fs/promises";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AccountsSchema } from "../../../../src/model/snapshot.js";
import { LASTLOG_RECORD_SIZE } from "../../../../src/observe/accounts/lastlog.js";
import { readAccounts, usersByUid } from "../../../../src/observe/accounts/read-accounts.js";
import { UTMP_RECORD_SIZE } from "../../../../src/observe/accounts/utmp.js";
import { makeTree, readAccountsFixture, type Tree } from "../../../helpers/accounts-fixtures.js";

const NOW = new Date("2026-12-01T00:00:00Z");
const ED25519_FP = "SHA256:Hc9/2+opox6AbBiR9XeKm7tW4Iha2PmT6OrXHpvlLiU";
const ECDSA_FP = "SHA256:p2XtzwE+TstpUpRaE99ua3xtZig/npgsAre/ZfTWeKg";
const RSA_FP = "SHA256:fCyc/a24Wlqlv2QNbIsbdM37+i6cpUwwawci+YVzQLU";

describe("readAccounts on a disk-image-like root", () => {
  let host: Tree;
  let image: Tree;

  beforeAll(async () => {
    const key = async (name: string) => (await readAccountsFixture("ssh", name)).toString();
    // A file on the investigator's machine that a hostile image points at.
    host = await makeTree({ authorized_keys: await key("k_rsa.pub") }, "bk-host-");
    const hostKeys = path.join(host.root, "authorized_keys");
    const wtmp = await readAccountsFixture("utmp", "wtmp");
    const btmp = await readAccountsFixture("utmp", "btmp");
    const passwdMtime = new Date("2024-01-16T22:14:00Z");
    image = await makeTree({
      "etc/passwd": {
        content: [
          "root:x:0:0:root:/root:/bin/bash",
          "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
          "alice:x:1000:1000:Alice:/home/alice:/bin/bash",
          "bob:x:1001:1001::/home/bob:/bin/bash",
          "carol:x:1002:1002::/home/carol:/bin/bash",
          "dave:x:1003:1003::/home/dave:/bin/bash",
          "toor::0:0:::",
          "broken line",
          "postgres:x:101:104::/var/lib/postgresql:/bin/bash",
        ].join("\n"),
        mtime: passwdMtime,
      },
      "etc/shadow": [
        "root:$y$j9T$salt$hashhashhash:19737:0:99999:7:::",
        "daemon:*:19737:0:99999:7:::",
        "alice:!$6$salt$hash:19738::::::",
        "bob:!!:19739::::::",
        "carol::19740::::::",
      ].join("\n"),
      "etc/group": "root:x:0:\nsudo:x:27:alice,dave\nwheel:x:10:\n",
      "etc/sudoers": "Defaults env_reset\nroot ALL=(ALL:ALL) ALL\n@includedir /etc/sudoers.d\n",
      "etc/sudoers.d/zz-deploy": "dave ALL=(ALL) NOPASSWD: ALL\n",
      "home/alice/.ssh/authorized_keys": await key("authorized_keys"),
      // Absolute link to the host's file: resolved inside the image, where it does not exist.
      "home/bob/.ssh/authorized_keys": { symlink: hostKeys },
      // Climbing link: stops at the image's root, lands on a missing file.
      "home/carol/.ssh/authorized_keys": { symlink: `../../../../../../../../../..${hostKeys}` },
      // Absolute link to a file that exists inside the image: that one is read.
      "home/dave/.ssh/authorized_keys": { symlink: "/etc/ssh/dave_keys" },
      "etc/ssh/dave_keys": await key("k_ecdsa.pub"),
      "root/.ssh/authorized_keys2": await key("k_ed25519.pub"),
      "var/log/wtmp": wtmp,
      // btmp cut mid-record.
      "var/log/btmp": btmp.subarray(0, UTMP_RECORD_SIZE * 3 + 10),
      "var/log/lastlog": await readAccountsFixture("lastlog", "lastlog"),
      "var/run": { symlink: "/run" },
      "run/.keep": "",
    });
  });

  afterAll(async () => {
    await image?.cleanup();
    await host?.cleanup();
  });

  it("reads users, shadow facts, groups and sudo rules", async () => {
    const { accounts, gaps } = await readAccounts({
      root: image.root,
      scope: "image",
      containerId: null,
      now: NOW,
    });
    expect(AccountsSchema.parse(accounts)).toEqual(accounts);
    expect(accounts).toMatchObject({ scope: "image", containerId: null, root: image.root });
    expect(accounts.users.map((u) => [u.name, u.password, u.lastChange, u.loginShell])).toEqual([
      ["root", "set", "2024-01-15", true],
      ["daemon", "locked", "2024-01-15", false],
      ["alice", "locked", "2024-01-16", true],
      ["bob", "locked", "2024-01-17", true],
      ["carol", "empty", "2024-01-18", true],
      ["dave", "unknown", null, true],
      ["toor", "empty", null, true],
      ["postgres", "unknown", null, true],
    ]);
    expect(JSON.stringify(accounts)).not.toContain("hashhash");
    expect(JSON.stringify(accounts)).not.toContain("$6$");
    expect(accounts.groups).toContainEqual({ name: "sudo", gid: 27, members: ["alice", "dave"] });
    expect(accounts.sudo.map((r) => [r.file, r.line, r.text])).toEqual([
      ["/etc/sudoers", 2, "root ALL=(ALL:ALL) ALL"],
      ["/etc/sudoers.d/zz-deploy", 1, "dave ALL=(ALL) NOPASSWD: ALL"],
    ]);
    expect(accounts.fileTimes["/etc/passwd"]).toBe("2024-01-16T22:14:00.000Z");
    expect(Object.keys(accounts.fileTimes).sort()).toEqual([
      "/etc/group",
      "/etc/passwd",
      "/etc/shadow",
      "/etc/sudoers",
      "/etc/sudoers.d",
      "/etc/sudoers.d/zz-deploy",
    ]);
    expect(gaps).toContainEqual({
      source: "accounts:image",
      message: "/etc/passwd: lines 8 are not valid entries",
    });
  });

  it("reads authorized_keys inside the root only, never the host's file behind a symlink", async () => {
    const { accounts, gaps } = await readAccounts({
      root: image.root,
      scope: "image",
      containerId: null,
      now: NOW,
    });
    const files = accounts.authorizedKeys.map((f) => ({
      user: f.user,
      path: f.path,
      fps: f.keys.map((k) => k.fingerprint),
    }));
    expect(files).toEqual([
      { user: "root", path: "/root/.ssh/authorized_keys2", fps: [ED25519_FP] },
      {
        user: "alice",
        path: "/home/alice/.ssh/authorized_keys",
        fps: [ED25519_FP, RSA_FP, ECDSA_FP, ED25519_FP, ECDSA_FP, expect.any(String)],
      },
      { user: "dave", path: "/home/dave/.ssh/authorized_keys", fps: [ECDSA_FP] },
    ]);
    // The host's key (RSA) is in alice's real file only; bob's and carol's links read nothing.
    expect(accounts.authorizedKeys.find((f) => f.user === "bob")).toBeUndefined();
    expect(accounts.authorizedKeys.find((f) => f.user === "carol")).toBeUndefined();
    const messages = gaps.map((g) => g.message);
    const hostKeys = path.join(host.root, "authorized_keys");
    expect(messages).toContain(
      `/home/bob/.ssh/authorized_keys: a symlink to ${hostKeys}, which does not exist inside the root`,
    );
    expect(messages).toContain(
      `/home/carol/.ssh/authorized_keys: a symlink to ../../../../../../../../../..${hostKeys}, which does not exist inside the root`,
    );
    expect(messages).toContain(
      "/home/dave/.ssh/authorized_keys: a symlink to /etc/ssh/dave_keys, read as /etc/ssh/dave_keys inside the root",
    );
    expect(messages).toContain("/home/alice/.ssh/authorized_keys: lines 7, 8 are not valid keys");
    const alice = accounts.authorizedKeys[1]!;
    const st = await readFile(path.join(image.root, "home/alice/.ssh/authorized_keys"));
    expect(alice.size).toBe(st.length);
    expect(alice.mtime).toMatch(/^\d{4}-\d\d-\d\dT/);
  });

  it("reads wtmp, a cut btmp and lastlog, and names lastlog's users", async () => {
    const { accounts, gaps } = await readAccounts({
      root: image.root,
      scope: "image",
      containerId: null,
      now: NOW,
    });
    const bySource = (s: string) => accounts.logins.filter((l) => l.source === s);
    expect(bySource("wtmp")).toHaveLength(13);
    expect(bySource("btmp").map((l) => l.user)).toEqual(["admin", "oracle", "root"]);
    expect(bySource("utmp")).toEqual([]);
    expect(accounts.lastlog.map((l) => [l.uid, l.user])).toEqual([
      [0, "root"],
      [101, "postgres"],
      [1000, "alice"],
    ]);
    const messages = gaps.map((g) => g.message);
    expect(messages).toContain("/var/log/btmp: ends with 10 bytes of a cut record");
    // /var/run -> /run inside the image; no utmp in either place.
    expect(messages).toContain("/var/run/utmp: not found");
  });

  it("keeps the newest maxLogins records and those since a date, saying so", async () => {
    const { accounts, gaps } = await readAccounts({
      root: image.root,
      scope: "image",
      containerId: null,
      now: NOW,
      maxLogins: 2,
      since: new Date("2024-01-16T01:00:03Z"),
    });
    expect(accounts.logins.map((l) => `${l.source} ${l.user}`)).toEqual([
      "wtmp shutdown",
      "wtmp reboot",
      "btmp root",
    ]);
    expect(gaps.map((g) => g.message)).toContain(
      "/var/log/wtmp: 7 records, only the newest 2 kept",
    );
  });

  it("skips login records dated after now (plus a day of clock skew)", async () => {
    const { accounts, gaps } = await readAccounts({
      root: image.root,
      scope: "image",
      containerId: null,
      now: new Date("2024-01-15T12:00:00Z"),
    });
    expect(accounts.logins.filter((l) => l.source === "wtmp")).toHaveLength(7);
    expect(accounts.lastlog).toEqual([]);
    expect(gaps.map((g) => g.message)).toContain(
      "/var/log/wtmp: 6 corrupt records skipped (0 of them all zero bytes)",
    );
  });
});

describe("readAccounts on a bare container root", () => {
  let tree: Tree;
  beforeAll(async () => {
    tree = await makeTree({ "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n" });
  });
  afterAll(async () => {
    await tree?.cleanup();
  });

  it("turns every missing file into a gap and still returns a valid model", async () => {
    const { accounts, gaps } = await readAccounts({
      root: tree.root,
      scope: "web",
      containerId: "a".repeat(64),
    });
    expect(AccountsSchema.parse(accounts).users).toHaveLength(1);
    expect(accounts.users[0]!.password).toBe("unknown");
    expect(accounts.containerId).toBe("a".repeat(64));
    expect(gaps.every((g) => g.source === "accounts:web")).toBe(true);
    expect(gaps.map((g) => g.message).sort()).toEqual([
      "/etc/group: not found",
      "/etc/shadow: not found",
      "/etc/sudoers: not found",
      "/var/log/btmp: not found",
      "/var/log/lastlog: not found",
      "/var/log/wtmp: not found",
      "/var/run/utmp: not found",
    ]);
  });
});

describe("readAccounts on a sparse lastlog with high uids", () => {
  let tree: Tree;
  beforeAll(async () => {
    tree = await makeTree({
      "etc/passwd": "root:x:0:0::/root:/bin/sh\nfar:x:70000:70000::/home/far:/bin/sh\n",
    });
    // Entries for uid 5000 (no longer in passwd) and 70000 (20 MB into a sparse file).
    const entry = (sec: number, tty: string) => {
      const b = Buffer.alloc(LASTLOG_RECORD_SIZE);
      b.writeUInt32LE(sec, 0);
      b.write(tty, 4);
      return b;
    };
    await mkdir(path.join(tree.root, "var/log"), { recursive: true });
    const fh = await open(path.join(tree.root, "var/log/lastlog"), "w");
    await fh.write(
      entry(1_700_000_000, "pts/5"),
      0,
      LASTLOG_RECORD_SIZE,
      5000 * LASTLOG_RECORD_SIZE,
    );
    await fh.write(
      entry(1_700_000_100, "pts/7"),
      0,
      LASTLOG_RECORD_SIZE,
      70000 * LASTLOG_RECORD_SIZE,
    );
    await fh.close();
  });
  afterAll(async () => {
    await tree?.cleanup();
  });

  it("finds deleted users in the dense part and passwd users far beyond it", async () => {
    const { accounts } = await readAccounts({ root: tree.root, scope: "x", containerId: null });
    expect(accounts.lastlog).toEqual([
      { uid: 5000, user: null, time: "2023-11-14T22:13:20.000Z", tty: "pts/5", host: "" },
      { uid: 70000, user: "far", time: "2023-11-14T22:15:00.000Z", tty: "pts/7", host: "" },
    ]);
  });
});

describe("readAccounts on this machine", () => {
  it("reads / and /proc/self/root alike", async () => {
    const a = await readAccounts({ root: "/", scope: "host", containerId: null });
    const b = await readAccounts({ root: "/proc/self/root", scope: "host", containerId: null });
    expect(a.accounts.users.length).toBeGreaterThan(0);
    expect(b.accounts.users).toEqual(a.accounts.users);
    expect(b.accounts.groups).toEqual(a.accounts.groups);
    expect(usersByUid(a.accounts).get(0)).toBe("root");
  });
});

describe("usersByUid", () => {
  it("keeps the first name of a shared uid, as getpwuid does", () => {
    const user = (name: string, uid: number) => ({
      name,
      uid,
      gid: 0,
      gecos: "",
      home: "/",
      shell: "",
      loginShell: true,
      password: "unknown" as const,
      lastChange: null,
    });
    const map = usersByUid({ users: [user("root", 0), user("toor", 0), user("bin", 2)] });
    expect([...map]).toEqual([
      [0, "root"],
      [2, "bin"],
    ]);
  });
});
