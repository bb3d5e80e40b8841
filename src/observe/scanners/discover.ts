/**
 * What to scan when the CLI runs live: the containers from the Docker engine and every user
 * process's executable, attributed to its container by cgroup. Kept small on purpose; when
 * takeSnapshot() (src/observe/snapshot.ts) lands, the CLI can build targets from the snapshot
 * with targetsFromSnapshot instead.
 */
import { readdir, readFile, readlink } from "node:fs/promises";
import type { Container } from "../../model/snapshot.js";
import { errorMessage } from "../../util/result.js";
import { toContainer } from "../docker/container-model.js";
import { DockerEngine } from "../docker/engine.js";
import { containerFromCgroup } from "../proc/cgroup.js";
import type { ScanGap, ScanTarget } from "./types.js";

export interface DiscoverOptions {
  env: Readonly<Record<string, string | undefined>>;
  hostPaths: readonly string[];
  /** Names or id prefixes; empty: every container. */
  containers: readonly string[];
  host: boolean;
  /** breachkit's own pid: its executable is not a target. */
  selfPid: number;
}

async function listContainers(env: DiscoverOptions["env"], gaps: ScanGap[]): Promise<Container[]> {
  try {
    const engine = DockerEngine.fromEnv(env);
    const list = await engine.listContainers({ all: true });
    const out: Container[] = [];
    for (const s of list) {
      try {
        out.push(toContainer(await engine.inspectContainer(s.Id)));
      } catch (e) {
        gaps.push({
          tool: "clamav",
          what: `container ${s.Id.slice(0, 12)}`,
          reason: errorMessage(e),
        });
      }
    }
    return out;
  } catch (e) {
    gaps.push({
      tool: "clamav",
      what: "Docker engine",
      reason: `containers not scanned: ${errorMessage(e)}`,
    });
    return [];
  }
}

function wanted(c: { id: string; name: string }, names: readonly string[]): boolean {
  if (names.length === 0) return true;
  return names.some(
    (n) => n.replace(/^\//, "") === c.name || (n.length >= 6 && c.id.startsWith(n)),
  );
}

export async function discoverTargets(
  opts: DiscoverOptions,
): Promise<{ targets: ScanTarget[]; gaps: ScanGap[] }> {
  const gaps: ScanGap[] = [];
  const targets: ScanTarget[] = [];
  if (opts.host && opts.hostPaths.length > 0)
    targets.push({ kind: "host", paths: [...opts.hostPaths] });
  const containers = await listContainers(opts.env, gaps);
  const byId = new Map<string, Container>();
  for (const c of containers) {
    if (!wanted(c, opts.containers)) continue;
    byId.set(c.id, c);
    if (c.running && c.pid !== null && c.pid > 0) {
      targets.push({
        kind: "container",
        name: c.name,
        id: c.id,
        root: `/proc/${c.pid}/root`,
        pid: c.pid,
      });
    } else if (c.upperDir) {
      targets.push({ kind: "container", name: c.name, id: c.id, root: c.upperDir, pid: null });
    } else {
      gaps.push({
        tool: "clamav",
        what: `container ${c.name}`,
        reason: "stopped, and inspect shows no storage directory",
      });
    }
  }
  for (const n of opts.containers) {
    if (!containers.some((c) => wanted(c, [n])))
      gaps.push({ tool: "clamav", what: `container ${n}`, reason: "no such container" });
  }
  const pids = (await readdir("/proc").catch(() => [] as string[])).filter((n) => /^\d+$/.test(n));
  for (const p of pids) {
    const pid = Number(p);
    if (pid === opts.selfPid) continue;
    const exe = await readlink(`/proc/${pid}/exe`).catch(() => null);
    // Kernel threads have no exe; a process that exited is simply gone.
    if (!exe) continue;
    const cg = await readFile(`/proc/${pid}/cgroup`, "utf8").catch(() => "");
    const cid = containerFromCgroup(cg)?.id ?? null;
    const c = cid ? byId.get(cid) : undefined;
    if (cid && !c) continue;
    if (!cid && !opts.host) continue;
    targets.push({ kind: "process", pid, exe, containerId: cid, containerName: c?.name ?? null });
  }
  return { targets, gaps };
}
