/**
 * The option tables: each command's options come from its table only, enums are commander
 * choices, usage errors name the option (exit 2), and the command line recorded in a bundle is
 * derived from the same table.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterAll, describe, expect, it } from "vitest";
import { COLLECT_OPTIONS } from "../../src/cli/commands/collect.js";
import { CONTAIN_OPTIONS } from "../../src/cli/commands/contain.js";
import { SCAN_OPTIONS } from "../../src/cli/commands/scan.js";
import { SCHEMA_OPTIONS } from "../../src/cli/commands/schema.js";
import { SNAPSHOT_OPTIONS } from "../../src/cli/commands/snapshot.js";
import { TRIAGE_OPTIONS } from "../../src/cli/commands/triage.js";
import { VERIFY_OPTIONS } from "../../src/cli/commands/verify.js";
import { buildProgram, runCli } from "../../src/cli/main.js";
import {
  DEFAULT_INTERVAL_SECONDS,
  longName,
  type OptionTable,
  withOptions,
} from "../../src/cli/options.js";
import { memoryIo } from "../helpers/memory-io.js";

const TABLES: Record<string, OptionTable> = {
  snapshot: SNAPSHOT_OPTIONS,
  triage: TRIAGE_OPTIONS,
  collect: COLLECT_OPTIONS,
  scan: SCAN_OPTIONS,
  contain: CONTAIN_OPTIONS,
  verify: VERIFY_OPTIONS,
  schema: SCHEMA_OPTIONS,
};

/** The commands that write something: each takes --out DIR and names its paths in --help. */
const WRITERS = ["snapshot", "triage", "collect", "scan", "contain"];

const dir = mkdtempSync(join(tmpdir(), "bk-cli-options-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function program() {
  return buildProgram({ io: memoryIo().io, setExitCode: () => {} });
}

describe("option tables", () => {
  it("every command's options are exactly its table's (no option declared elsewhere)", async () => {
    const p = await program();
    for (const [name, table] of Object.entries(TABLES)) {
      const cmd = p.commands.find((c) => c.name() === name);
      expect(cmd, name).toBeDefined();
      const declared = cmd!.options.map((o) => o.long).sort();
      const fromTable = Object.values(table)
        .flatMap((s) =>
          s.kind === "offable"
            ? [longName(s.flags), `--no-${longName(s.flags).slice(2)}`]
            : [longName(s.flags)],
        )
        .sort();
      expect(declared, name).toEqual(fromTable);
    }
  });

  it("enums are commander choices, listed in the help", async () => {
    const p = await program();
    const failOn = p.commands
      .find((c) => c.name() === "triage")!
      .options.find((o) => o.long === "--fail-on");
    expect(failOn?.argChoices).toEqual(["info", "low", "medium", "high", "critical"]);
    const mode = p.commands
      .find((c) => c.name() === "contain")!
      .options.find((o) => o.long === "--mode");
    expect(mode?.argChoices).toEqual(["pause", "isolate", "stop", "kill"]);
    for (const args of [
      ["triage", "--fail-on", "severe"],
      ["scan", "--fail-on", "severe"],
      ["contain", "x", "--mode", "nuke"],
    ]) {
      const m = memoryIo();
      expect(await runCli(args, m.io), args.join(" ")).toBe(2);
      expect(m.stderr()).toMatch(new RegExp(`option '${args.at(-2)} <\\w+>'.*Allowed choices`));
      expect(m.stderr()).not.toMatch(/internal error/);
    }
  });

  it("--out DIR on every command that writes, and each help names the paths it writes", async () => {
    for (const name of WRITERS) {
      const table = TABLES[name]!;
      expect(table.out?.flags, name).toBe("--out <dir>");
      const m = memoryIo();
      expect(await runCli([name, "--help"], m.io)).toBe(0);
      expect(m.stdout(), name).toMatch(/Paths written/);
    }
    const scan = memoryIo();
    await runCli(["scan", "--help"], scan.io);
    expect(scan.stdout()).toMatch(/--cache <dir>/);
    expect(scan.stdout()).toContain("/var/cache/breachkit");
    expect(scan.stdout()).toMatch(/clamd\.conf, clamd\.sock, clamd\.pid, clamd\.log/);
  });

  it("one default for --interval: 1 s for triage and contain, and for snapshot --interval alone", () => {
    expect(DEFAULT_INTERVAL_SECONDS).toBe(1);
    expect(TRIAGE_OPTIONS.interval.default).toBe(1);
    expect(CONTAIN_OPTIONS.interval.default).toBe(1);
    expect(SNAPSHOT_OPTIONS.interval.preset).toBe("1");
  });

  it("a bad value is a usage error naming the option", async () => {
    for (const args of [
      ["contain", "x", "--interval", "0"],
      ["collect", "--pid", "0"],
      ["scan", "--lynis-groups", "a b;c"],
    ]) {
      const m = memoryIo();
      expect(await runCli(args, m.io), args.join(" ")).toBe(2);
      const option = args.find((a) => a.startsWith("--"))!;
      expect(m.stderr(), args.join(" ")).toContain(option);
    }
  });
});

describe("the recorded command line", () => {
  /** Parse `argv` with a table and return what the body got. */
  async function parse(name: string, table: OptionTable, argv: string[], positional = false) {
    let got: { args: string[]; options: unknown; commandLine: string } | null = null;
    const cmd = new Command(name).exitOverride();
    if (positional) cmd.argument("<target>");
    withOptions(cmd, table, async (input) => {
      got = input;
    });
    await cmd.parseAsync(argv, { from: "user" });
    if (got === null) throw new Error("the body did not run");
    return got as { args: string[]; options: Record<string, unknown>; commandLine: string };
  }

  it("comes from the table: given options only, normalised, output-only ones left out", async () => {
    const r = await parse("collect", COLLECT_OPTIONS, [
      "--json",
      "--since",
      "2025-01-31T12:00:00Z",
      "--container",
      "web",
      "--container",
      "db 2",
      "--no-redact",
      "--pid",
      "42",
      "--max-file-size",
      "1k",
    ]);
    expect(r.commandLine).toBe(
      "collect --container web --container 'db 2' --pid 42 --since 2025-01-31T12:00:00.000Z --no-redact --max-file-size 1024",
    );
    expect(r.options.redact).toBe(false);
    expect(r.options.host).toBe(true);
    expect(r.options.pid).toEqual([42]);
  });

  it("records contain's target and its options; defaults not given stay out", async () => {
    const r = await parse("contain", CONTAIN_OPTIONS, ["gitlab", "--ioc", "wate", "--yes"], true);
    expect(r.args).toEqual(["gitlab"]);
    expect(r.commandLine).toBe("contain gitlab --ioc wate");
    expect(r.options.mode).toBe("pause");
    expect(r.options.interval).toBe(1);
  });

  it("records scan's --no-cache and its bounded tests", async () => {
    const r = await parse("scan", SCAN_OPTIONS, [
      "--rkhunter",
      "--rkhunter-tests",
      "system_configs_ssh,group_accounts",
      "--no-cache",
    ]);
    expect(r.options.cache).toBe(false);
    expect(r.options.rkhunterTests).toEqual(["system_configs_ssh", "group_accounts"]);
    expect(r.commandLine).toBe(
      "scan --rkhunter --rkhunter-tests system_configs_ssh,group_accounts --no-cache",
    );
    const d = await parse("scan", SCAN_OPTIONS, []);
    expect(d.options.cache).toBe("/var/cache/breachkit");
  });

  it("snapshot --out DIR writes a sealed bundle whose manifest records the command line", async () => {
    const m = memoryIo({ cwd: dir, env: process.env });
    expect(await runCli(["snapshot", "--out", dir], m.io)).toBe(0);
    const made = readdirSync(dir).filter((n) => n.startsWith("breachkit-"));
    expect(made).toHaveLength(1);
    const bundle = join(dir, made[0]!);
    expect(readdirSync(bundle).sort()).toEqual([
      "SEAL",
      "collection.log.jsonl",
      "manifest.json",
      "snapshot.json",
    ]);
    const manifest = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
    expect(manifest.command).toBe(`snapshot --out ${dir}`);
    expect(manifest.complete).toBe(true);
    const v = memoryIo();
    expect(await runCli(["verify", bundle], v.io)).toBe(0);
  });
});
