/**
 * restic runs that write: `backup`, `forget [--prune]`, `restore`, `check` (which locks the
 * repository). Argv only, never a shell; the password only ever through RESTIC_PASSWORD_FILE;
 * stdout read line by line (bounded) so a backup's status lines drive the progress display and
 * its summary line is kept.
 */
import { spawn } from "node:child_process";
import type { ResticSummary } from "../../model/backup-output.js";
import { parseBackupLine } from "../../observe/restic/parse.js";
import { type ResticRepo, resticEnv } from "../../observe/restic/repo.js";

type Env = Readonly<Record<string, string | undefined>>;

export interface StreamRun {
  argv: string[];
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
}

const MAX_KEEP = 4 * 1024 * 1024;

/** Run a program, hand each stdout line to `onLine`, keep the tail of both streams. */
export function runStreaming(
  file: string,
  args: readonly string[],
  opts: {
    env: Record<string, string>;
    timeoutMs: number;
    onLine?: (line: string) => void;
    signal?: AbortSignal;
    cwd?: string;
  },
): Promise<StreamRun> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      cwd: opts.cwd ?? "/",
      env: opts.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    let errText = "";
    let partial = "";
    let timedOut = false;
    child.stdout.setEncoding("utf8");
    child.stderr.setEncoding("utf8");
    child.stdout.on("data", (s: string) => {
      partial += s;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) {
        opts.onLine?.(l);
        out = `${out}${l}\n`.slice(-MAX_KEEP);
      }
    });
    child.stderr.on("data", (s: string) => {
      errText = (errText + s).slice(-MAX_KEEP);
    });
    const stop = () => child.kill("SIGTERM");
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    opts.signal?.addEventListener("abort", stop, { once: true });
    child.on("error", (e) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", stop);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", stop);
      if (partial !== "") {
        opts.onLine?.(partial);
        out = (out + partial).slice(-MAX_KEEP);
      }
      resolve({
        argv: [file, ...args],
        exitCode: code,
        signal,
        stdout: out,
        stderr: errText,
        timedOut,
        durationMs: Date.now() - started,
      });
    });
  });
}

export interface BackupRun extends StreamRun {
  summary: ResticSummary | null;
  /** Files restic could not read (its error lines). */
  errors: string[];
}

export class ResticWriter {
  constructor(
    readonly exe: string,
    readonly repo: ResticRepo,
    readonly env: Env,
  ) {}

  private get runEnv() {
    return resticEnv(this.repo, this.env);
  }

  /** `restic backup --json` of `paths` with breachkit's tags; summary parsed. */
  async backup(
    paths: readonly string[],
    opts: {
      tags: readonly string[];
      host: string;
      excludes?: readonly string[];
      time?: string;
      timeoutMs: number;
      onProgress?: (percent: number, bytesDone: number, totalBytes: number) => void;
      signal?: AbortSignal;
    },
  ): Promise<BackupRun> {
    const args = ["backup", "--json", "--host", opts.host];
    for (const t of opts.tags) args.push("--tag", t);
    for (const e of opts.excludes ?? []) args.push("--exclude", e);
    if (opts.time) args.push("--time", opts.time);
    args.push("--", ...paths);
    let summary: ResticSummary | null = null;
    const errors: string[] = [];
    const run = await runStreaming(this.exe, args, {
      env: this.runEnv,
      timeoutMs: opts.timeoutMs,
      ...(opts.signal ? { signal: opts.signal } : {}),
      onLine: (line) => {
        const p = parseBackupLine(line);
        if (!p) return;
        if (p.kind === "summary") summary = p.summary;
        else if (p.kind === "status") opts.onProgress?.(p.percent, p.bytesDone, p.totalBytes);
        else if (p.kind === "error" && errors.length < 1000) errors.push(p.text);
      },
    });
    return { ...run, summary, errors };
  }

  async forget(args: readonly string[], timeoutMs: number): Promise<StreamRun> {
    return runStreaming(this.exe, ["forget", "--json", ...args], {
      env: this.runEnv,
      timeoutMs,
    });
  }

  /** Remove the data no snapshot references any more. */
  async prune(timeoutMs: number): Promise<StreamRun> {
    return runStreaming(this.exe, ["prune"], { env: this.runEnv, timeoutMs });
  }

  /**
   * Restore the whole snapshot under `target` (restic keeps the absolute paths below it). With
   * `verify`, restic reads every restored file back and checks each blob against its id.
   */
  async restore(
    snapshotId: string,
    target: string,
    timeoutMs: number,
    signal?: AbortSignal,
    verify = false,
  ): Promise<StreamRun> {
    const args = ["restore", snapshotId, "--target", target];
    if (verify) args.push("--verify");
    return runStreaming(this.exe, args, {
      env: this.runEnv,
      timeoutMs,
      ...(signal ? { signal } : {}),
    });
  }

  /** `restic check --read-data-subset SUBSET` (it reads back that share of the packs). */
  async check(subset: string, timeoutMs: number): Promise<StreamRun> {
    return runStreaming(this.exe, ["--no-cache", "check", "--read-data-subset", subset], {
      env: this.runEnv,
      timeoutMs,
    });
  }
}
