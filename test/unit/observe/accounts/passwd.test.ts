import { describe, expect, it } from "vitest";
import {
  classifyPassword,
  daysToDate,
  isLoginShell,
  mergeUsers,
  parseGroup,
  parsePasswd,
  parseShadow,
} from "../../../../src/observe/accounts/passwd.js";
import { readAccountsFixture } from "../../../helpers/accounts-fixtures.js";

const text = async (name: string) => (await readAccountsFixture("etc-debian12", name)).toString();

describe("this machine's passwd, shadow and group (Debian 12)", () => {
  it("parses every line, with login shells told apart", async () => {
    const p = parsePasswd(await text("passwd"));
    expect(p.invalid).toEqual([]);
    expect(p.entries).toHaveLength(26);
    expect(p.entries[0]).toEqual({
      name: "root",
      uid: 0,
      gid: 0,
      gecos: "root",
      home: "/root",
      shell: "/bin/bash",
      loginShell: true,
      line: 1,
      passwdField: "shadow",
    });
    const logins = p.entries.filter((e) => e.loginShell).map((e) => e.name);
    expect(logins).toEqual(["root", "cloudsdk", "postgres"]);
    expect(p.entries.find((e) => e.name === "sync")?.loginShell).toBe(false);
    expect(p.entries.find((e) => e.name === "postgres")?.gecos).toBe("PostgreSQL administrator,,,");
  });

  it("classifies shadow passwords and dates without keeping the field", async () => {
    const s = parseShadow(await text("shadow"));
    expect(s.invalid).toEqual([]);
    expect(new Set(s.entries.map((e) => e.password))).toEqual(new Set(["locked"]));
    // 20228 days after 1970-01-01.
    expect(s.entries[0]).toEqual({
      name: "root",
      line: 1,
      password: "locked",
      lastChange: "2025-05-20",
    });
    expect(JSON.stringify(s.entries)).not.toContain("!*");
  });

  it("parses groups with their members", async () => {
    const g = parseGroup(await text("group"));
    expect(g.invalid).toEqual([]);
    expect(g.entries[0]).toEqual({ name: "root", gid: 0, members: [], line: 1 });
    expect(g.entries.every((e) => e.members.every((m) => m !== "" && !m.includes(",")))).toBe(true);
  });
});

describe("classifyPassword", () => {
  it.each([
    ["", "empty"],
    ["!", "locked"],
    ["!!", "locked"],
    ["*", "locked"],
    ["!*", "locked"],
    ["*LK*", "locked"],
    ["!$6$salt$hash", "locked"],
    ["$6$rounds=5000$salt$8cpnm2Uvn6T2R0Q1Qdz3dO6v", "set"],
    ["$y$j9T$abc$def", "set"],
    ["$1$abc$def", "set"],
    ["abJnggxhB/yWI", "set"],
    ["_J9..rasmBYk8r9AiWNc", "set"],
    // Near misses: none of these is a crypt(3) result.
    ["x", "unknown"],
    ["$", "unknown"],
    ["$6", "unknown"],
    ["abJnggxhB/yW", "unknown"],
    ["NP", "unknown"],
  ])("%j is %s", (field, state) => {
    expect(classifyPassword(field)).toBe(state);
  });
});

describe("isLoginShell", () => {
  it.each([
    ["/bin/bash", true],
    ["/bin/sh", true],
    ["/usr/bin/zsh", true],
    // passwd(5): an empty shell means /bin/sh.
    ["", true],
    ["/usr/sbin/nologin", false],
    ["/sbin/nologin", false],
    ["/bin/false", false],
    ["/bin/true", false],
    ["/bin/sync", false],
    ["/sbin/halt", false],
    ["/sbin/shutdown", false],
    // Near misses: an attacker's shell named to look like a refusal is still a shell.
    ["/tmp/nologin.sh", true],
    ["/usr/sbin/nologin2", true],
    ["/bin/falsey", true],
  ])("%j -> %s", (shell, login) => {
    expect(isLoginShell(shell)).toBe(login);
  });
});

describe("daysToDate", () => {
  it("converts days since the epoch and rejects junk", () => {
    expect(daysToDate("0")).toBe("1970-01-01");
    expect(daysToDate("19737")).toBe("2024-01-15");
    expect(daysToDate("")).toBeNull();
    expect(daysToDate("-1")).toBeNull();
    expect(daysToDate("12a")).toBeNull();
    expect(daysToDate("99999999999999")).toBeNull();
  });
});

describe("near-miss and hostile lines", () => {
  it("skips comments and blank lines, rejects malformed ones, reads what glibc reads", () => {
    const p = parsePasswd(
      [
        "# a comment: with:colons:0:0::/:/bin/sh",
        "",
        "  indented:x:1001:1001::/home/indented:/bin/bash",
        "short:x:1002:1002::/home/short",
        "baduid:x:10a:1002::/:/bin/sh",
        "neguid:x:-1:1002::/:/bin/sh",
        "toobig:x:4294967296:0::/:/bin/sh",
        ":x:1003:1003::/:/bin/sh",
        "extra:x:1004:1004::/home/extra:/bin/sh:junk",
        "evil::0:0:::",
        "legacy:abJnggxhB/yWI:1005:1005::/:/bin/sh",
        "crlf:x:1006:1006::/:/bin/sh\r",
        "\u001b[31mred<b>:x:1007:1007:line\\nbreak:/home/x:/bin/sh",
      ].join("\n"),
    );
    expect(p.invalid).toEqual([4, 5, 6, 7, 8]);
    expect(p.entries.map((e) => e.name)).toEqual([
      "indented",
      "extra",
      "evil",
      "legacy",
      "crlf",
      "\u001b[31mred<b>",
    ]);
    const evil = p.entries.find((e) => e.name === "evil")!;
    expect(evil).toMatchObject({ uid: 0, shell: "", loginShell: true, passwdField: "empty" });
    expect(p.entries.find((e) => e.name === "extra")?.shell).toBe("/bin/sh");
    expect(p.entries.find((e) => e.name === "legacy")?.passwdField).toBe("set");
    // A stray CR is part of the shell, which is then not a known refusal.
    expect(p.entries.find((e) => e.name === "crlf")?.shell).toBe("/bin/sh\r");
  });

  it("reads shadow lines with only name and password, and group lines without members", () => {
    const s = parseShadow("a:$6$x$y\nb:!:\nc\n:*:1::::::\n");
    expect(s.entries).toEqual([
      { name: "a", line: 1, password: "set", lastChange: null },
      { name: "b", line: 2, password: "locked", lastChange: null },
    ]);
    expect(s.invalid).toEqual([3, 4]);
    const g = parseGroup("sudo:x:27:alice,,bob \nwheel:x:10\nbad:x:\nadm:x:4:\n");
    expect(g.entries).toEqual([
      { name: "sudo", gid: 27, members: ["alice", "bob"], line: 1 },
      { name: "wheel", gid: 10, members: [], line: 2 },
      { name: "adm", gid: 4, members: [], line: 4 },
    ]);
    expect(g.invalid).toEqual([3]);
  });
});

describe("mergeUsers", () => {
  it("takes shadow facts for 'x' and the passwd field otherwise; unknown without shadow", () => {
    const passwd = parsePasswd(
      "root:x:0:0::/root:/bin/bash\nold:abJnggxhB/yWI:1:1::/:/bin/sh\nghost:x:2:2::/:/bin/sh\nopen::3:3::/:/bin/sh\n",
    ).entries;
    const shadow = parseShadow(
      "root:$y$j9T$a$b:19737:0:99999:7:::\nold:!:19000::::::\nroot:!:1::::::\n",
    ).entries;
    const users = mergeUsers(passwd, shadow);
    expect(users.map((u) => [u.name, u.password, u.lastChange])).toEqual([
      ["root", "set", "2024-01-15"],
      ["old", "set", "2022-01-08"],
      ["ghost", "unknown", null],
      ["open", "empty", null],
    ]);
    expect(mergeUsers(passwd, null).map((u) => u.password)).toEqual([
      "unknown",
      "set",
      "unknown",
      "empty",
    ]);
  });
});
