import { writeFile } from "node:fs/promises";
import path from "node:path";
import { execa } from "execa";
import { afterEach, describe, expect, it } from "vitest";
import { describeFailure, RootFs } from "../../../../src/observe/accounts/root-fs.js";
import { makeTree, type Tree } from "../../../helpers/accounts-fixtures.js";

describe("RootFs", () => {
  const trees: Tree[] = [];
  afterEach(async () => {
    for (const t of trees.splice(0)) await t.cleanup();
  });
  const tree = async (spec: Parameters<typeof makeTree>[0]) => {
    const t = await makeTree(spec);
    trees.push(t);
    return t;
  };

  it("is one reading of the root: a directory looked up once answers for every path under it", async () => {
    const t = await tree({ "home/alice/.ssh/authorized_keys": "ssh-ed25519 AAAA x\n" });
    const fs = new RootFs(t.root);
    // Concurrent walks through the same directories agree.
    const found = await Promise.all(
      ["/home/alice/.ssh/authorized_keys", "/home/bob/.ssh/authorized_keys", "/home/alice"].map(
        (p) => fs.resolve(p),
      ),
    );
    expect(found.map((r) => r.ok)).toEqual([true, false, true]);
    // A home that appears meanwhile is not seen by this reading, and is by the next one.
    await writeFile(path.join(t.root, "home", "bob"), "now a file\n");
    expect((await fs.resolve("/home/bob")).ok).toBe(false);
    expect((await new RootFs(t.root).resolve("/home/bob")).ok).toBe(true);
  });

  it("re-roots absolute and climbing symlinks, as a chroot would", async () => {
    const outside = await tree({ secret: "host file\n" });
    const secret = path.join(outside.root, "secret");
    const t = await tree({
      "etc/motd": "image file\n",
      "a/abs": { symlink: "/etc/motd" },
      "a/climb": { symlink: "../../../../../../../../../etc/motd" },
      "a/host": { symlink: secret },
      "a/dirlink": { symlink: "/etc" },
      "var/run": { symlink: "../run" },
      "run/utmp": "x",
    });
    const fs = new RootFs(t.root);
    for (const p of ["/a/abs", "/a/climb", "/a/dirlink/motd", "/a/../etc/./motd"]) {
      const r = await fs.read(p, { maxBytes: 100 });
      expect(r.ok && r.value.bytes.toString()).toBe("image file\n");
      expect(r.ok && r.value.innerPath).toBe("/etc/motd");
    }
    const host = await fs.resolve("/a/host");
    expect(host.ok).toBe(false);
    expect(!host.ok && host.error).toMatchObject({ code: "ENOENT", links: 1 });
    expect(await fs.linkTarget("/a/host")).toBe(secret);
    expect(await fs.linkTarget("/a/dirlink/motd")).toBeNull();
    expect(await fs.linkTarget("/a/missing")).toBeNull();
    const utmp = await fs.resolve("/var/run/utmp");
    expect(utmp.ok && utmp.value).toEqual({
      hostPath: path.join(t.root, "run/utmp"),
      innerPath: "/run/utmp",
      links: 1,
    });
  });

  it("reports loops, files used as directories and non-regular files", async () => {
    const t = await tree({
      "loop/a": { symlink: "b" },
      "loop/b": { symlink: "a" },
      file: "x",
      "dir/.keep": "",
    });
    await execa("mkfifo", [path.join(t.root, "fifo")]);
    const fs = new RootFs(t.root);
    const loop = await fs.read("/loop/a", { maxBytes: 10 });
    expect(!loop.ok && loop.error.code).toBe("ELOOP");
    const notDir = await fs.read("/file/x", { maxBytes: 10 });
    expect(!notDir.ok && notDir.error.code).toBe("ENOTDIR");
    // A FIFO must neither block the reader nor be read.
    const fifo = await fs.read("/fifo", { maxBytes: 10 });
    expect(!fifo.ok && fifo.error.code).toBe("ENOTREG");
    const dir = await fs.read("/dir", { maxBytes: 10 });
    expect(!dir.ok && dir.error.code).toBe("ENOTREG");
    const missing = await fs.read("/nope", { maxBytes: 10 });
    expect(!missing.ok && describeFailure(missing.error)).toBe("not found");
  });

  it("reads the aligned end of a large file, or the start of it", async () => {
    const bytes = Buffer.from(Array.from({ length: 1000 }, (_, i) => i % 251));
    const t = await tree({ log: bytes });
    const fs = new RootFs(t.root);
    const tail = await fs.read("/log", { maxBytes: 250, fromEnd: true, align: 100 });
    expect(tail.ok && tail.value).toMatchObject({ offset: 800, size: 1000, truncated: true });
    expect(tail.ok && tail.value.bytes).toEqual(bytes.subarray(800));
    const head = await fs.read("/log", { maxBytes: 250 });
    expect(head.ok && head.value).toMatchObject({ offset: 0, truncated: true });
    expect(head.ok && head.value.bytes).toEqual(bytes.subarray(0, 250));
    const whole = await fs.read("/log", { maxBytes: 5000, fromEnd: true, align: 384 });
    expect(whole.ok && whole.value).toMatchObject({ offset: 0, truncated: false });
  });

  it("lists a directory in byte order", async () => {
    const t = await tree({ "d/b": "", "d/a": "", "d/B": "", "d/é": "" });
    const r = await new RootFs(t.root).list("/d");
    expect(r.ok && r.value.names).toEqual(["B", "a", "b", "é"]);
  });
});

describe("RootFs never blocks the thread", () => {
  it("answers through the thread pool: the event loop turns before every answer", async () => {
    const t = await makeTree({ "etc/passwd": "root:x:0:0::/root:/bin/sh\n", "home/a/k": "key\n" });
    try {
      /** The answer, and whether the event loop turned (an immediate ran) before it. */
      const timed = async (fs: RootFs, inner: string) => {
        let turned = false;
        setImmediate(() => {
          turned = true;
        });
        const r = await fs.read(inner, { maxBytes: 100 });
        return { text: r.ok ? r.value.bytes.toString() : r.error.code, turned };
      };
      const fs = new RootFs(t.root);
      expect(await timed(fs, "/etc/passwd")).toEqual({
        text: "root:x:0:0::/root:/bin/sh\n",
        turned: true,
      });
      expect(await timed(fs, "/home/a/k")).toEqual({ text: "key\n", turned: true });
    } finally {
      await t.cleanup();
    }
  });
});
