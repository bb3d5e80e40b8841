import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  parseHostSpec,
  parseIni,
  readInventory,
} from "../../../src/observe/inventory/inventory.js";

const dir = mkdtempSync(join(tmpdir(), "bk-inv-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("inventory", () => {
  it("reads the plain list: [user@]host[:port], groups, comments", () => {
    const r = parseIni(
      "# web servers\n[web]\nroot@web01:2222\nweb02\n\n[db]\nadmin@[::1]:22\nweb02\n",
      "hosts.txt",
    );
    expect(r.ok && r.value).toEqual([
      { name: "root@web01:2222", address: "web01", port: 2222, user: "root", groups: ["web"] },
      { name: "web02", address: "web02", port: null, user: null, groups: ["web", "db"] },
      { name: "admin@[::1]:22", address: "::1", port: 22, user: "admin", groups: ["db"] },
    ]);
  });

  it("reads Ansible INI: ansible_host, ansible_port, ansible_user; skips :vars and :children", () => {
    const r = parseIni(
      "[web]\nweb1 ansible_host=10.0.0.1 ansible_port=2200 ansible_user=ops other=x\n[web:vars]\nansible_user=nobody\n[all:children]\nweb\n",
      "inv.ini",
    );
    expect(r.ok && r.value).toEqual([
      { name: "web1", address: "10.0.0.1", port: 2200, user: "ops", groups: ["web"] },
    ]);
  });

  it("refuses what it cannot read, with file and line; never a host that is an option or a shell word", () => {
    for (const [text, line] of [
      ["web1\n-oProxyCommand=x\n", 2],
      ["[web]\nweb[01:10].example.com\n", 2],
      ["web1 ansible_port=99999\n", 1],
      ["web1 ansible_host=$(reboot)\n", 1],
      ["`id`@web1\n", 1],
    ] as const) {
      const r = parseIni(text, "bad.ini");
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.error.message).toMatch(new RegExp(`^bad.ini:${line}: `));
    }
    expect(parseHostSpec("web1:0")).toMatch(/port/);
  });

  it("reads Ansible YAML: hosts and nested children, group membership added up", async () => {
    const file = join(dir, "inv.yml");
    writeFileSync(
      file,
      `all:
  hosts:
    bastion:
      ansible_host: 192.0.2.1
  children:
    web:
      hosts:
        web1:
          ansible_host: 192.0.2.10
          ansible_port: 2222
          ansible_user: root
        web2:
    prod:
      children:
        web:
          hosts:
            web1:
`,
    );
    const r = await readInventory(file);
    expect(r.ok && r.value).toEqual([
      { name: "bastion", address: "192.0.2.1", port: null, user: null, groups: [] },
      { name: "web1", address: "192.0.2.10", port: 2222, user: "root", groups: ["web"] },
      { name: "web2", address: "web2", port: null, user: null, groups: ["web"] },
    ]);
  });

  it("says so for an empty, missing or broken file", async () => {
    writeFileSync(join(dir, "empty.txt"), "# nothing\n");
    const e = await readInventory(join(dir, "empty.txt"));
    expect(!e.ok && e.error.message).toMatch(/no hosts/);
    const m = await readInventory(join(dir, "missing.txt"));
    expect(!m.ok && m.error.message).toMatch(/cannot read the inventory/);
    writeFileSync(join(dir, "bad.yaml"), "all: [unclosed\n");
    const b = await readInventory(join(dir, "bad.yaml"));
    expect(!b.ok && b.error.message).toMatch(/not YAML|not a mapping/);
  });
});
