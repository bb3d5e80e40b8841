/**
 * rpm databases read with the host's real rpm (Debian's package `rpm`): a root made by
 * installing a real package (test/fixtures/rpm/bk-hello-1.0-1.noarch.rpm, built locally with
 * rpmbuild from the spec beside it) into a temp directory with `rpm --root`, then changed, and
 * breachkit's answer compared with `rpm -Va --root` on the same root.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  appendFile,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  unlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseRpmListing, readRpmDb } from "../../../src/observe/packages/rpm.js";
import { verifyRoot } from "../../../src/observe/packages/verify.js";

const RPM_FILE = new URL("../../fixtures/rpm/bk-hello-1.0-1.noarch.rpm", import.meta.url).pathname;
let root: string;

function rpm(args: string[]): string {
  return execFileSync("rpm", args, { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] });
}

async function hashDir(d: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const n of (await readdir(d)).sort())
    out[n] = createHash("sha256")
      .update(await readFile(join(d, n)))
      .digest("hex");
  return out;
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "bk-rpm-unit-"));
  rpm(["--root", root, "--dbpath", "/var/lib/rpm", "--initdb"]);
  rpm(["--root", root, "--dbpath", "/var/lib/rpm", "-i", "--nodeps", "--noscripts", RPM_FILE]);
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("rpm query output", () => {
  it("keeps regular files with a digest; skips config, ghost, dirs, links; reports bad lines", () => {
    const sha = "a".repeat(64);
    const text = [
      "P\tpkg\tpkg-1-1.x86_64",
      `F\tpkg\t8\t0\t0\t33261\t${sha}\t/usr/bin/tool`,
      `F\tpkg\t8\t17\t0\t33188\t${sha}\t/etc/tool.conf`,
      `F\tpkg\t8\t64\t0\t33188\t${sha}\t/var/log/tool.log`,
      `F\tpkg\t8\t0\t2\t33188\t${sha}\t/usr/share/locale/xx/tool.mo`,
      "F\tpkg\t8\t0\t0\t16877\t\t/usr/lib/tool",
      "F\tpkg\t8\t0\t0\t41471\t\t/usr/bin/tool-link",
      `F\tpkg\t8\t0\t0\t33188\t${sha}\t/usr/lib/tool/a\tname`,
      "continued name line",
      `F\told\t(none)\t0\t0\t33188\t${"b".repeat(32)}\t/usr/bin/old`,
      `F\tpkg\t8\t0\t0\t33188\tnothex\t/usr/bin/bad`,
    ].join("\n");
    const l = parseRpmListing(text);
    expect(l.packages).toBe(1);
    expect(l.files.map((f) => [f.path, f.algo])).toEqual([
      ["/usr/bin/tool", "sha256"],
      ["/usr/lib/tool/a\tname", "sha256"],
      ["/usr/bin/old", "md5"],
    ]);
    expect(l.owned.get("/etc/tool.conf")).toEqual(["pkg"]);
    expect(l.owned.has("/usr/bin/tool-link")).toBe(true);
    expect(l.problems).toHaveLength(2);
    expect(l.problems[0]).toContain("continued name line");
  });
});

describe("an rpm root verified from the host", () => {
  it("reads the database with the host's rpm from a copy, leaving the root's files as they were", async () => {
    const dbDir = join(root, "var/lib/rpm");
    const before = await hashDir(dbDir);
    const r = await readRpmDb(root, { env: process.env });
    expect(r?.db).not.toBeNull();
    const db = r!.db!;
    expect(db.source).toBe("/var/lib/rpm/rpmdb.sqlite");
    expect(db.packages).toBe(1);
    expect(db.files.map((f) => f.path).sort()).toEqual([
      "/usr/bin/bk-hello",
      "/usr/lib/bk-hello/data.txt",
      "/usr/lib/bk-hello/gone.txt",
      "/usr/share/doc/bk-hello/README",
    ]);
    expect(db.files.every((f) => f.algo === "sha256" && f.package === "bk-hello")).toBe(true);
    expect(await hashDir(dbDir)).toEqual(before);
  });

  it("finds what `rpm -Va --root` finds: a changed binary, a missing file (config left to it)", async () => {
    await writeFile(join(root, "usr/bin/bk-hello"), "#!/bin/sh\necho trojan\n");
    await unlink(join(root, "usr/lib/bk-hello/gone.txt"));
    await appendFile(join(root, "etc/bk-hello.conf"), "changed=1\n");
    const r = await verifyRoot({ root, where: "host", containerId: null, upperDir: null });
    expect(r.managers.map((m) => m.manager)).toEqual(["rpm"]);
    const ours = [
      ...r.changed.map((c) => `changed ${c.path}`),
      ...r.missing.map((m) => `missing ${m.path}`),
    ].sort();
    let out = "";
    try {
      rpm(["-Va", "--root", root, "--dbpath", "/var/lib/rpm", "--nodeps", "--noscripts"]);
    } catch (e) {
      out = String((e as { stdout?: string }).stdout ?? "");
    }
    // rpm -V lines: "S.5....T.  c /etc/x" (c: config), "missing     /path".
    const theirs = out
      .split("\n")
      .map((l) => /^(\S+)\s+(?:([cdglr])\s)?\s*(\/.*)$/.exec(l))
      .filter((m): m is RegExpExecArray => m !== null && m[2] !== "c")
      .map((m) => `${m[1] === "missing" ? "missing" : "changed"} ${m[3]}`)
      .sort();
    expect(theirs).toEqual(["changed /usr/bin/bk-hello", "missing /usr/lib/bk-hello/gone.txt"]);
    expect(ours).toEqual(theirs);
    const c = r.changed[0]!;
    expect(c.package).toBe("bk-hello");
    expect(c.expected).toBe("8e0f5f7dff9a77adfbee8b339bb7909f13ea0e57f060bd3ca7f08a397f10e892");
    expect(c.found).toBe(createHash("sha256").update("#!/bin/sh\necho trojan\n").digest("hex"));
    expect(r.ok).toBe(2);
  });

  it("reports an rpm database it cannot read as a gap, never as verified", async () => {
    const bad = await mkdtemp(join(tmpdir(), "bk-rpm-bad-"));
    try {
      await mkdir(join(bad, "var/lib/rpm"), { recursive: true });
      await writeFile(join(bad, "var/lib/rpm/rpmdb.sqlite"), "not a database");
      const r = await readRpmDb(bad, { env: process.env });
      expect(r?.db).toBeNull();
      expect(r && "reason" in r ? r.reason : "").toMatch(/rpm/);
      const v = await verifyRoot({ root: bad, where: "host", containerId: null, upperDir: null });
      expect(v.managers).toEqual([]);
      expect(v.notes.join(" ")).toMatch(
        /rpm database \/var\/lib\/rpm\/rpmdb.sqlite found but not verified/,
      );
      const none = await readRpmDb(bad, {
        env: { PATH: "/nonexistent" },
        executable: "/nonexistent/rpm",
      });
      expect(none && "reason" in none ? none.reason : "").toMatch(/apt-get install rpm/);
    } finally {
      await rm(bad, { recursive: true, force: true });
    }
  });
});
