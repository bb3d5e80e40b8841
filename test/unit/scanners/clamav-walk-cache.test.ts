import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { insidePath } from "../../../src/observe/scanners/clamav.js";
import { openScanCache } from "../../../src/observe/scanners/scan-cache.js";
import { virtualMountPoints } from "../../../src/observe/scanners/walk.js";

describe("virtual mounts, paths inside a container, the scan cache", () => {
  it("maps host paths into the container", () => {
    expect(insidePath("/proc/77/root/srv/x", "/proc/77/root")).toBe("/srv/x");
    expect(insidePath("/proc/77/root", "/proc/77/root/")).toBe("/");
    expect(insidePath("/etc/x", "/")).toBe("/etc/x");
  });

  it("lists procfs/sysfs/cgroup mount points from mountinfo, unescaped", () => {
    const mi = [
      "600 500 0:50 / / rw,relatime - overlay overlay rw,lowerdir=/l,upperdir=/u,workdir=/w",
      "601 600 0:53 / /proc rw,nosuid - proc proc rw",
      "602 600 0:54 / /dev rw,nosuid - tmpfs tmpfs rw",
      "603 600 0:55 / /sys ro - sysfs sysfs ro",
      "604 603 0:26 / /sys/fs/cgroup/cpu ro - cgroup cgroup rw,cpu",
      "605 600 0:56 / /data\\040dir rw - proc proc rw",
    ].join("\n");
    expect(virtualMountPoints(mi)).toEqual(["/proc", "/sys", "/sys/fs/cgroup/cpu", "/data dir"]);
  });

  it("remembers clean files by inode and state, per database key", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bk-cache-"));
    try {
      const f = join(dir, "f");
      await writeFile(f, "a");
      const st = await stat(f, { bigint: true });
      const c1 = await openScanCache(dir, "db1");
      expect(c1.isClean(st)).toBe(false);
      c1.markClean(st);
      await c1.save();
      expect((await openScanCache(dir, "db1")).isClean(st)).toBe(true);
      expect((await openScanCache(dir, "db2")).isClean(st)).toBe(false);
      await writeFile(f, "b");
      expect((await openScanCache(dir, "db1")).isClean(await stat(f, { bigint: true }))).toBe(
        false,
      );
      await writeFile(join(dir, "clamav-cache.json"), "{corrupt");
      expect((await openScanCache(dir, "db1")).size).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
