import { createHash } from "node:crypto";
import { appendFile, mkdir, readFile, rm, symlink, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { archiveBundle } from "../../../src/evidence/archive.js";
import type { Manifest } from "../../../src/evidence/types.js";
import { verifyBundle } from "../../../src/evidence/verify.js";
import { BreachkitError } from "../../../src/util/errors.js";
import { makeSealedBundle, makeTar, tempDir } from "../../helpers/evidence.js";

let tmp: Awaited<ReturnType<typeof tempDir>>;
let dir: string;
beforeEach(async () => {
  tmp = await tempDir();
  dir = await makeSealedBundle(tmp.path);
});
afterEach(async () => {
  await tmp.cleanup();
});

const LOG = "containers/bk-lab-gitlab/abc-json.log";
const sha = (b: string | Uint8Array) => createHash("sha256").update(b).digest("hex");

async function flipByte(path: string, at: number): Promise<void> {
  const b = await readFile(path);
  b[at] = b[at]! ^ 0x01;
  await writeFile(path, b);
}

async function rewriteManifest(change: (m: Manifest) => void, reseal: boolean): Promise<void> {
  const m = JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as Manifest;
  change(m);
  const bytes = `${JSON.stringify(m, null, 2)}\n`;
  await writeFile(join(dir, "manifest.json"), bytes);
  if (reseal) await writeFile(join(dir, "SEAL"), `${sha(bytes)}\n`);
}

async function unreadable(p: string): Promise<BreachkitError> {
  const e = await verifyBundle(p).catch((x: unknown) => x);
  expect(e).toBeInstanceOf(BreachkitError);
  return e as BreachkitError;
}

describe("verifyBundle on a directory", () => {
  it("an untouched bundle is intact and sealed, with its metadata", async () => {
    const r = await verifyBundle(dir);
    expect(r).toMatchObject({
      kind: "directory",
      intact: true,
      seal: "ok",
      complete: true,
      incompleteReason: null,
      host: "web01",
      command: "collect --test",
      tool: { name: "breachkit" },
      files: 4,
      changed: [],
      missing: [],
      added: [],
      archiveSha256: null,
    });
    expect(r.manifestSha256).toBe(sha(await readFile(join(dir, "manifest.json"))));
    expect(r.sealedSha256).toBe(r.manifestSha256);
  });

  it("one flipped byte names the file", async () => {
    await flipByte(join(dir, LOG), 3);
    const r = await verifyBundle(dir);
    expect(r.intact).toBe(false);
    expect(r.changed).toEqual([expect.objectContaining({ path: LOG, problem: "content differs" })]);
    expect(r.changed[0]!.expected!.sha256).not.toBe(r.changed[0]!.actual!.sha256);
    expect(r.missing).toEqual([]);
    expect(r.added).toEqual([]);
  });

  it("a file grown by one byte is a size change", async () => {
    await appendFile(join(dir, "host/etc/passwd"), "x");
    const r = await verifyBundle(dir);
    expect(r.changed).toEqual([
      expect.objectContaining({ path: "host/etc/passwd", problem: "size differs" }),
    ]);
  });

  it("a deleted file is missing", async () => {
    await rm(join(dir, "snapshot.json"));
    const r = await verifyBundle(dir);
    expect(r).toMatchObject({ intact: false, missing: ["snapshot.json"], changed: [], added: [] });
  });

  it("an added file, anywhere, is named; so is a symlink put in place of a file", async () => {
    await writeFile(join(dir, "containers/bk-lab-gitlab/planted.sh"), "#!/bin/sh\n");
    await mkdir(join(dir, "new"));
    await writeFile(join(dir, "new/x\nname"), "");
    await rm(join(dir, "host/etc/passwd"));
    await symlink("/etc/passwd", join(dir, "host/etc/passwd"));
    const r = await verifyBundle(dir);
    expect(r.intact).toBe(false);
    expect(r.added).toEqual(["containers/bk-lab-gitlab/planted.sh", "new/x\nname"]);
    expect(r.changed).toEqual([
      { path: "host/etc/passwd", problem: "not a regular file (a symbolic link)" },
    ]);
  });

  it("a changed SEAL, or no SEAL, fails", async () => {
    await writeFile(join(dir, "SEAL"), `${"0".repeat(64)}\n`);
    expect(await verifyBundle(dir)).toMatchObject({ intact: false, seal: "mismatch", changed: [] });
    await rm(join(dir, "SEAL"));
    expect(await verifyBundle(dir)).toMatchObject({
      intact: false,
      seal: "missing",
      sealedSha256: null,
    });
  });

  it("a changed manifest fails against SEAL, even when the files still match it", async () => {
    await rewriteManifest((m) => {
      m.complete = false;
    }, false);
    const r = await verifyBundle(dir);
    expect(r).toMatchObject({
      intact: false,
      seal: "mismatch",
      changed: [],
      missing: [],
      added: [],
    });
  });

  it("a file and its manifest line changed together still fail on SEAL", async () => {
    await writeFile(join(dir, LOG), "forged\n");
    await rewriteManifest((m) => {
      const f = m.files.find((x) => x.path === LOG)!;
      f.sha256 = sha("forged\n");
      f.size = 7;
    }, false);
    expect(await verifyBundle(dir)).toMatchObject({ intact: false, seal: "mismatch", changed: [] });
  });

  it("a resealed manifest listing an unsafe path is not intact and the path is never read", async () => {
    await rewriteManifest((m) => {
      m.files.push({ ...m.files[0]!, path: "../../../etc/shadow" });
    }, true);
    const r = await verifyBundle(dir);
    expect(r.seal).toBe("ok");
    expect(r.intact).toBe(false);
    expect(r.changed).toEqual([
      { path: "../../../etc/shadow", problem: 'the manifest lists an unsafe path (".." in path)' },
    ]);
  });

  it("a bundle sealed incomplete verifies as intact but incomplete, with the reason", async () => {
    const inc = await makeSealedBundle(join(tmp.path, "inc"), {
      complete: false,
      reason: "SIGTERM",
    });
    expect(await verifyBundle(inc)).toMatchObject({
      intact: true,
      complete: false,
      incompleteReason: "SIGTERM",
    });
  });

  it("a corrupt or invalid manifest makes the bundle unreadable", async () => {
    await writeFile(join(dir, "manifest.json"), '{"format": "breachkit-bundle", ');
    expect((await unreadable(dir)).message).toMatch(
      /manifest\.json is corrupt: it is not valid JSON/,
    );
    await writeFile(join(dir, "manifest.json"), '{"format": "something-else"}');
    expect((await unreadable(dir)).message).toMatch(/manifest\.json is corrupt: format/);
  });

  it("a directory without manifest is not a bundle; a leftover log says it was killed", async () => {
    await rm(join(dir, "manifest.json"));
    const e = await unreadable(dir);
    expect(e.message).toMatch(/no manifest\.json/);
    expect(e.hint).toMatch(/killed before it could seal/);
    const empty = join(tmp.path, "empty");
    await mkdir(empty);
    expect((await unreadable(empty)).hint).toMatch(/bundle directory/);
    expect((await unreadable(join(tmp.path, "nope"))).code).toBe("NOT_FOUND");
  });
});

describe("verifyBundle on an archive", () => {
  it("archiveBundle packs next to the directory; the archive verifies with the same hash", async () => {
    const a = await archiveBundle(dir);
    expect(a.path).toBe(`${dir}.tar.gz`);
    expect(a.sha256).toBe(sha(await readFile(a.path)));
    const r = await verifyBundle(a.path);
    expect(r).toMatchObject({
      kind: "archive",
      intact: true,
      seal: "ok",
      files: 4,
      archiveSha256: a.sha256,
    });
    await expect(archiveBundle(dir)).rejects.toThrow(/already exists/);
  });

  it("a changed, missing or added file inside the archive is named", async () => {
    await flipByte(join(dir, LOG), 0);
    await rm(join(dir, "snapshot.json"));
    await writeFile(join(dir, "extra.txt"), "x");
    const r = await verifyBundle((await archiveBundle(dir)).path);
    expect(r).toMatchObject({
      intact: false,
      missing: ["snapshot.json"],
      added: ["extra.txt"],
      changed: [expect.objectContaining({ path: LOG, problem: "content differs" })],
    });
  });

  it("a truncated archive is unreadable, with what to do", async () => {
    const a = await archiveBundle(dir);
    const size = (await readFile(a.path)).length;
    await truncate(a.path, Math.floor(size / 2));
    const e = await unreadable(a.path);
    expect(e.message).toMatch(/corrupt or truncated/);
    expect(e.hint).toMatch(/SHA-256/);
  });

  it("a gzip whose tar stops early is truncated, not intact-but-short", async () => {
    const tar = makeTar([{ name: "b/manifest.json", data: "{}" }]);
    const p = join(tmp.path, "short.tar.gz");
    await writeFile(p, gzipSync(tar.subarray(0, 512 + 100)));
    expect((await unreadable(p)).message).toMatch(/truncated/);
  });

  it("refuses entries with .. or absolute paths, without extracting anything", async () => {
    for (const name of ["b/../../etc/cron.d/x", "/etc/cron.d/x"]) {
      const p = join(tmp.path, "evil.tar.gz");
      await writeFile(
        p,
        gzipSync(
          makeTar([
            { name: "b/", typeflag: "5" },
            { name, data: "* * * * * root id\n" },
          ]),
        ),
      );
      expect((await unreadable(p)).message).toMatch(/unsafe entry/);
    }
  });

  it("reports links inside an archive instead of following them", async () => {
    const dirName = dir.split("/").at(-1)!;
    const a = await archiveBundle(dir);
    // The same archive with a symlink appended before its end-of-archive blocks.
    const tar = gunzipSync(await readFile(a.path));
    const body = tar.subarray(0, findEnd(tar));
    const link = makeTar([{ name: `${dirName}/evil`, typeflag: "2", linkName: "/etc/shadow" }]);
    const p = join(tmp.path, "link.tar.gz");
    await writeFile(p, gzipSync(Buffer.concat([body, link])));
    const r = await verifyBundle(p);
    expect(r).toMatchObject({ intact: false, added: ["evil"], changed: [], missing: [] });
  });

  it("a file that is not gzip is unreadable", async () => {
    const p = join(tmp.path, "x.tar.gz");
    await writeFile(p, "not an archive");
    expect((await unreadable(p)).message).toMatch(/not a \.tar\.gz/);
  });
});

/** Offset of the end-of-archive marker (first all-zero header block) in an uncompressed tar. */
function findEnd(tar: Buffer): number {
  let off = 0;
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((b) => b === 0)) return off;
    const size = Number.parseInt(
      h.subarray(124, 136).toString("latin1").replace(/\0.*$/, "").trim() || "0",
      8,
    );
    off += 512 + Math.ceil(size / 512) * 512;
  }
  return off;
}
