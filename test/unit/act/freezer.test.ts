import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  freezerLocation,
  freezerStateFile,
  parseCgroupEvents,
  parseFreezerState,
  readFreezerState,
} from "../../../src/act/freezer.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/act/${name}`, import.meta.url), "utf8");
const ID = "eb8df69316b54e3f86f2ac7a4f312e084d7d7c9132696af8e76e3b1d86a1fa99";

describe("freezer", () => {
  it("finds the v1 freezer hierarchy of a paused container (recorded), over the hybrid 0:: line", () => {
    const loc = freezerLocation(fixture("cgroup-v1-paused-container.txt"));
    expect(loc).toEqual({ version: 1, path: `/docker/${ID}` });
    expect(freezerStateFile(loc!)).toBe(`/sys/fs/cgroup/freezer/docker/${ID}/freezer.state`);
  });

  it("falls back to cgroup v2's cgroup.events", () => {
    const loc = freezerLocation(`0::/system.slice/docker-${ID}.scope\n`);
    expect(loc).toEqual({ version: 2, path: `/system.slice/docker-${ID}.scope` });
    expect(freezerStateFile(loc!, "/cg")).toBe(`/cg/system.slice/docker-${ID}.scope/cgroup.events`);
    expect(freezerStateFile({ version: 2, path: "/" }, "/cg")).toBe("/cg/cgroup.events");
  });

  it("reads the recorded states", () => {
    expect(parseFreezerState(fixture("freezer.state-frozen"))).toBe("frozen");
    expect(parseFreezerState(fixture("freezer.state-thawed"))).toBe("thawed");
    expect(parseFreezerState("FREEZING\n")).toBe("freezing");
    expect(parseCgroupEvents(fixture("cgroup.events-v2-frozen"))).toBe("frozen");
    expect(parseCgroupEvents("populated 1\nfrozen 0\n")).toBe("thawed");
  });

  it("refuses truncated, garbled and hostile input", () => {
    expect(parseFreezerState("")).toBeNull();
    expect(parseFreezerState("FROZ")).toBeNull();
    expect(parseFreezerState("FROZEN\u001b[2J")).toBeNull();
    expect(parseCgroupEvents("populated 1\n")).toBeNull();
    expect(parseCgroupEvents("frozen 2\n")).toBeNull();
    expect(freezerLocation("")).toBeNull();
    expect(freezerLocation("garbage without colons")).toBeNull();
    // A path that climbs out of the cgroup filesystem is never turned into a file name.
    expect(freezerLocation("6:freezer:/docker/../../../etc\n")).toBeNull();
    expect(freezerLocation("6:freezer:relative/path\n")).toBeNull();
  });

  it("reads the live state of this process: not frozen", async () => {
    const state = await readFreezerState(process.pid);
    expect(state === null || state === "thawed").toBe(true);
    expect(await readFreezerState(2 ** 22 + 1)).toBeNull();
  });
});
