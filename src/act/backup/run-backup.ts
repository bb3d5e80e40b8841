/**
 * One backup run: per container, the pre hook, then pause (or stop, when labelled
 * breachkit.backup.stop=true) while restic reads its volumes and bind mounts, then unpause (or
 * start) whatever restic did, then the post hook. Every change to the host is recorded with its
 * undo; a container breachkit paused or stopped is handed back running even when restic failed
 * or was interrupted (try/finally).
 */
import { posix } from "node:path";
import type {
  BackupOutput,
  ContainerBackup,
  HookRun,
  HostAction,
} from "../../model/backup-output.js";
import { BACKUP_SCHEMA_VERSION } from "../../model/backup-output.js";
import { explainResticError, snapshotTags } from "../../observe/restic/parse.js";
import type { ResticRepo } from "../../observe/restic/repo.js";
import type { BackupEngine, BackupTarget } from "../../observe/restic/targets.js";
import { formatBytes, type Progress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import type { DockerActions } from "../docker-actions.js";
import { runHook } from "./hooks.js";
import type { ResticWriter } from "./restic.js";

export interface BackupRunOptions {
  targets: readonly BackupTarget[];
  repo: ResticRepo;
  restic: ResticWriter;
  docker: DockerActions;
  engine: BackupEngine;
  host: string;
  dryRun: boolean;
  hooks: boolean;
  hookTimeoutMs: number;
  resticTimeoutMs: number;
  stopTimeoutSec: number;
  env: Readonly<Record<string, string | undefined>>;
  euid: number;
  progress: Progress;
  signal?: AbortSignal;
  /** Each host change as it happens (a bundle's log, when the run writes one). */
  onAction?: (a: HostAction) => void;
  now?: () => Date;
}

/** restic failures that concern the repository, not one container: the run stops there. */
const REPO_FATAL = /wrong password|no restic repository|disk is full|locked by another/;

export async function runBackup(o: BackupRunOptions): Promise<BackupOutput> {
  const now = o.now ?? (() => new Date());
  const started = now();
  const out: BackupOutput = {
    schemaVersion: BACKUP_SCHEMA_VERSION,
    repo: { location: o.repo.location, passwordFile: o.repo.passwordFile, from: o.repo.from },
    host: o.host,
    dryRun: o.dryRun,
    startedAt: started.toISOString(),
    durationMs: 0,
    containers: [],
    fatal: null,
    bundle: null,
  };
  for (const t of o.targets) {
    if (out.fatal !== null || o.signal?.aborted) {
      out.containers.push(
        result(t, o.host, {
          status: "failed",
          error: out.fatal ? `not attempted: ${out.fatal}` : "not attempted: interrupted",
        }),
      );
      continue;
    }
    const r = await backupOne(t, o, now);
    out.containers.push(r);
    if (r.status === "failed" && r.error && REPO_FATAL.test(r.error)) out.fatal = r.error;
  }
  out.durationMs = now().getTime() - started.getTime();
  return out;
}

function result(t: BackupTarget, host: string, part: Partial<ContainerBackup>): ContainerBackup {
  const c = t.container;
  return {
    id: c.id,
    name: c.name,
    image: c.image,
    imageDigest: t.imageDigest,
    consistency: "none",
    paths: t.paths,
    skipped: t.skipped,
    tags: snapshotTags(c.name, t.imageDigest, host),
    status: "failed",
    error: null,
    warnings: [],
    pre: null,
    post: null,
    summary: null,
    actions: [],
    after: null,
    durationMs: 0,
    ...part,
  };
}

/** Exclude the repository itself when it lies inside a path being read. */
function excludesFor(repo: ResticRepo, paths: readonly string[]): string[] {
  if (!repo.location.startsWith("/")) return [];
  const r = posix.normalize(repo.location);
  return paths.some((p) => r === p || r.startsWith(`${p}/`)) ? [r] : [];
}

async function backupOne(
  t: BackupTarget,
  o: BackupRunOptions,
  now: () => Date,
): Promise<ContainerBackup> {
  const t0 = Date.now();
  const c = t.container;
  const r = result(t, o.host, {});
  const finish = (part: Partial<ContainerBackup>) =>
    Object.assign(r, part, { durationMs: Date.now() - t0 });
  if (t.paths.length === 0) return finish({ status: "nothing", error: null });
  const wantsStop = t.stop && c.running;
  const wantsPause = !t.stop && c.running && !c.paused;
  r.consistency = wantsStop ? "stop" : wantsPause ? "pause" : "none";
  if (o.dryRun) return finish({ status: "planned" });

  const hookCtx = {
    containerId: c.id,
    containerName: c.name,
    env: o.env,
    euid: o.euid,
    timeoutMs: o.hookTimeoutMs,
  };
  if (t.pre !== null) {
    if (!o.hooks) r.warnings.push("pre hook not run (--no-hooks)");
    else {
      o.progress.update(`${c.name}: pre hook`);
      // An interrupt ends the pre hook (nothing is read after it); the post hook, which undoes
      // what the pre hook did, always runs to its end.
      const pre: HookRun = await runHook("breachkit.backup.pre", t.pre, {
        ...hookCtx,
        ...(o.signal ? { signal: o.signal } : {}),
      });
      r.pre = pre;
      if (!pre.ok)
        return finish({
          status: "failed",
          error: `the pre hook failed (${pre.timedOut ? "timed out" : pre.exitCode === null ? pre.output : `exit ${pre.exitCode}`}): nothing was backed up or deleted`,
          after: await o.engine.state(c.id).catch(() => null),
        });
    }
  }

  const act = async (
    action: string,
    undo: string | null,
    fn: () => Promise<unknown>,
  ): Promise<boolean> => {
    const entry: HostAction = {
      time: now().toISOString(),
      action,
      containerId: c.id,
      result: "ok",
      error: null,
      undo,
    };
    try {
      await fn();
      return true;
    } catch (e) {
      entry.result = "error";
      entry.error = errorMessage(e);
      return false;
    } finally {
      r.actions.push(entry);
      o.onAction?.(entry);
    }
  };

  let changed: "pause" | "stop" | null = null;
  if (wantsStop) {
    if (
      await act(`docker stop ${c.id}`, `docker start ${c.id}`, () =>
        o.docker.stop(c.id, { timeoutSec: o.stopTimeoutSec }),
      )
    )
      changed = "stop";
    else
      return finish({
        status: "failed",
        error: "could not stop the container for a consistent read: nothing was backed up",
        after: await o.engine.state(c.id).catch(() => null),
      });
  } else if (wantsPause) {
    if (await act(`docker pause ${c.id}`, `docker unpause ${c.id}`, () => o.docker.pause(c.id)))
      changed = "pause";
    else
      return finish({
        status: "failed",
        error: "could not pause the container for a consistent read: nothing was backed up",
        after: await o.engine.state(c.id).catch(() => null),
      });
  }

  let status: ContainerBackup["status"] = "failed";
  let error: string | null = null;
  try {
    o.progress.update(`${c.name}: restic backup of ${t.paths.length} path(s)`);
    const sources = t.paths.map((p) => p.source);
    const run = await o.restic.backup(sources, {
      tags: r.tags,
      host: o.host,
      excludes: excludesFor(o.repo, sources),
      timeoutMs: o.resticTimeoutMs,
      ...(o.signal ? { signal: o.signal } : {}),
      onProgress: (pct, done, total) =>
        o.progress.update(
          `${c.name}: ${(pct * 100).toFixed(0)}% (${formatBytes(done)} of ${formatBytes(total)})`,
        ),
    });
    r.summary = run.summary;
    if (run.errors.length > 0)
      r.warnings.push(...run.errors.slice(0, 50).map((e) => `restic: ${e}`));
    if (run.exitCode === 0 && run.summary) status = "ok";
    else if (run.exitCode === 3 && run.summary) {
      status = "incomplete";
      error = "restic could not read some files (see warnings); the snapshot lacks them";
    } else {
      status = "failed";
      const why = run.timedOut
        ? { reason: "restic timed out" }
        : explainResticError(run.stderr, run.exitCode);
      error = `restic backup failed: ${why.reason}`;
    }
  } catch (e) {
    error = `restic backup could not run: ${errorMessage(e)}`;
  } finally {
    // Whatever restic did, the container goes back to the state it was in.
    if (changed === "pause")
      await act(`docker unpause ${c.id}`, `docker pause ${c.id}`, () => o.docker.unpause(c.id));
    else if (changed === "stop")
      await act(`docker start ${c.id}`, `docker stop ${c.id}`, () => o.docker.start(c.id));
  }
  if (r.actions.some((a) => a.result === "error")) {
    const failed = r.actions.filter((a) => a.result === "error").map((a) => a.action);
    r.warnings.push(`could not undo: ${failed.join(", ")}: do it by hand`);
  }

  if (t.post !== null && o.hooks) {
    o.progress.update(`${c.name}: post hook`);
    r.post = await runHook("breachkit.backup.post", t.post, hookCtx);
    if (!r.post.ok) r.warnings.push("the post hook failed");
  }
  return finish({ status, error, after: await o.engine.state(c.id).catch(() => null) });
}
