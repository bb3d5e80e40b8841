/**
 * collectEvidence: secure the evidence of a live host into an open bundle, most volatile first
 * (RFC 3227): the snapshot, the executables of suspicious processes (the only copy of a
 * self-deleting trojan), each container (inspect, raw logs, changes, processes, optionally its
 * filesystem and volumes), then the host's logs and configuration.
 *
 * It never seals: `collect`, `triage` and `contain` all write into a bundle and seal it
 * themselves. A fatal failure (disk full, interrupted) stops the collection and comes back as
 * `complete: false` with the reason, never as an exception, so the caller seals and says so.
 */
import { readdir, readFile } from "node:fs/promises";
import type { Process, Snapshot } from "../model/snapshot.js";
import type { DockerEngine } from "../observe/docker/engine.js";
import type { SnapshotResult } from "../observe/snapshot.js";
import { type Progress, silentProgress } from "../util/progress.js";
import { redactInspect, redactSnapshot } from "../util/redact.js";
import { errorMessage } from "../util/result.js";
import {
  type ContainerRecord,
  collectContainer,
  containerProcesses,
  rotatedLogFiles,
} from "./collect-container.js";
import { collectHost } from "./collect-host.js";
import { Collector, type StepError, StopCollection } from "./collect-step.js";
import { safePathComponent } from "./paths.js";
import { type SuspiciousReason, suspiciousPids, suspiciousReason } from "./suspicious.js";
import type { BundleWriter, ManifestEntry } from "./types.js";

export { suspiciousPids } from "./suspicious.js";

export const DEFAULT_DOCKER_ROOT = "/var/lib/docker";

/**
 * The analysts' lists collect needs (rules/staging-dirs.json, rules/host-files.json, or
 * --rules): given by the caller, which loaded them (evidence reads no rules itself).
 */
export interface CollectLists {
  readonly stagingDirs: readonly string[];
  readonly hostFiles: readonly string[];
}

export interface CollectOptions {
  bundle: BundleWriter;
  snap: SnapshotResult;
  /**
   * The same snapshot with its rates, while their sample still runs (see startSnapshot):
   * everything else is collected from `snap` meanwhile, and snapshot.json and each
   * container's processes.json (the parts with rates) are written from this at the end.
   */
  final?: Promise<SnapshotResult> | null;
  engine: DockerEngine | null;
  /** Containers to collect, by full id; default all in the snapshot. */
  containerIds?: string[];
  /** Extra pids whose executables are copied (--pid), beside the suspicious ones. */
  pids?: number[];
  /** Also the container filesystems (docker export) and each volume (default false). */
  exportFs?: boolean;
  /** Collect host logs and configuration (default true). */
  host?: boolean;
  /** Bound logs by time where the source allows it (API logs, journal, rotated files). */
  since?: Date;
  /** Redact environment values in inspect (default true). */
  redact?: boolean;
  /** Cut every copied file here (default: container logs whole, host files at 1 GiB). */
  maxFileBytes?: number;
  progress?: Progress;
  signal?: AbortSignal;
  now?: Date;
  /** Staging dirs and host files (rules/*.json, or --rules); the shipped lists by default. */
  lists: CollectLists;
}

export interface CollectedExecutable {
  pid: number;
  comm: string | null;
  containerId: string | null;
  containerName: string | null;
  /** As the process sees it (in its container), " (deleted)" removed. */
  exePath: string | null;
  reason: SuspiciousReason | "requested";
  /** Bundle path of the copy (shared by processes running the same file), or null. */
  file: string | null;
  sha256: string | null;
  size: number | null;
  /** The snapshot's hash of the same executable, to show the copy is what was running. */
  snapshotSha256: string | null;
  error: string | null;
}

export interface CollectSummary {
  /** Everything asked for was collected (no failed step, not stopped). */
  complete: boolean;
  /** Why not complete: the fatal stop, or the failed steps in a few words. */
  incompleteReason: string | null;
  /** A fatal failure (disk full, interrupted) stopped the collection part-way. */
  stopped: boolean;
  files: number;
  bytes: number;
  /** Files cut by a size limit (the manifest's note says where). */
  truncated: string[];
  errors: StepError[];
  executables: CollectedExecutable[];
  containers: ContainerRecord[];
  durationMs: number;
}

/**
 * Paths `collect` reads from: pass them to createBundle's `refuseInside`, so that a bundle can
 * never be written into what it collects (it would collect itself, or overwrite evidence).
 */
export function collectRefusePaths(dockerRootDir: string | null): string[] {
  return [
    dockerRootDir ?? DEFAULT_DOCKER_ROOT,
    "/var/log",
    "/etc",
    "/proc",
    "/var/spool/cron",
    "/usr/lib/systemd",
    "/lib/systemd",
    "/run/systemd",
  ];
}

export async function collectEvidence(opts: CollectOptions): Promise<CollectSummary> {
  const t0 = performance.now();
  const { bundle, snap } = opts;
  const snapshot = snap.snapshot;
  const col = new Collector(bundle, opts.progress ?? silentProgress, opts.signal);
  const firstEntry = bundle.entries.length;
  const executables: CollectedExecutable[] = [];
  const containers: ContainerRecord[] = [];
  let stopReason: string | null = null;
  const dockerRootDir = snapshot.engine.dockerRootDir ?? DEFAULT_DOCKER_ROOT;

  const final = opts.final ?? null;
  // Left unawaited when the collection stops early.
  final?.catch(() => {});
  try {
    if (final === null) {
      await col.run("snapshot", "write snapshot.json", () =>
        col.writeJson(
          "snapshot.json",
          redactSnapshot(snapshot, opts.redact ?? true),
          "breachkit snapshot of the live host",
        ),
      );
    }

    executables.push(
      ...(await collectExecutables(col, snapshot, opts.pids ?? [], opts.lists.stagingDirs)),
    );

    const wanted = opts.containerIds ? new Set(opts.containerIds) : null;
    const list = snapshot.containers.filter((c) => wanted === null || wanted.has(c.id));
    for (const id of wanted ?? []) {
      if (!list.some((c) => c.id === id)) {
        col.fail(
          "containers",
          `container ${id}`,
          "not in the snapshot (removed before collection?)",
        );
      }
    }
    if (!snapshot.engine.available && wanted === null) {
      // The engine is down (or was stopped by the intruder): the log files are still on disk.
      col.fail(
        "containers",
        `Docker engine at ${snapshot.engine.endpoint}`,
        `not answering (${snapshot.engine.error ?? "unknown"}): containers collected from their files on disk only`,
      );
      await collectFromDisk(col, dockerRootDir, opts.redact ?? true, opts.maxFileBytes);
    }
    for (const c of list) {
      col.checkAborted();
      containers.push(
        await collectContainer(col, c, {
          engine: opts.engine,
          snapshot: final === null ? snapshot : null,
          inspects: snap.inspects,
          dockerRootDir,
          exportFs: opts.exportFs ?? false,
          redact: opts.redact ?? true,
          since: opts.since,
          maxFileBytes: opts.maxFileBytes,
        }),
      );
    }

    if (opts.host ?? true) {
      await collectHost(col, {
        snapshot,
        since: opts.since,
        maxFileBytes: opts.maxFileBytes,
        now: opts.now ?? new Date(),
        hostFiles: opts.lists.hostFiles,
      });
    } else {
      col.skip("host", "host logs and configuration", "not asked (--no-host)");
    }
    if (final !== null) {
      col.checkAborted();
      const rated = await final;
      await col.run("snapshot", "write snapshot.json", () =>
        col.writeJson(
          "snapshot.json",
          redactSnapshot(rated.snapshot, opts.redact ?? true),
          "breachkit snapshot of the live host",
        ),
      );
      for (const c of containers) {
        await col.run(`container ${c.name}`, `write ${c.dir}/processes.json`, () =>
          col.writeJson(
            `${c.dir}/processes.json`,
            containerProcesses(rated.snapshot, c.id),
            "snapshot",
          ),
        );
      }
    }
  } catch (e) {
    if (!(e instanceof StopCollection)) throw e;
    stopReason = e.reason;
  } finally {
    opts.progress?.done();
  }

  const written: readonly ManifestEntry[] = bundle.entries.slice(firstEntry);
  const errors = col.errors;
  let incompleteReason: string | null = stopReason;
  if (incompleteReason === null && errors.length > 0) {
    const first = errors
      .slice(0, 3)
      .map((e) => `${e.action}: ${e.error}`)
      .join("; ");
    incompleteReason = `${errors.length} step(s) failed (${first}${errors.length > 3 ? "; ..." : ""})`;
  }
  return {
    complete: incompleteReason === null,
    incompleteReason,
    stopped: stopReason !== null,
    files: written.length,
    bytes: written.reduce((s, e) => s + e.size, 0),
    truncated: written.filter((e) => e.truncated).map((e) => e.path),
    errors,
    executables,
    containers,
    durationMs: Math.round(performance.now() - t0),
  };
}

/**
 * Copy /proc/<pid>/exe of every suspicious or requested process. Processes running the same
 * file (same device and inode: forks of one dropper) share one copy.
 */
async function collectExecutables(
  col: Collector,
  snapshot: Snapshot,
  extra: readonly number[],
  stagingDirs: readonly string[],
): Promise<CollectedExecutable[]> {
  const byPid = new Map<number, Process>(snapshot.processes.map((p) => [p.pid, p]));
  const pids = [...new Set([...suspiciousPids(snapshot, stagingDirs), ...extra])].sort(
    (a, b) => a - b,
  );
  const copies = new Map<string, { file: string; sha256: string; size: number }>();
  const out: CollectedExecutable[] = [];
  for (const pid of pids) {
    const p = byPid.get(pid);
    const record: CollectedExecutable = {
      pid,
      comm: p?.comm ?? null,
      containerId: p?.containerId ?? null,
      containerName: p?.containerName ?? null,
      exePath: p?.exe.path ?? null,
      reason: (p && suspiciousReason(p, stagingDirs)) ?? "requested",
      file: null,
      sha256: null,
      size: null,
      snapshotSha256: p?.exe.sha256 ?? null,
      error: null,
    };
    out.push(record);
    const key = p && p.exe.dev !== null && p.exe.ino !== null ? `${p.exe.dev}:${p.exe.ino}` : null;
    const shared = key ? copies.get(key) : undefined;
    if (shared) {
      Object.assign(record, shared);
      continue;
    }
    const rel = `executables/${pid}-${safePathComponent(p?.comm ?? "unknown")}.bin`;
    const src = `/proc/${pid}/exe`;
    col.checkAborted();
    try {
      const entry = await col.copyFile(rel, src);
      col.note("executables", `copy ${src}`, { file: rel, sha256: entry.sha256, size: entry.size });
      record.file = rel;
      record.sha256 = entry.sha256;
      record.size = entry.size;
      if (key) copies.set(key, { file: rel, sha256: entry.sha256, size: entry.size });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === "ENOENT" || code === "ESRCH") {
        // Exited since the snapshot (or never existed, for --pid): a gap, not our failure.
        record.error = "the process is gone: its executable could not be copied";
        col.skip("executables", `copy ${src}`, record.error);
      } else {
        // Fatal errors (disk full, interrupted) stop here; others are logged and counted.
        await col.run("executables", `copy ${src}`, () => Promise.reject(e));
        record.error = errorMessage(e);
      }
    }
  }
  await col.run("executables", "write executables/index.json", () =>
    col.writeJson("executables/index.json", out, "breachkit: /proc/<pid>/exe of each process"),
  );
  return out;
}

/**
 * Without an engine, read the containers' own files: the configuration (environment redacted
 * like inspect) and the json-file logs under <docker root>/containers/<id>/.
 */
async function collectFromDisk(
  col: Collector,
  dockerRootDir: string,
  redact: boolean,
  maxFileBytes: number | undefined,
): Promise<void> {
  const step = "containers on disk";
  const root = `${dockerRootDir}/containers`;
  const ids = await col.run(step, `list ${root} (the engine is not answering)`, () =>
    readdir(root),
  );
  for (const id of (ids ?? []).filter((n) => /^[0-9a-f]{64}$/.test(n)).sort()) {
    col.checkAborted();
    const dir = `containers/${id.slice(0, 12)}`;
    const configPath = `${root}/${id}/config.v2.json`;
    await col.run(step, `read ${configPath}`, async () => {
      const text = await readFile(configPath, "utf8");
      return col.writeJson(
        `${dir}/config.v2.json`,
        redactInspect(JSON.parse(text) as unknown, { redact }),
        `${configPath}${redact ? " (environment redacted)" : ""}`,
      );
    });
    const names = await readdir(`${root}/${id}`).catch(() => [] as string[]);
    for (const name of rotatedLogFiles(`${id}-json.log`, names)) {
      const src = `${root}/${id}/${name}`;
      await col.run(step, `copy ${src}`, () =>
        col.copyFile(`${dir}/logs/${safePathComponent(name)}`, src, {
          ...(maxFileBytes === undefined ? {} : { maxBytes: maxFileBytes }),
        }),
      );
    }
  }
}
