import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { tarArchive } from "../../lab/tar.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** Lists and extracts with the system's GNU tar, the independent reader of our archives. */
function withGnuTar(archive: Buffer) {
  const dir = mkdtempSync(join(tmpdir(), "bk-tar-test-"));
  dirs.push(dir);
  const file = join(dir, "a.tar");
  writeFileSync(file, archive);
  return {
    list: () => execFileSync("tar", ["--numeric-owner", "-tvf", file], { encoding: "utf8" }),
    cat: (path: string) => execFileSync("tar", ["-xOf", file, path]),
  };
}

describe("tarArchive", () => {
  const long = `${"d".repeat(80)}/${"e".repeat(60)}/file.txt`;
  const archive = tarArchive(
    [
      { type: "dir", path: "etc", mode: 0o755 },
      {
        type: "file",
        path: "/etc/passwd",
        mode: 0o644,
        data: Buffer.from("root:x:0:0::/root:/bin/sh\n"),
      },
      { type: "dir", path: "tmp", mode: 0o1777 },
      {
        type: "file",
        path: "tmp/wate",
        mode: 0o755,
        uid: 1000,
        gid: 8,
        data: Buffer.alloc(513, 7),
      },
      { type: "symlink", path: "bin/sh", target: "/bin/busybox" },
      { type: "file", path: long, mode: 0o600, data: Buffer.from("deep") },
      { type: "file", path: "empty", mode: 0o600, data: Buffer.alloc(0) },
    ],
    1_700_000_000,
  );

  it("pads to whole blocks and ends with two zero blocks", () => {
    expect(archive.length % 512).toBe(0);
    expect(archive.subarray(-1024).every((b) => b === 0)).toBe(true);
  });

  it("is read back by GNU tar with modes, owners, links and long paths intact", () => {
    const tar = withGnuTar(archive);
    const lines = tar.list().trim().split("\n");
    expect(lines).toHaveLength(7);
    expect(lines[0]).toMatch(/^drwxr-xr-x 0\/0 +0 2023-11-1\d \d\d:\d\d etc\/$/);
    expect(lines[2]).toMatch(/^drwxrwxrwt 0\/0 .* tmp\/$/);
    expect(lines[3]).toMatch(/^-rwxr-xr-x 1000\/8 +513 .* tmp\/wate$/);
    expect(lines[4]).toMatch(/^lrwxrwxrwx 0\/0 .* bin\/sh -> \/bin\/busybox$/);
    expect(lines[5]).toContain(long);
    expect(tar.cat("etc/passwd").toString()).toBe("root:x:0:0::/root:/bin/sh\n");
    expect(tar.cat(long).toString()).toBe("deep");
    expect(tar.cat("tmp/wate").equals(Buffer.alloc(513, 7))).toBe(true);
  });

  it("is byte-identical for the same input (the image cache key depends on it)", () => {
    const a = tarArchive([{ type: "dir", path: "x", mode: 0o755 }], 5);
    const b = tarArchive([{ type: "dir", path: "x", mode: 0o755 }], 5);
    expect(a.equals(b)).toBe(true);
    expect(a.equals(tarArchive([{ type: "dir", path: "x", mode: 0o755 }], 6))).toBe(false);
  });

  it("refuses paths that climb out, empty paths and names that do not fit", () => {
    const f = (path: string) => () =>
      tarArchive([{ type: "file", path, mode: 0o644, data: Buffer.alloc(0) }]);
    expect(f("../etc/passwd")).toThrow(/unsafe/);
    expect(f("a/../../b")).toThrow(/unsafe/);
    expect(f("/")).toThrow(/unsafe/);
    expect(f("x".repeat(300))).toThrow(/too long/);
    expect(() =>
      tarArchive([{ type: "symlink", path: "l", target: `/${"t".repeat(120)}` }]),
    ).toThrow(/too long/);
  });
});
