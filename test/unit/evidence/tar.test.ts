import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseNumber, TarFormatError, TarParser } from "../../../src/evidence/tar.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/evidence/${name}`, import.meta.url));

interface Parsed {
  path: string;
  type: string;
  linkName: string;
  size: number;
  sha256: string;
}

/** Feed the parser in chunks of `step` bytes (to cross every block boundary) and collect entries. */
function parse(bytes: Uint8Array, step: number): Parsed[] {
  const p = new TarParser();
  const out: Parsed[] = [];
  let cur: { h: Parsed; hash: ReturnType<typeof createHash> } | null = null;
  for (let i = 0; i < bytes.length; i += step) {
    for (const ev of p.push(bytes.subarray(i, i + step))) {
      if (ev.kind === "entry") {
        cur = {
          h: { ...ev.header, sha256: "" },
          hash: createHash("sha256"),
        };
      } else if (ev.kind === "data") cur!.hash.update(ev.bytes);
      else {
        cur!.h.sha256 = cur!.hash.digest("hex");
        out.push(cur!.h);
        cur = null;
      }
    }
  }
  p.end();
  return out;
}

const LONG = `b/sub/${"x".repeat(150)}.log`;
const SHA = {
  a: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
  rand: "63b7b3fb17b82b0805fcd5765b2b1b22b6db560429fdfffae90e0509b1b7fe87",
  long: "bbdbb75b415ee9a40f0b3796a8b41a0b7723afe5726b870474ad220a4886d06d",
  esc: "85f46fd23177bd762bfd54b2ae8e591fd0ba622c66684147e7252b55a330407c",
  deep: "64896f89fd11190013b70103e603a1c5826e56b7fb7d2197ab279b0690043599",
};

describe("TarParser on archives written by GNU tar 1.34", () => {
  for (const format of ["gnu", "pax"]) {
    for (const step of [1, 7, 512, 100_000]) {
      it(`${format} format, fed ${step} bytes at a time`, () => {
        const entries = parse(fixture(`${format}.tar`), step);
        const files = entries.filter((e) => e.type === "file");
        expect(files.map((f) => [f.path, f.size, f.sha256])).toEqual([
          ["b/a.txt", 6, SHA.a],
          ["b/sub/na me.txt", 9, SHA.esc],
          ["b/sub/rand.bin", 1500, SHA.rand],
          [LONG, 5, SHA.long],
        ]);
        expect(entries.find((e) => e.type === "symlink")).toMatchObject({
          path: "b/link",
          linkName: "/etc/passwd",
          size: 0,
        });
        expect(entries.filter((e) => e.type === "directory").map((e) => e.path)).toEqual([
          "b/",
          "b/sub/",
        ]);
      });
    }
  }

  it("ustar format joins prefix and name", () => {
    const files = parse(fixture("ustar.tar"), 333).filter((e) => e.type === "file");
    expect(files.map((f) => [f.path, f.sha256])).toEqual([
      ["b/a.txt", SHA.a],
      [`b/${"d".repeat(60)}/${"e".repeat(60)}/f.txt`, SHA.deep],
    ]);
  });

  it("reports a truncated archive at every cut point", () => {
    const tar = fixture("gnu.tar");
    // Before the end-of-archive blocks: inside a header, inside data, inside padding.
    for (const cut of [0, 100, 512, 700, 1024 + 3, 3000, 4500]) {
      expect(() => parse(tar.subarray(0, cut), 64), `cut at ${cut}`).toThrow(TarFormatError);
    }
  });

  it("rejects bytes that are not a tar header", () => {
    const junk = Buffer.alloc(1024, 0x41);
    expect(() => parse(junk, 512)).toThrow(/not a tar header/);
    const corrupt = Buffer.from(fixture("gnu.tar"));
    corrupt[10] = corrupt[10]! ^ 0xff; // inside the first header's name: checksum no longer matches
    expect(() => parse(corrupt, 512)).toThrow(/bad checksum/);
  });

  it("reads octal and base-256 sizes", () => {
    expect(parseNumber(Buffer.from("00000001750\0"))).toBe(1000);
    const big = Buffer.alloc(12);
    big[0] = 0x80;
    big.writeUIntBE(16 * 2 ** 30, 6, 6); // 16 GiB
    expect(parseNumber(big)).toBe(16 * 2 ** 30);
    expect(() => parseNumber(Buffer.from("12x4\0"))).toThrow(TarFormatError);
  });
});
