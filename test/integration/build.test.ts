/**
 * The built command as npm ci leaves it (scripts/build.mjs): one bundle, its entry, and the
 * V8 code cache the build's training runs made. The cache only changes how fast breachkit
 * starts: a cache that does not fit (another node, another bundle, garbage) is ignored.
 */
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { SnapshotSchema } from "../../src/model/snapshot.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }
).version;
const work = mkdtempSync(join(tmpdir(), "bk-build-it-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const env = { ...process.env, NODE_EXTRA_CA_CERTS: undefined, BREACHKIT_TRACE: "1" };
const run = (root: string, args: string[]) =>
  execa("node", [join(root, "dist/cli/bin.cjs"), ...args], {
    env,
    extendEnv: false,
    reject: false,
    stdin: "ignore",
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120_000,
  });
const cacheState = (stderr: string) => /code cache: (\w+)/.exec(stderr)?.[1];

/** A copy of the package's runnable parts, to spoil without touching the real one. */
function copyPackage(name: string): string {
  const root = join(work, name);
  for (const part of ["dist", "rules"])
    cpSync(join(REPO, part), join(root, part), { recursive: true });
  copyFileSync(join(REPO, "package.json"), join(root, "package.json"));
  return root;
}

describe("the built command", () => {
  it("starts from its code cache, which this node accepts", async () => {
    const r = await run(REPO, ["--version"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
    expect(cacheState(r.stderr)).toBe("used");
  });

  it("finds its package files (rules, native reader) from the bundle", async () => {
    const r = await run(REPO, ["snapshot", "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const snap = SnapshotSchema.parse(JSON.parse(r.stdout));
    expect(snap.tool.version).toBe(VERSION);
    // V8 took the cache although a live snapshot then runs without the optimizing compiler.
    expect(cacheState(r.stderr)).toBe("used");
    // The native reader read the processes (a trace line says which reader did).
    expect(r.stderr).toMatch(/processes read by the native reader/);
    // Started by the entry, before the bundle was even loaded.
    const lines = r.stderr.split("\n");
    const started = lines.findIndex((l) => l.endsWith("native reader started by the entry"));
    expect(started).toBeGreaterThanOrEqual(0);
    expect(started).toBeLessThan(lines.findIndex((l) => l.includes("code cache:")));
  });

  it("starts the reader early only for a live reading, never for help or other commands", async () => {
    for (const args of [
      ["snapshot", "--help"],
      ["--version"],
      ["snapshot", "--root", "/nonexistent"],
    ]) {
      const r = await run(REPO, args);
      expect(r.stderr, args.join(" ")).not.toContain("native reader started");
    }
  });

  it("ignores a cache that does not fit and does the same work without it", async () => {
    const root = copyPackage("spoiled");
    const cache = join(root, "dist/cli/main.cjs.cache");
    writeFileSync(cache, Buffer.alloc(4096, 0x5a));
    const spoiled = await run(root, ["snapshot", "--root", "/no such dir", "--json"]);
    expect(spoiled.exitCode, spoiled.stderr).toBe(0);
    expect(spoiled.stderr).toContain("code cache: not made from this bundle");
    expect(SnapshotSchema.parse(JSON.parse(spoiled.stdout)).host.root).toBe("/no such dir");

    // Made for this bundle (its SHA-256 first), but not by V8 for this node: V8 says no.
    const digest = createHash("sha256")
      .update(readFileSync(join(root, "dist/cli/main.cjs")))
      .digest();
    writeFileSync(cache, Buffer.concat([digest, Buffer.alloc(4096, 0x5a)]));
    const foreign = await run(root, ["--version"]);
    expect(foreign.stdout.trim()).toBe(VERSION);
    expect(cacheState(foreign.stderr)).toBe("rejected");

    rmSync(cache);
    const none = await run(root, ["--version"]);
    expect(none.exitCode, none.stderr).toBe(0);
    expect(none.stdout.trim()).toBe(VERSION);
    expect(cacheState(none.stderr)).toBe("none");
  });

  it("ends the early reader, and does not wait for it, when no snapshot takes it", async () => {
    const root = copyPackage("usage-error");
    // A reader that would take a minute, and says which process it is.
    const pidFile = join(root, "reader.pid");
    const reader = join(root, "dist/native/procread");
    writeFileSync(reader, `#!/bin/sh\necho $$ > '${pidFile}'\nexec sleep 60\n`);
    chmodSync(reader, 0o755);
    const t0 = Date.now();
    const r = await run(root, ["snapshot", "--no-such-option"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("unknown option");
    expect(r.stderr).toContain("native reader started");
    expect(Date.now() - t0).toBeLessThan(30_000);
    // Ended by its handle: the pid it wrote is gone (or was never written: killed first).
    const pid = Number(readFileSync(pidFile, { encoding: "utf8", flag: "a+" }).trim());
    if (pid > 0) {
      let alive = true;
      for (let i = 0; i < 50 && alive; i++) {
        try {
          process.kill(pid, 0);
          await new Promise((res) => setTimeout(res, 100));
        } catch {
          alive = false;
        }
      }
      expect(alive).toBe(false);
    }
  });

  it("runs a patched bundle's code, never the cached code of the bundle it replaced", async () => {
    const root = copyPackage("patched");
    const bundle = join(root, "dist/cli/main.cjs");
    // V8 checks a cache against its source's length only: a patch of the same length.
    const text = readFileSync(bundle, "utf8");
    expect(text).toContain('"show help"');
    writeFileSync(bundle, text.replace('"show help"', '"SHOW HELP"'));
    const r = await run(root, ["--help"]);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toContain("SHOW HELP");
    expect(r.stderr).toContain("code cache: not made from this bundle");
  });

  it("holds no dynamic import(), which the entry's vm.Script could not load", () => {
    const text = readFileSync(join(REPO, "dist/cli/main.cjs"), "utf8");
    expect(text.match(/[^\w.$]import\(\s*["'`]/g) ?? []).toEqual([]);
  });

  it("reads rules from its own package, wherever it was copied", async () => {
    const root = copyPackage("moved");
    // A rule file only this copy has: the bundle must read rules/ next to itself.
    const rules = join(root, "rules/false-positives.json");
    writeFileSync(rules, "{ not json");
    const r = await run(root, ["scan", "--lynis", "--json"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(join(root, "rules/false-positives.json"));
    expect(r.stderr).not.toContain("internal error");
  });
});
