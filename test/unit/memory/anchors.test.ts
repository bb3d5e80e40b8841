import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain ES module script, without types
import { anchorsModuleSource } from "../../../scripts/build-wasm.mjs";
import { AnchorFilter, anchorBuffers, bufferViews } from "../../../src/judge/memory/anchors.js";

const DOT = 0x2e;
const COLON = 0x3a;
const alnum = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

const printable = (c: number | undefined) => c !== undefined && c >= 0x20 && c <= 0x7e;

/** The filter's rule, byte by byte (anchors.wat's header): what it must return. */
function reference(b: Uint8Array, anchor: number): number[] {
  const out: number[] = [];
  for (let i = 1; i < b.length - 1; i++) {
    if (b[i] !== anchor) continue;
    const p = b[i - 1]!;
    const n = b[i + 1]!;
    if (p === 0 && n === 0) {
      out.push(i);
      continue;
    }
    const after = alnum(n) || (anchor === COLON && (n === 0x2f || n === COLON));
    if (!alnum(p) || !after) continue;
    // the printable run through i, within the bytes given (six is enough to know)
    let s = i;
    while (s > 0 && i - s < 6 && printable(b[s - 1])) s--;
    let e = i + 1;
    while (e < b.length && e - i < 6 && printable(b[e])) e++;
    if (e - s >= 6) out.push(i);
  }
  return out;
}

function found(filter: AnchorFilter, b: Uint8Array) {
  const f = filter.find(b);
  return { dots: [...f.dots], colons: [...f.colons] };
}

const expected = (b: Uint8Array) => ({ dots: reference(b, DOT), colons: reference(b, COLON) });

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

describe("the anchor filter (WebAssembly SIMD)", () => {
  it("is built from its source: the committed bytes are what anchors.wat compiles to", async () => {
    const committed = readFileSync(
      new URL("../../../src/judge/memory/anchors-wasm.ts", import.meta.url),
      "utf8",
    );
    expect(await anchorsModuleSource()).toBe(committed);
  });

  it("returns exactly the positions the byte-by-byte rule gives, at every length and edge", () => {
    const slots = anchorBuffers(2, 1 << 20);
    const filter = AnchorFilter.over(slots);
    expect(filter).not.toBeNull();
    const [a, b] = bufferViews(slots) as [Buffer, Buffer];
    const r = rng(7);
    // The bytes around the data (the pads, the next slot) are not printable here: the filter
    // may read them, and must not add a position for them (below: a run cut by them).
    b.fill(0x01);
    const alphabet = [
      DOT,
      COLON,
      0,
      0x2f,
      0x61,
      0x5a,
      0x39,
      0x20,
      0xff,
      0x7b,
      0x40,
      0x60,
      0x61,
      0x61,
    ];
    for (let len = 0; len <= 70; len++) {
      for (let rep = 0; rep < 40; rep++) {
        for (let i = 0; i < len; i++) a[i] = alphabet[r(alphabet.length)]!;
        a.fill(0x01, len, len + 32);
        const view = a.subarray(0, len);
        expect(found(filter!, view), `len ${len}`).toEqual(expected(view));
      }
    }
    // Random binary, and a chunk dense with anchors (more than one call's worth of positions).
    for (const fillWith of ["random", "dense"] as const) {
      if (fillWith === "random") for (let i = 0; i < a.length; i++) a[i] = r(256);
      else a.write("a.b:c.d:".repeat(a.length / 8), "latin1");
      for (const off of [0, 1, 3, 17]) {
        const view = a.subarray(off, a.length - 5);
        const f = found(filter!, view);
        expect(f).toEqual(expected(view));
        // the dense chunk: as many positions as the output area holds (one in two bytes)
        if (fillWith === "dense") expect(f.dots.length + f.colons.length).toBeGreaterThan(400_000);
      }
    }
  });

  it("covers only the buffers of its own memory", () => {
    const slots = anchorBuffers(1, 4096);
    const filter = AnchorFilter.over(slots)!;
    expect(filter.covers(bufferViews(slots)[0]!)).toBe(true);
    expect(filter.covers(Buffer.alloc(4096))).toBe(false);
    expect(filter.covers(bufferViews(anchorBuffers(1, 4096))[0]!)).toBe(false);
  });
});
