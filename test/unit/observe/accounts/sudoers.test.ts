import { afterEach, describe, expect, it } from "vitest";
import { RootFs } from "../../../../src/observe/accounts/root-fs.js";
import {
  includedirAccepts,
  parseSudoers,
  readSudoers,
} from "../../../../src/observe/accounts/sudoers.js";
import { makeTree, readAccountsFixture, type Tree } from "../../../helpers/accounts-fixtures.js";

describe("parseSudoers", () => {
  it("reads Debian 12's default sudoers: two rules and the include dir", async () => {
    const text = (await readAccountsFixture("sudo", "sudoers-debian12")).toString();
    expect(parseSudoers(text)).toEqual([
      { kind: "rule", line: 47, text: "root\tALL=(ALL:ALL) ALL" },
      { kind: "rule", line: 50, text: "%sudo\tALL=(ALL:ALL) ALL" },
      { kind: "includedir", line: 54, path: "/etc/sudoers.d" },
    ]);
  });

  it("finds nothing but comments in sudoers.d/README", async () => {
    const text = (await readAccountsFixture("sudo", "sudoers.d-README-debian12")).toString();
    expect(parseSudoers(text)).toEqual([]);
  });

  it("joins continued lines, skips Defaults and tells #include and #uid from comments", () => {
    const text = [
      "Defaults env_reset", // 1
      "Defaults:alice !requiretty", // 2
      "Defaults@web01 log_output", // 3
      "Defaults>root !set_logname", // 4
      "Defaults!/bin/ls noexec", // 5
      "DefaultsX ALL=(ALL) ALL", // 6: not a Defaults line
      "Cmnd_Alias SHELLS = /bin/sh, \\", // 7
      "    /bin/bash, \\", // 8
      "    /usr/bin/zsh", // 9
      "#1000 ALL=(ALL) NOPASSWD: ALL", // 10: a uid, not a comment
      "#1000is a comment", // 11
      "# deploy ALL=(ALL) ALL \\", // 12: a comment is not continued
      "deploy ALL=(ALL) NOPASSWD: ALL", // 13
      "#include /etc/sudoers.local", // 14
      '@include "/etc/sudo rules/extra"', // 15
      "@includedir sudoers.d", // 16
      "#includedir", // 17: no path: a comment
      "   %wheel ALL=(ALL) ALL\r", // 18
      "trailing \\", // 19: continuation at end of file
    ].join("\n");
    expect(parseSudoers(text)).toEqual([
      { kind: "rule", line: 6, text: "DefaultsX ALL=(ALL) ALL" },
      { kind: "rule", line: 7, text: "Cmnd_Alias SHELLS = /bin/sh,  /bin/bash,  /usr/bin/zsh" },
      { kind: "rule", line: 10, text: "#1000 ALL=(ALL) NOPASSWD: ALL" },
      { kind: "rule", line: 13, text: "deploy ALL=(ALL) NOPASSWD: ALL" },
      { kind: "include", line: 14, path: "/etc/sudoers.local" },
      { kind: "include", line: 15, path: "/etc/sudo rules/extra" },
      { kind: "includedir", line: 16, path: "sudoers.d" },
      { kind: "rule", line: 18, text: "%wheel ALL=(ALL) ALL" },
      { kind: "rule", line: 19, text: "trailing \\" },
    ]);
  });

  it("finds the same rules as sudo's own parser (recorded cvtsudoers output)", async () => {
    const text = (await readAccountsFixture("sudo", "tricky.sudoers")).toString();
    const sudo = (await readAccountsFixture("sudo", "tricky.cvtsudoers.out")).toString();
    const squash = (s: string) => s.replace(/\s+/g, "");
    // cvtsudoers prints aliases first and spaces tokens its own way: compare sorted, unspaced.
    const theirs = sudo
      .split("\n")
      .filter((l) => l.trim() !== "" && !l.startsWith("Defaults ") && !l.startsWith("Defaults:"))
      .map(squash)
      .sort();
    const mine = parseSudoers(text)
      .filter((e) => e.kind === "rule")
      .map((e) => squash(e.text))
      .sort();
    expect(mine).toEqual(theirs);
    expect(mine).toHaveLength(8);
  });

  it("keeps hostile text as data", () => {
    const rule = "evil ALL=(ALL) NOPASSWD: /bin/sh -c '\u001b[2J<script>'";
    expect(parseSudoers(rule)).toEqual([{ kind: "rule", line: 1, text: rule }]);
  });

  it("includedirAccepts skips backups and names with a dot", () => {
    expect(includedirAccepts("90-cloud-init-users")).toBe(true);
    expect(includedirAccepts("README")).toBe(true);
    expect(includedirAccepts("zz~")).toBe(false);
    expect(includedirAccepts("foo.dpkg-old")).toBe(false);
    expect(includedirAccepts(".hidden")).toBe(false);
  });
});

describe("readSudoers on a fixture root", () => {
  let tree: Tree | undefined;
  afterEach(async () => {
    await tree?.cleanup();
    tree = undefined;
  });

  it("follows includes inside the root, in order, and stops loops and deep nesting", async () => {
    const mtime = new Date("2024-03-01T12:00:00Z");
    tree = await makeTree({
      "etc/sudoers": {
        content:
          "root ALL=(ALL) ALL\n@includedir /etc/sudoers.d\n#include local\nlast ALL=(ALL) ALL\n",
        mtime,
      },
      "etc/sudoers.d/10-deploy": "deploy ALL=(ALL) NOPASSWD: ALL\n",
      "etc/sudoers.d/20-loop": "@include /etc/sudoers\n",
      "etc/sudoers.d/README": "# nothing\n",
      "etc/sudoers.d/30-backdoor~": "mallory ALL=(ALL) NOPASSWD: ALL\n",
      "etc/sudoers.d/40-old.dpkg-old": "old ALL=(ALL) ALL\n",
      "etc/local": "@include deep/1\n",
      "etc/deep/1": "@include 2\none ALL=(ALL) ALL\n",
      "etc/deep/2": "@include 3\n",
      "etc/deep/3": "@include 4\n",
      "etc/deep/4": "@include 5\n",
      "etc/deep/5": "@include 6\n",
      "etc/deep/6": "@include 7\n",
      "etc/deep/7": "@include 8\n",
      "etc/deep/8": "@include 9\n",
      "etc/deep/9": "nine ALL=(ALL) ALL\n",
    });
    const r = await readSudoers(new RootFs(tree.root));
    expect(r.rules.map((x) => [x.file, x.line, x.text])).toEqual([
      ["/etc/sudoers", 1, "root ALL=(ALL) ALL"],
      ["/etc/sudoers.d/10-deploy", 1, "deploy ALL=(ALL) NOPASSWD: ALL"],
      ["/etc/deep/1", 2, "one ALL=(ALL) ALL"],
      ["/etc/sudoers", 4, "last ALL=(ALL) ALL"],
    ]);
    expect(r.rules[0]!.fileMtime).toBe(mtime.toISOString());
    expect(r.problems).toEqual([
      "/etc/sudoers: already included (include loop)",
      "/etc/deep/8: not read, includes nested deeper than 8",
    ]);
    expect(Object.keys(r.times)).toContain("/etc/sudoers.d");
    expect(Object.keys(r.times)).toContain("/etc/sudoers.d/10-deploy");
    expect(Object.keys(r.times)).not.toContain("/etc/sudoers.d/30-backdoor~");
  });

  it("reads an absolute include inside the root, never the host's file", async () => {
    tree = await makeTree({
      "etc/sudoers": "@include /etc/hostname\n@includedir /etc/sudoers.d\n",
      "etc/hostname": "imagehost ALL=(ALL) ALL\n",
      // Absolute and climbing symlinks both land inside the root.
      "etc/sudoers.d/a": { symlink: "/etc/hostname" },
      "etc/sudoers.d/b": { symlink: "../../../../../../../../etc/hostname" },
    });
    const r = await readSudoers(new RootFs(tree.root));
    expect(r.rules.map((x) => x.text)).toEqual(["imagehost ALL=(ALL) ALL"]);
    expect(r.problems).toEqual([
      "/etc/sudoers.d/a: already included (include loop)",
      "/etc/sudoers.d/b: already included (include loop)",
    ]);
  });

  it("reports a missing sudoers (sudo not installed) as a problem", async () => {
    tree = await makeTree({ "etc/passwd": "root:x:0:0::/root:/bin/sh\n" });
    const r = await readSudoers(new RootFs(tree.root));
    expect(r).toEqual({ rules: [], times: {}, problems: ["/etc/sudoers: not found"] });
  });
});
