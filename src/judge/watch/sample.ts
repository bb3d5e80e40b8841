/**
 * From two readings to one sample: per-place rates (CPU from cgroup time, memory, packets
 * and bytes per second) and the alarms of this interval. Pure: the readings come in, the
 * sample goes out; the judge remembers only the previous reading and each place's listeners.
 *
 * Alarms:
 * - watch.flood: a place sends (or receives) more packets per second than rules/watch.json allows;
 * - watch.fan-out: one remote port towards many distinct addresses from one place;
 * - watch.new-listener: a listening socket that was not there at the previous reading;
 * - a new process (or one that exec'd another file) judged by triage's own rules
 *   (process.deleted-exe, process.memfd-exe, process.exe-in-tmp, process.exe-in-hidden-dir)
 *   applied to what changed since the previous tick.
 */
import type { Finding } from "../../model/finding.js";
import type { Process, Snapshot } from "../../model/snapshot.js";
import { SNAPSHOT_SCHEMA_VERSION } from "../../model/snapshot.js";
import {
  WATCH_SCHEMA_VERSION,
  type WatchAlarm,
  type WatchProcess,
  type WatchReading,
  type WatchRow,
  type WatchSample,
} from "../../model/watch-sample.js";
import type { RuleContext } from "../context.js";
import type { RuleLists } from "../rule-lists.js";
import { deletedExecutableRule, memfdExecutionRule } from "../rules/deleted-exe.js";
import { executableLocationRule } from "../rules/exe-location.js";
import { SEVERITIES, type WatchThresholds } from "./thresholds.js";

const EPOCH = new Date(0).toISOString();

const keyOf = (p: { containerId: string | null }) => p.containerId ?? "host";

function rate(cur: number | null | undefined, prev: number | null | undefined, seconds: number) {
  if (cur == null || prev == null || seconds <= 0) return 0;
  const d = cur - prev;
  return d > 0 ? d / seconds : 0;
}

const round = (n: number, digits = 1) => {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
};

/** A triage Process from what watch knows of one: the rules read pid, ppid, comm and exe. */
function asProcess(p: WatchProcess, names: ReadonlyMap<string, string>): Process {
  return {
    pid: p.pid,
    ppid: p.ppid,
    uid: -1,
    gid: -1,
    user: null,
    state: "R",
    comm: p.comm,
    argv: [],
    cmdlineB64: "",
    kernelThread: false,
    exe: {
      path: p.exePath,
      deleted: p.deleted,
      memfd: p.memfd,
      sha256: null,
      size: null,
      dev: null,
      ino: null,
      upperLayer: null,
      hashedAt: null,
      error: null,
    },
    cwd: null,
    startTime: EPOCH,
    cpuSeconds: 0,
    cpuPercent: 0,
    rssBytes: 0,
    threads: 1,
    ns: { pid: null, net: null, mnt: null },
    socketInodes: [],
    cgroup: null,
    containerId: p.containerId,
    containerName: p.containerId === null ? null : (names.get(p.containerId) ?? null),
  };
}

/** The snapshot triage's process rules see: the new processes and their known ancestors. */
export function changeSnapshot(
  newProcs: readonly WatchProcess[],
  ancestors: readonly WatchProcess[],
  names: ReadonlyMap<string, string>,
  at: Date,
): Snapshot {
  const seen = new Set<number>();
  const processes: Process[] = [];
  for (const p of [...newProcs, ...ancestors]) {
    if (seen.has(p.pid)) continue;
    seen.add(p.pid);
    processes.push(asProcess(p, names));
  }
  return {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    tool: { name: "breachkit", version: "watch" },
    takenAt: at.toISOString(),
    durationMs: 0,
    intervalSeconds: null,
    host: {
      hostname: "",
      kernel: "",
      bootTime: null,
      root: "/",
      live: true,
      cpus: 1,
      memTotalBytes: null,
      clockTicks: 100,
    },
    engine: {
      available: false,
      endpoint: "",
      version: null,
      apiVersion: null,
      storageDriver: null,
      dockerRootDir: null,
      error: null,
    },
    processes,
    containers: [],
    sockets: [],
    netns: [],
    accounts: [],
    gaps: [],
  };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

export class WatchJudge {
  private prev: WatchReading | null = null;
  private readonly listeners = new Map<string, Set<string>>();

  constructor(
    private readonly thresholds: WatchThresholds,
    private readonly lists: RuleLists,
  ) {}

  /** The sample of the interval that ends with `cur`. */
  step(cur: WatchReading): WatchSample {
    const prev = this.prev;
    const seconds = prev === null ? 0 : (cur.monoMs - prev.monoMs) / 1000;
    const before = new Map((prev?.places ?? []).map((p) => [keyOf(p), p]));
    const rows: WatchRow[] = [];
    const alarms: WatchAlarm[] = [];
    let containerCpu = 0;
    let containerMem = 0;
    const th = this.thresholds;
    for (const place of cur.places) {
      const key = keyOf(place);
      const was = before.get(key);
      const cpuNsPerSec = rate(place.cpuNs, was?.cpuNs, seconds);
      const c = place.counters;
      const w = was?.counters;
      const row: WatchRow = {
        place: place.name,
        containerId: place.containerId,
        cpuPercent: round((cpuNsPerSec / 1e9) * 100),
        memoryBytes: place.memoryBytes ?? 0,
        processes: place.processes,
        tasks: place.tasks,
        rxPacketsPerSec: round(rate(c?.rxPackets, w?.rxPackets, seconds)),
        txPacketsPerSec: round(rate(c?.txPackets, w?.txPackets, seconds)),
        rxBytesPerSec: round(rate(c?.rxBytes, w?.rxBytes, seconds)),
        txBytesPerSec: round(rate(c?.txBytes, w?.txBytes, seconds)),
        destinations: place.destinations,
        network: place.network,
      };
      if (place.containerId !== null) {
        containerCpu += row.cpuPercent;
        containerMem += row.memoryBytes;
      }
      rows.push(row);
      // floods
      if (row.txPacketsPerSec > th.txPacketsPerSec) {
        alarms.push({
          rule: "watch.flood",
          severity: "high",
          place: place.name,
          text: `sends ${fmt(row.txPacketsPerSec)} packets/s (threshold ${fmt(th.txPacketsPerSec)})`,
        });
      } else if (row.rxPacketsPerSec > th.rxPacketsPerSec) {
        alarms.push({
          rule: "watch.flood",
          severity: "medium",
          place: place.name,
          text: `receives ${fmt(row.rxPacketsPerSec)} packets/s (threshold ${fmt(th.rxPacketsPerSec)})`,
        });
      }
      const bp = place.busiestPort;
      if (bp !== null && bp.addresses >= th.destinationsPerPort) {
        alarms.push({
          rule: "watch.fan-out",
          severity: "high",
          place: place.name,
          text: `sockets towards ${bp.addresses} addresses on remote port ${bp.port} (threshold ${th.destinationsPerPort})`,
        });
      }
      // new listeners (not on a place's first reading: a new container's own start-up)
      if (place.listeners !== null) {
        const had = this.listeners.get(key);
        if (had !== undefined) {
          for (const l of place.listeners) {
            if (!had.has(l))
              alarms.push({
                rule: "watch.new-listener",
                severity: "medium",
                place: place.name,
                text: `new listening socket ${l}`,
              });
          }
        }
        this.listeners.set(key, new Set(place.listeners));
      }
    }
    // the host row: the machine's figures less the containers'
    const host = rows.find((r) => r.containerId === null);
    if (host) {
      host.cpuPercent = round(Math.max(0, host.cpuPercent - containerCpu));
      host.memoryBytes = Math.max(0, host.memoryBytes - containerMem);
    }
    for (const k of this.listeners.keys())
      if (!cur.places.some((p) => keyOf(p) === k)) this.listeners.delete(k);
    alarms.push(...this.processAlarms(cur));
    this.prev = cur;
    return {
      schemaVersion: WATCH_SCHEMA_VERSION,
      time: new Date(cur.atMs).toISOString(),
      intervalMs: Math.round(seconds * 1000),
      rows,
      alarms,
      engineError: cur.engineError,
    };
  }

  private processAlarms(cur: WatchReading): WatchAlarm[] {
    if (cur.newProcesses.length === 0) return [];
    const names = new Map(
      cur.places.filter((p) => p.containerId !== null).map((p) => [p.containerId!, p.name]),
    );
    const at = new Date(cur.atMs);
    const snap = changeSnapshot(cur.newProcesses, cur.ancestors, names, at);
    const ctx: RuleContext = { now: at, lists: this.lists };
    const newPids = new Set(cur.newProcesses.map((p) => p.pid));
    const findings: Finding[] = [
      ...deletedExecutableRule(snap, ctx),
      ...memfdExecutionRule(snap, ctx),
      ...executableLocationRule(snap, ctx),
    ];
    const floor = SEVERITIES.indexOf(this.thresholds.minSeverity);
    return findings
      .filter((f) => SEVERITIES.indexOf(f.severity as (typeof SEVERITIES)[number]) >= floor)
      .filter((f) => f.evidence.some((e) => e.pid == null || newPids.has(e.pid)))
      .map((f) => ({
        rule: f.rule,
        severity: f.severity as WatchAlarm["severity"],
        place: f.where,
        text: `new process: ${f.title}`,
      }));
  }
}
