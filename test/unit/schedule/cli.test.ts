import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/main.js";
import { memoryIo } from "../../helpers/memory-io.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-schedule-cli-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("schedule command", () => {
  it("install, status, remove through the CLI (cron writer); nothing left behind", async () => {
    const common = ["--state-dir", join(dir, "state"), "--json"];
    const m = memoryIo();
    const code = await runCli(
      [
        "schedule",
        "install",
        "--writer",
        "cron",
        "--cron-dir",
        join(dir, "cron.d"),
        "--every",
        "6h",
        "--jobs",
        "triage,update-check",
        "--keep",
        "7",
        "--config",
        join(dir, "none.json"),
        ...common,
      ],
      memoryIo({ env: {} }).io,
    ).catch((e) => e);
    // A named config that does not exist is refused at install, not at 3 a.m.
    expect(code).toBe(2);
    await writeFile(join(dir, "c.json"), "{}", { mode: 0o600 });
    expect(
      await runCli(
        [
          "schedule",
          "install",
          "--writer",
          "cron",
          "--cron-dir",
          join(dir, "cron.d"),
          "--every",
          "6h",
          "--jobs",
          "triage,update-check",
          "--keep",
          "7",
          "--config",
          join(dir, "c.json"),
          ...common,
        ],
        m.io,
      ),
    ).toBe(0);
    const out = JSON.parse(m.stdout());
    expect(out.writer).toBe("cron");
    const cron = await readFile(join(dir, "cron.d/breachkit-schedule"), "utf8");
    expect(cron).toMatch(
      / root \S+node\S* \S+bin\.cjs schedule run --jobs triage,update-check --keep 7 --config \S+c\.json --state-dir /,
    );
    const s = memoryIo();
    expect(
      await runCli(["schedule", "status", "--runs-dir", join(dir, "runs"), ...common], s.io),
    ).toBe(0);
    const st = JSON.parse(s.stdout());
    expect(st.installed.every).toBe("6h");
    expect(st.nextRun).toMatch(/^\d{4}-/);
    expect(st.runs).toEqual([]);
    const r = memoryIo();
    expect(await runCli(["schedule", "remove", ...common], r.io)).toBe(0);
    expect(JSON.parse(r.stdout()).files).toHaveLength(2);
    expect(await readdir(join(dir, "cron.d"))).toEqual([]);
    expect(await readdir(join(dir, "state"))).toEqual([]);
  });

  it("refuses a bad --jobs or --every with a usage error", async () => {
    const m = memoryIo();
    expect(await runCli(["schedule", "install", "--jobs", "triage,rm"], m.io)).toBe(2);
    expect(m.stderr()).toMatch(/--jobs takes a comma-separated list/);
    const n = memoryIo();
    expect(await runCli(["schedule", "install", "--every", "5m"], n.io)).toBe(2);
  });
});
