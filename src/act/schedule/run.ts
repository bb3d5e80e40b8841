/**
 * `schedule run`, what the timer (or cron) calls: run the jobs as subprocesses of breachkit,
 * keep their bundles and answers under the runs directory (a directory per run, a sealed bundle
 * of the run's own results inside it), compare with the baseline and with the previous run,
 * notify what is new at or above the threshold, and remove runs past --keep.
 */
import { promises as fsp } from "node:fs";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { bundleTimestamp, createBundle } from "../../evidence/bundle.js";
import { DEFAULT_UPDATE_DIRS, readUpdateRecords } from "../../evidence/update-records.js";
import { diffBaseline, driftKey } from "../../judge/baseline/diff.js";
import type { BaselineRecord } from "../../model/baseline.js";
import { type Finding, type Severity, severityRank } from "../../model/finding.js";
import type { NotifyConfig } from "../../model/notify-config.js";
import {
  type JobResult,
  type RunOutput,
  RunOutputSchema,
  SCHEDULE_SCHEMA_VERSION,
  type ScheduleJob,
} from "../../model/schedule-output.js";
import { type Gap, parseSnapshot, type Snapshot } from "../../model/snapshot.js";
import { observeBaseline } from "../../observe/baseline/index.js";
import { readBounded } from "../../observe/baseline/record.js";
import { errorMessage } from "../../util/result.js";
import { fingerprint, type NotifyItem, notify } from "../notify/send.js";
import { makeOwnDir, removeOwnTree } from "./files.js";
import { type JobRun, runJob } from "./jobs.js";

/** A run's directory name: the UTC time it started, unique. */
const RUN_NAME = /^\d{8}T\d{6}Z(-\d+)?$/;
const RUN_FILE = "schedule.json";
/** How often a job's output directory is looked at for its bundle (see bundleAppears). */
const BUNDLE_POLL_MS = 20;

export interface RunOptions {
  jobs: readonly ScheduleJob[];
  runsDir: string;
  stateDir: string;
  keep: number;
  baseline: BaselineRecord | null;
  notify: NotifyConfig | null;
  /** Threshold when no notify config says one. */
  threshold: Severity;
  channels?: readonly string[] | undefined;
  env: Readonly<Record<string, string | undefined>>;
  host: string;
  jobTimeoutMs: number;
  /** How breachkit is run for a job (tests); default this Node and this package's entry. */
  command?: readonly string[];
  /** Where breachkit update's bundles are (default DEFAULT_UPDATE_DIRS): their image changes are explained. */
  updateDirs?: readonly string[];
  /** Walk for SUID files when the baseline has them (default true). */
  suid?: boolean;
  /**
   * Overlap the jobs where that is sound (default true): audit starts once triage has read the
   * processes, update-check once triage has ended, scan last and alone; false: one at a time.
   */
  overlap?: boolean;
  onStep?: (s: string) => void;
  now?: () => Date;
}

export function findingFingerprint(f: Finding): string {
  if (f.source === "baseline") return fingerprint([driftKey(f)]);
  const ev = f.evidence[0];
  // Numbers in titles (rates, counts, pids) change from run to run: not part of the identity.
  return fingerprint([
    f.rule,
    f.where,
    f.title.replace(/\d+(\.\d+)?/g, "#"),
    ev?.path ?? "",
    ev?.sha256 ?? "",
  ]);
}

/** The runs under `runsDir`, newest first, with their schedule.json (null when unreadable). */
export async function listRuns(
  runsDir: string,
): Promise<{ name: string; dir: string; out: RunOutput | null }[]> {
  let names: string[];
  try {
    names = (await fsp.readdir(runsDir)).filter((n) => RUN_NAME.test(n));
  } catch {
    return [];
  }
  names.sort().reverse();
  const runs: { name: string; dir: string; out: RunOutput | null }[] = [];
  for (const name of names) {
    const dir = path.join(runsDir, name);
    let out: RunOutput | null = null;
    try {
      const entries = await fsp.readdir(dir);
      const bundle = entries.find((e) => e.startsWith("breachkit-"));
      if (bundle) {
        const text = await readBounded(path.join(dir, bundle, RUN_FILE), 64 * 1024 * 1024);
        if (text !== null) {
          const p = RunOutputSchema.safeParse(JSON.parse(text));
          if (p.success) out = p.data;
        }
      }
    } catch {
      /* an unreadable run: listed without its result */
    }
    runs.push({ name, dir, out });
  }
  return runs;
}

async function newRunDir(runsDir: string, now: Date): Promise<string> {
  await makeOwnDir(runsDir);
  const stamp = bundleTimestamp(now);
  for (let i = 0; i < 100; i++) {
    const dir = path.join(runsDir, i === 0 ? stamp : `${stamp}-${i}`);
    try {
      await fsp.mkdir(dir, { mode: 0o700 });
      return dir;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
  }
  throw new Error(`cannot make a run directory under ${runsDir}`);
}

async function snapshotOfBundle(dir: string | null): Promise<Snapshot | null> {
  if (!dir) return null;
  try {
    const text = await readBounded(path.join(dir, "snapshot.json"));
    return text === null ? null : parseSnapshot(text);
  } catch {
    return null;
  }
}

interface DriftResult {
  /** null: not computed (the reason is in gaps). */
  findings: Finding[] | null;
  gaps: Gap[];
}

/** The drift since the baseline, from a snapshot of this run (or a new one when null). */
async function computeDrift(
  o: RunOptions,
  baseline: BaselineRecord,
  snap: Snapshot | null,
  step: (s: string) => void,
): Promise<DriftResult> {
  const gaps: Gap[] = [];
  step("drift since the baseline");
  try {
    const state = await observeBaseline({
      env: o.env,
      ...(baseline.state.root !== "/" ? { root: baseline.state.root } : {}),
      ...(snap ? { snapshot: snap } : {}),
      suid: (o.suid ?? true) && baseline.state.kinds.includes("suid"),
      onStep: (s) => step(`drift: ${s}`),
    });
    step("drift: update records");
    const updates = await readUpdateRecords({
      dirs: o.updateDirs?.length ? o.updateDirs : DEFAULT_UPDATE_DIRS,
      since: baseline.state.takenAt,
      until: state.takenAt,
      host: baseline.state.host,
    });
    for (const r of updates.rejected)
      gaps.push({
        source: "baseline",
        message: `update record not trusted: ${r.bundle}: ${r.reason}`,
      });
    return { findings: diffBaseline(baseline.state, state, { updates }).findings, gaps };
  } catch (e) {
    gaps.push({ source: "baseline", message: `drift not computed: ${errorMessage(e)}` });
    return { findings: null, gaps };
  }
}

/**
 * Resolves once a bundle directory (breachkit-*) exists under `outDir`, or once `ended`
 * resolves (the job ended without making one). Polled: a job makes one directory, once.
 */
async function bundleAppears(outDir: string, ended: Promise<void>): Promise<void> {
  let done = false;
  void ended.then(() => {
    done = true;
  });
  while (!done) {
    try {
      if ((await fsp.readdir(outDir)).some((n) => n.startsWith("breachkit-"))) return;
    } catch {
      /* not made yet */
    }
    await Promise.race([ended, sleep(BUNDLE_POLL_MS)]);
  }
}

export async function runSchedule(o: RunOptions): Promise<RunOutput> {
  const step = o.onStep ?? (() => {});
  const now = o.now ?? (() => new Date());
  const startedAt = now();
  const gaps: Gap[] = [];
  const previous = (await listRuns(o.runsDir)).find((r) => r.out !== null) ?? null;
  const dir = await newRunDir(o.runsDir, startedAt);
  const jobsDir = path.join(dir, "jobs");
  await makeOwnDir(jobsDir);

  // When the jobs start (o.overlap, the default): triage first. audit starts as soon as
  // triage has read the host's processes (its bundle directory appears under jobs/triage:
  // triage creates it right after its snapshot), so triage's snapshot never holds audit's
  // processes, and audit runs while triage copies logs, samples traffic and judges.
  // update-check starts when triage has ended (its requests to registries would count in
  // triage's traffic sample); scan starts last, alone (its scanners load every core). The
  // drift is computed as soon as triage has ended, from triage's snapshot. Without overlap,
  // one job at a time, then the drift.
  const overlap = o.overlap ?? true;
  const jobs = [...new Set(o.jobs)];
  const hasTriage = jobs.includes("triage");
  const runs = new Map<ScheduleJob, Promise<JobRun>>();
  const start = (job: ScheduleJob): Promise<JobRun> => {
    step(`job ${job}`);
    const p = runJob(job, {
      jobsDir,
      env: o.env,
      timeoutMs: o.jobTimeoutMs,
      ...(o.command ? { command: o.command } : {}),
    });
    runs.set(job, p);
    return p;
  };
  const settled = (ps: Iterable<Promise<unknown>>) =>
    Promise.allSettled([...ps]).then(() => undefined);

  let driftRun: Promise<DriftResult | null> = Promise.resolve(null);
  if (!overlap) {
    for (const job of jobs) await start(job);
  } else {
    const triage = hasTriage ? start("triage") : null;
    const triageEnded = triage ? settled([triage]) : Promise.resolve();
    const triageRead = triage
      ? bundleAppears(path.join(jobsDir, "triage"), triageEnded)
      : Promise.resolve();
    const middle = jobs
      .filter((j) => j !== "triage" && j !== "scan")
      .map(async (job) => {
        await (job === "audit" ? triageRead : triageEnded);
        return start(job);
      });
    if (o.baseline && triage) {
      const baseline = o.baseline;
      // From triage's snapshot; without one (triage failed) the drift takes its own, and
      // waits until the other jobs have ended so that theirs are not in it.
      driftRun = triage.then(async (r) => {
        const snap = await snapshotOfBundle(r.bundleDir);
        if (!snap) await settled(middle);
        return computeDrift(o, baseline, snap, step);
      });
    }
    await settled(middle);
    if (jobs.includes("scan")) {
      await settled([driftRun]);
      await start("scan");
    }
    await triageEnded;
  }

  const results: JobResult[] = [];
  const outputs: { job: ScheduleJob; stdout: string }[] = [];
  const findings: Finding[] = [];
  let triageBundle: string | null = null;
  for (const job of jobs) {
    // runJob records its own failures: it does not reject.
    const r = await (runs.get(job) as Promise<JobRun>);
    results.push({ ...r.result, bundle: r.bundleDir ? path.relative(dir, r.bundleDir) : null });
    outputs.push({ job, stdout: r.stdout });
    findings.push(...r.findings);
    if (job === "triage") triageBundle = r.bundleDir;
    if (r.result.status === "skipped")
      gaps.push({ source: `job:${job}`, message: r.result.note ?? "skipped" });
    else if (r.result.status === "failed")
      gaps.push({ source: `job:${job}`, message: r.result.note ?? "failed" });
  }

  let drift: Finding[] | null = null;
  if (o.baseline) {
    const got =
      (await driftRun) ??
      (await computeDrift(o, o.baseline, await snapshotOfBundle(triageBundle), step));
    gaps.push(...got.gaps);
    if (got.findings !== null) {
      drift = got.findings;
      findings.push(...drift);
    }
  } else {
    gaps.push({
      source: "baseline",
      message: "no baseline: save one with breachkit baseline save",
    });
  }

  const threshold = o.threshold;
  const open: NotifyItem[] = [];
  const seen = new Set<string>();
  for (const f of findings) {
    if (f.falsePositive || severityRank(f.severity) < severityRank(threshold)) continue;
    const fp = findingFingerprint(f);
    if (seen.has(fp)) continue;
    seen.add(fp);
    open.push({
      fingerprint: fp,
      severity: f.severity,
      title: f.title,
      where: f.where,
      rule: f.rule,
      next: f.next,
    });
  }
  const before = new Set(previous?.out?.openFingerprints ?? []);
  const newSincePrevious = open.filter((i) => !before.has(i.fingerprint)).length;

  let notifications: RunOutput["notifications"] = [];
  let notified: RunOutput["notified"] = [];
  if (o.notify) {
    step("notifications");
    try {
      const outcome = await notify(
        { ...o.notify, threshold },
        { host: o.host, runDir: dir, threshold, time: startedAt.toISOString() },
        open,
        { statePath: path.join(o.stateDir, "notify-state.json"), channels: o.channels },
      );
      notifications = outcome.results;
      notified = outcome.sent.map(({ fingerprint: f, severity, title, where }) => ({
        fingerprint: f,
        severity,
        title,
        where,
      }));
      for (const n of outcome.results)
        if (!n.ok) gaps.push({ source: `notify:${n.channel}`, message: n.detail });
    } catch (e) {
      gaps.push({ source: "notify", message: errorMessage(e) });
    }
  } else {
    gaps.push({ source: "notify", message: "no notify section in the config: nothing sent" });
  }

  // Retention: this run counts; only directories named like runs are ever removed.
  const pruned: string[] = [];
  const all = await listRuns(o.runsDir);
  for (const r of all.slice(Math.max(1, o.keep))) {
    await removeOwnTree(r.dir);
    pruned.push(r.name);
  }

  const failed = results.some((r) => r.status === "failed");
  const output: RunOutput = {
    schemaVersion: SCHEDULE_SCHEMA_VERSION,
    command: "schedule run",
    dir,
    startedAt: startedAt.toISOString(),
    endedAt: now().toISOString(),
    result: failed ? "partial" : open.length > 0 ? "findings" : "ok",
    jobs: results,
    threshold,
    driftSinceBaseline: drift === null ? null : drift.length,
    newSincePrevious,
    previousRun: previous ? previous.dir : null,
    openFingerprints: open.map((i) => i.fingerprint),
    open: open.length,
    notified,
    notifications,
    pruned,
    gaps,
  };

  const bundle = await createBundle({
    outDir: dir,
    host: o.host,
    command: `schedule run --jobs ${o.jobs.join(",")}`,
  });
  for (const out of outputs) {
    if (out.stdout)
      await bundle.writeFile(`jobs/${out.job}.json`, out.stdout, {
        source: `breachkit ${out.job}`,
      });
  }
  if (drift !== null)
    await bundle.writeJson(
      "drift.json",
      { findings: drift },
      { source: "breachkit baseline diff" },
    );
  await bundle.writeJson(RUN_FILE, output, { source: "breachkit schedule run" });
  await bundle.seal({ complete: !failed, ...(failed ? { reason: "a job failed" } : {}) });
  return output;
}
