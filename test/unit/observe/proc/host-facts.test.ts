import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  parseAuxvClockTicks,
  parseBootTimeMs,
  parseCpuCount,
  parseMemTotalBytes,
  parseProcUptime,
  readHostFacts,
} from "../../../../src/observe/proc/host-facts.js";

const real = (name: string) =>
  readFileSync(new URL(`../../../fixtures/proc/real/${name}`, import.meta.url));

describe("host fact parsers on recorded files", () => {
  it("reads uptime, btime, CPUs and memory", () => {
    const up = parseProcUptime(real("uptime").toString());
    expect(up?.uptime).toBeGreaterThan(0);
    const stat = real("stat").toString();
    expect(parseBootTimeMs(stat)).toBe(1795574207000);
    expect(parseCpuCount(stat)).toBe(2);
    expect(parseMemTotalBytes(real("meminfo").toString())).toBe(24684084 * 1024);
  });

  it("reads AT_CLKTCK from a recorded x86_64 auxv", () => {
    expect(parseAuxvClockTicks(real("auxv-x86_64"), 8)).toBe(100);
  });

  it("returns null on truncated or garbage input", () => {
    expect(parseProcUptime("12.5")).toBeNull();
    expect(parseBootTimeMs("cpu 1 2 3\nbtime abc\n")).toBeNull();
    expect(parseCpuCount("cpu  1 2 3\n")).toBeNull();
    expect(parseMemTotalBytes("MemFree: 1 kB")).toBeNull();
    expect(parseAuxvClockTicks(real("auxv-x86_64").subarray(0, 20), 8)).toBeNull();
    expect(parseAuxvClockTicks(new Uint8Array([17, 0, 0, 0, 0, 0, 0, 0]), 8)).toBeNull();
  });

  it("finds AT_CLKTCK in a 32-bit vector and rejects absurd values", () => {
    const v32 = new Uint8Array(new Uint32Array([6, 4096, 17, 250, 0, 0]).buffer);
    expect(parseAuxvClockTicks(v32, 4)).toBe(250);
    const bad = new Uint8Array(new Uint32Array([17, 0, 0, 0]).buffer);
    expect(parseAuxvClockTicks(bad, 4)).toBeNull();
  });
});

describe("readHostFacts", () => {
  const dir = mkdtempSync(join(tmpdir(), "bk-hostfacts-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("reads a proc tree and reports what is missing as gaps", async () => {
    mkdirSync(join(dir, "sys/kernel"), { recursive: true });
    writeFileSync(join(dir, "sys/kernel/hostname"), "web-1\n");
    writeFileSync(join(dir, "stat"), real("stat"));
    const { host, bootTimeMs, gaps } = await readHostFacts(dir);
    expect(host).toEqual({
      hostname: "web-1",
      kernel: "",
      bootTime: "2026-11-25T02:36:47.000Z",
      cpus: 2,
      memTotalBytes: null,
      clockTicks: 100,
    });
    expect(bootTimeMs).toBe(1795574207000);
    expect(gaps.map((g) => g.source).sort()).toEqual([
      join(dir, "meminfo"),
      join(dir, "sys/kernel/osrelease"),
    ]);
  });
});
