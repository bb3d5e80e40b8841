import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseNetDev } from "../../../../src/observe/proc/net-dev.js";

const real = (name: string) =>
  readFileSync(new URL(`../../../fixtures/proc/real/${name}`, import.meta.url), "utf8");

describe("parseNetDev", () => {
  it("reads every interface of the recorded host namespace", () => {
    const ifs = parseNetDev(real("net-host-dev"));
    expect(ifs.map((i) => i.name)).toEqual(["lo", "ifb0", "ifb1", "eth0", "docker0"]);
    expect(ifs[0]).toEqual({
      name: "lo",
      rxBytes: 4837003,
      rxPackets: 45633,
      rxErrors: 0,
      rxDrops: 0,
      txBytes: 4837003,
      txPackets: 45633,
      txErrors: 0,
      txDrops: 0,
    });
    expect(ifs[3]).toMatchObject({ rxBytes: 291459241, txPackets: 4097 });
    expect(ifs[4]).toMatchObject({ txDrops: 2 });
  });

  it("reads a --network none container: loopback only", () => {
    expect(parseNetDev(real("net-container-dev")).map((i) => i.name)).toEqual(["lo"]);
  });

  it("splits a long name glued to its first counter", () => {
    const line =
      "veth1234567890a:123456789012    7    1    2    0     0          0         0  99  8    3    4    0     0       0          0";
    expect(parseNetDev(line)[0]).toMatchObject({
      name: "veth1234567890a",
      rxBytes: 123456789012,
      rxErrors: 1,
      rxDrops: 2,
      txBytes: 99,
      txPackets: 8,
      txErrors: 3,
      txDrops: 4,
    });
  });

  it("skips headers, truncated lines and garbage", () => {
    const text = real("net-host-dev");
    const truncated = text.slice(0, text.indexOf("docker0:") + 20);
    expect(parseNetDev(truncated).map((i) => i.name)).toEqual(["lo", "ifb0", "ifb1", "eth0"]);
    expect(parseNetDev("eth0: 1 2 x 4 5 6 7 8 9 10 11 12 13 14 15 16\n<b>: \u001b[2J")).toEqual([]);
  });
});
