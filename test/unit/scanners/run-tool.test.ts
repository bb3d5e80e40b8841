/**
 * runTool's output bound, with a real process writing real bytes: an output cut at the bound is
 * flagged, including when the one chunk that crosses the bound is the last one. Its stdout lines,
 * its kill grace and an abort that came before the start.
 */
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runChkrootkit } from "../../../src/observe/scanners/chkrootkit.js";
import {
  DEFAULT_MAX_OUTPUT,
  keepWithin,
  runTool,
  truncationReason,
} from "../../../src/observe/scanners/run-tool.js";

describe("runTool output bound", () => {
  it("flags a cut when a single chunk crosses the bound (the last chunk)", async () => {
    // 100 bytes in one write: one chunk, past the 64-byte bound, and nothing after it.
    const run = await runTool("/bin/sh", ["-c", "head -c 100 /dev/zero"], {
      timeoutMs: 10_000,
      maxOutputBytes: 64,
      env: process.env,
    });
    expect(run.exitCode).toBe(0);
    expect(run.stdout.length).toBe(64);
    expect(run.truncated).toBe(true);
    expect(truncationReason(run, 64)).toMatch(/cut at 64 bytes.*incomplete/);
  });

  it("does not flag an output exactly at the bound", async () => {
    const run = await runTool("/bin/sh", ["-c", "head -c 64 /dev/zero"], {
      timeoutMs: 10_000,
      maxOutputBytes: 64,
      env: process.env,
    });
    expect(run.stdout.length).toBe(64);
    expect(run.truncated).toBe(false);
    expect(truncationReason(run)).toBeNull();
  });

  it("flags a cut stderr as well", async () => {
    const run = await runTool("/bin/sh", ["-c", "head -c 65 /dev/zero >&2"], {
      timeoutMs: 10_000,
      maxOutputBytes: 64,
      env: process.env,
    });
    expect(run.stderr.length).toBe(64);
    expect(run.stdout).toBe("");
    expect(run.truncated).toBe(true);
  });

  it("keepWithin keeps what fits and reports it", () => {
    const held: Buffer[] = [];
    expect(keepWithin(held, 0, Buffer.from("abcdef"), 4)).toBe(4);
    expect(keepWithin(held, 4, Buffer.from("gh"), 4)).toBe(0);
    expect(keepWithin(held, 0, Buffer.from("ab"), 4)).toBe(2);
    expect(Buffer.concat(held).toString()).toBe("abcdab");
  });
});

describe("runTool lines, grace and abort (the runner restic and the backup hooks use)", () => {
  it("hands over every stdout line, a character split across chunks whole, past the bound too", async () => {
    const lines: string[] = [];
    // "é" is two bytes; the first write ends in the middle of it. 40 bytes kept, all lines read.
    const run = await runTool(
      "/bin/sh",
      ["-c", "printf 'a\\nb\\303'; sleep 0.2; printf '\\251\\n'; seq 1 20; printf 'last'"],
      {
        timeoutMs: 10_000,
        maxOutputBytes: 40,
        env: process.env,
        onStdoutLine: (l) => lines.push(l),
      },
    );
    expect(run.exitCode).toBe(0);
    expect(lines).toEqual([
      "a",
      "bé",
      ...Array.from({ length: 20 }, (_, i) => String(i + 1)),
      "last",
    ]);
    expect(run.truncated).toBe(true);
    expect(run.stdout.length).toBeLessThanOrEqual(40);
  });

  it("an abort sends TERM to the group; a program that traps it gets KILL after the grace", async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const done = runTool("/bin/sh", ["-c", "trap '' TERM; echo up; sleep 30 & wait"], {
      timeoutMs: 60_000,
      env: process.env,
      signal: ac.signal,
      killGraceMs: 300,
      onStdoutLine: () => ac.abort(),
    });
    const run = await done;
    expect(run.signal).toBe("SIGKILL");
    expect(run.timedOut).toBe(false);
    expect(Date.now() - t0).toBeLessThan(5_000);
  });

  it("a signal aborted before the start ends the program at once", async () => {
    const ac = new AbortController();
    ac.abort();
    const t0 = Date.now();
    const run = await runTool("/bin/sleep", ["30"], {
      timeoutMs: 60_000,
      env: process.env,
      signal: ac.signal,
    });
    expect(run.signal).toBe("SIGTERM");
    expect(Date.now() - t0).toBeLessThan(5_000);
  });
});

describe("an adapter given a cut output", () => {
  it("marks chkrootkit's parse incomplete, with a gap saying the output was cut", async () => {
    const dir = await mkdtemp(join(tmpdir(), "bk-run-tool-"));
    try {
      // A stand-in chkrootkit whose output runs past the bound, its last line an
      // INFECTED one that is lost: the parse must not pass for chkrootkit's whole answer.
      const fake = join(dir, "chkrootkit");
      const filler = DEFAULT_MAX_OUTPUT + 4096;
      const infected = "Checking `ps'... INFECTED";
      const script = [
        "#!/bin/sh",
        `head -c ${filler} /dev/zero | tr '\\0' '.'`,
        `printf '\\n%s\\n' '${infected.replace(/'/g, "'\\''")}'`,
        "",
      ].join("\n");
      await writeFile(fake, script);
      await chmod(fake, 0o755);
      const r = await runChkrootkit({
        roots: [{ where: "host", containerId: null, root: "/" }],
        timeoutMs: 60_000,
        executable: fake,
        env: process.env,
      });
      const host = (r.parsed as Record<string, { truncated: boolean; incomplete: boolean }>).host!;
      expect(host.truncated).toBe(true);
      expect(host.incomplete).toBe(true);
      expect(r.incomplete).toBe(true);
      expect(r.gaps.some((g) => /cut at \d+ bytes.*incomplete/.test(g.reason))).toBe(true);
      expect(String(r.raw["host.stdout.txt"]).length).toBe(DEFAULT_MAX_OUTPUT);
      expect(String(r.raw["host.stdout.txt"])).not.toContain("INFECTED");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
