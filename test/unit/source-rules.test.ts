/**
 * Rules of the source tree that keep the built command right and fast (scripts/build.mjs
 * bundles src/ into one file): checked here because nothing else would notice them broken.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { z } from "../../src/util/zod.js";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.c?ts$/.test(e.name) ? [path] : [];
  });
}

const withLine = (pattern: RegExp) =>
  sources()
    .filter((f) => pattern.test(readFileSync(f, "utf8")))
    .map((f) => relative(SRC, f))
    .sort();

describe("the source tree", () => {
  it("resolves package files in one place: in the bundle every module has the bundle's URL", () => {
    expect(withLine(/import\.meta\.url/)).toEqual(["util/package-root.ts"]);
  });

  it("takes zod's z from util/zod.ts only, so that every schema is built jitless", () => {
    // Type-only imports build nothing.
    expect(withLine(/^import \{[^}]*\bz\b[^}]*\} from "zod";/m)).toEqual(["util/zod.ts"]);
    expect(z.config().jitless).toBe(true);
  });
});
