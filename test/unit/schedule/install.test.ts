import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  installSchedule,
  nextCronTime,
  readInstallRecord,
  removeSchedule,
  type SchedulePaths,
} from "../../../src/act/schedule/install.js";
import { selfCommand } from "../../../src/act/schedule/jobs.js";
import {
  cronLineProblem,
  cronSchedule,
  cronText,
  systemdUnits,
} from "../../../src/act/schedule/units.js";
import { SCHEDULE_EVERY } from "../../../src/model/schedule-output.js";

let dir: string;
let paths: SchedulePaths;
const command = [...selfCommand(), "schedule", "run", "--jobs", "triage,audit", "--keep", "30"];

/** Every file under a directory, relative. */
async function filesUnder(d: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(d, { withFileTypes: true, recursive: true })) {
    if (e.isFile()) out.push(join(e.parentPath, e.name).slice(d.length + 1));
  }
  return out.sort();
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-schedule-"));
  paths = {
    stateDir: join(dir, "state"),
    unitDir: join(dir, "systemd"),
    cronDir: join(dir, "cron.d"),
    systemdRunDir: join(dir, "no-systemd-here"),
  };
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("schedule units", () => {
  it.each(SCHEDULE_EVERY)("pass systemd-analyze verify (every %s)", async (every) => {
    const u = systemdUnits([...command, "--config", "/etc/break kit/%c.json"], every);
    await writeFile(join(dir, "breachkit-schedule.service"), u.service);
    await writeFile(join(dir, "breachkit-schedule.timer"), u.timer);
    const r = await execa(
      "systemd-analyze",
      ["verify", "--man=no", "./breachkit-schedule.service", "./breachkit-schedule.timer"],
      { cwd: dir, reject: false },
    );
    // verify exits 0 on an unknown key and only says so on stderr: both must be clean.
    expect(r.stderr).toBe("");
    expect(r.exitCode).toBe(0);
    expect(u.service).toMatch(/^ProtectSystem=full$/m);
    expect(u.service).toMatch(/^NoNewPrivileges=yes$/m);
    expect(u.service).toContain('"/etc/break kit/%%c.json"');
  });

  it("systemd-analyze catches a broken unit (the check above can fail)", async () => {
    const u = systemdUnits(["/nonexistent/node", "x"], "daily");
    await writeFile(join(dir, "b.service"), u.service.replace("Nice=10", "Nicee=10"));
    const r = await execa("systemd-analyze", ["verify", "--man=no", "./b.service"], {
      cwd: dir,
      reject: false,
    });
    expect(r.exitCode !== 0 || r.stderr !== "").toBe(true);
  });

  it.each(SCHEDULE_EVERY)("writes a cron line that parses (every %s)", (every) => {
    const text = cronText([...command, "--config", "/etc/a b/%.json"], every, "web01");
    const line = text.split("\n").find((l) => /^[\d*]/.test(l))!;
    expect(cronLineProblem(line)).toBeNull();
    expect(line).toContain(" root ");
    expect(line).toContain("'/etc/a b/\\%.json'");
    const next = nextCronTime(cronSchedule(every, "web01"), new Date(2026, 0, 1, 0, 0));
    expect(next).not.toBeNull();
  });

  it("the cron checker rejects what cron would not run", () => {
    expect(cronLineProblem("61 * * * * root x")).toMatch(/out of 0-59/);
    expect(cronLineProblem("* * * * root x")).toMatch(/expected 5 time fields/);
    expect(cronLineProblem("*/0 * * * * root x")).toMatch(/step 0/);
  });

  it("computes the next run of the cron schedules", () => {
    const from = new Date(2026, 0, 1, 10, 30);
    expect(nextCronTime("17 * * * *", from)?.getHours()).toBe(11);
    expect(nextCronTime("17 */6 * * *", from)?.getHours()).toBe(12);
    expect(nextCronTime("5 4 * * *", from)?.getDate()).toBe(2);
  });
});

describe("schedule install and remove", () => {
  it("falls back to a cron entry when systemd is not running; remove leaves nothing", async () => {
    const r = await installSchedule({
      command,
      every: "6h",
      jobs: ["triage", "audit"],
      writer: "auto",
      host: "web01",
      paths,
    });
    expect(r.record.writer).toBe("cron");
    expect(await filesUnder(dir)).toEqual(["cron.d/breachkit-schedule", "state/schedule.json"]);
    const cron = await readFile(join(paths.cronDir, "breachkit-schedule"), "utf8");
    expect(cron).toContain("schedule run --jobs triage,audit");
    expect((await readInstallRecord(paths.stateDir))?.files.map((f) => f.path)).toEqual([
      join(paths.cronDir, "breachkit-schedule"),
    ]);
    const gone = await removeSchedule(paths);
    expect(gone.kept).toEqual([]);
    expect(await filesUnder(dir)).toEqual([]);
  });

  it("writes the systemd service and timer when asked; remove leaves nothing", async () => {
    const r = await installSchedule({
      command,
      every: "daily",
      jobs: ["triage"],
      writer: "systemd",
      host: "web01",
      paths,
    });
    expect(r.record.writer).toBe("systemd");
    expect(r.steps.join(" ")).toMatch(/systemd is not running/);
    expect(await filesUnder(dir)).toEqual([
      "state/schedule.json",
      "systemd/breachkit-schedule.service",
      "systemd/breachkit-schedule.timer",
    ]);
    await removeSchedule(paths);
    expect(await filesUnder(dir)).toEqual([]);
  });

  it("refuses to install twice or over a file it did not write", async () => {
    await installSchedule({
      command,
      every: "1h",
      jobs: ["triage"],
      writer: "cron",
      host: "h",
      paths,
    });
    await expect(
      installSchedule({ command, every: "1h", jobs: ["triage"], writer: "cron", host: "h", paths }),
    ).rejects.toThrow(/installed already/);
    await removeSchedule(paths);
    await mkdir(paths.cronDir, { recursive: true });
    await writeFile(join(paths.cronDir, "breachkit-schedule"), "admin's own\n");
    await expect(
      installSchedule({ command, every: "1h", jobs: ["triage"], writer: "cron", host: "h", paths }),
    ).rejects.toThrow(/did not write it/);
    expect(await readFile(join(paths.cronDir, "breachkit-schedule"), "utf8")).toBe("admin's own\n");
  });

  it("leaves a file changed since install in place, and names it", async () => {
    await installSchedule({
      command,
      every: "1h",
      jobs: ["triage"],
      writer: "cron",
      host: "h",
      paths,
    });
    await writeFile(join(paths.cronDir, "breachkit-schedule"), "edited by the admin\n");
    const r = await removeSchedule(paths);
    expect(r.kept).toEqual([join(paths.cronDir, "breachkit-schedule")]);
    expect(await filesUnder(dir)).toEqual(["cron.d/breachkit-schedule"]);
  });
});
