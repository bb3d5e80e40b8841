/**
 * Sockets and interface counters of every network namespace that has a process, read
 * through /proc/<pid>/net/* of one process per namespace: the sockets inside containers are
 * seen from the host without entering them.
 */
import { readlinkSync, statSync } from "node:fs";
import type {
  Gap,
  InterfaceCounters,
  NetNamespace,
  Process,
  Socket,
  TrafficRate,
} from "../../model/snapshot.js";
import { parseNetDev } from "./net-dev.js";
import { NET_PROTOS, parseNetTable } from "./net-table.js";
import { errnoCode, isVanished, parseBracketInode, readProcText } from "./proc-fs.js";

export interface ReadNetworkOptions {
  /** Defaults to /proc. */
  procRoot?: string;
}

// Socket tables grow with the number of sockets (150 bytes each); a flood of half-open
// connections must not exhaust memory.
const MAX_TABLE_BYTES = 64 * 1024 * 1024;
const MAX_READERS_TRIED = 5;

/** Started before `b` (ISO times of one format compare as strings), or with a lower pid. */
const startedFirst = (a: Process, b: Process) =>
  a.startTime < b.startTime || (a.startTime === b.startTime && a.pid < b.pid);

/**
 * The processes to read a namespace through, in order: the oldest live ones (the least
 * likely to exit mid-read; zombies have no net dir), then by pid. One pass, keeping the
 * first few: the host's namespace holds thousands of processes.
 */
function readerCandidates(members: readonly Process[]): Process[] {
  const best: Process[] = [];
  for (const p of members) {
    if (p.state === "Z" || p.state === "X") continue;
    let at = best.length;
    while (at > 0 && startedFirst(p, best[at - 1] as Process)) at--;
    if (at >= MAX_READERS_TRIED) continue;
    best.splice(at, 0, p);
    if (best.length > MAX_READERS_TRIED) best.pop();
  }
  return best;
}

interface NsReading {
  readerPid: number;
  tables: Map<string, string>;
  dev: string;
}

function readNs(root: string, candidates: readonly Process[], gaps: Gap[], ns: number) {
  let lastError = "no live process";
  for (const p of candidates) {
    const base = `${root}/${p.pid}/net`;
    try {
      const dev = readProcText(`${base}/dev`, MAX_TABLE_BYTES);
      const tables = new Map<string, string>();
      for (const proto of NET_PROTOS) {
        try {
          tables.set(proto, readProcText(`${base}/${proto}`, MAX_TABLE_BYTES));
        } catch (e) {
          // tcp6/udp6/raw6 are absent when IPv6 is disabled; when the reader itself has
          // exited, start over with the next candidate.
          if (!isVanished(e)) gaps.push({ source: `${base}/${proto}`, message: errnoCode(e) });
          else if (!statSync(`${root}/${p.pid}`, { throwIfNoEntry: false })) throw e;
        }
      }
      // Still in the namespace (no setns meanwhile): the tables are that namespace's.
      if (nsOf(root, p.pid) !== ns) {
        lastError = "left the namespace";
        continue;
      }
      return { readerPid: p.pid, tables, dev } satisfies NsReading;
    } catch (e) {
      lastError = errnoCode(e);
      if (!isVanished(e)) gaps.push({ source: `${base}/dev`, message: lastError });
    }
  }
  gaps.push({ source: "procfs net", message: `network namespace ${ns} not read: ${lastError}` });
  return null;
}

/** The network namespace of a process, from its ns/net link; null when unreadable. */
function nsOf(root: string, pid: number): number | null {
  try {
    return parseBracketInode(readlinkSync(`${root}/${pid}/ns/net`), "net");
  } catch {
    return null;
  }
}

/** The host's namespace: pid 1's, or kthreadd's when pid 1 is protected (kernel threads
 * always live in the initial namespaces). */
function hostNetNs(processes: readonly Process[]): number | null {
  const init = processes.find((p) => p.pid === 1 && p.ns.net !== null);
  if (init) return init.ns.net;
  return processes.find((p) => p.kernelThread && p.ns.net !== null)?.ns.net ?? null;
}

/**
 * Read the sockets and interface counters of each network namespace of `processes` (the
 * output of readProcesses), tying sockets to processes by inode.
 */
export async function readNetwork(
  processes: readonly Process[],
  opts: ReadNetworkOptions = {},
): Promise<{ sockets: Socket[]; netns: NetNamespace[]; gaps: Gap[] }> {
  const root = opts.procRoot ?? "/proc";
  const gaps: Gap[] = [];
  const byNs = new Map<number, Process[]>();
  const pidsByInode = new Map<number, number[]>();
  for (const p of processes) {
    if (p.ns.net !== null) {
      const list = byNs.get(p.ns.net) ?? [];
      list.push(p);
      byNs.set(p.ns.net, list);
    }
    for (const inode of p.socketInodes) {
      const pids = pidsByInode.get(inode) ?? [];
      if (!pids.includes(p.pid)) pids.push(p.pid);
      pidsByInode.set(inode, pids);
    }
  }
  const containerOf = new Map(processes.map((p) => [p.pid, p.containerId]));
  const hostNs = hostNetNs(processes);

  const sockets: Socket[] = [];
  const netns: NetNamespace[] = [];
  for (const [inode, members] of [...byNs].sort((a, b) => a[0] - b[0])) {
    const reading = readNs(root, readerCandidates(members), gaps, inode);
    if (reading === null) continue;
    const containerIds = [
      ...new Set(members.map((p) => p.containerId).filter((c): c is string => c !== null)),
    ].sort();
    netns.push({
      inode,
      readerPid: reading.readerPid,
      containerIds,
      host: inode === hostNs,
      interfaces: parseNetDev(reading.dev),
      rates: [],
    });
    // A namespace shared by several containers (--network container:x) names none of them
    // alone: a socket is then attributed through its owning process.
    const nsContainer = containerIds.length === 1 ? (containerIds[0] ?? null) : null;
    for (const proto of NET_PROTOS) {
      const text = reading.tables.get(proto);
      if (text === undefined) continue;
      for (const entry of parseNetTable(text, proto)) {
        // inode 0: no owner any more (TIME_WAIT, orphaned), never to be matched to fds.
        const pids = entry.inode === 0 ? [] : (pidsByInode.get(entry.inode) ?? []);
        const ownerContainer =
          pids.map((pid) => containerOf.get(pid) ?? null).find((c) => c !== null) ?? null;
        sockets.push({
          ...entry,
          netns: inode,
          pids: [...pids].sort((a, b) => a - b),
          containerId: nsContainer ?? ownerContainer,
        });
      }
    }
  }
  return { sockets, netns, gaps };
}

export type InterfaceRate = TrafficRate & { name: string };

/** Counter delta; a counter that went down was reset (interface recreated, driver reset),
 * so everything it counts now happened since the reset. */
function delta(before: number, after: number): number {
  return after >= before ? after - before : after;
}

/** Per-second rates of one interface between two readings `seconds` apart. */
export function interfaceRate(
  before: InterfaceCounters,
  after: InterfaceCounters,
  seconds: number,
): InterfaceRate {
  return {
    name: after.name,
    intervalSeconds: seconds,
    rxPacketsPerSec: delta(before.rxPackets, after.rxPackets) / seconds,
    txPacketsPerSec: delta(before.txPackets, after.txPackets) / seconds,
    rxBytesPerSec: delta(before.rxBytes, after.rxBytes) / seconds,
    txBytesPerSec: delta(before.txBytes, after.txBytes) / seconds,
  };
}

/**
 * The `after` namespaces with per-interface rates filled from `before`. Namespaces and
 * interfaces present in only one reading get no rate: there is nothing to compare.
 */
export function trafficRates(
  before: readonly NetNamespace[],
  after: readonly NetNamespace[],
  seconds: number,
): NetNamespace[] {
  if (!(seconds > 0)) throw new RangeError(`interval must be positive, got ${seconds}`);
  const old = new Map(before.map((ns) => [ns.inode, ns]));
  return after.map((ns) => {
    const prev = new Map((old.get(ns.inode)?.interfaces ?? []).map((i) => [i.name, i]));
    const rates: InterfaceRate[] = [];
    for (const iface of ns.interfaces) {
      const was = prev.get(iface.name);
      if (was !== undefined) rates.push(interfaceRate(was, iface, seconds));
    }
    return { ...ns, rates };
  });
}
