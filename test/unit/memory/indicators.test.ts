import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseIocFile } from "../../../src/judge/ioc/ioc-set.js";
import { IndicatorScanner, indicatorsIocFile } from "../../../src/judge/memory/indicators.js";

/** Random non-text bytes (no printable run can form across them). */
function noise(n: number): Buffer {
  const b = randomBytes(n);
  for (let i = 0; i < n; i++) if (b[i]! >= 0x20 && b[i]! <= 0x7e) b[i] = 0x01;
  return b;
}

function scan(chunks: Buffer[], own: string[] = []) {
  const s = new IndicatorScanner({ ownAddresses: own });
  for (const c of chunks) s.feed(c);
  return s.result();
}

describe("IndicatorScanner", () => {
  it("finds addresses, URLs and domains in ASCII strings among binary bytes", () => {
    const mem = Buffer.concat([
      noise(1000),
      Buffer.from("beacon=http://198.51.100.77:8443/wate/beacon\0", "latin1"),
      noise(300),
      Buffer.from("c2.evil-host.xyz\0", "latin1"),
      noise(300),
      Buffer.from("peer 2a01:4f8:c17:1234::99 ok\0", "latin1"),
    ]);
    const r = scan([mem]);
    expect(r.ips).toEqual(["198.51.100.77", "2a01:4f8:c17:1234::99"]);
    expect(r.urls).toEqual(["http://198.51.100.77:8443/wate/beacon"]);
    expect(r.domains).toEqual(["c2.evil-host.xyz"]);
  });

  it("finds UTF-16LE strings (Windows-style wide strings, Java and .NET heaps)", () => {
    const wide = Buffer.from("connect to 203.0.113.45 now", "utf16le");
    const r = scan([Buffer.concat([noise(100), wide, noise(100)])]);
    expect(r.ips).toEqual(["203.0.113.45"]);
  });

  it("finds a string split across two chunks, ASCII and UTF-16 at an odd offset", () => {
    const text = Buffer.from("xx http://203.0.113.9/payload.sh xx", "latin1");
    const wide = Buffer.from("host evil-c2.example.ru", "utf16le");
    const mem = Buffer.concat([noise(101), text, noise(64), wide, noise(10)]);
    for (const cut of [110, 120, 101 + text.length + 64 + 7, 101 + text.length + 64 + 8]) {
      const r = scan([mem.subarray(0, cut), mem.subarray(cut)]);
      expect(r.urls, `cut at ${cut}`).toEqual(["http://203.0.113.9/payload.sh"]);
      expect(r.domains, `cut at ${cut}`).toEqual(["evil-c2.example.ru"]);
    }
  });

  it("skips zero pages and a mapping boundary ends a string", () => {
    const s = new IndicatorScanner();
    s.feed(Buffer.alloc(256 * 1024));
    s.feed(Buffer.from("http://203.0.1", "latin1"));
    s.boundary();
    s.feed(Buffer.from("13.9/x\0", "latin1"));
    // Only the part before the boundary: the next mapping's bytes do not continue it.
    expect(s.result().urls).toEqual(["http://203.0.1"]);
  });

  it("leaves out loopback, the host's own addresses, versions, library domains and code names", () => {
    const strings = [
      "127.0.0.1:8080",
      "0.0.0.0",
      "::1",
      "fe80::1",
      "10.1.2.3 is mine",
      "versions 1.2.0.2 and 1.2.3.4",
      "https://www.gnu.org/licenses/",
      "logging.info os.link typing.io",
      "ff02::1",
      "2001:db8::1",
      "224.0.0.251",
    ].join("\0");
    const r = scan([Buffer.from(strings, "latin1")], ["10.1.2.3"]);
    expect(r.ips).toEqual([]);
    expect(r.domains).toEqual([]);
    expect(r.urls).toEqual(["https://www.gnu.org/licenses/"]);
  });

  it("bounds what it keeps", () => {
    const many: string[] = [];
    for (let i = 0; i < 6000; i++) many.push(`10.${(i >> 8) & 255}.${i & 255}.7`);
    const r = scan([Buffer.from(many.join("\0"), "latin1")]);
    expect(r.ips.length).toBe(5000);
    expect(r.truncated).toBe(true);
  });

  it("writes an IOC file that breachkit's own IOC parser reads back", () => {
    const r = scan([
      Buffer.from("http://198.51.100.77:8443/wate/beacon\0c2.evil-host.xyz\0", "latin1"),
    ]);
    const text = indicatorsIocFile(r, ["pid 42 (wate)\nforged line"]);
    expect(text.split("\n")[0]).toBe("# pid 42 (wate) forged line");
    const parsed = parseIocFile(text, "42.iocs.txt");
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value.entries.map((e) => `${e.kind}:${e.value}`)).toEqual([
      "ip:198.51.100.77",
      "url:http://198.51.100.77:8443/wate/beacon",
      "domain:c2.evil-host.xyz",
    ]);
  });
});
