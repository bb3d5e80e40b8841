/**
 * The jobs of a scheduled run: breachkit's own CLI run as a subprocess (argv only, never a
 * shell), each bounded in time, its --json answer kept. A job whose command this breachkit does
 * not have (audit and update come with later versions) is skipped and recorded, not an error.
 */
import { execa } from "execa";
import { type Finding, FindingSchema } from "../../model/finding.js";
import type { JobResult, ScheduleJob } from "../../model/schedule-output.js";
import { packagePath } from "../../util/package-root.js";
import { errorMessage } from "../../util/result.js";

/** The Node binary running breachkit and its entry: how a job runs breachkit again. */
export function selfCommand(): string[] {
  return [process.execPath, packagePath("dist", "cli", "bin.cjs")];
}

export function jobArgv(job: ScheduleJob, outDir: string): string[] {
  switch (job) {
    case "triage":
      return ["triage", "--json", "--out", outDir];
    case "audit":
      return ["audit", "--json", "--out", outDir];
    case "scan":
      return ["scan", "--json", "--out", outDir];
    case "update-check":
      return ["update", "--check", "--json"];
  }
}

export interface JobRun {
  result: JobResult;
  /** stdout as printed (the job's --json answer), for the run's bundle. */
  stdout: string;
  findings: Finding[];
  /** The job's bundle directory (absolute), when it made one. */
  bundleDir: string | null;
}

const MAX_STDOUT = 256 * 1024 * 1024;

/** Findings of a job's answer: `.findings` (triage, audit, scan), or update's rows with a newer image. */
export function findingsOf(job: ScheduleJob, data: unknown): Finding[] {
  if (typeof data !== "object" || data === null) return [];
  const d = data as { findings?: unknown; containers?: unknown };
  const out: Finding[] = [];
  if (Array.isArray(d.findings)) {
    for (const f of d.findings) {
      const p = FindingSchema.safeParse(f);
      if (p.success) out.push(p.data);
    }
    return out;
  }
  if (job === "update-check" && Array.isArray(d.containers)) {
    for (const row of d.containers as {
      name?: unknown;
      status?: unknown;
      image?: unknown;
      id?: unknown;
    }[]) {
      const status = typeof row?.status === "string" ? row.status : "";
      if (!/update|newer|outdated|stale/i.test(status)) continue;
      const name = typeof row.name === "string" ? row.name : "?";
      out.push({
        rule: "update.available",
        severity: "low",
        confidence: "medium",
        title: `container ${name}: ${status} (${typeof row.image === "string" ? row.image : ""})`,
        where: name,
        containerId: typeof row.id === "string" ? row.id : null,
        evidence: [{ facts: { status } }],
        next: "breachkit update (evidence first, health-gated rollback)",
        source: "update",
        falsePositive: null,
      });
    }
  }
  return out;
}

export async function runJob(
  job: ScheduleJob,
  opts: {
    jobsDir: string;
    env: Readonly<Record<string, string | undefined>>;
    timeoutMs: number;
    command?: readonly string[];
  },
): Promise<JobRun> {
  const out = `${opts.jobsDir}/${job}`;
  const [bin, ...pre] = opts.command ?? selfCommand();
  const started = Date.now();
  const base: Omit<JobResult, "status" | "exitCode" | "findings" | "note"> = {
    name: job,
    durationMs: 0,
    bundle: null,
  };
  let r: { stdout: unknown; stderr: unknown; exitCode?: number | undefined; timedOut: boolean };
  try {
    r = await execa(bin as string, [...pre, ...jobArgv(job, out)], {
      reject: false,
      stdin: "ignore",
      timeout: opts.timeoutMs,
      killSignal: "SIGTERM",
      forceKillAfterDelay: 5000,
      maxBuffer: MAX_STDOUT,
      env: { ...opts.env, NO_COLOR: "1" },
      extendEnv: false,
      encoding: "utf8",
    });
  } catch (e) {
    return {
      result: {
        ...base,
        status: "failed",
        exitCode: null,
        durationMs: Date.now() - started,
        findings: 0,
        note: errorMessage(e),
      },
      stdout: "",
      findings: [],
      bundleDir: null,
    };
  }
  const stdout = typeof r.stdout === "string" ? r.stdout : "";
  let data: unknown = null;
  try {
    data = JSON.parse(stdout);
  } catch {
    /* not JSON: recorded below */
  }
  const error = (data as { error?: { message?: unknown } } | null)?.error;
  const errMsg = typeof error?.message === "string" ? error.message : null;
  const durationMs = Date.now() - started;
  if (errMsg !== null && /^unknown command/.test(errMsg)) {
    return {
      result: {
        ...base,
        status: "skipped",
        exitCode: r.exitCode ?? null,
        durationMs,
        findings: 0,
        note: `this breachkit has no "${jobArgv(job, out)[0]}" command`,
      },
      stdout,
      findings: [],
      bundleDir: null,
    };
  }
  const findings = findingsOf(job, data);
  const bundlePath = (data as { bundle?: { path?: unknown } } | null)?.bundle?.path;
  const bundleDir = typeof bundlePath === "string" ? bundlePath : null;
  const ok = !r.timedOut && (r.exitCode === 0 || r.exitCode === 1) && data !== null;
  const note = r.timedOut
    ? `stopped after ${Math.round(opts.timeoutMs / 1000)} s`
    : (errMsg ??
      (data === null
        ? `no JSON answer (exit ${r.exitCode ?? "none"}): ${String(r.stderr ?? "").slice(-300)}`
        : null));
  return {
    result: {
      ...base,
      status: ok ? "ok" : "failed",
      exitCode: r.exitCode ?? null,
      durationMs,
      findings: findings.length,
      bundle: bundleDir,
      note,
    },
    stdout,
    findings,
    bundleDir,
  };
}
