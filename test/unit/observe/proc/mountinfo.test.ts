import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  parseMountinfoLine,
  unescapeMountinfo,
  upperDirFromMountinfo,
} from "../../../../src/observe/proc/mountinfo.js";

const fixture = (rel: string) =>
  readFileSync(new URL(`../../../fixtures/proc/${rel}`, import.meta.url), "utf8");

describe("upperDirFromMountinfo", () => {
  it("finds the writable layer of a recorded Docker container", () => {
    expect(upperDirFromMountinfo(fixture("real/mountinfo-container"))).toMatch(
      /^\/var\/lib\/docker\/overlay2\/[0-9a-f]{64}\/diff$/,
    );
  });

  it("returns null on the host, whose root is not an overlay", () => {
    expect(upperDirFromMountinfo(fixture("real/mountinfo-host"))).toBeNull();
  });

  it("takes the last mount on '/', and unescapes space, comma and newline", () => {
    expect(upperDirFromMountinfo(fixture("hand/mountinfo-hostile"))).toBe(
      "/var/lib/docker/my layer,x\ny/diff",
    );
  });

  it("returns null for empty and garbage input", () => {
    expect(upperDirFromMountinfo("")).toBeNull();
    expect(upperDirFromMountinfo("1 2 3 4 / - overlay\n\u001b[0m")).toBeNull();
  });
});

describe("parseMountinfoLine", () => {
  it("handles optional fields before the separator", () => {
    const e = parseMountinfoLine(
      "36 35 98:0 /mnt1 /mnt\\0402 rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue",
    );
    expect(e).toEqual({
      mountId: 36,
      parentId: 35,
      root: "/mnt1",
      mountPoint: "/mnt 2",
      fsType: "ext3",
      source: "/dev/root",
      superOptions: "rw,errors=continue",
    });
    expect(unescapeMountinfo("a\\134b\\011c")).toBe("a\\b\tc");
  });
});
