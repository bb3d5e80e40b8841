import { hostname } from "node:os";
import { join, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import {
  DEFAULT_PATHS,
  installSchedule,
  nextRun,
  readInstallRecord,
  removeSchedule,
  type SchedulePaths,
} from "../../act/schedule/install.js";
import { selfCommand } from "../../act/schedule/jobs.js";
import { listRuns, runSchedule } from "../../act/schedule/run.js";
import type { BaselineRecord } from "../../model/baseline.js";
import { SEVERITIES, type Severity } from "../../model/finding.js";
import { type NotifyConfig, NotifyConfigSchema } from "../../model/notify-config.js";
import {
  SCHEDULE_EVERY,
  SCHEDULE_JOBS,
  SCHEDULE_SCHEMA_VERSION,
  type ScheduleJob,
  type ScheduleOutput,
} from "../../model/schedule-output.js";
import { DEFAULT_BASELINE_PATH, readBaselineRecord } from "../../observe/baseline/record.js";
import { configSection, loadConfig } from "../../observe/config.js";
import { formatSchedule } from "../../tell/format-baseline.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_FINDINGS } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { type CommandContext, helpFooter } from "../command.js";
import { choice, custom, defineOptions, flag, text, withOptions } from "../options.js";
import { updatesOption } from "./baseline.js";

const DEFAULT_RUNS = "/var/lib/breachkit/runs";

function parseJobs(value: string): ScheduleJob[] {
  const names = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = names.filter((n) => !(SCHEDULE_JOBS as readonly string[]).includes(n));
  if (names.length === 0 || bad.length > 0)
    throw new InvalidArgumentError(
      `--jobs takes a comma-separated list of ${SCHEDULE_JOBS.join(", ")}; got "${value}"`,
    );
  return [...new Set(names)] as ScheduleJob[];
}

function parseChannels(value: string): string[] {
  const names = value
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0 || names.some((n) => !["email", "webhook", "none"].includes(n)))
    throw new InvalidArgumentError(
      `--notify takes email, webhook (comma-separated) or none; got "${value}"`,
    );
  return names.includes("none") ? [] : names;
}

function parseKeep(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 10_000)
    throw new InvalidArgumentError(
      `--keep takes a whole number of runs from 1 to 10000; got "${value}"`,
    );
  return n;
}

const PATH_OPTIONS = {
  stateDir: text(
    "--state-dir <dir>",
    "breachkit's state directory (install record, notification state)",
    DEFAULT_PATHS.stateDir,
  ),
  runsDir: text("--runs-dir <dir>", "where each run's directory is kept", DEFAULT_RUNS),
} as const;

const RUN_SHARED = {
  jobs: custom(
    "--jobs <list>",
    `jobs, comma-separated: ${SCHEDULE_JOBS.join(",")} (default triage,audit)`,
    parseJobs,
  ),
  keep: custom("--keep <n>", "runs kept under --runs-dir (default 30)", parseKeep),
  baseline: text(
    "--baseline <file>",
    `the baseline to compare with (default ${DEFAULT_BASELINE_PATH} when it exists)`,
  ),
  updates: updatesOption(),
  config: text(
    "--config <file>",
    "the config file with the notify section (default /etc/breachkit/config.json)",
  ),
  notify: custom(
    "--notify <channels>",
    "channels to use: email,webhook (default: every one configured), or none",
    parseChannels,
  ),
  threshold: custom(
    "--threshold <severity>",
    `notify at or above this severity (default: the config's notify.threshold, else high)`,
    (v: string): Severity => {
      if (!(SEVERITIES as readonly string[]).includes(v))
        throw new InvalidArgumentError(
          `--threshold takes one of ${SEVERITIES.join(", ")}; got "${v}"`,
        );
      return v as Severity;
    },
  ),
  ...PATH_OPTIONS,
} as const;

export const SCHEDULE_INSTALL_OPTIONS = defineOptions({
  json: flag("--json", "print the result as JSON (schema: breachkit schema schedule)", false),
  every: choice("--every <period>", "how often", SCHEDULE_EVERY, "daily"),
  ...RUN_SHARED,
  writer: choice(
    "--writer <kind>",
    "systemd timer, cron entry, or auto (systemd when it runs)",
    ["auto", "systemd", "cron"] as const,
    "auto",
  ),
  unitDir: text("--unit-dir <dir>", "where systemd units are written", DEFAULT_PATHS.unitDir),
  cronDir: text("--cron-dir <dir>", "where the cron entry is written", DEFAULT_PATHS.cronDir),
});

export const SCHEDULE_RUN_OPTIONS = defineOptions({
  json: flag("--json", "print the result as JSON (schema: breachkit schema schedule)", false),
  ...RUN_SHARED,
  jobTimeout: custom(
    "--job-timeout <seconds>",
    "stop a job after this long (default 3600)",
    (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0)
        throw new InvalidArgumentError(`--job-timeout takes a positive number; got "${v}"`);
      return n;
    },
  ),
  suid: flag("--no-suid", "compare without walking filesystems for SUID/SGID files"),
  overlap: flag(
    "--no-overlap",
    "run the jobs one at a time (default: audit starts once triage has read the processes)",
  ),
});

export const SCHEDULE_STATUS_OPTIONS = defineOptions({
  json: flag("--json", "print the result as JSON (schema: breachkit schema schedule)", false),
  ...PATH_OPTIONS,
  systemdRunDir: text(
    "--systemd-run-dir <dir>",
    "systemd's runtime directory (tests)",
    DEFAULT_PATHS.systemdRunDir,
  ),
});

export const SCHEDULE_REMOVE_OPTIONS = defineOptions({
  json: flag("--json", "print the result as JSON (schema: breachkit schema schedule)", false),
  stateDir: PATH_OPTIONS.stateDir,
  systemdRunDir: text(
    "--systemd-run-dir <dir>",
    "systemd's runtime directory (tests)",
    DEFAULT_PATHS.systemdRunDir,
  ),
});

async function notifyConfig(
  env: Readonly<Record<string, string | undefined>>,
  explicit: string | undefined,
): Promise<NotifyConfig | null> {
  const cfg = await loadConfig(env, explicit);
  if (!cfg.ok)
    throw new BreachkitError(
      "BAD_INPUT",
      `the config ${cfg.error.path} ${cfg.error.message}`,
      cfg.error.fix,
    );
  const section = configSection(cfg.value, "notify", NotifyConfigSchema);
  if (!section.ok)
    throw new BreachkitError(
      "BAD_INPUT",
      `the config ${section.error.path}: ${section.error.message}`,
      section.error.fix,
    );
  return section.value ?? null;
}

async function baselineFor(given: string | undefined, cwd: string): Promise<BaselineRecord | null> {
  if (given) return readBaselineRecord(resolve(cwd, given));
  try {
    return await readBaselineRecord(DEFAULT_BASELINE_PATH);
  } catch (e) {
    // No default baseline is a gap of the run (it says so); a broken one is an error.
    if (e instanceof BreachkitError && /^no baseline at/.test(e.message)) return null;
    throw e;
  }
}

export function registerSchedule(program: Command, ctx: CommandContext): void {
  const sched = program
    .command("schedule")
    .summary("run triage, audit, scan and the update check regularly; mail or post what is new")
    .description(
      `A scanner that runs every night is useful when it says what is new since a known-good day
and tells someone. "schedule install" writes a systemd service and timer (hardened where it
costs nothing), or an /etc/cron.d entry where systemd is not running, that call "schedule run":
the jobs run as breachkit subprocesses, each run is kept under /var/lib/breachkit/runs/ (--keep),
compared with the baseline (breachkit baseline save) and with the previous run, and what is
new at or above the threshold is sent once (by fingerprint) by email (SMTP or sendmail) and
webhooks (JSON, ntfy, Slack, Matrix), with a digest of what is still open. Notifications are
configured in the "notify" section of /etc/breachkit/config.json (mode 0600).`,
    )
    .addHelpText(
      "after",
      helpFooter([
        "breachkit schedule install --every daily --jobs triage,audit,update-check",
        "breachkit schedule status",
        "breachkit schedule run --jobs triage      # one run now, by hand",
        "breachkit schedule remove",
      ]),
    );

  const install = sched
    .command("install")
    .summary("write the systemd timer (or cron entry) that runs schedule run")
    .addHelpText(
      "after",
      `\nPaths written: ${DEFAULT_PATHS.unitDir}/breachkit-schedule.{service,timer} (or ${DEFAULT_PATHS.cronDir}/breachkit-schedule), and the record of them, ${DEFAULT_PATHS.stateDir}/schedule.json.\n${helpFooter(
        [
          "breachkit schedule install",
          "breachkit schedule install --every 6h --jobs triage,scan --keep 60 --notify webhook",
        ],
        "  0  installed\n  2  could not install (installed already, permission, a file in the way)",
      )}`,
    );
  withOptions(install, SCHEDULE_INSTALL_OPTIONS, async ({ options: o }) => {
    const io = ctx.io;
    const jobs = o.jobs ?? (["triage", "audit"] as ScheduleJob[]);
    // Check the config and baseline now, so a broken one fails at install, not at 3 a.m.
    await notifyConfig(io.env, o.config && resolve(io.cwd, o.config));
    if (o.baseline) await readBaselineRecord(resolve(io.cwd, o.baseline));
    const stateDir = resolve(io.cwd, o.stateDir);
    const command = [
      ...selfCommand(),
      "schedule",
      "run",
      "--jobs",
      jobs.join(","),
      "--keep",
      String(o.keep ?? 30),
    ];
    if (o.baseline) command.push("--baseline", resolve(io.cwd, o.baseline));
    for (const d of o.updates ?? []) command.push("--updates", resolve(io.cwd, d));
    if (o.config) command.push("--config", resolve(io.cwd, o.config));
    if (o.notify) command.push("--notify", o.notify.length ? o.notify.join(",") : "none");
    if (o.threshold) command.push("--threshold", o.threshold);
    if (stateDir !== DEFAULT_PATHS.stateDir) command.push("--state-dir", stateDir);
    if (resolve(io.cwd, o.runsDir) !== DEFAULT_RUNS)
      command.push("--runs-dir", resolve(io.cwd, o.runsDir));
    const paths: SchedulePaths = {
      ...DEFAULT_PATHS,
      stateDir,
      unitDir: resolve(io.cwd, o.unitDir),
      cronDir: resolve(io.cwd, o.cronDir),
    };
    const r = await installSchedule({
      command,
      every: o.every,
      jobs,
      writer: o.writer,
      host: hostname(),
      paths,
    });
    const out: ScheduleOutput = {
      schemaVersion: SCHEDULE_SCHEMA_VERSION,
      command: "schedule install",
      writer: r.record.writer,
      every: r.record.every,
      jobs: r.record.jobs,
      files: r.record.files.map((f) => f.path),
      steps: r.steps,
      record: r.recordPath,
    };
    io.write(o.json ? `${JSON.stringify(out, null, 2)}\n` : formatSchedule(out, colorsFor(io)));
  });

  const remove = sched
    .command("remove")
    .summary("remove exactly what install wrote")
    .addHelpText(
      "after",
      `\nPaths written: removes the files the install record lists (a file changed since is left, and named) and the record.\n${helpFooter(
        ["breachkit schedule remove"],
        "  0  removed (or nothing was installed)\n  2  could not remove",
      )}`,
    );
  withOptions(remove, SCHEDULE_REMOVE_OPTIONS, async ({ options: o }) => {
    const io = ctx.io;
    const r = await removeSchedule({
      ...DEFAULT_PATHS,
      stateDir: resolve(io.cwd, o.stateDir),
      systemdRunDir: o.systemdRunDir,
    });
    const out: ScheduleOutput = {
      schemaVersion: SCHEDULE_SCHEMA_VERSION,
      command: "schedule remove",
      files: r.removed,
      kept: r.kept,
      steps: r.steps,
    };
    io.write(o.json ? `${JSON.stringify(out, null, 2)}\n` : formatSchedule(out, colorsFor(io)));
    for (const k of r.kept)
      io.error(
        `note: ${k} was changed since install wrote it: left in place (remove it by hand if it is not needed)\n`,
      );
  });

  const status = sched
    .command("status")
    .summary("what is installed, the next run, and the last runs with their result")
    .addHelpText(
      "after",
      `\nPaths written: none.\n${helpFooter(["breachkit schedule status", "breachkit schedule status --json | jq '.runs[0]'"], "  0  shown\n  2  could not read the state")}`,
    );
  withOptions(status, SCHEDULE_STATUS_OPTIONS, async ({ options: o }) => {
    const io = ctx.io;
    const paths = {
      ...DEFAULT_PATHS,
      stateDir: resolve(io.cwd, o.stateDir),
      systemdRunDir: o.systemdRunDir,
    };
    const installed = await readInstallRecord(paths.stateDir);
    const runs = await listRuns(resolve(io.cwd, o.runsDir));
    const out: ScheduleOutput = {
      schemaVersion: SCHEDULE_SCHEMA_VERSION,
      command: "schedule status",
      installed,
      nextRun: installed ? await nextRun(installed, paths) : null,
      runs: runs.map((r) => ({
        dir: r.dir,
        startedAt: r.out?.startedAt ?? r.name,
        result: r.out?.result ?? "partial",
        newFindings: r.out?.notified.length ?? 0,
        openFindings: r.out?.open ?? 0,
      })),
    };
    io.write(o.json ? `${JSON.stringify(out, null, 2)}\n` : formatSchedule(out, colorsFor(io)));
  });

  const run = sched
    .command("run")
    .summary("one scheduled run now: jobs, drift, notifications (what the timer calls)")
    .addHelpText(
      "after",
      `\nPaths written: a run directory under --runs-dir (the jobs' bundles and a sealed bundle of the run: schedule.json, drift.json, each job's answer), the notification state ${join(DEFAULT_PATHS.stateDir, "notify-state.json")}; runs past --keep are removed.\n${helpFooter(
        [
          "breachkit schedule run --jobs triage",
          "breachkit schedule run --jobs triage,audit --threshold medium --json",
        ],
        "  0  ran, nothing open at or above the threshold\n  1  findings open at or above the threshold\n  2  could not run (config refused, runs directory not writable)",
      )}`,
    );
  withOptions(run, SCHEDULE_RUN_OPTIONS, async ({ options: o }) => {
    const io = ctx.io;
    const progress = createProgress(io, o.json);
    const notify = await notifyConfig(io.env, o.config && resolve(io.cwd, o.config));
    const baseline = await baselineFor(o.baseline, io.cwd);
    const out = await runSchedule({
      jobs: o.jobs ?? ["triage", "audit"],
      runsDir: resolve(io.cwd, o.runsDir),
      stateDir: resolve(io.cwd, o.stateDir),
      keep: o.keep ?? 30,
      baseline,
      notify,
      threshold: o.threshold ?? notify?.threshold ?? "high",
      channels: o.notify,
      env: io.env,
      host: hostname(),
      jobTimeoutMs: (o.jobTimeout ?? 3600) * 1000,
      suid: o.suid,
      overlap: o.overlap,
      updateDirs: (o.updates ?? []).map((d) => resolve(io.cwd, d)),
      onStep: (s) => progress.update(`schedule run: ${s}…`),
    });
    progress.done();
    io.write(o.json ? `${JSON.stringify(out, null, 2)}\n` : formatSchedule(out, colorsFor(io)));
    if (out.open > 0) ctx.setExitCode(EXIT_FINDINGS);
  });
}
