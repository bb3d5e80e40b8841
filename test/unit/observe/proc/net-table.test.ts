import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  formatIpv6,
  hexToIpv4,
  hexToIpv6,
  type NetProto,
  parseNetTable,
} from "../../../../src/observe/proc/net-table.js";

const real = (name: string) =>
  readFileSync(new URL(`../../../fixtures/proc/real/${name}`, import.meta.url), "utf8");
const table = (ns: "host" | "container", proto: NetProto) =>
  parseNetTable(real(`net-${ns}-${proto}`), proto);

describe("address decoding", () => {
  it("decodes IPv4 words printed in host (little-endian) order", () => {
    expect(hexToIpv4("0100007F")).toBe("127.0.0.1");
    expect(hexToIpv4("020200C0")).toBe("192.0.2.2");
    expect(hexToIpv4("00000000")).toBe("0.0.0.0");
    expect(hexToIpv4("0100007")).toBeNull();
    expect(hexToIpv4("0100007G")).toBeNull();
  });

  it("decodes IPv6 as four little-endian words into canonical text", () => {
    expect(hexToIpv6("00000000000000000000000001000000")).toBe("::1");
    expect(hexToIpv6("00000000000000000000000000000000")).toBe("::");
    expect(hexToIpv6("0000000000000000FFFF00000100007F")).toBe("::ffff:127.0.0.1");
    // fe80::1234:5678:9abc:def0 as the kernel prints it.
    expect(hexToIpv6("000080FE0000000078563412F0DEBC9A")).toBe("fe80::1234:5678:9abc:def0");
    expect(hexToIpv6("B80D0120000000000000000001000000")).toBe("2001:db8::1");
    expect(hexToIpv6("00000000000000000000000001")).toBeNull();
  });

  it("compresses the longest zero run, the first on ties, and never a single group", () => {
    const b = (groups: number[]) => groups.flatMap((g) => [g >> 8, g & 0xff]);
    expect(formatIpv6(b([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]))).toBe("2001:db8::1:0:0:1");
    expect(formatIpv6(b([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]))).toBe("2001:db8:0:1:1:1:1:1");
    expect(formatIpv6(b([1, 0, 0, 0, 0, 0, 0, 0]))).toBe("1::");
    expect(formatIpv6(b([0, 0, 1, 0, 0, 0, 1, 0]))).toBe("0:0:1::1:0");
  });
});

describe("parseNetTable on recorded tables", () => {
  it("reads the container's listening TCP socket", () => {
    expect(table("container", "tcp")).toEqual([
      {
        proto: "tcp",
        localAddress: "127.0.0.1",
        localPort: 8080,
        remoteAddress: "0.0.0.0",
        remotePort: 0,
        state: "LISTEN",
        txQueue: 0,
        rxQueue: 0,
        uid: 0,
        inode: 134913,
      },
    ]);
    expect(table("container", "udp")).toEqual([]);
  });

  it("reads listening, established and TIME_WAIT TCP sockets of the host", () => {
    const tcp = table("host", "tcp");
    expect(tcp.map((s) => [s.localPort, s.state, s.inode])).toEqual([
      [2024, "LISTEN", 1678],
      [34552, "ESTABLISHED", 152111],
      [47740, "TIME_WAIT", 0],
    ]);
    expect(tcp[2]).toMatchObject({ localAddress: "192.0.2.2", remoteAddress: "203.0.113.80" });
  });

  it("reads tcp6: ::, ::1 and a v4-mapped connection", () => {
    const tcp6 = table("host", "tcp6");
    expect(tcp6.map((s) => `${s.localAddress}:${s.localPort} ${s.state}`)).toEqual([
      ":::47012 LISTEN",
      "::1:47011 LISTEN",
      "::ffff:127.0.0.1:47012 ESTABLISHED",
    ]);
    expect(tcp6[2]).toMatchObject({ remoteAddress: "::ffff:127.0.0.1", remotePort: 34552 });
  });

  it("reads UDP: unbound (CLOSE) with a receive queue, and connected (ESTABLISHED)", () => {
    const udp = table("host", "udp");
    expect(udp[0]).toMatchObject({ localPort: 47013, state: "CLOSE", rxQueue: 0x340 });
    expect(udp[1]).toMatchObject({ remotePort: 47013, state: "ESTABLISHED" });
    expect(table("host", "udp6")[0]).toMatchObject({ localAddress: "::1", state: "ESTABLISHED" });
  });

  it("reads raw sockets, whose port is the IP protocol", () => {
    expect(table("host", "raw")[0]).toMatchObject({ localPort: 1, state: "CLOSE" });
    expect(table("host", "raw6")[0]).toMatchObject({ localPort: 58, localAddress: "::" });
  });
});

describe("parseNetTable on broken input", () => {
  const text = real("net-host-tcp");
  it("skips a truncated last line and keeps the others", () => {
    const cut = text.slice(0, text.lastIndexOf("\n", text.length - 2) + 30);
    expect(parseNetTable(cut, "tcp").map((s) => s.inode)).toEqual([1678, 152111]);
  });

  it("survives garbage, wrong widths and hostile bytes", () => {
    const garbage = [
      "   9: 0100007F:1F90 00000000:0000 ZZ 00000000:00000000 00:00000000 00000000 0 0 5",
      "  10: 0100007F:1F9 00000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 5",
      "  11: 0100007F:1F90 00000000:0000 0A 0000:00000000 00:00000000 00000000 0 0 5",
      "  12: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000 x 0 5",
      "\u001b[31m<script>alert(1)</script>\u0000",
      "",
    ].join("\n");
    expect(parseNetTable(garbage, "tcp")).toEqual([]);
    expect(parseNetTable(real("net-host-tcp6"), "tcp")).toEqual([]);
  });

  it("names unknown state codes without failing", () => {
    const line =
      "   0: 0100007F:1F90 00000000:0000 1F 00000000:00000000 00:00000000 00000000 0 0 7";
    expect(parseNetTable(line, "tcp")[0]?.state).toBe("UNKNOWN(1F)");
  });
});
