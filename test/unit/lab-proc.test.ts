import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseLoopbackPackets, parseProcStat } from "../../lab/lab-proc.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../fixtures/lab/${name}`, import.meta.url), "utf8");

describe("parseProcStat", () => {
  it("reads state, ppid and start time of a real wate process", () => {
    expect(parseProcStat(fixture("wate-stat.txt"))).toEqual({
      state: "S",
      ppid: 24877,
      starttime: 87527,
    });
  });

  it("is not fooled by a command name holding spaces and parentheses", () => {
    const real = fixture("wate-stat.txt");
    const hostile = real.replace("(wate)", "(x) Z 1 2 3 (y)");
    expect(parseProcStat(hostile)).toEqual({ state: "S", ppid: 24877, starttime: 87527 });
  });

  it("returns null for truncated or corrupt input", () => {
    const real = fixture("wate-stat.txt");
    expect(parseProcStat(real.slice(0, 60))).toBeNull();
    expect(parseProcStat("")).toBeNull();
    expect(parseProcStat("24906 wate S 1 2 3")).toBeNull();
    expect(parseProcStat(real.replace(") S ", ") SS "))).toBeNull();
    expect(parseProcStat(real.replace(" 87527 ", " -5 "))).toBeNull();
  });
});

describe("parseLoopbackPackets", () => {
  it("reads the loopback counters of a real container namespace", () => {
    expect(parseLoopbackPackets(fixture("wate-net-dev.txt"))).toEqual({
      rxPackets: 1100,
      txPackets: 1100,
    });
  });

  it("finds lo among other interfaces and ignores look-alikes", () => {
    const text = [
      "Inter-|   Receive |  Transmit",
      " face |bytes packets errs drop fifo frame compressed multicast|bytes packets errs",
      "  lo0: 1 2 0 0 0 0 0 0 3 4 0 0 0 0 0 0",
      "  eth0: 10 20 0 0 0 0 0 0 30 40 0 0 0 0 0 0",
      "    lo: 100 200 0 0 0 0 0 0 300 400 0 0 0 0 0 0",
    ].join("\n");
    expect(parseLoopbackPackets(text)).toEqual({ rxPackets: 200, txPackets: 400 });
  });

  it("returns null when lo is missing or its line is cut short", () => {
    const real = fixture("wate-net-dev.txt");
    expect(parseLoopbackPackets(real.replace("lo:", "eth0:"))).toBeNull();
    expect(parseLoopbackPackets(real.slice(0, real.indexOf("lo:") + 20))).toBeNull();
    expect(parseLoopbackPackets("")).toBeNull();
  });
});
