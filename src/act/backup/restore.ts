/**
 * Restoring a snapshot into a new place, never over live data: a directory that does not exist
 * yet (or is empty) and lies outside every path the snapshot was read from and outside Docker's
 * data, or a Docker volume that does not exist yet (created here). Also the drill's scratch
 * directory, removed after.
 */
import { promises as fs } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix, resolve } from "node:path";
import type { HostAction } from "../../model/backup-output.js";
import { EngineTransport, engineOptionsFromEnv } from "../../observe/docker/engine-transport.js";
import { explainResticError } from "../../observe/restic/parse.js";
import { BreachkitError } from "../../util/errors.js";
import { safeText } from "../../util/sanitize.js";
import { z } from "../../util/zod.js";
import type { ResticWriter } from "./restic.js";

function within(p: string, tree: string): boolean {
  return p === tree || p.startsWith(tree.endsWith("/") ? tree : `${tree}/`);
}

/** Make the --to directory, refusing any place that holds live data. */
export async function prepareDir(
  dir: string,
  live: readonly string[],
  dockerRoot: string,
): Promise<{ path: string; action: HostAction | null }> {
  const path = resolve(dir);
  for (const l of [...live, dockerRoot]) {
    if (within(path, posix.normalize(l)) || within(posix.normalize(l), path))
      throw new BreachkitError(
        "USAGE",
        `refusing to restore into ${safeText(path, 300)}: it ${within(path, l) ? "lies inside" : "holds"} live data (${safeText(l, 300)})`,
        "restore into a new directory elsewhere, e.g. --to /srv/restore/NAME, and copy back what you checked",
      );
  }
  const st = await fs.lstat(path).catch(() => null);
  if (st) {
    if (!st.isDirectory())
      throw new BreachkitError(
        "USAGE",
        `${safeText(path, 300)} exists and is not a directory`,
        "name a new directory with --to",
      );
    if ((await fs.readdir(path)).length > 0)
      throw new BreachkitError(
        "USAGE",
        `refusing to restore into ${safeText(path, 300)}: it is not empty`,
        "restore into a new or empty directory: a restore never writes over existing data",
      );
    return { path, action: null };
  }
  await fs.mkdir(path, { recursive: true, mode: 0o700 });
  return {
    path,
    action: {
      time: new Date().toISOString(),
      action: `mkdir ${path}`,
      containerId: "",
      result: "ok",
      error: null,
      undo: `rm -r ${path}`,
    },
  };
}

const VolumeCreated = z.looseObject({ Name: z.string(), Mountpoint: z.string() });

/** Create a new, empty Docker volume (POST /volumes/create). */
export async function createVolume(
  env: Readonly<Record<string, string | undefined>>,
  name: string,
): Promise<{ mountpoint: string; action: HostAction }> {
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}$/.test(name))
    throw new BreachkitError(
      "USAGE",
      `--volume ${safeText(name, 100)}: not a volume name`,
      "letters, digits, _ . -",
    );
  const t = new EngineTransport(engineOptionsFromEnv(env));
  const v = await t.json(
    {
      method: "POST",
      path: "/volumes/create",
      body: { Name: name, Labels: { "breachkit.restore": "1" } },
    },
    VolumeCreated,
  );
  return {
    mountpoint: v.Mountpoint,
    action: {
      time: new Date().toISOString(),
      action: `docker volume create ${name}`,
      containerId: "",
      result: "ok",
      error: null,
      undo: `docker volume rm ${name}`,
    },
  };
}

/** restic restore of the whole snapshot under `target`; throws with restic's reason. */
export async function resticRestore(
  restic: ResticWriter,
  snapshotId: string,
  target: string,
  timeoutMs: number,
  signal?: AbortSignal,
  verify = false,
): Promise<string> {
  const run = await restic.restore(snapshotId, target, timeoutMs, signal, verify);
  if (run.exitCode !== 0 || run.timedOut) {
    const why = run.timedOut
      ? { reason: "timed out", hint: "raise --timeout" }
      : explainResticError(run.stderr, run.exitCode);
    throw new BreachkitError("IO", `restic restore failed: ${why.reason}`, why.hint);
  }
  return `${run.stdout}${run.stderr}`;
}

/**
 * restic keeps a snapshot's absolute paths below the target: move the content of `inner` (a
 * path inside `root`) up to `root` itself, then remove the emptied chain of directories.
 */
export async function hoist(root: string, inner: string): Promise<void> {
  const rel = posix.relative("/", posix.normalize(inner));
  if (rel === "" || rel.startsWith("..")) return;
  const first = rel.split("/")[0] ?? "";
  // The first component may collide with a name inside the data: park the chain aside first.
  const parked = join(root, `.breachkit-restore-${Date.now()}`);
  await fs.rename(join(root, first), parked);
  const src = join(parked, rel.split("/").slice(1).join("/"));
  for (const name of await fs.readdir(src)) await fs.rename(join(src, name), join(root, name));
  await fs.rm(parked, { recursive: true });
}

/** A scratch directory for a drill, under $TMPDIR (or `base`), removed by the caller. */
export async function scratchDir(base?: string): Promise<string> {
  return fs.mkdtemp(join(base ?? tmpdir(), "breachkit-drill-"));
}

export async function removeScratch(dir: string): Promise<void> {
  if (!posix.basename(dir).startsWith("breachkit-drill-")) return;
  await fs.rm(dir, { recursive: true, force: true });
}
