/**
 * takeSnapshot: the one read-only pass over a live host (or a mounted root) that every
 * command starts from. observe never decides what is suspicious; it records what is there
 * and, as `gaps`, what could not be read.
 */
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { SNAPSHOT_SCHEMA_VERSION } from "../model/schema-version.js";
// Types only: the zod schemas are built when a snapshot is read back, not when one is taken.
import type {
  Accounts,
  Container,
  Gap,
  NetNamespace,
  Process,
  Snapshot,
  TrafficRate,
} from "../model/snapshot.js";
import { errorMessage } from "../util/result.js";
import { TOOL } from "../version.js";
import { RootFs, readAccounts, usersByUid } from "./accounts/index.js";
import { toContainer } from "./docker/container-model.js";
import { DockerEngine } from "./docker/engine.js";
import { probeEngine } from "./docker/engine-model.js";
import { requestedEndpoint } from "./docker/engine-transport.js";
import { type HashCacheEntry, readHostFacts, readNetwork } from "./proc/index.js";
import { upperDirFromMountinfo } from "./proc/mountinfo.js";
import { trafficRates } from "./proc/network.js";
import { readProcesses } from "./proc/processes.js";
import { parseStat } from "./proc/stat.js";

export interface SnapshotOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** Read accounts and files from this mounted filesystem instead of the live host. */
  root?: string | undefined;
  /** Seconds between two readings of counters, for packet and CPU rates. */
  intervalSeconds?: number | null | undefined;
  hashExecutables?: boolean;
  /** Read accounts inside each running container (default true). */
  containerAccounts?: boolean;
  /**
   * Hashes computed earlier in this run, reused between the snapshots of one run (contain
   * takes two); never carried over between runs.
   */
  hashCache?: Map<string, HashCacheEntry>;
  onStep?: (step: string) => void;
  now?: () => Date;
}

export interface SnapshotResult {
  snapshot: Snapshot;
  /** Raw inspect documents by container id (unredacted: redact before writing). */
  inspects: Map<string, unknown>;
}

function emptyEngine(endpoint: string, error: string) {
  return {
    available: false,
    endpoint,
    version: null,
    apiVersion: null,
    storageDriver: null,
    dockerRootDir: null,
    error,
  };
}

async function readContainers(
  engine: DockerEngine,
  gaps: Gap[],
): Promise<{ containers: Container[]; inspects: Map<string, unknown> }> {
  const inspects = new Map<string, unknown>();
  const containers: Container[] = [];
  const list = await engine.listContainers({ all: true });
  await Promise.all(
    list.map(async (summary) => {
      try {
        const inspect = await engine.inspectContainer(summary.Id);
        const c = toContainer(inspect);
        inspects.set(c.id, inspect);
        containers.push(c);
      } catch (e) {
        // A container removed between list and inspect is not an error of the snapshot.
        gaps.push({ source: `docker:${summary.Id.slice(0, 12)}`, message: errorMessage(e) });
      }
    }),
  );
  containers.sort((a, b) => a.name.localeCompare(b.name));
  return { containers, inspects };
}

function sumRates(rates: readonly TrafficRate[], seconds: number): TrafficRate {
  return {
    intervalSeconds: seconds,
    rxPacketsPerSec: rates.reduce((s, r) => s + r.rxPacketsPerSec, 0),
    txPacketsPerSec: rates.reduce((s, r) => s + r.txPacketsPerSec, 0),
    rxBytesPerSec: rates.reduce((s, r) => s + r.rxBytesPerSec, 0),
    txBytesPerSec: rates.reduce((s, r) => s + r.txBytesPerSec, 0),
  };
}

function cpuTicksOf(pid: number): number | null {
  try {
    const st = parseStat(readFileSync(`/proc/${pid}/stat`, "latin1"));
    return st ? st.utime + st.stime : null;
  } catch {
    return null;
  }
}

async function offlineSnapshot(root: string, opts: SnapshotOptions, started: number) {
  const gaps: Gap[] = [];
  const now = opts.now?.() ?? new Date();
  // Resolved inside the image (an absolute symlink there points into it, not into this host)
  // and bounded: the disk of a breached server is attacker-controlled.
  const hostnameFile = await new RootFs(root).read("/etc/hostname", { maxBytes: 4096 });
  const hostname = hostnameFile.ok ? hostnameFile.value.bytes.toString("utf8").trim() : "unknown";
  const { accounts, gaps: accountGaps } = await readAccounts({
    root,
    scope: "host",
    containerId: null,
    now,
  });
  gaps.push(...accountGaps);
  gaps.push({
    source: "snapshot",
    message: `offline root ${root}: no processes, containers or sockets (the host is not live)`,
  });
  const snapshot: Snapshot = {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    tool: { ...TOOL },
    takenAt: now.toISOString(),
    durationMs: Date.now() - started,
    intervalSeconds: null,
    host: {
      hostname,
      kernel: "",
      bootTime: null,
      root,
      live: false,
      cpus: 0,
      memTotalBytes: null,
      clockTicks: 100,
    },
    engine: emptyEngine("offline", "offline root: no engine"),
    processes: [],
    containers: [],
    sockets: [],
    netns: [],
    accounts: [accounts],
    gaps,
  };
  return { snapshot, inspects: new Map<string, unknown>() };
}

/**
 * A snapshot whose rate sample (`intervalSeconds`) may still be running: `first` is the
 * snapshot without rates (processes' CPU averaged since their start, no packet rates);
 * `final` the same snapshot with the rates, once the sample is done (null without an
 * interval: `first` is then the snapshot). Everything but the rates is the same in both.
 */
export interface StartedSnapshot {
  first: SnapshotResult;
  final: Promise<SnapshotResult> | null;
}

/** Take a snapshot; with an interval, resolves once the rate sample is done. */
export async function takeSnapshot(opts: SnapshotOptions): Promise<SnapshotResult> {
  const { first, final } = await startSnapshot(opts);
  return final ?? first;
}

/**
 * Take a snapshot, and return as soon as everything but the rates is read: the caller may
 * go on with `first` while the sample of `intervalSeconds` runs (see StartedSnapshot).
 */
export async function startSnapshot(opts: SnapshotOptions): Promise<StartedSnapshot> {
  const started = Date.now();
  if (opts.root !== undefined && opts.root !== "/") {
    return { first: await offlineSnapshot(opts.root, opts, started), final: null };
  }
  const step = opts.onStep ?? (() => {});
  const gaps: Gap[] = [];
  const takenAt = (opts.now?.() ?? new Date()).toISOString();

  // The engine answers over a socket while we read /proc: start it first, await it last.
  let engine: DockerEngine | null = null;
  let endpoint = requestedEndpoint(opts.env);
  let refused = "DOCKER_HOST not usable";
  try {
    engine = DockerEngine.fromEnv(opts.env);
    endpoint = engine.endpoint;
  } catch (e) {
    refused = errorMessage(e);
    gaps.push({ source: "docker", message: refused });
  }
  const enginePromise = engine
    ? probeEngine(engine)
    : Promise.resolve(emptyEngine(endpoint, refused));
  const containersPromise = engine
    ? readContainers(engine, gaps).catch((e: unknown) => {
        gaps.push({ source: "docker", message: `containers not listed: ${errorMessage(e)}` });
        return { containers: [] as Container[], inspects: new Map<string, unknown>() };
      })
    : Promise.resolve({ containers: [] as Container[], inspects: new Map<string, unknown>() });
  // Keep rejections from surfacing as unhandled while we do other work.
  containersPromise.catch(() => {});

  // The host facts first (the boot time turns start ticks into times), then the reading of
  // processes, while the host's accounts are read in node's thread pool and the engine
  // answers over its socket; user names are filled in afterwards.
  step("host facts");
  const facts = await readHostFacts();
  gaps.push(...facts.gaps);
  const accountsPromise = readAccounts({ root: "/", scope: "host", containerId: null });
  accountsPromise.catch(() => {});
  step("processes");
  const procs = await readProcesses({
    hashExecutables: opts.hashExecutables ?? true,
    hashCache: opts.hashCache ?? new Map<string, HashCacheEntry>(),
    bootTimeMs: facts.bootTimeMs ?? Date.now(),
    clockTicks: facts.host.clockTicks,
  });
  gaps.push(...procs.gaps);
  step("host accounts");
  const hostAccounts = await accountsPromise;
  gaps.push(...hostAccounts.gaps);
  const users = usersByUid(hostAccounts.accounts);
  let processes: Process[] = procs.processes.map((p) => ({ ...p, user: users.get(p.uid) ?? null }));

  step("network");
  const interval = opts.intervalSeconds ?? null;
  const net = await readNetwork(processes);
  gaps.push(...net.gaps);
  // The second reading of counters, `interval` seconds after this first one: the sample
  // runs on while the engine's answers and the containers' accounts are taken here, and
  // while the caller goes on with `first` (triage writes its bundle meanwhile).
  let sample: Promise<{ netns: NetNamespace[]; cpuPercent: Map<number, number> }> | null = null;
  if (interval !== null && interval > 0) {
    const cpuBefore = new Map(processes.map((p) => [p.pid, cpuTicksOf(p.pid)]));
    const t0 = performance.now();
    const slept = sleep(interval * 1000);
    const measured = processes;
    sample = (async () => {
      await slept;
      step(`counters over ${interval}s`);
      const again = await readNetwork(measured);
      const seconds = (performance.now() - t0) / 1000;
      const ticks = facts.host.clockTicks;
      const cpuPercent = new Map<number, number>();
      for (const p of measured) {
        const before = cpuBefore.get(p.pid);
        const after = cpuTicksOf(p.pid);
        if (before == null || after == null) continue;
        cpuPercent.set(p.pid, Math.max(0, ((after - before) / ticks / seconds) * 100));
      }
      return { netns: trafficRates(net.netns, again.netns, seconds), cpuPercent };
    })();
    sample.catch(() => {});
  }

  step("containers");
  const engineFacts = await enginePromise;
  if (!engineFacts.available) {
    gaps.push({
      source: "docker",
      message: `Docker engine not answering at ${engineFacts.endpoint}: ${engineFacts.error ?? "unknown"}; processes are attributed to containers by cgroup id only`,
    });
  }
  const { containers: rawContainers, inspects } = await containersPromise;
  const byId = new Map(rawContainers.map((c) => [c.id, c]));

  processes = processes.map((p) =>
    p.containerId ? { ...p, containerName: byId.get(p.containerId)?.name ?? null } : p,
  );

  const containers = rawContainers.map((c): Container => {
    let upperDir = c.upperDir;
    if (upperDir === null && c.pid !== null) {
      try {
        upperDir = upperDirFromMountinfo(readFileSync(`/proc/${c.pid}/mountinfo`, "utf8"));
      } catch {
        /* not running any more, or not visible: stays unknown */
      }
    }
    return { ...c, upperDir, traffic: null };
  });

  const accounts: Accounts[] = [hostAccounts.accounts];
  if (opts.containerAccounts ?? true) {
    step("container accounts");
    const running = containers.filter((c) => c.running && c.pid !== null);
    const results = await Promise.all(
      running.map((c) =>
        // Through the thread pool: a container's filesystem may be a FUSE or NFS mount
        // that never answers, which must not freeze this thread (and Ctrl-C with it).
        readAccounts({ root: `/proc/${c.pid}/root`, scope: c.name, containerId: c.id }).catch(
          (e: unknown) => {
            gaps.push({ source: `accounts:${c.name}`, message: errorMessage(e) });
            return null;
          },
        ),
      ),
    );
    for (const r of results) {
      if (!r) continue;
      accounts.push(r.accounts);
      gaps.push(...r.gaps);
    }
  }

  const first: Snapshot = {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    tool: { ...TOOL },
    takenAt,
    durationMs: Date.now() - started,
    intervalSeconds: interval,
    host: { ...facts.host, root: "/", live: true },
    engine: engineFacts,
    processes,
    containers,
    sockets: net.sockets,
    netns: net.netns,
    accounts,
    gaps,
  };
  if (sample === null) return { first: { snapshot: first, inspects }, final: null };
  const rated = sample.then(({ netns, cpuPercent }): SnapshotResult => {
    const nsOfContainer = new Map<string, NetNamespace>();
    for (const ns of netns) for (const id of ns.containerIds) nsOfContainer.set(id, ns);
    const snapshot: Snapshot = {
      ...first,
      durationMs: Date.now() - started,
      processes: first.processes.map((p) => {
        const cpu = cpuPercent.get(p.pid);
        return cpu === undefined ? p : { ...p, cpuPercent: cpu };
      }),
      netns,
      containers: first.containers.map((c) => {
        const ns = nsOfContainer.get(c.id);
        const traffic =
          ns && ns.rates.length > 0 && !ns.host
            ? sumRates(ns.rates, ns.rates[0]?.intervalSeconds ?? interval ?? 1)
            : null;
        return { ...c, traffic };
      }),
    };
    return { snapshot, inspects };
  });
  return { first: { snapshot: first, inspects }, final: rated };
}
