/**
 * Evidence of one container: inspect, its logs as raw files, the changes of its writable
 * layer, its processes, and on request its filesystem and volumes. Everything is read from
 * the host side or through the Engine API: nothing runs inside the container and nothing in
 * it changes (no exec, no pause).
 */
import { readdir, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Container, Snapshot } from "../model/snapshot.js";
import type { DockerEngine } from "../observe/docker/engine.js";
import { redactInspect, redactProcess } from "../util/redact.js";
import type { Collector } from "./collect-step.js";
import { safePathComponent } from "./paths.js";

export interface ContainerCollectOptions {
  engine: DockerEngine | null;
  /** null: processes.json is written by the caller (its rates are still being sampled). */
  snapshot: Snapshot | null;
  inspects: Map<string, unknown>;
  dockerRootDir: string;
  exportFs: boolean;
  redact: boolean;
  since: Date | undefined;
  maxFileBytes: number | undefined;
}

export interface ContainerRecord {
  id: string;
  name: string;
  /** Bundle directory of this container. */
  dir: string;
  logDriver: string;
  /** Raw log files copied (json-file, k8s-file and local drivers). */
  logFiles: string[];
  /** The log came from the Engine API (a driver without a file, or local). */
  apiLog: string | null;
}

/**
 * The json-file log and its rotations in a directory listing, newest first: `<base>`, then
 * `<base>.1`, `<base>.2` ... (Docker renames `.1` to `.2` on each rotation), each possibly
 * `.gz` when the driver's `compress` option is on. Anything else in the directory is left out.
 */
export function rotatedLogFiles(base: string, names: readonly string[]): string[] {
  const rotated: { name: string; n: number }[] = [];
  let current = false;
  for (const name of names) {
    if (name === base) {
      current = true;
      continue;
    }
    if (!name.startsWith(`${base}.`)) continue;
    const m = /^\.(\d{1,6})(\.gz)?$/.exec(name.slice(base.length));
    if (m) rotated.push({ name, n: Number(m[1]) });
  }
  rotated.sort((a, b) => a.n - b.n || a.name.localeCompare(b.name));
  return [...(current ? [base] : []), ...rotated.map((r) => r.name)];
}

/** The processes of one container, as its processes.json holds them. */
export function containerProcesses(snapshot: Snapshot, id: string): Snapshot["processes"] {
  return snapshot.processes.filter((p) => p.containerId === id);
}

/** Bundle directory of a container: `containers/<name>` (the id when it has no name). */
export function containerDir(c: Pick<Container, "name" | "id">): string {
  return `containers/${safePathComponent(c.name || c.id.slice(0, 12))}`;
}

/** `volumes/<dest>.tar` name for a mount destination: "/var/lib/mysql" -> "var_lib_mysql". */
export function volumeArchiveName(destination: string): string {
  const flat = destination.replace(/^\/+|\/+$/g, "").replace(/\/+/g, "_");
  return `${safePathComponent(flat === "" ? "root" : flat)}.tar`;
}

export async function collectContainer(
  col: Collector,
  c: Container,
  opts: ContainerCollectOptions,
): Promise<ContainerRecord> {
  const dir = containerDir(c);
  const step = `container ${c.name}`;
  const record: ContainerRecord = {
    id: c.id,
    name: c.name,
    dir,
    logDriver: c.logDriver,
    logFiles: [],
    apiLog: null,
  };
  const raw = opts.inspects.get(c.id);
  await col.run(step, `write ${dir}/inspect.json`, async () => {
    if (raw === undefined) throw new Error("no inspect document from the snapshot");
    return col.writeJson(
      `${dir}/inspect.json`,
      redactInspect(raw, { redact: opts.redact }),
      `docker:/containers/${c.id}/json${opts.redact ? " (environment redacted)" : ""}`,
    );
  });

  await collectLogs(col, c, dir, opts, record);

  const engine = opts.engine;
  if (engine) {
    await col.engineStep(step, `docker diff ${c.id}`, async () =>
      col.writeJson(
        `${dir}/changes.json`,
        await engine.containerChanges(c.id),
        `docker:/containers/${c.id}/changes`,
      ),
    );
  }
  const snapshot = opts.snapshot;
  if (snapshot !== null) {
    await col.run(step, `write ${dir}/processes.json`, () =>
      col.writeJson(
        `${dir}/processes.json`,
        opts.redact
          ? containerProcesses(snapshot, c.id).map(redactProcess)
          : containerProcesses(snapshot, c.id),
        "snapshot",
      ),
    );
  }

  if (opts.exportFs && engine) {
    await col.engineStep(step, `docker export ${c.id}`, async () =>
      col.writeStream(`${dir}/fs.tar`, await engine.exportContainer(c.id), {
        source: `docker:/containers/${c.id}/export`,
      }),
    );
    for (const m of c.mounts) {
      const action = `archive mount ${m.destination} (${m.type} ${m.source})`;
      if (m.dockerSocket || m.sensitive) {
        col.skip(
          step,
          action,
          "a host path (or the Docker socket) mounted into the container: not archived; the host's files are collected under host/",
        );
        continue;
      }
      if (isInside(col.bundle.dir, m.source)) {
        col.skip(step, action, "the bundle is being written inside this mount: not archived");
        continue;
      }
      await col.engineStep(step, action, async () =>
        col.writeStream(
          `${dir}/volumes/${volumeArchiveName(m.destination)}`,
          await engine.getArchive(c.id, m.destination),
          { source: `docker:/containers/${c.id}/archive?path=${m.destination}` },
        ),
      );
    }
  }
  return record;
}

async function collectLogs(
  col: Collector,
  c: Container,
  dir: string,
  opts: ContainerCollectOptions,
  record: ContainerRecord,
): Promise<void> {
  const step = `container ${c.name}`;
  const max = opts.maxFileBytes === undefined ? {} : { maxBytes: opts.maxFileBytes };
  // Docker's json-file, podman's k8s-file: plain files at LogPath, copied raw with rotations.
  if ((c.logDriver === "json-file" || c.logDriver === "k8s-file") && c.logPath) {
    await copyRotated(col, step, c.logPath, `${dir}/logs`, opts.since, max, record);
    return;
  }
  if (c.logDriver === "none") {
    col.skip(step, `logs of ${c.id}`, 'the log driver is "none": the container has no log');
    return;
  }
  if (c.logDriver === "local") {
    // Compressed protobuf files only the engine reads: keep them raw, and readable via the API.
    const localDir = join(opts.dockerRootDir, "containers", c.id, "local-logs");
    await copyRotated(
      col,
      step,
      join(localDir, "container.log"),
      `${dir}/logs`,
      opts.since,
      max,
      record,
    );
  }
  const engine = opts.engine;
  if (!engine) return;
  const tty = isTty(opts.inspects.get(c.id));
  const rel = `${dir}/logs.api.txt`;
  const since = opts.since;
  const entry = await col.engineStep(
    step,
    `docker logs --timestamps${since ? ` --since ${since.toISOString()}` : ""} ${c.id} (${c.logDriver} driver)`,
    async () =>
      col.writeStream(
        rel,
        await engine.containerLogs(c.id, {
          timestamps: true,
          ...(since ? { since } : {}),
          ...(tty === null ? {} : { tty }),
        }),
        { source: `docker:/containers/${c.id}/logs?timestamps=1`, ...max },
      ),
  );
  if (entry) record.apiLog = rel;
}

/** Copy a log file and its rotations whole, byte for byte (they are the evidence). */
async function copyRotated(
  col: Collector,
  step: string,
  logPath: string,
  relDir: string,
  since: Date | undefined,
  max: { maxBytes?: number },
  record: ContainerRecord,
): Promise<void> {
  const names = await col.run(step, `list ${dirname(logPath)}`, () => readdir(dirname(logPath)));
  if (names === undefined) return;
  const base = basename(logPath);
  const files = rotatedLogFiles(base, names);
  if (!files.includes(base)) {
    col.fail(step, `copy ${logPath}`, "the log file is missing");
  }
  if (since) {
    col.note(step, `logs of ${relDir}`, {
      since: since.toISOString(),
      why: "raw log files are copied whole (they are the evidence); only rotated files last written before --since are left out",
    });
  }
  for (const name of files) {
    const src = join(dirname(logPath), name);
    if (since && name !== base) {
      const st = await stat(src).catch(() => null);
      if (st && st.mtime < since) {
        col.skip(step, `copy ${src}`, `last written ${st.mtime.toISOString()}, before --since`);
        continue;
      }
    }
    const rel = `${relDir}/${safePathComponent(name)}`;
    const entry = await col.run(step, `copy ${src}`, () => col.copyFile(rel, src, max));
    if (entry) record.logFiles.push(rel);
  }
}

function isTty(inspect: unknown): boolean | null {
  const config = (inspect as { Config?: { Tty?: unknown } } | undefined)?.Config;
  return typeof config?.Tty === "boolean" ? config.Tty : null;
}

function isInside(child: string, parent: string): boolean {
  const p = parent.endsWith("/") ? parent : `${parent}/`;
  return child === parent || child.startsWith(p);
}
