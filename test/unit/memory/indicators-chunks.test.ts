import { describe, expect, it } from "vitest";
import { AnchorFilter, anchorBuffers, bufferViews } from "../../../src/judge/memory/anchors.js";
import { IndicatorScanner } from "../../../src/judge/memory/indicators.js";

/** A small seeded generator (mulberry32): the same bytes every run. */
function rng(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

const WORDS = [
  "http://evil.example.ru/x",
  "10.1.2.3",
  "c2.bad-host.xyz",
  "2a01:4f8::12",
  "tcp://198.51.100.4:4444",
  "www.test.it",
  "ftp://x.y.com/",
  "stratum+tcp://pool.minexmr.com:4444",
  "203.0.113.99",
];

/**
 * Memory-like bytes: random binary, zeros, ASCII and UTF-16LE strings that hold indicators,
 * and long printable runs (under the 2,048-character bound, so any chunking reads each run
 * whole).
 */
function memory(r: (n: number) => number): Buffer {
  const parts: Buffer[] = [];
  for (let k = 0; k < 300; k++) {
    const c = r(12);
    const word = WORDS[r(WORDS.length)]!;
    if (c < 4) parts.push(Buffer.from(Array.from({ length: 1 + r(3000) }, () => r(256))));
    else if (c < 7) parts.push(Buffer.from(`${word}${r(2) ? "\0" : "."}`, "latin1"));
    else if (c < 9) parts.push(Buffer.from(`${word}\0`, "utf16le"));
    else if (c < 10)
      parts.push(Buffer.from(`${"a".repeat(r(1500))} ${word} ${"b".repeat(r(400))}`));
    else if (c < 11) parts.push(Buffer.from(`${"w".repeat(r(1000))} ${word}`, "utf16le"));
    else parts.push(Buffer.alloc(1 + r(9000)));
  }
  return Buffer.concat(parts);
}

describe("IndicatorScanner: any chunking finds what one read of the whole finds", () => {
  it("holds over 20 seeded memories, each cut at random places (1 byte to 20 KiB)", () => {
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const mem = memory(r);
      const whole = new IndicatorScanner();
      whole.feed(mem);
      const expected = whole.result();
      const chunked = new IndicatorScanner();
      for (let p = 0; p < mem.length; ) {
        const n = r(4) === 0 ? 1 + r(16) : 1 + r(20000);
        chunked.feed(mem.subarray(p, p + n));
        p += n;
      }
      expect(chunked.result(), `seed ${seed}`).toEqual(expected);
      expect(expected.ips.length + expected.domains.length).toBeGreaterThan(0);
    }
  });

  it("finds the same with the SIMD filter, the chunks read into its memory as the dump does", () => {
    const slots = anchorBuffers(3, 20_000);
    const filter = AnchorFilter.over(slots);
    // Node 20 has WebAssembly SIMD: a filter that silently fell back would test nothing.
    expect(filter).not.toBeNull();
    const views = bufferViews(slots);
    for (let seed = 1; seed <= 20; seed++) {
      const r = rng(seed);
      const mem = memory(r);
      const whole = new IndicatorScanner();
      whole.feed(mem);
      const expected = whole.result();
      const filtered = new IndicatorScanner({ filter });
      let slot = 0;
      for (let p = 0; p < mem.length; ) {
        const n = Math.min(r(4) === 0 ? 1 + r(16) : 1 + r(20000), mem.length - p);
        const view = views[slot]!;
        // What was there before (an earlier chunk) stays after the chunk's end, as in the dump.
        mem.copy(view, 0, p, p + n);
        expect(filter!.covers(view.subarray(0, n))).toBe(true);
        filtered.feed(view.subarray(0, n));
        slot = (slot + 1) % views.length;
        p += n;
      }
      expect(filtered.result(), `seed ${seed}`).toEqual(expected);
    }
  });

  it("never reports the part of a string whose start is in an earlier chunk", () => {
    // A printable string of 1,000 characters whose end holds a name: read whole, the name is
    // part of a 1,000-character label (not a domain); read from the middle it would look like one.
    const str = Buffer.from(`${"x".repeat(990)}a.evil-domain-one.com`, "latin1");
    for (let cut = 1; cut < str.length; cut += 37) {
      const s = new IndicatorScanner();
      const lead = Buffer.alloc(20_000, 1);
      // Chunks end at every possible place inside the string and around it.
      s.feed(Buffer.concat([lead, str.subarray(0, cut)]));
      s.feed(Buffer.concat([str.subarray(cut), Buffer.alloc(20_000, 1)]));
      s.feed(Buffer.alloc(10_000, 1));
      expect(s.result().domains, `cut at ${cut}`).toEqual([]);
    }
    // and the seam's own start: the string ends well before the chunk does
    for (let back = 4000; back < 9000; back += 250) {
      const s = new IndicatorScanner();
      const c1 = Buffer.concat([Buffer.alloc(30_000, 1), str, Buffer.alloc(back, 1)]);
      s.feed(c1);
      s.feed(Buffer.alloc(30_000, 1));
      expect(s.result().domains, `${back} bytes before the end`).toEqual([]);
    }
  });
});
