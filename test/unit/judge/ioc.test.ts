import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  iocFromArgs,
  matchAddress,
  matchProcess,
  parseIocFile,
} from "../../../src/judge/ioc/ioc-set.js";
import { cidrContains, isUnspecified, parseCidr, parseIp } from "../../../src/judge/ioc/ip.js";
import { makeProcess } from "../../helpers/snapshot-builder.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/judge/${name}`, import.meta.url), "utf8");

describe("ip", () => {
  it("parses v4, v6, mapped and rejects junk", () => {
    expect(parseIp("203.0.113.5")).not.toBeNull();
    expect(parseIp("2001:db8::1")).not.toBeNull();
    expect(parseIp("::ffff:203.0.113.5")).toEqual(parseIp("203.0.113.5"));
    for (const bad of [
      "256.1.1.1",
      "1.2.3",
      "01.2.3.4",
      "2001:db8:::1",
      "1:2:3:4:5:6:7:8:9",
      "",
      "wate",
    ]) {
      expect(parseIp(bad), bad).toBeNull();
    }
  });
  it("matches CIDR blocks of both families, and IPv4 peers shown as mapped IPv6", () => {
    const c = parseCidr("203.0.113.0/24")!;
    expect(cidrContains(c, parseIp("203.0.113.200")!)).toBe(true);
    expect(cidrContains(c, parseIp("::ffff:203.0.113.7")!)).toBe(true);
    expect(cidrContains(c, parseIp("203.0.114.1")!)).toBe(false);
    const c6 = parseCidr("2001:db8:bad::/48")!;
    expect(cidrContains(c6, parseIp("2001:db8:bad:1::5")!)).toBe(true);
    expect(cidrContains(c6, parseIp("2001:db8:bae::5")!)).toBe(false);
    expect(parseCidr("10.0.0.0/33")).toBeNull();
  });
  it("knows wildcard binds", () => {
    expect(isUnspecified("0.0.0.0")).toBe(true);
    expect(isUnspecified("::")).toBe(true);
    expect(isUnspecified("127.0.0.1")).toBe(false);
  });
});

describe("parseIocFile", () => {
  it("reads every kind, skips comments and blank lines, lower-cases hashes", () => {
    const r = parseIocFile(fixture("iocs.txt"), "iocs.txt");
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.entries.map((e) => e.kind)).toEqual([
      "name",
      "path",
      "sha256",
      "ip",
      "cidr",
      "cidr",
      "regex",
      "regex",
    ]);
    expect(r.value.entries[2]!.value).toBe(
      "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
    );
    expect(r.value.entries[0]!.origin).toBe("iocs.txt:2");
  });
  it("points at the bad line with the file name and why", () => {
    const r = parseIocFile(fixture("iocs-bad-line.txt"), "iocs-bad-line.txt");
    expect(r).toEqual({
      ok: false,
      error: {
        line: 3,
        message: expect.stringContaining("iocs-bad-line.txt:3: a sha256 is 64 hex digits"),
      },
    });
  });
  it.each([
    ["md5:abc", /unknown kind "md5"/],
    ["just words", /expected "kind:value"/],
    ["name:bin/wate", /a name has no "\/"/],
    ["path:tmp/wate", /must be absolute/],
    ["ip:999.1.1.1", /not an IPv4 or IPv6/],
    ["cidr:10.0.0.1", /not a CIDR block/],
    ["regex:/(/", /invalid regex/],
    ["regex:/x/g", /flag "g" is not allowed/],
    ["name:", /needs a value/],
  ])("rejects %s", (line, msg) => {
    const r = parseIocFile(`# header\n${line}\n`, "f");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.line).toBe(2);
      expect(r.error.message).toMatch(msg);
    }
  });
  it("treats CRLF files and hostile bytes sanely", () => {
    const r = parseIocFile("name:wate\r\nname:\u001b[31mred\r\n", "f");
    expect(r.ok && r.value.entries.map((e) => e.value)).toEqual(["wate", "\u001b[31mred"]);
    expect(parseIocFile(`name:${"a".repeat(5000)}`, "f").ok).toBe(false);
  });
});

describe("iocFromArgs", () => {
  it("classifies hashes, addresses, CIDRs, paths and names", () => {
    const r = iocFromArgs([
      "a".repeat(64),
      "203.0.113.5",
      "198.51.100.0/24",
      "/tmp/wate",
      "wate",
      "regex:^x",
    ]);
    expect(r.ok && r.value.entries.map((e) => e.kind)).toEqual([
      "sha256",
      "ip",
      "cidr",
      "path",
      "name",
      "regex",
    ]);
  });
  it("fails with the argument named", () => {
    const r = iocFromArgs(["path:relative"]);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.message).toContain('--ioc "path:relative"');
  });
});

describe("matching", () => {
  const r = parseIocFile(fixture("iocs.txt"), "iocs.txt");
  if (!r.ok) throw new Error(r.error.message);
  const iocs = r.value;
  it("matches a process by path, name, hash and command line", () => {
    const wate = makeProcess({ comm: "wate", exe: { path: "/tmp/wate" } });
    expect(matchProcess(iocs, wate).map((m) => m.field)).toEqual(["exe path", "exe name"]);
    const miner = makeProcess({
      comm: "sys",
      argv: ["/usr/bin/sys", "-o", "stratum+tcp://pool:3333"],
    });
    expect(matchProcess(iocs, miner).map((m) => m.entry.kind)).toEqual(["regex"]);
    const byHash = makeProcess({
      comm: "x",
      exe: {
        path: "/usr/bin/x",
        sha256: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
      },
    });
    expect(matchProcess(iocs, byHash).map((m) => m.field)).toEqual(["sha256"]);
  });
  it("does not match a name as a substring", () => {
    expect(
      matchProcess(iocs, makeProcess({ comm: "water", exe: { path: "/usr/bin/water" } })),
    ).toEqual([]);
  });
  it("matches addresses and blocks", () => {
    expect(matchAddress(iocs, "203.0.113.9")?.kind).toBe("ip");
    expect(matchAddress(iocs, "::ffff:198.51.100.77")?.kind).toBe("cidr");
    expect(matchAddress(iocs, "2001:db8:bad::1")?.kind).toBe("cidr");
    expect(matchAddress(iocs, "203.0.113.10")).toBeNull();
  });
});
