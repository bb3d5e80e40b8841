import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  createBundle,
  InterruptedError,
  isFatalError,
  LOG_FILE,
} from "../../../src/evidence/bundle.js";
import type { LogEntry, Manifest } from "../../../src/evidence/types.js";
import { verifyBundle } from "../../../src/evidence/verify.js";
import { BreachkitError } from "../../../src/util/errors.js";
import {
  chunks,
  isRoot,
  mountTmpfs,
  sha256OfPath,
  tempDir,
  unmount,
} from "../../helpers/evidence.js";

let tmp: Awaited<ReturnType<typeof tempDir>>;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.cleanup();
});

const NOW = new Date("2025-03-04T05:06:07.890Z");
const open = (extra: Partial<Parameters<typeof createBundle>[0]> = {}) =>
  createBundle({
    outDir: join(tmp.path, "out"),
    host: "web01",
    command: "collect",
    now: NOW,
    ...extra,
  });

async function readManifest(dir: string): Promise<Manifest> {
  return JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as Manifest;
}
async function readLog(dir: string): Promise<LogEntry[]> {
  const text = await readFile(join(dir, LOG_FILE), "utf8");
  return text
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as LogEntry);
}
const sha = (b: string | Uint8Array) => createHash("sha256").update(b).digest("hex");

describe("createBundle", () => {
  it("makes breachkit-<host>-<UTC time>/ with mode 0700, unique when it exists", async () => {
    const a = await open();
    const b = await open();
    expect(a.dir).toBe(join(tmp.path, "out", "breachkit-web01-20250304T050607Z"));
    expect(b.dir).toBe(`${a.dir}-2`);
    expect((await stat(a.dir)).mode & 0o777).toBe(0o700);
    expect((await stat(join(tmp.path, "out"))).mode & 0o777).toBe(0o700);
  });

  it("sanitises a hostile host name into one directory name", async () => {
    const b = await open({ host: "../../etc\n\u001b[31mevil/host" });
    const out = join(tmp.path, "out");
    expect(await readdir(out)).toHaveLength(1);
    expect(b.dir.startsWith(`${out}/breachkit-`)).toBe(true);
    expect(b.dir.slice(out.length + 1)).toMatch(
      /^breachkit-[A-Za-z0-9._@+=,%-]+-20250304T050607Z$/,
    );
    // The true host name is kept, escaped, in the manifest.
    await b.seal({ complete: true });
    expect((await readManifest(b.dir)).host).toBe("../../etc\n\u001b[31mevil/host");
  });

  it("refuses to write inside a path being collected, comparing real paths", async () => {
    const collected = join(tmp.path, "collected");
    await mkdir(collected);
    const viaLink = join(tmp.path, "link-to-collected");
    await symlink(collected, viaLink);
    for (const outDir of [collected, join(viaLink, "sub")]) {
      const e = await open({ outDir, refuseInside: [collected] }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BreachkitError);
      expect((e as BreachkitError).code).toBe("USAGE");
      expect((e as BreachkitError).hint).toMatch(/--out/);
    }
    // Beside the collected path is fine.
    await expect(
      open({ outDir: join(tmp.path, "elsewhere"), refuseInside: [collected] }),
    ).resolves.toBeDefined();
    expect(await readdir(collected)).toEqual([]);
  });

  it("gives a clear error when the output directory is a file", async () => {
    const file = join(tmp.path, "file");
    await writeFile(file, "x");
    const e = (await open({ outDir: file }).catch((x: unknown) => x)) as BreachkitError;
    expect(e).toBeInstanceOf(BreachkitError);
    expect(e.message).toMatch(/not a directory/);
  });

  describe.runIf(isRoot)("on a read-only file system", () => {
    let ro: string;
    afterAll(() => unmount(ro));
    it("gives a clear error naming the directory and what to do", async () => {
      ro = join(tmp.path, "ro");
      await mkdir(ro);
      mountTmpfs(ro, "1m", { readOnly: true });
      const e = (await open({ outDir: ro }).catch((x: unknown) => x)) as BreachkitError;
      expect(e).toBeInstanceOf(BreachkitError);
      expect(e.message).toContain(ro);
      expect(e.message).toMatch(/read-only/);
      expect(e.hint).toMatch(/--out/);
      unmount(ro);
    });
  });
});

describe("BundleWriter", () => {
  it("round trip: every file hashed as written, listed, sealed, and verify agrees", async () => {
    const b = await open();
    const src = join(tmp.path, "auth.log");
    const hostile = Buffer.from("ok\n\u001b[2J\u0000\xff\xfe bad utf8\r\n", "latin1");
    await writeFile(src, hostile);
    const e1 = await b.writeFile("notes/a.txt", "hello\n", { source: "breachkit" });
    const e2 = await b.writeJson("snapshot.json", { a: 1 }, { source: "breachkit" });
    const e3 = await b.writeStream("streams/s.bin", chunks(5, 100_000), { source: "docker:/x" });
    const e4 = await b.writeStream("streams/r.bin", Readable.from(chunks(3, 70_000, 0x62)), {
      source: "r",
    });
    const e5 = await b.copyFile("host/var/log/auth.log", src);
    expect(e1).toMatchObject({
      path: "notes/a.txt",
      size: 6,
      sha256: sha("hello\n"),
      truncated: false,
      note: null,
    });
    expect(e2.sha256).toBe(sha('{\n  "a": 1\n}\n'));
    expect(e3).toMatchObject({ size: 500_000, sha256: sha(Buffer.alloc(500_000, 0x61)) });
    expect(e4).toMatchObject({ size: 210_000, sha256: sha(Buffer.alloc(210_000, 0x62)) });
    expect(e5).toMatchObject({ source: src, size: hostile.length, sha256: sha(hostile) });
    // Stored byte for byte, never interpreted.
    expect(await readFile(join(b.dir, "host/var/log/auth.log"))).toEqual(hostile);
    for (const e of [e1, e2, e3, e4, e5]) {
      expect(await sha256OfPath(join(b.dir, e.path))).toBe(e.sha256);
      expect((await stat(join(b.dir, e.path))).mode & 0o777).toBe(0o600);
    }

    const { manifestSha256 } = await b.seal({ complete: true });
    expect(b.sealed).toBe(true);
    expect(await readFile(join(b.dir, "SEAL"), "utf8")).toBe(`${manifestSha256}\n`);
    expect(sha(await readFile(join(b.dir, "manifest.json")))).toBe(manifestSha256);
    const m = await readManifest(b.dir);
    expect(m).toMatchObject({
      format: "breachkit-bundle",
      formatVersion: 1,
      tool: { name: "breachkit" },
      command: "collect",
      host: "web01",
      startedAt: NOW.toISOString(),
      complete: true,
      incompleteReason: null,
    });
    expect(m.files.map((f) => f.path).sort()).toEqual(
      [
        LOG_FILE,
        "host/var/log/auth.log",
        "notes/a.txt",
        "snapshot.json",
        "streams/r.bin",
        "streams/s.bin",
      ].sort(),
    );
    const logEntry = m.files.find((f) => f.path === LOG_FILE)!;
    expect(logEntry.sha256).toBe(await sha256OfPath(join(b.dir, LOG_FILE)));
    // Nothing but the listed files, manifest.json and SEAL (the reserve is gone).
    const r = await verifyBundle(b.dir);
    expect(r).toMatchObject({
      intact: true,
      seal: "ok",
      complete: true,
      changed: [],
      missing: [],
      added: [],
    });
  });

  it("cuts at maxBytes, marks the entry truncated and says where", async () => {
    const b = await open();
    const src = join(tmp.path, "big.log");
    await writeFile(src, Buffer.alloc(3 * 1024 * 1024 + 5, 0x7a));
    const limit = 1024 * 1024 + 17;
    const c = await b.copyFile("big.log", src, { maxBytes: limit });
    expect(c).toMatchObject({
      size: limit,
      truncated: true,
      sha256: sha(Buffer.alloc(limit, 0x7a)),
    });
    expect(c.note).toContain(`cut at ${limit} bytes`);
    expect(c.note).toContain(`${3 * 1024 * 1024 + 5} bytes when opened`);
    const s = await b.writeStream("s.bin", chunks(10, 1000), { source: "x", maxBytes: 2500 });
    expect(s).toMatchObject({ size: 2500, truncated: true });
    const f = await b.writeFile("f.txt", "abcdef", { source: "x", maxBytes: 4 });
    expect(f).toMatchObject({ size: 4, truncated: true, sha256: sha("abcd") });
    const exact = await b.writeFile("g.txt", "abcd", { source: "x", maxBytes: 4 });
    expect(exact).toMatchObject({ size: 4, truncated: false, note: null });
    await b.seal({ complete: true });
    expect((await verifyBundle(b.dir)).intact).toBe(true);
  });

  it("copies a deleted executable through /proc/<pid>/exe", async () => {
    const b = await open();
    const e = await b.copyFile("exe/node", `/proc/${process.pid}/exe`);
    expect(e.size).toBeGreaterThan(1000);
    expect(e.sha256).toBe(await sha256OfPath(process.execPath));
  });

  it("refuses symlinks (unless asked), FIFOs and directories as sources, leaving no file", async () => {
    const b = await open();
    const link = join(tmp.path, "log-link");
    await symlink("/etc/hostname", link);
    await expect(b.copyFile("a", link)).rejects.toMatchObject({ code: "ELOOP" });
    const fifo = join(tmp.path, "fifo");
    execFileSync("mkfifo", [fifo]);
    await expect(b.copyFile("b", fifo)).rejects.toThrow(/not a regular file/);
    await expect(b.copyFile("c", tmp.path)).rejects.toThrow(/not a regular file/);
    await expect(b.copyFile("d", join(tmp.path, "missing"))).rejects.toMatchObject({
      code: "ENOENT",
    });
    const followed = await b.copyFile("e", link, { followSymlink: true });
    expect(followed.sha256).toBe(await sha256OfPath("/etc/hostname"));
    await b.seal({ complete: true });
    expect((await readManifest(b.dir)).files.map((f) => f.path)).toEqual(["e", LOG_FILE]);
    expect((await verifyBundle(b.dir)).intact).toBe(true);
  });

  it("rejects relative paths that leave the bundle or would confuse readers", async () => {
    const b = await open();
    for (const p of [
      "../x",
      "a/../../x",
      "/etc/passwd",
      "a\u0000b",
      "a\nb",
      "",
      "a//b",
      "manifest.json",
      "SEAL",
      LOG_FILE,
    ]) {
      await expect(b.writeFile(p, "x", { source: "t" }), JSON.stringify(p)).rejects.toMatchObject({
        code: "BAD_INPUT",
      });
    }
    await b.writeFile("dup", "1", { source: "t" });
    await expect(b.writeFile("dup", "2", { source: "t" })).rejects.toThrow(/already in the bundle/);
    expect(await readdir(tmp.path)).toEqual(["out"]);
    await b.seal({ complete: true });
    expect((await verifyBundle(b.dir)).intact).toBe(true);
  });

  it("lists a partial file with a note when its source fails part-way, and rethrows", async () => {
    const b = await open();
    async function* failing() {
      yield Buffer.from("first part\n");
      throw new Error("engine connection reset");
    }
    await expect(b.writeStream("logs/x.log", failing(), { source: "docker:/x" })).rejects.toThrow(
      /reset/,
    );
    await b.seal({ complete: false, reason: "engine gone" });
    const m = await readManifest(b.dir);
    expect(m.files[0]).toMatchObject({
      path: "logs/x.log",
      size: 11,
      sha256: sha("first part\n"),
      truncated: true,
    });
    expect(m.files[0]!.note).toMatch(/reading the source failed after 11 bytes.*reset/);
    expect(m).toMatchObject({ complete: false, incompleteReason: "engine gone" });
    expect((await verifyBundle(b.dir)).intact).toBe(true);
  });

  it("logs every step as it happens, one JSON object per line, hostile text escaped", async () => {
    const b = await open();
    b.log({ step: "host", action: "read /var/log/auth.log\n\u001b[31m", result: "ok" });
    // Written at once: readable before the next step or seal.
    expect((await readLog(b.dir)).at(-1)).toMatchObject({ step: "host", result: "ok" });
    const v = await b.step("proc", "read /proc/1/exe", async () => 42);
    expect(v).toBe(42);
    const gone = await b.step("proc", "read /proc/999999/exe", async () => {
      throw Object.assign(new Error("ESRCH: process exited"), { code: "ESRCH" });
    });
    expect(gone).toBeUndefined();
    const lines = await readLog(b.dir);
    expect(lines.map((l) => [l.step, l.result])).toEqual([
      ["bundle", "ok"],
      ["host", "ok"],
      ["proc", "ok"],
      ["proc", "error"],
    ]);
    for (const l of lines) expect(Date.parse(l.time!)).not.toBeNaN();
    expect(lines[2]!.durationMs).toBeGreaterThanOrEqual(0);
    expect(lines[3]!.error).toContain("ESRCH");
    expect((await readFile(join(b.dir, LOG_FILE), "utf8")).split("\n")).toHaveLength(5);
  });

  it("step() rethrows fatal errors: disk full, read-only, interrupted", async () => {
    const b = await open();
    for (const code of ["ENOSPC", "EDQUOT", "EROFS"]) {
      const e = Object.assign(new Error(code), { code });
      expect(isFatalError(e)).toBe(true);
      await expect(b.step("s", code, () => Promise.reject(e))).rejects.toBe(e);
    }
    const i = new InterruptedError("SIGINT");
    await expect(b.step("s", "i", () => Promise.reject(i))).rejects.toBe(i);
    expect(isFatalError(new Error("x"))).toBe(false);
    const log = await readLog(b.dir);
    expect(log.filter((l) => l.result === "error")).toHaveLength(4);
  });

  it("seal while a stream is still being written: the write stops, the bundle stays valid", async () => {
    const b = await open();
    let release: () => void = () => {};
    let waiting: () => void = () => {};
    const stalled = new Promise<void>((r) => {
      waiting = r;
    });
    async function* slow() {
      yield Buffer.from("before the interrupt\n");
      // The engine stalls here: the first chunk has been taken (and written, see pumpStream).
      await new Promise<void>((r) => {
        release = r;
        waiting();
      });
      yield Buffer.from("never written\n");
    }
    const writing = b.writeStream("logs/slow.log", slow(), { source: "docker:/slow" });
    // Caught now: the rejection happens while seal runs, before the assertion below.
    const stepped = b.step("container", "logs of slow", () => writing).catch((e: unknown) => e);
    await stalled;
    const sealed = await b.seal({ complete: false, reason: "SIGINT" });
    release();
    expect(await stepped).toBeInstanceOf(InterruptedError);
    expect(sealed.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    const m = await readManifest(b.dir);
    expect(m).toMatchObject({ complete: false, incompleteReason: "SIGINT" });
    expect(m.files[0]).toMatchObject({ path: "logs/slow.log", size: 21, truncated: true });
    expect(m.files[0]!.note).toMatch(/interrupted/);
    await expect(b.writeFile("late", "x", { source: "t" })).rejects.toBeInstanceOf(
      InterruptedError,
    );
    // A second seal (e.g. SIGTERM after SIGINT) is the same seal.
    expect(await b.seal({ complete: true })).toEqual(sealed);
    const r = await verifyBundle(b.dir);
    expect(r).toMatchObject({ intact: true, complete: false, incompleteReason: "SIGINT" });
  });

  describe.runIf(isRoot)("on a full disk (1 MiB tmpfs)", () => {
    let mnt: string;
    afterAll(() => unmount(mnt));

    it("stays a valid, sealed, incomplete bundle with the reason and the error logged", async () => {
      mnt = join(tmp.path, "small");
      await mkdir(mnt);
      mountTmpfs(mnt, "1m");
      const b = await createBundle({ outDir: mnt, host: "web01", command: "collect" });
      await b.writeFile("small.txt", "fits\n", { source: "t" });
      const src = join(tmp.path, "big.log");
      await writeFile(src, Buffer.alloc(2 * 1024 * 1024, 0x41));
      let fatal: unknown;
      try {
        await b.step("host", `copy ${src}`, () => b.copyFile("big.log", src));
        await b.step("host", "more", () =>
          b.writeFile("more.txt", "x".repeat(100_000), { source: "t" }),
        );
      } catch (e) {
        fatal = e;
      }
      expect((fatal as NodeJS.ErrnoException).code).toBe("ENOSPC");
      // Logging keeps working in memory while the disk is full; it lands at seal.
      b.log({ step: "collect", action: "stop: disk full", result: "error" });
      await b.seal({ complete: false, reason: "disk full (ENOSPC)" });

      const m = await readManifest(b.dir);
      expect(m).toMatchObject({ complete: false, incompleteReason: "disk full (ENOSPC)" });
      const big = m.files.find((f) => f.path === "big.log")!;
      expect(big.truncated).toBe(true);
      expect(big.note).toMatch(/writing the copy failed after \d+ bytes.*ENOSPC/);
      expect(big.size).toBeGreaterThan(0);
      expect(big.sha256).toBe(sha(Buffer.alloc(big.size, 0x41)));
      const log = await readLog(b.dir);
      expect(log.some((l) => l.result === "error" && l.error?.includes("ENOSPC"))).toBe(true);
      expect(log.some((l) => l.action === "stop: disk full")).toBe(true);
      expect(log.at(-1)).toMatchObject({ step: "seal" });
      const r = await verifyBundle(b.dir);
      expect(r).toMatchObject({
        intact: true,
        complete: false,
        added: [],
        missing: [],
        changed: [],
      });
      unmount(mnt);
    });

    it("without a reserve, a manifest that cannot be written is reported clearly, nothing deleted", async () => {
      mnt = join(tmp.path, "small");
      await mkdir(mnt);
      mountTmpfs(mnt, "1m");
      const b = await createBundle({
        outDir: mnt,
        host: "web01",
        command: "collect",
        reserveBytes: 0,
      });
      const src = join(tmp.path, "big.log");
      await writeFile(src, Buffer.alloc(2 * 1024 * 1024, 0x41));
      await expect(b.copyFile("big.log", src)).rejects.toMatchObject({ code: "ENOSPC" });
      const e = (await b
        .seal({ complete: false, reason: "disk full" })
        .catch((x: unknown) => x)) as BreachkitError;
      expect(e).toBeInstanceOf(BreachkitError);
      expect(e.message).toMatch(/could not write manifest\.json .*ENOSPC.*NOT sealed/);
      expect(e.hint).toMatch(/nothing was deleted/);
      expect((await readdir(b.dir)).sort()).toEqual(["big.log", LOG_FILE]);
      await expect(verifyBundle(b.dir)).rejects.toThrow(/no manifest\.json/);
      unmount(mnt);
    });
  });
});
