import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { wantColor } from "../../src/cli/io.js";
import { buildProgram, commandsFor, reflow, runCli } from "../../src/cli/main.js";
import { memoryIo } from "../helpers/memory-io.js";

describe("cli", () => {
  it("prints help with exit 0", async () => {
    const m = memoryIo();
    expect(await runCli(["--help"], m.io)).toBe(0);
    expect(m.stdout()).toContain("Usage: breachkit");
  });
  it("prints the version", async () => {
    const m = memoryIo();
    expect(await runCli(["--version"], m.io)).toBe(0);
    expect(m.stdout()).toMatch(/^\d+\.\d+\.\d+/);
  });
  it("an unknown command is a usage error with exit 2", async () => {
    const m = memoryIo();
    expect(await runCli(["frobnicate"], m.io)).toBe(2);
    expect(m.stderr()).toMatch(/unknown command|too many arguments/);
  });
  it("a bad option value is a usage error (exit 2), not an internal error", async () => {
    const cases = [
      ["collect", "--since", "yesterday"],
      ["collect", "--max-file-size", "10X"],
      ["collect", "--pid", "abc"],
      ["contain", "web", "--interval", "0"],
      ["snapshot", "--interval", "0"],
      ["triage", "--interval", "x"],
      ["scan", "--rkhunter-tests", "a;b"],
    ];
    for (const args of cases) {
      const m = memoryIo();
      expect(await runCli(args, m.io), args.join(" ")).toBe(2);
      expect(m.stderr(), args.join(" ")).not.toMatch(/internal error|a bug in breachkit/);
      expect(m.stderr(), args.join(" ")).toMatch(/takes a/);
    }
  });
  it("an error quoting a hostile path shows its escapes instead of sending them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bk-cli-"));
    try {
      const hostile = join(dir, "x\u001b[31my\nfake: line");
      mkdirSync(hostile);
      const m = memoryIo();
      expect(await runCli(["verify", hostile], m.io)).toBe(2);
      expect(m.stderr()).toContain("x\\e[31my\\nfake: line");
      expect(m.stderr()).not.toContain("\u001b");
      expect(
        m
          .stderr()
          .split("\n")
          .filter((l) => l.startsWith("fake")),
      ).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("triage's note on missing evidence shows escapes instead of sending them", async () => {
    const dir = mkdtempSync(join(tmpdir(), "bk-cli-"));
    try {
      // The engine's address is quoted in the note; host file paths reach it the same way.
      const m = memoryIo({ cwd: dir, env: { DOCKER_HOST: "unix:///nonexistent\u001b[31m.sock" } });
      await runCli(["triage", "--json", "--out", dir], m.io);
      expect(m.stderr()).toContain("nonexistent\\e[31m.sock");
      expect(m.stderr()).not.toContain("\u001b");
      expect(() => JSON.parse(m.stdout())).not.toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
  it("colors only on a terminal and never with NO_COLOR", () => {
    expect(wantColor(true, {})).toBe(true);
    expect(wantColor(false, {})).toBe(false);
    expect(wantColor(true, { NO_COLOR: "1" })).toBe(false);
  });
});

describe("help text", () => {
  it("reflows paragraphs but keeps lists and indented rows", () => {
    const text = "one line\ncontinues here.\n\n1. item\n   goes on\n     row  kept\n- bullet";
    expect(reflow(text)).toBe(
      "one line continues here.\n\n1. item goes on\n     row  kept\n- bullet",
    );
  });
  it("lists every working command in --help", async () => {
    const m = memoryIo();
    await runCli(["--help"], m.io);
    for (const cmd of ["triage", "snapshot", "collect", "scan", "contain", "verify"]) {
      expect(m.stdout()).toContain(`  ${cmd}`);
    }
  });
  it("every command has examples and exit codes in its help", async () => {
    for (const cmd of ["triage", "snapshot", "collect", "scan", "contain", "verify"]) {
      const m = memoryIo();
      expect(await runCli([cmd, "--help"], m.io)).toBe(0);
      expect(m.stdout(), cmd).toContain("Examples:");
      expect(m.stdout(), cmd).toMatch(/Exit codes:/);
    }
  });

  it("loads only the command it runs, all of them for the overall help", () => {
    const names = (args: string[]) => commandsFor(args).map((c) => c.name);
    expect(names(["snapshot", "--json"])).toEqual(["snapshot"]);
    expect(names(["--no-color", "verify", "x"])).toEqual(["verify"]);
    expect(names(["-V"])).toEqual([]);
    expect(names([])).toEqual(COMMANDS.map((c) => c.name));
    expect(names(["--help"])).toEqual(COMMANDS.map((c) => c.name));
    expect(names(["-V", "--help"])).toEqual(COMMANDS.map((c) => c.name));
    // commander answers these itself, and must see every command to do it.
    expect(names(["help", "snapshot"])).toEqual(COMMANDS.map((c) => c.name));
    expect(names(["snapshott"])).toEqual(COMMANDS.map((c) => c.name));
  });
  it("names each lazy command as its module registers it", async () => {
    const m = memoryIo();
    const program = await buildProgram({ io: m.io, setExitCode: () => {} });
    expect(program.commands.map((c) => c.name())).toEqual(COMMANDS.map((c) => c.name));
  });
  it("gives the same help for a command loaded alone as with all loaded", async () => {
    for (const { name } of COMMANDS) {
      const alone = memoryIo();
      expect(await runCli([name, "--help"], alone.io)).toBe(0);
      const all = memoryIo();
      expect(await runCli(["help", name], all.io)).toBe(0);
      expect(alone.stdout()).toContain(`Usage: breachkit ${name}`);
      expect(alone.stdout()).toBe(all.stdout());
    }
  });
  it("still suggests the command meant by a typo", async () => {
    const m = memoryIo();
    expect(await runCli(["snapshott"], m.io)).toBe(2);
    expect(m.stderr()).toContain("Did you mean snapshot?");
  });
});
