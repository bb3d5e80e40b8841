/**
 * restic runs that write: `backup`, `forget [--prune]`, `restore`, `check` (which locks the
 * repository). Argv only, never a shell; the password only ever through RESTIC_PASSWORD_FILE;
 * stdout read line by line (bounded) so a backup's status lines drive the progress display and
 * its summary line is kept.
 */
import type { ResticSummary } from "../../model/backup-output.js";
import { parseBackupLine } from "../../observe/restic/parse.js";
import { type ResticRepo, resticEnv } from "../../observe/restic/repo.js";
import { runTool, type ToolRun } from "../../observe/scanners/run-tool.js";

type Env = Readonly<Record<string, string | undefined>>;

/** What is kept of each stream (a backup's status lines are read as they come, not kept). */
const MAX_KEEP = 4 * 1024 * 1024;
/** After SIGTERM, the time restic has to remove its lock from the repository before SIGKILL. */
const RESTIC_GRACE_MS = 30_000;

/**
 * restic through the shared runner (its own process group, killed on timeout and abort),
 * in its own environment (the repository and password file only).
 */
function runRestic(
  exe: string,
  args: readonly string[],
  env: Env,
  timeoutMs: number,
  signal?: AbortSignal,
  onStdoutLine?: (line: string) => void,
): Promise<ToolRun> {
  return runTool(exe, args, {
    env,
    timeoutMs,
    maxOutputBytes: MAX_KEEP,
    killGraceMs: RESTIC_GRACE_MS,
    ...(signal ? { signal } : {}),
    ...(onStdoutLine ? { onStdoutLine } : {}),
  });
}

export interface BackupRun extends ToolRun {
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
    const run = await runRestic(
      this.exe,
      args,
      this.runEnv,
      opts.timeoutMs,
      opts.signal,
      (line) => {
        const p = parseBackupLine(line);
        if (!p) return;
        if (p.kind === "summary") summary = p.summary;
        else if (p.kind === "status") opts.onProgress?.(p.percent, p.bytesDone, p.totalBytes);
        else if (p.kind === "error" && errors.length < 1000) errors.push(p.text);
      },
    );
    return { ...run, summary, errors };
  }

  async forget(args: readonly string[], timeoutMs: number, signal?: AbortSignal): Promise<ToolRun> {
    return runRestic(this.exe, ["forget", "--json", ...args], this.runEnv, timeoutMs, signal);
  }

  /** Remove the data no snapshot references any more. */
  async prune(timeoutMs: number, signal?: AbortSignal): Promise<ToolRun> {
    return runRestic(this.exe, ["prune"], this.runEnv, timeoutMs, signal);
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
  ): Promise<ToolRun> {
    const args = ["restore", snapshotId, "--target", target];
    if (verify) args.push("--verify");
    return runRestic(this.exe, args, this.runEnv, timeoutMs, signal);
  }

  /** `restic check --read-data-subset SUBSET` (it reads back that share of the packs). */
  async check(subset: string, timeoutMs: number, signal?: AbortSignal): Promise<ToolRun> {
    return runRestic(
      this.exe,
      ["--no-cache", "check", "--read-data-subset", subset],
      this.runEnv,
      timeoutMs,
      signal,
    );
  }
}
