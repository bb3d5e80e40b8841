/** fleet's copy: the executable compressed once and read by several hosts at the same time. */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buffer } from "node:stream/consumers";
import { gunzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { CompressedOnce } from "../../../src/act/fleet/transfer.js";

const work = mkdtempSync(join(tmpdir(), "bk-fleet-transfer-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("the executable compressed once per run", () => {
  it("gives every reader the same gzip stream, also readers that start late", async () => {
    const file = join(work, "exe");
    // Compressible and not: text, then random bytes.
    const data = Buffer.concat([Buffer.from("breachkit ".repeat(300_000)), randomBytes(3 << 20)]);
    writeFileSync(file, data);
    const c = new CompressedOnce(file, 6);
    const [a, b] = await Promise.all([buffer(c.stream()), buffer(c.stream())]);
    await c.finished;
    const late = await buffer(c.stream());
    expect(a.equals(b) && a.equals(late)).toBe(true);
    expect(a.length).toBe(c.bytes);
    expect(a.length).toBeLessThan(data.length);
    expect(gunzipSync(a).equals(data)).toBe(true);
    c.close();
  });

  it("fails its readers when the file cannot be read, and stops on close", async () => {
    const c = new CompressedOnce(join(work, "missing"), 6);
    await expect(buffer(c.stream())).rejects.toThrow(/ENOENT/);
    const big = join(work, "big");
    writeFileSync(big, randomBytes(8 << 20));
    const d = new CompressedOnce(big, 6);
    const reading = buffer(d.stream());
    d.close();
    await expect(reading).rejects.toThrow(/ended/);
    await d.finished;
  });
});
