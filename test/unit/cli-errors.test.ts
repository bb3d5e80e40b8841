import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import { looksLikeIocFile } from "../../src/judge/ioc/load-iocs.js";
import { type ErrorOutput, ErrorOutputSchema } from "../../src/model/error-output.js";
import { memoryIo } from "../helpers/memory-io.js";

// Errors a tired responder meets (issue 23 item 7): each says what is wrong and what to do.
const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "bk-errors-"));
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const DOWN = { DOCKER_HOST: "unix:///nonexistent/docker.sock" };

describe("wrong or missing errors", () => {
  it.runIf(process.geteuid?.() === 0)(
    "collect --container with the engine down says so and collects the files on disk",
    async () => {
      const out = tempDir();
      const m = memoryIo({ cwd: out, env: DOWN });
      const code = await runCli(
        ["collect", "--container", "bk-lab-web", "--no-host", "--out", out],
        m.io,
      );
      expect(m.stderr()).not.toMatch(/no container/);
      expect(m.stderr()).toMatch(
        /Docker engine at unix:\/\/\/nonexistent\/docker\.sock is not answering/,
      );
      expect(m.stderr()).toMatch(/files on disk/);
      // Incomplete (the engine is down) but sealed, as plain collect (exit 2, documented).
      expect(code).toBe(2);
      expect(m.stderr()).not.toMatch(/no bundle was made/);
      const [bundle] = readdirSync(out).filter((n) => n.startsWith("breachkit-"));
      expect(bundle).toBeDefined();
      const log = readFileSync(join(out, bundle ?? "", "collection.log.jsonl"), "utf8");
      expect(log).toMatch(/containers collected from their files on disk only/);
    },
    60_000,
  );
});

describe("--ioc that looks like a file but names none", () => {
  it("is a usage error (exit 2) naming the file, with the way to mean an indicator", async () => {
    const cwd = tempDir();
    for (const value of ["iocs.txt", "lists/today.ioc", "./bad", "/root/iocs.csv"]) {
      const m = memoryIo({ cwd, env: DOWN });
      expect(await runCli(["triage", "--bundle", cwd, "--ioc", value], m.io), value).toBe(2);
      expect(m.stderr(), value).toMatch(/no such file/);
      expect(m.stderr(), value).toMatch(/--ioc (name|path):/);
    }
  });
  it("still takes names, hashes, addresses, networks and exe paths as indicators", () => {
    for (const v of [
      "wate",
      "203.0.113.9",
      "203.0.113.0/24",
      "/tmp/x",
      "path:/tmp/a.txt",
      "name:x.txt",
    ])
      expect(looksLikeIocFile(v), v).toBe(false);
    for (const v of ["iocs.txt", "a/b", "/root/iocs.csv", "x.IOC"])
      expect(looksLikeIocFile(v), v).toBe(true);
  });
});

describe("--baseline", () => {
  it("refuses a FIFO at once instead of waiting for a writer", async () => {
    const cwd = tempDir();
    execFileSync("mkfifo", [join(cwd, "fifo")]);
    const m = memoryIo({ cwd, env: DOWN });
    expect(await runCli(["triage", "--bundle", cwd, "--baseline", "fifo"], m.io)).toBe(2);
    expect(m.stderr()).toMatch(/not a regular file/);
  });
  it("says what is wrong with text, other JSON and an empty file", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "notes.txt"), "known good, 1 May\n");
    writeFileSync(join(cwd, "other.json"), '{"a": 1}');
    writeFileSync(join(cwd, "empty"), "");
    const cases: [string, RegExp][] = [
      ["notes.txt", /notes\.txt as a baseline: not JSON/],
      ["other.json", /not a breachkit snapshot/],
      ["empty", /the file is empty/],
      ["missing.json", /no such file/],
    ];
    for (const [file, want] of cases) {
      const m = memoryIo({ cwd, env: DOWN });
      expect(await runCli(["triage", "--bundle", cwd, "--baseline", file], m.io), file).toBe(2);
      expect(m.stderr(), file).toMatch(want);
      expect(m.stderr(), file).not.toMatch(/Unexpected end of JSON/);
    }
  });
});

describe("snapshot --root", () => {
  it("a missing directory or a plain file is a usage error (exit 2), not an empty snapshot", async () => {
    const cwd = tempDir();
    writeFileSync(join(cwd, "disk.img"), "x");
    for (const [root, want] of [
      ["/nonexistent", /--root \/nonexistent: no such directory/],
      ["disk.img", /disk\.img: not a directory/],
    ] as const) {
      const m = memoryIo({ cwd, env: DOWN });
      expect(await runCli(["snapshot", "--json", "--root", root], m.io), root).toBe(2);
      expect(m.stderr(), root).toMatch(want);
    }
  });
});

describe("DOCKER_HOST=tcp://", () => {
  it("messages name the address asked for, never the default Unix socket", async () => {
    const m = memoryIo({ env: { DOCKER_HOST: "tcp://10.0.0.1:2375" } });
    expect(await runCli(["snapshot", "--json"], m.io)).toBe(0);
    const snap = JSON.parse(m.stdout()) as {
      engine: { endpoint: string; error: string | null };
      gaps: { source: string; message: string }[];
    };
    expect(snap.engine.endpoint).toBe("tcp://10.0.0.1:2375");
    expect(snap.engine.error).toMatch(/tcp:\/\/10\.0\.0\.1:2375 is not supported/);
    expect(m.stdout() + m.stderr()).not.toContain("/var/run/docker.sock");
  }, 60_000);
});

describe("a failed --json run", () => {
  it("prints an error object on stdout that passes the error schema", async () => {
    const cwd = tempDir();
    const cases: [string[], string][] = [
      [["snapshot", "--json", "--root", "/nonexistent"], "USAGE"],
      [["triage", "--json", "--bundle", cwd, "--baseline", "missing.json"], "BAD_INPUT"],
      [["snapshot", "--json", "--interval", "x"], "USAGE"],
      [["verify", "--json", join(cwd, "nothing-here")], "NOT_FOUND"],
    ];
    for (const [args, code] of cases) {
      const m = memoryIo({ cwd, env: DOWN });
      expect(await runCli(args, m.io), args.join(" ")).toBe(2);
      const doc = JSON.parse(m.stdout()) as ErrorOutput;
      expect(ErrorOutputSchema.safeParse(doc).success, args.join(" ")).toBe(true);
      expect(doc.schemaVersion).toBe(1);
      expect(doc.error.code, args.join(" ")).toBe(code);
      expect(doc.error.message.length, args.join(" ")).toBeGreaterThan(10);
      // A person still reads the error on stderr.
      expect(m.stderr(), args.join(" ")).toMatch(/error/);
    }
  });
  it("without --json stdout stays empty", async () => {
    const m = memoryIo({ env: DOWN });
    expect(await runCli(["snapshot", "--root", "/nonexistent"], m.io)).toBe(2);
    expect(m.stdout()).toBe("");
  });
});
