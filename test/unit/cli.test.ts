import { describe, expect, it } from "vitest";
import { wantColor } from "../../src/cli/io.js";
import { runCli } from "../../src/cli/main.js";
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
  it("colors only on a terminal and never with NO_COLOR", () => {
    expect(wantColor(true, {})).toBe(true);
    expect(wantColor(false, {})).toBe(false);
    expect(wantColor(true, { NO_COLOR: "1" })).toBe(false);
  });
});
