import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { captureIdentity, identityMismatch } from "../../../src/act/actions.js";
import { parseStat } from "../../../src/observe/proc/stat.js";

// The test runner's own process stands in for a target: nothing is ever signalled here.
const self = process.pid;
const selfSha = createHash("sha256").update(readFileSync("/proc/self/exe")).digest("hex");
const selfStart = parseStat(readFileSync(`/proc/${self}/stat`, "latin1"))!.starttime;
const SOME_CONTAINER = "c".repeat(64);

describe("pid identity before kill", () => {
  it("never pins down a pid outside the target container, or without a hash", async () => {
    expect(await captureIdentity(self, selfSha, SOME_CONTAINER)).toEqual({
      error: `pid ${self} is no longer in the target container`,
    });
    expect(await captureIdentity(self, null, SOME_CONTAINER)).toEqual({
      error: `pid ${self}: its executable could not be hashed`,
    });
    expect(await captureIdentity(2 ** 22 + 7, selfSha, SOME_CONTAINER)).toEqual({
      error: `pid ${2 ** 22 + 7} is gone`,
    });
  });

  it("catches pid reuse, a vanished process and one that left the container", async () => {
    const id = { pid: self, starttime: selfStart, sha256: selfSha, containerId: SOME_CONTAINER };
    expect(await identityMismatch({ ...id, starttime: selfStart + 1 })).toBe(
      `pid ${self} was reused by another process (start time changed)`,
    );
    expect(await identityMismatch(id)).toBe(`pid ${self} is not in the target container any more`);
    expect(await identityMismatch({ ...id, pid: 2 ** 22 + 7 })).toBe(`pid ${2 ** 22 + 7} is gone`);
  });
});
