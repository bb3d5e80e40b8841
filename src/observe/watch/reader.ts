/**
 * What `breachkit watch` reads at each tick, straight from the kernel, and kept cheap: the
 * per-tick cost is a listing of /proc, three cgroup files per container, one net/dev per
 * network namespace (read through one of its processes), the socket tables of a namespace
 * only when its counters moved (or every few ticks), and for NEW pids only their stat,
 * cgroup, exe link and netns link. The engine is asked for names every few ticks, or at
 * once when a process of an unknown container appears; its answer is not waited for long,
 * and an engine that does not answer is reported (a banner), never fatal.
 *
 * Nothing here decides anything: rates and alarms are judge/watch's.
 */
import * as fs from "node:fs";
import type {
  WatchCounters,
  WatchDestination,
  WatchPlaceReading,
  WatchProcess,
  WatchProcessDetail,
  WatchReading,
} from "../../model/watch-sample.js";
import { errorMessage } from "../../util/result.js";
import { containerFromCgroup } from "../proc/cgroup.js";
import { parseNetDev } from "../proc/net-dev.js";
import { type NetProto, type NetTableEntry, parseNetTable } from "../proc/net-table.js";
import { parseBracketInode, readProcText } from "../proc/proc-fs.js";
import { parseStat } from "../proc/stat.js";
import {
  type CgroupFile,
  type CgroupFiles,
  type CgroupMounts,
  cgroupFiles,
  parseCgroupMounts,
  parseCgroupValue,
  parseConntrack,
  parseMemUsed,
  parseProcStatBusy,
} from "./cgroup-files.js";

/** The one engine call watch makes (the read-only client's listContainers). */
export interface WatchEngine {
  listContainers(): Promise<
    ReadonlyArray<{ Id: string; Names?: string[] | null | undefined; [k: string]: unknown }>
  >;
}

export interface WatchReaderOptions {
  procRoot?: string;
  engine: WatchEngine | null;
  /** breachkit's own pid: left out of the host's processes. */
  selfPid: number;
  clockTicks: number;
  /** Ask the engine for names every this many ticks (default 10). */
  listEveryTicks?: number;
  /** Read socket tables of a quiet namespace every this many ticks (default 5). */
  socketsEveryTicks?: number;
  /** How long a tick waits for the engine's list when it needs one (default 800 ms). */
  engineWaitMs?: number;
  /** Conntrack file; null: none. Default /proc/net/nf_conntrack when readable. */
  conntrackPath?: string | null;
}

interface Entry {
  proc: WatchProcess;
  kernelThread: boolean;
  netns: number | null;
  /** Ticks left during which the exe link is read again (a fork caught before its exec). */
  recheck: number;
}

interface Known {
  id: string;
  files: CgroupFiles;
  /** Spreads the slow-changing reads (memory, tasks) over the ticks. */
  phase: number;
  memoryBytes: number | null;
  tasks: number | null;
}

interface NetnsState {
  counters: WatchCounters | null;
  destinations: WatchDestination[];
  listeners: string[] | null;
  busiestPort: { port: number; addresses: number } | null;
  lastSocketsTick: number;
  /** The namespace's socket counts (sockstat, sockstat6) when last looked at. */
  sockstat: string | null;
  phase: number;
}

const SOCKET_PROTOS: readonly NetProto[] = ["tcp", "tcp6", "udp", "udp6"];
const DELETED = " (deleted)";
/** Interfaces of the host namespace that carry containers' traffic, already counted on their rows. */
const CONTAINER_LINKS = /^(veth|docker\d|br-|cni|flannel|cali|vxlan)/;
const MAX_GAPS = 20;
/** Memory and tasks of a container are read every this many ticks. */
const SLOW_EVERY = 5;
/**
 * The socket tables of a namespace are read at least every this many ticks: a safety net
 * (a listener closed and another opened between two looks keeps the counts equal).
 */
const RESCAN_TICKS = 300;

function isZeroAddress(a: string): boolean {
  return a === "0.0.0.0" || a === "::" || a === "::ffff:0.0.0.0";
}

function readlinkOrNull(path: string): string | null {
  try {
    return fs.readlinkSync(path);
  } catch {
    return null;
  }
}

function exeOf(link: string | null): Pick<WatchProcess, "exePath" | "deleted" | "memfd"> {
  if (link === null) return { exePath: null, deleted: false, memfd: false };
  const deleted = link.endsWith(DELETED);
  const path = deleted ? link.slice(0, -DELETED.length) : link;
  return { exePath: path, deleted, memfd: deleted && path.startsWith("/memfd:") };
}

function sumCounters(text: string, skip: RegExp | null): WatchCounters {
  const c: WatchCounters = { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0 };
  for (const i of parseNetDev(text)) {
    if (skip?.test(i.name)) continue;
    c.rxPackets += i.rxPackets;
    c.txPackets += i.txPackets;
    c.rxBytes += i.rxBytes;
    c.txBytes += i.txBytes;
  }
  return c;
}

function topDestinations(counts: Map<string, WatchDestination>, n = 5): WatchDestination[] {
  return [...counts.values()]
    .sort((a, b) => b.count - a.count || a.address.localeCompare(b.address) || a.port - b.port)
    .slice(0, n);
}

function addDestination(counts: Map<string, WatchDestination>, address: string, port: number) {
  const key = `${address} ${port}`;
  const d = counts.get(key);
  if (d) d.count++;
  else counts.set(key, { address, port, count: 1 });
}

export class WatchReader {
  private readonly root: string;
  private readonly mounts: CgroupMounts;
  private readonly procs = new Map<number, Entry>();
  private readonly known = new Map<string, Known>();
  private readonly names = new Map<string, string>();
  /** Ticks the engine was asked about a container it has not named (at most a few). */
  private readonly asked = new Map<string, number>();
  /** Container IP to id (from the engine's list), for conntrack. */
  private readonly ips = new Map<string, string>();
  private readonly netns = new Map<number, NetnsState>();
  private readonly hostNetns: number | null;
  private tickNo = 0;
  /**
   * /proc/loadavg's "tasks last-pid" when /proc was last listed: while both are the same, no
   * task was created (every new task, thread or process, in this pid namespace or below, takes
   * a new last pid) and none ended (the count only falls by an exit), so the list of pids is
   * the one already held and /proc is not listed again (the dearest read of a tick on a host
   * with thousands of processes).
   */
  private taskStamp: string | null = null;
  /** Entries whose exe link is still read again at the next ticks. */
  private rechecking = 0;
  private phase = 0;
  private listing: Promise<void> | null = null;
  private engineError: string | null = null;
  private conntrackPath: string | null;

  constructor(private readonly opts: WatchReaderOptions) {
    this.root = opts.procRoot ?? "/proc";
    let mountinfo = "";
    try {
      mountinfo = readProcText(`${this.root}/self/mountinfo`, 4 * 1024 * 1024);
    } catch {
      // no cgroup figures: rows show processes and traffic only
    }
    this.mounts = parseCgroupMounts(mountinfo);
    // The host's namespace is init's; where init's link is hidden from us (a hardened or
    // sandboxed pid 1), our own: watch runs on the host.
    this.hostNetns =
      parseBracketInode(readlinkOrNull(`${this.root}/1/ns/net`) ?? "", "net") ??
      parseBracketInode(readlinkOrNull(`${this.root}/self/ns/net`) ?? "", "net");
    const ct =
      opts.conntrackPath === undefined ? `${this.root}/net/nf_conntrack` : opts.conntrackPath;
    this.conntrackPath = ct !== null && fs.existsSync(ct) ? ct : null;
  }

  /** The name of a container (its short id until the engine said). */
  nameOf(id: string): string {
    return this.names.get(id) ?? id.slice(0, 12);
  }

  /** Containers seen at the last tick. */
  containerIds(): string[] {
    return [...this.known.keys()];
  }

  private readNew(pid: number, gaps: string[]): Entry | null {
    const base = `${this.root}/${pid}`;
    let statText: string;
    let cgroup = "";
    try {
      statText = readProcText(`${base}/stat`, 4096);
    } catch {
      return null; // exited
    }
    const stat = parseStat(statText);
    if (stat === null) return null;
    try {
      cgroup = stat.kernelThread ? "" : readProcText(`${base}/cgroup`, 64 * 1024);
    } catch (e) {
      if (gaps.length < MAX_GAPS) gaps.push(`pid ${pid}: cannot read cgroup: ${errorMessage(e)}`);
    }
    const container = containerFromCgroup(cgroup);
    const proc: WatchProcess = {
      pid,
      ppid: stat.ppid,
      comm: stat.comm,
      starttime: stat.starttime,
      containerId: container?.id ?? null,
      ...exeOf(stat.kernelThread ? null : readlinkOrNull(`${base}/exe`)),
    };
    if (container !== null && !this.known.has(container.id)) {
      this.known.set(container.id, {
        id: container.id,
        files: cgroupFiles(this.mounts, cgroup),
        phase: this.phase++,
        memoryBytes: null,
        tasks: null,
      });
    }
    const netns = stat.kernelThread
      ? null
      : parseBracketInode(readlinkOrNull(`${base}/ns/net`) ?? "", "net");
    return { proc, kernelThread: stat.kernelThread, netns, recheck: 2 };
  }

  /** Start (or join) a list of the engine's containers; resolves when it lands or fails. */
  private list(): Promise<void> {
    const engine = this.opts.engine;
    if (engine === null) return Promise.resolve();
    this.listing ??= engine
      .listContainers()
      .then((list) => {
        this.engineError = null;
        for (const c of list) {
          const name = (c.Names?.[0] ?? "").replace(/^\//, "");
          if (name !== "") this.names.set(c.Id, name);
          const nets = (c.NetworkSettings as { Networks?: Record<string, unknown> } | undefined)
            ?.Networks;
          for (const n of Object.values(nets ?? {})) {
            const ip = (n as { IPAddress?: unknown } | null)?.IPAddress;
            if (typeof ip === "string" && ip !== "") this.ips.set(ip, c.Id);
          }
        }
      })
      .catch((e: unknown) => {
        this.engineError = errorMessage(e);
      })
      .finally(() => {
        this.listing = null;
      });
    return this.listing;
  }

  private readCgroup(file: CgroupFile | null): number | null | "gone" {
    if (file === null) return null;
    try {
      return parseCgroupValue(readProcText(file.path, 64 * 1024), file.kind);
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "ENOENT" ? "gone" : null;
    }
  }

  /** Read net/dev (and, when due, the socket tables) of a namespace through one of its pids. */
  private readNetns(inode: number, pids: readonly number[], isHost: boolean): NetnsState {
    const prev = this.netns.get(inode);
    const state: NetnsState = {
      counters: null,
      destinations: prev?.destinations ?? [],
      listeners: null,
      busiestPort: prev?.busiestPort ?? null,
      lastSocketsTick: prev?.lastSocketsTick ?? -1,
      sockstat: prev?.sockstat ?? null,
      phase: prev?.phase ?? this.phase++,
    };
    for (const pid of pids.slice(0, 3)) {
      let text: string;
      try {
        text = readProcText(`${this.root}/${pid}/net/dev`, 256 * 1024);
      } catch {
        continue;
      }
      state.counters = sumCounters(text, isHost ? CONTAINER_LINKS : null);
      const moved =
        prev?.counters == null ||
        prev.counters.rxPackets !== state.counters.rxPackets ||
        prev.counters.txPackets !== state.counters.txPackets;
      // The socket tables are dear to read (the kernel walks its whole hash tables for each
      // namespace): read them when the namespace's socket counts changed (a new listener, a
      // new connection), looked at every few ticks; for a namespace with traffic every few
      // ticks (its destinations); and now and then in any case.
      const every = this.opts.socketsEveryTicks ?? 5;
      const since = this.tickNo - state.lastSocketsTick;
      const turn = (this.tickNo + state.phase) % every === 0;
      let due =
        state.lastSocketsTick < 0 || (since >= RESCAN_TICKS && turn) || (moved && since >= every);
      if (!due && turn) {
        const stamp = this.readSockstat(pid);
        due = stamp !== state.sockstat;
      }
      if (due) {
        state.sockstat = this.readSockstat(pid);
        const sockets = this.readSockets(pid);
        if (sockets !== null) {
          const counts = new Map<string, WatchDestination>();
          const listeners: string[] = [];
          const perPort = new Map<number, Set<string>>();
          for (const s of sockets) {
            if (s.state === "LISTEN") listeners.push(`${s.proto} ${s.localAddress}:${s.localPort}`);
            else if (s.remotePort !== 0 && !isZeroAddress(s.remoteAddress)) {
              addDestination(counts, s.remoteAddress, s.remotePort);
              const set = perPort.get(s.remotePort) ?? new Set<string>();
              perPort.set(s.remotePort, set);
              set.add(s.remoteAddress);
            }
          }
          state.busiestPort = null;
          for (const [port, set] of perPort) {
            if (state.busiestPort === null || set.size > state.busiestPort.addresses)
              state.busiestPort = { port, addresses: set.size };
          }
          state.destinations = topDestinations(counts);
          state.listeners = [...new Set(listeners)].sort();
          state.lastSocketsTick = this.tickNo;
        }
      }
      break;
    }
    this.netns.set(inode, state);
    return state;
  }

  /** "TCP 5 UDP 2 TCP6 0 UDP6 1": the inuse counts of a namespace, or null. */
  private readSockstat(pid: number): string | null {
    let out = "";
    for (const f of ["sockstat", "sockstat6"]) {
      try {
        const text = readProcText(`${this.root}/${pid}/net/${f}`, 16 * 1024);
        for (const m of text.matchAll(/^(TCP6?|UDP6?): inuse (\d+)/gm)) out += `${m[1]} ${m[2]} `;
      } catch {
        /* no IPv6, or exited */
      }
    }
    return out === "" ? null : out;
  }

  private readSockets(pid: number): NetTableEntry[] | null {
    const out: NetTableEntry[] = [];
    for (const proto of SOCKET_PROTOS) {
      try {
        out.push(
          ...parseNetTable(
            readProcText(`${this.root}/${pid}/net/${proto}`, 8 * 1024 * 1024),
            proto,
          ),
        );
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT" && proto.endsWith("6")) continue;
        return null;
      }
    }
    return out;
  }

  /** Conntrack flows by place (container id, or "" for the host), as destinations. */
  private readConntrack(): Map<string, Map<string, WatchDestination>> | null {
    if (this.conntrackPath === null) return null;
    let text: string;
    try {
      text = readProcText(this.conntrackPath, 4 * 1024 * 1024);
    } catch {
      this.conntrackPath = null; // not readable here: not tried again
      return null;
    }
    const out = new Map<string, Map<string, WatchDestination>>();
    for (const f of parseConntrack(text)) {
      if (f.dport === null || f.dst.startsWith("127.") || f.dst === "::1") continue;
      const place = this.ips.get(f.src) ?? "";
      const m = out.get(place) ?? new Map<string, WatchDestination>();
      out.set(place, m);
      addDestination(m, f.dst, f.dport);
    }
    return out;
  }

  /** One tick. */
  async tick(): Promise<WatchReading> {
    const first = this.tickNo === 0;
    const gaps: string[] = [];
    const atMs = Date.now();
    const monoMs = performance.now();
    // 1. processes: only new pids are read; /proc is listed only when a task came or went
    const stamp = taskStamp(this.root);
    const unchanged = !first && stamp !== null && stamp === this.taskStamp && this.rechecking === 0;
    const listed = new Set<number>();
    if (!unchanged) {
      for (const name of fs.readdirSync(this.root)) {
        const c = name.charCodeAt(0);
        if (c < 48 || c > 57) continue;
        const pid = Number(name);
        if (pid === this.opts.selfPid) continue;
        listed.add(pid);
      }
      for (const pid of this.procs.keys()) if (!listed.has(pid)) this.procs.delete(pid);
    }
    this.taskStamp = stamp;
    this.rechecking = 0;
    const newProcesses: WatchProcess[] = [];
    let unknownContainer = false;
    for (const pid of listed) {
      const known = this.procs.get(pid);
      if (known !== undefined) {
        if (known.recheck > 0 && !known.kernelThread) {
          known.recheck--;
          if (known.recheck > 0) this.rechecking++;
          const exe = exeOf(readlinkOrNull(`${this.root}/${pid}/exe`));
          if (exe.exePath !== null && exe.exePath !== known.proc.exePath) {
            // exec'd another file since we first saw it (fork, then exec)
            known.proc = { ...known.proc, ...exe };
            newProcesses.push(known.proc);
          } else if (exe.exePath !== null) {
            known.proc = { ...known.proc, ...exe };
          }
        }
        continue;
      }
      const e = this.readNew(pid, gaps);
      if (e === null) continue;
      this.procs.set(pid, e);
      if (!e.kernelThread) this.rechecking++;
      if (!first && !e.kernelThread) newProcesses.push(e.proc);
    }
    // A container the engine has not named yet is asked about at the next few ticks (a
    // container's processes appear before the engine lists it as running), not forever
    // (another runtime's containers are never in its list).
    for (const id of this.known.keys()) {
      if (this.names.has(id)) continue;
      const n = this.asked.get(id) ?? 0;
      if (n < 5) {
        this.asked.set(id, n + 1);
        unknownContainer = true;
      }
    }
    // 2. the engine's names: on a new container at once (briefly waited for), else now and then
    const every = this.opts.listEveryTicks ?? 10;
    if (unknownContainer || this.tickNo % every === 0) {
      const p = this.list();
      if (unknownContainer || first) {
        await Promise.race([
          p,
          new Promise((r) => setTimeout(r, this.opts.engineWaitMs ?? 800).unref()),
        ]);
      }
    }
    // 3. group processes by place and namespace
    const byContainer = new Map<string, Entry[]>();
    const hostPids: number[] = [];
    let hostProcesses = 0;
    for (const e of this.procs.values()) {
      const id = e.proc.containerId;
      if (id === null) {
        if (!e.kernelThread) {
          hostProcesses++;
          if (e.netns === this.hostNetns && hostPids.length < 3) hostPids.push(e.proc.pid);
        }
        continue;
      }
      const list = byContainer.get(id) ?? [];
      byContainer.set(id, list);
      list.push(e);
    }
    for (const id of this.known.keys()) {
      if (byContainer.has(id)) continue;
      this.known.delete(id);
      this.asked.delete(id);
      this.names.delete(id);
    }
    // 4. conntrack, when due
    const conntrack =
      this.tickNo % (this.opts.socketsEveryTicks ?? 5) === 0 ? this.readConntrack() : null;
    // 5. each container
    const places: WatchPlaceReading[] = [];
    const claimed = new Set<number>();
    const ids = [...byContainer.keys()].sort();
    for (const id of ids) {
      const entries = byContainer.get(id)!;
      const k = this.known.get(id);
      if (!k) continue;
      // CPU at every tick; memory and tasks, which change slowly, every few ticks (spread
      // over the containers): each file read costs a few syscalls, and there are many.
      const cpu = this.readCgroup(k.files.cpu);
      if (cpu === "gone") {
        // stopped between the listing and now: gone at this tick
        this.known.delete(id);
        continue;
      }
      if (k.memoryBytes === null || (this.tickNo + k.phase) % SLOW_EVERY === 0) {
        const mem = this.readCgroup(k.files.memory);
        const tasks = this.readCgroup(k.files.tasks);
        k.memoryBytes = typeof mem === "number" ? mem : null;
        k.tasks = typeof tasks === "number" ? tasks : null;
      }
      const inode = entries.find((e) => e.netns !== null)?.netns ?? null;
      let network: WatchPlaceReading["network"] = "none";
      let ns: NetnsState | null = null;
      if (inode !== null && inode === this.hostNetns) network = "host";
      else if (inode !== null && claimed.has(inode)) network = "shared";
      else if (inode !== null) {
        claimed.add(inode);
        ns = this.readNetns(
          inode,
          entries.filter((e) => e.netns === inode).map((e) => e.proc.pid),
          false,
        );
        network = ns.counters === null ? "none" : "own";
      }
      let destinations = ns?.destinations ?? [];
      const ct = conntrack?.get(id);
      if (ct) destinations = topDestinations(mergeCounts(destinations, ct));
      places.push({
        containerId: id,
        name: this.nameOf(id),
        cpuNs: typeof cpu === "number" ? cpu : null,
        memoryBytes: k.memoryBytes,
        tasks: k.tasks,
        processes: entries.filter((e) => !e.kernelThread).length,
        network,
        counters: ns?.counters ?? null,
        destinations,
        listeners: ns?.listeners ?? null,
        busiestPort: ns?.busiestPort ?? null,
      });
    }
    // 6. the host: system-wide CPU and memory (judge subtracts the containers), its own netns
    let busy: number | null = null;
    let memUsed: number | null = null;
    try {
      const ticks = parseProcStatBusy(readProcText(`${this.root}/stat`, 64 * 1024));
      busy = ticks === null ? null : (ticks * 1e9) / this.opts.clockTicks;
    } catch {
      /* unreadable: null */
    }
    try {
      memUsed = parseMemUsed(readProcText(`${this.root}/meminfo`, 64 * 1024));
    } catch {
      /* unreadable: null */
    }
    const hostNs =
      this.hostNetns === null ? null : this.readNetns(this.hostNetns, [...hostPids, 1], true);
    let hostDest = hostNs?.destinations ?? [];
    const hct = conntrack?.get("");
    if (hct) hostDest = topDestinations(mergeCounts(hostDest, hct));
    places.unshift({
      containerId: null,
      name: "host",
      cpuNs: busy,
      memoryBytes: memUsed,
      tasks: null,
      processes: hostProcesses,
      network: hostNs?.counters ? "own" : "none",
      counters: hostNs?.counters ?? null,
      destinations: hostDest,
      listeners: hostNs?.listeners ?? null,
      busiestPort: hostNs?.busiestPort ?? null,
    });
    // forget namespaces nobody reads any more
    const live = new Set<number>(claimed);
    if (this.hostNetns !== null) live.add(this.hostNetns);
    for (const inode of this.netns.keys()) if (!live.has(inode)) this.netns.delete(inode);
    const ancestors = ancestorsOf(newProcesses, this.procs);
    this.tickNo++;
    return {
      atMs,
      monoMs,
      places,
      newProcesses,
      ancestors,
      engineError: this.engineError,
      gaps,
      first,
    };
  }

  /**
   * The processes of one place (a container id, or null for the host), read now: CPU ticks,
   * RSS, exe (re-read: a file deleted since is marked), sockets and their remote endpoints.
   * Only for the place the user drilled into.
   */
  detail(containerId: string | null, limit = 500): WatchProcessDetail[] {
    const entries = [...this.procs.values()]
      .filter((e) => e.proc.containerId === containerId && !e.kernelThread)
      .slice(0, limit);
    // socket inode -> entry, from the tables of each namespace met
    const tables = new Map<number, Map<number, NetTableEntry>>();
    const out: WatchProcessDetail[] = [];
    for (const e of entries) {
      const base = `${this.root}/${e.proc.pid}`;
      let stat: ReturnType<typeof parseStat>;
      try {
        stat = parseStat(readProcText(`${base}/stat`, 4096));
      } catch {
        continue; // exited
      }
      if (stat === null) continue;
      const exe = exeOf(readlinkOrNull(`${base}/exe`));
      let table: Map<number, NetTableEntry> | undefined;
      if (e.netns !== null) {
        table = tables.get(e.netns);
        if (table === undefined) {
          table = new Map((this.readSockets(e.proc.pid) ?? []).map((s) => [s.inode, s]));
          tables.set(e.netns, table);
        }
      }
      const counts = new Map<string, WatchDestination>();
      const listening: string[] = [];
      let sockets = 0;
      let fds: string[] = [];
      try {
        fds = fs.readdirSync(`${base}/fd`);
      } catch {
        /* permission or exited: no sockets shown */
      }
      for (const fd of fds.slice(0, 4096)) {
        const inode = parseBracketInode(readlinkOrNull(`${base}/fd/${fd}`) ?? "", "socket");
        if (inode === null) continue;
        sockets++;
        const s = table?.get(inode);
        if (!s) continue;
        if (s.state === "LISTEN") listening.push(`${s.proto} ${s.localAddress}:${s.localPort}`);
        else if (s.remotePort !== 0 && !isZeroAddress(s.remoteAddress))
          addDestination(counts, s.remoteAddress, s.remotePort);
      }
      out.push({
        pid: e.proc.pid,
        ppid: stat.ppid,
        comm: stat.comm,
        ...(exe.exePath === null
          ? { exePath: e.proc.exePath, deleted: e.proc.deleted, memfd: e.proc.memfd }
          : exe),
        cpuTicks: stat.utime + stat.stime,
        rssBytes: stat.rssPages * 4096,
        destinations: topDestinations(counts, 3),
        listening: [...new Set(listening)],
        sockets,
      });
    }
    return out;
  }
}

/**
 * "tasks last-pid" from /proc/loadavg ("0.10 0.20 0.30 2/2779 11927": the fourth field's total
 * of tasks and the fifth, the last pid handed out in the reader's pid namespace), or null
 * where it cannot be read (then /proc is listed at every tick).
 */
function taskStamp(root: string): string | null {
  try {
    const f = readProcText(`${root}/loadavg`, 256).trim().split(" ");
    const total = f[3]?.split("/")[1];
    return total && f[4] && /^\d+$/.test(total) && /^\d+$/.test(f[4]) ? `${total} ${f[4]}` : null;
  } catch {
    return null;
  }
}

function mergeCounts(
  a: readonly WatchDestination[],
  b: Map<string, WatchDestination>,
): Map<string, WatchDestination> {
  const m = new Map<string, WatchDestination>();
  for (const d of [...a, ...b.values()]) {
    const key = `${d.address} ${d.port}`;
    const had = m.get(key);
    if (had) had.count += d.count;
    else m.set(key, { ...d });
  }
  return m;
}

function ancestorsOf(procs: readonly WatchProcess[], all: Map<number, Entry>): WatchProcess[] {
  const out = new Map<number, WatchProcess>();
  for (const p of procs) {
    let ppid = p.ppid;
    for (let i = 0; i < 64 && ppid > 0 && !out.has(ppid); i++) {
      const parent = all.get(ppid);
      if (!parent) break;
      out.set(ppid, parent.proc);
      ppid = parent.proc.ppid;
    }
  }
  return [...out.values()];
}
