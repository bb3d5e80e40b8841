/**
 * `schedule install` and `schedule remove`: write a systemd service and timer (enabled with
 * systemctl), or an /etc/cron.d entry where systemd is not running, and record exactly what
 * was written (path and SHA-256) in the state directory, so that remove takes away exactly
 * that: a file changed since by someone else is left in place and named.
 */
import { createHash } from "node:crypto";
import { existsSync, promises as fsp } from "node:fs";
import path from "node:path";
import { execa } from "execa";
import {
  type InstallRecord,
  InstallRecordSchema,
  SCHEDULE_SCHEMA_VERSION,
  type ScheduleEvery,
  type ScheduleJob,
} from "../../model/schedule-output.js";
import { readBounded } from "../../observe/baseline/record.js";
import { BreachkitError } from "../../util/errors.js";
import { errorMessage } from "../../util/result.js";
import { removeOwnFile, writeOwnFile } from "./files.js";
import { CRON_FILE_NAME, cronText, systemdUnits, UNIT_NAME } from "./units.js";

export const RECORD_NAME = "schedule.json";

export interface SchedulePaths {
  /** breachkit's state directory (default /var/lib/breachkit): the install record. */
  stateDir: string;
  unitDir: string;
  cronDir: string;
  /** Exists when systemd is the running init (sd_booted's test). */
  systemdRunDir: string;
}

export const DEFAULT_PATHS: SchedulePaths = {
  stateDir: "/var/lib/breachkit",
  unitDir: "/etc/systemd/system",
  cronDir: "/etc/cron.d",
  systemdRunDir: "/run/systemd/system",
};

const sha = (s: string) => createHash("sha256").update(s).digest("hex");

export function systemdRunning(paths: SchedulePaths): boolean {
  return existsSync(paths.systemdRunDir);
}

export async function readInstallRecord(stateDir: string): Promise<InstallRecord | null> {
  const file = path.join(stateDir, RECORD_NAME);
  const text = await readBounded(file, 1024 * 1024);
  if (text === null) return null;
  try {
    return InstallRecordSchema.parse(JSON.parse(text));
  } catch (e) {
    throw new BreachkitError(
      "BAD_INPUT",
      `the schedule's record ${file} is not readable: ${errorMessage(e).slice(0, 200)}`,
      `look at it; if nothing is installed, remove it (rm ${file})`,
    );
  }
}

async function systemctl(args: string[], steps: string[]): Promise<void> {
  const r = await execa("systemctl", args, { reject: false, stdin: "ignore", timeout: 60_000 });
  steps.push(`systemctl ${args.join(" ")} (exit ${r.exitCode ?? "none"})`);
  if (r.exitCode !== 0) {
    throw new BreachkitError(
      "IO",
      `systemctl ${args.join(" ")} failed: ${String(r.stderr).slice(0, 300)}`,
      "check the unit with systemd-analyze verify, then breachkit schedule remove and install again",
    );
  }
}

export interface InstallOptions {
  command: readonly string[];
  every: ScheduleEvery;
  jobs: readonly ScheduleJob[];
  writer: "auto" | "systemd" | "cron";
  host: string;
  paths: SchedulePaths;
  now?: Date;
}

export async function installSchedule(
  o: InstallOptions,
): Promise<{ record: InstallRecord; recordPath: string; steps: string[] }> {
  const recordPath = path.join(o.paths.stateDir, RECORD_NAME);
  const existing = await readInstallRecord(o.paths.stateDir);
  if (existing) {
    throw new BreachkitError(
      "USAGE",
      `a schedule is installed already (${existing.writer}, every ${existing.every}, since ${existing.installedAt})`,
      "breachkit schedule remove, then install again",
    );
  }
  const running = systemdRunning(o.paths);
  const writer = o.writer === "auto" ? (running ? "systemd" : "cron") : o.writer;
  const files: { path: string; text: string }[] = [];
  if (writer === "systemd") {
    const u = systemdUnits(o.command, o.every);
    files.push({ path: path.join(o.paths.unitDir, `${UNIT_NAME}.service`), text: u.service });
    files.push({ path: path.join(o.paths.unitDir, `${UNIT_NAME}.timer`), text: u.timer });
  } else {
    files.push({
      path: path.join(o.paths.cronDir, CRON_FILE_NAME),
      text: cronText(o.command, o.every, o.host),
    });
  }
  for (const f of files) {
    if (existsSync(f.path)) {
      throw new BreachkitError(
        "USAGE",
        `${f.path} exists and breachkit did not write it (no install record)`,
        `move it away if it is an old breachkit schedule, then install again`,
      );
    }
  }
  const record: InstallRecord = {
    schemaVersion: SCHEDULE_SCHEMA_VERSION,
    writer,
    every: o.every,
    jobs: [...o.jobs],
    installedAt: (o.now ?? new Date()).toISOString(),
    command: [...o.command],
    files: [],
    enabled: [],
  };
  const steps: string[] = [];
  // The record first, then each file as it is written: an install cut short leaves a record
  // that remove can act on.
  const save = () => writeOwnFile(recordPath, `${JSON.stringify(record, null, 2)}\n`);
  await save();
  try {
    for (const f of files) {
      await fsp.mkdir(path.dirname(f.path), { recursive: true, mode: 0o755 });
      // Units and cron.d files are read by systemd and cron: 0644, like the packages' own.
      await writeOwnFile(f.path, f.text, 0o644);
      record.files.push({ path: f.path, sha256: sha(f.text) });
      await save();
    }
    if (writer === "systemd" && running) {
      await systemctl(["daemon-reload"], steps);
      await systemctl(["enable", "--now", `${UNIT_NAME}.timer`], steps);
      record.enabled.push(`${UNIT_NAME}.timer`);
      await save();
    } else if (writer === "systemd") {
      steps.push(
        `systemd is not running here: enable it later with systemctl enable --now ${UNIT_NAME}.timer`,
      );
    }
  } catch (e) {
    await removeSchedule(o.paths).catch(() => {});
    throw e;
  }
  return { record, recordPath, steps };
}

export async function removeSchedule(
  paths: SchedulePaths,
): Promise<{ removed: string[]; kept: string[]; steps: string[] }> {
  const record = await readInstallRecord(paths.stateDir);
  const removed: string[] = [];
  const kept: string[] = [];
  const steps: string[] = [];
  if (!record) return { removed, kept, steps };
  const running = systemdRunning(paths);
  for (const unit of record.enabled) {
    if (running) await systemctl(["disable", "--now", unit], steps).catch(() => {});
  }
  for (const f of record.files) {
    let now: string | null;
    try {
      now = await readBounded(f.path, 1024 * 1024);
    } catch {
      now = "";
    }
    if (now === null) continue; // gone already
    if (sha(now) !== f.sha256) {
      kept.push(f.path);
      continue;
    }
    if (await removeOwnFile(f.path)) removed.push(f.path);
  }
  if (record.writer === "systemd" && running && removed.length > 0)
    await systemctl(["daemon-reload"], steps).catch(() => {});
  await removeOwnFile(path.join(paths.stateDir, RECORD_NAME));
  removed.push(path.join(paths.stateDir, RECORD_NAME));
  return { removed, kept, steps };
}

/** The next time a cron schedule of ours fires after `from` (minute resolution). */
export function nextCronTime(schedule: string, from: Date): Date | null {
  const [m, h] = schedule.split(/\s+/);
  const matches = (field: string | undefined, v: number) => {
    if (field === undefined || field === "*") return true;
    const step = /^\*\/(\d+)$/.exec(field);
    if (step) return v % Number(step[1]) === 0;
    return field.split(",").map(Number).includes(v);
  };
  const t = new Date(from.getTime());
  t.setSeconds(0, 0);
  for (let i = 0; i < 3 * 24 * 60; i++) {
    t.setMinutes(t.getMinutes() + 1);
    if (matches(m, t.getMinutes()) && matches(h, t.getHours())) return new Date(t.getTime());
  }
  return null;
}

export async function nextRun(record: InstallRecord, paths: SchedulePaths): Promise<string | null> {
  if (record.writer === "systemd") {
    if (!systemdRunning(paths)) return null;
    const r = await execa(
      "systemctl",
      ["show", `${UNIT_NAME}.timer`, "-p", "NextElapseUSecRealtime", "--value"],
      { reject: false, stdin: "ignore", timeout: 10_000 },
    );
    const v = String(r.stdout).trim();
    return r.exitCode === 0 && v !== "" ? v : null;
  }
  const file = record.files[0]?.path;
  if (!file) return null;
  const text = await readBounded(file, 1024 * 1024).catch(() => null);
  const line = text?.split("\n").find((l) => /^[\d*]/.test(l));
  if (!line) return null;
  const next = nextCronTime(line.split(/\s+/).slice(0, 5).join(" "), new Date());
  return next ? next.toISOString() : null;
}
