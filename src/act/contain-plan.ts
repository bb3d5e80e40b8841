/**
 * The pure half of `contain`: which processes count as "the breach" (the match set), where they
 * run, what to do to the container (the plan, with an undo for every step), and whether the
 * result is contained (the verdict). No I/O: the orchestration (contain.ts) feeds it snapshots
 * and facts it read, so every decision here can be tested on small hand-built snapshots.
 */

import type { RuleContext } from "../judge/context.js";
import { basename, hiddenComponent, inTmpDir, whereOf } from "../judge/facts.js";
import {
  describeIoc,
  type IocEntry,
  type IocSet,
  iocSetOf,
  matchAddress,
  matchProcess,
} from "../judge/ioc/ioc-set.js";
import type { RuleLists } from "../judge/rule-lists.js";
import { inSystemDir, suspiciousProcesses } from "../judge/rules/process-traits.js";
import type { Finding } from "../model/finding.js";
import type { Container, Process, Snapshot } from "../model/snapshot.js";
import { err, ok, type Result } from "../util/result.js";

export const CONTAIN_MODES = ["pause", "isolate", "stop", "kill"] as const;
export type ContainMode = (typeof CONTAIN_MODES)[number];

/**
 * Names too common to match by: a dropped copy of busybox or a shell named `sh` in /tmp is
 * matched by its hash, but matching every `sh` on the host by name would bury the one that
 * matters under hundreds of innocent ones. An admin who means the name passes it with --ioc.
 */
const GENERIC_NAMES = new Set([
  "sh",
  "bash",
  "dash",
  "ash",
  "zsh",
  "busybox",
  "sleep",
  "env",
  "python",
  "python3",
  "perl",
  "node",
  "php",
  "ruby",
  "java",
  "init",
  "systemd",
  "sshd",
  "cron",
  "nginx",
  "httpd",
  "apache2",
  "containerd",
  "containerd-shim",
  "containerd-shim-runc-v2",
  "dockerd",
  "runc",
  "docker-init",
]);

/** Findings below this severity do not name the breach's processes. */
const MIN_SEVERITY: ReadonlySet<Finding["severity"]> = new Set(["medium", "high", "critical"]);

export interface MatchSet {
  /** Everything matched against: the admin's --ioc and what triage found in the target. */
  iocs: IocSet;
  /**
   * The admin's own entries (--ioc): only these may name a process that runs a program's own
   * file (see runsFrom). What triage derived identifies the intrusion's copy, not the program.
   */
  explicit: ReadonlySet<IocEntry>;
  /** The staging dirs and hidden-path rules, to tell where a process runs from. */
  lists: RuleLists;
  /** Why some candidates were not used, for the record. */
  notes: string[];
}

/**
 * The indicators of the breach: the admin's IOCs, plus the executable hash and names of every
 * process in the target container that a finding cites and that is itself suspicious (deleted,
 * dropped, in a temp dir ...). A finding may cite an innocent process too (the flood finding's
 * netns reader, a listener's parent): only the process's own traits make it an indicator.
 */
export function deriveMatchSet(
  snap: Snapshot,
  target: Container,
  findings: readonly Finding[],
  ctx: RuleContext,
  userIocs: IocSet,
): MatchSet {
  const entries: IocEntry[] = [...userIocs.entries];
  const notes: string[] = [];
  const suspicious = suspiciousProcesses(snap, ctx);
  const byPid = new Map(snap.processes.map((p) => [p.pid, p]));
  const seen = new Set<string>();
  const add = (e: IocEntry) => {
    const key = `${e.kind}\0${e.value}`;
    if (seen.has(key)) return;
    seen.add(key);
    entries.push(e);
  };
  for (const e of userIocs.entries) seen.add(`${e.kind}\0${e.value}`);

  for (const f of findings) {
    if (f.containerId !== target.id || f.falsePositive !== null) continue;
    if (!MIN_SEVERITY.has(f.severity)) continue;
    for (const ev of f.evidence) {
      if (ev.pid === undefined) continue;
      const p = byPid.get(ev.pid);
      if (!p || p.containerId !== target.id || p.kernelThread) continue;
      if (!suspicious.has(p.pid)) {
        const note = `pid ${p.pid} (${p.comm}) is cited by ${f.rule} but is not suspicious itself: not an indicator`;
        if (!notes.includes(note)) notes.push(note);
        continue;
      }
      const origin = `triage ${f.rule}, pid ${p.pid} in ${target.name}`;
      if (p.exe.sha256) add({ kind: "sha256", value: p.exe.sha256, origin });
      const names = new Set<string>([p.comm]);
      if (p.exe.path && !p.exe.memfd) names.add(basename(p.exe.path));
      for (const name of names) {
        if (name === "" || name.includes("/")) continue;
        if (GENERIC_NAMES.has(name)) {
          const note = `name "${name}" (pid ${p.pid}) is too common to match by: matched by hash only`;
          if (!notes.includes(note)) notes.push(note);
          continue;
        }
        add({ kind: "name", value: name, origin });
      }
    }
  }
  return { iocs: iocSetOf(entries), explicit: new Set(userIocs.entries), lists: ctx.lists, notes };
}

/** Where a process's executable lives, and whether that is a program's own shipped file. */
export interface RunsFrom {
  /** In words: "a deleted file in the writable layer", "the image's own file /bin/busybox" ... */
  text: string;
  /**
   * The executable is a file the image (or, on the host, a package) ships, still in place:
   * not deleted, not a memfd, not in the writable layer, not in a staging or hidden dir. Its
   * hash identifies a program; a renamed copy of it dropped by an intruder has the same hash.
   */
  program: boolean;
}

export function runsFrom(p: Process, lists: RuleLists): RunsFrom {
  const path = p.exe.path;
  if (p.exe.memfd) return { text: "a memfd (fileless)", program: false };
  if (!path) return { text: "an executable that could not be read", program: false };
  const layer = p.exe.upperLayer === true ? " in the container's writable layer" : "";
  if (p.exe.deleted) return { text: `a deleted file ${path}${layer}`, program: false };
  if (inTmpDir(lists, path)) return { text: `staging dir file ${path}${layer}`, program: false };
  if (hiddenComponent(lists, path) !== null) {
    return { text: `hidden path ${path}${layer}`, program: false };
  }
  if (p.exe.upperLayer === true) {
    return {
      text: `${path}, in the container's writable layer (not in the image)`,
      program: false,
    };
  }
  if (p.containerId !== null && p.exe.upperLayer === false) {
    return { text: `${path}, the image's own file`, program: true };
  }
  // The layer is unknown (host, or an upper dir that could not be read): a file in place in
  // a system dir is taken as the installed program; anything else as possibly dropped.
  if (inSystemDir(path)) {
    return {
      text: `${path}, ${p.containerId === null ? "an installed file on the host" : "a system file (layer not known)"}`,
      program: true,
    };
  }
  return { text: path, program: false };
}

/** One process that matches the breach's indicators, as the before/after tables list it. */
export interface MatchedProcess {
  pid: number;
  ppid: number;
  startTime: string;
  /** "host" or the container's name. */
  where: string;
  containerId: string | null;
  user: string;
  uid: number;
  state: string;
  comm: string;
  commandLine: string;
  exePath: string | null;
  deleted: boolean;
  sha256: string | null;
  /** "sha256 (triage process.deleted-exe, pid 42 in web)", "name wate (--ioc)" ... */
  matchedBy: string[];
  /** Where its executable lives, in words (see runsFrom): part of why it matched. */
  runsFrom: string;
}

/** What matches the breach, and what only shares an indicator with it. */
export interface MatchResult {
  matches: MatchedProcess[];
  /**
   * Processes that share an indicator the admin did not name them by (a hash, a derived
   * name) but run a program's own shipped file: a program, not the intrusion. Never killed,
   * never counted against the verdict; listed so the responder sees what was set aside.
   */
  spared: MatchedProcess[];
  /** Why each spared process was set aside, for the plan's and the report's notes. */
  notes: string[];
}

const MAX_COMMAND_LINE = 2000;

function commandLineOf(p: Process): string {
  const cmd = p.argv.join(" ");
  if (cmd === "") return `[${p.comm}]`;
  return cmd.length > MAX_COMMAND_LINE ? `${cmd.slice(0, MAX_COMMAND_LINE)}…` : cmd;
}

function label(m: { field: string; entry: IocEntry }): string {
  const what =
    m.entry.kind === "sha256"
      ? "sha256"
      : m.entry.kind === "name"
        ? `name "${m.entry.value}" (${m.field})`
        : `${m.entry.kind} ${m.entry.value} (${m.field})`;
  return `${what} from ${m.entry.origin}`;
}

/** Every live process (not a kernel thread, not a zombie) that matches, wherever it runs. */
export function matchProcesses(snap: Snapshot, set: MatchSet): MatchedProcess[] {
  return matchAll(snap, set).matches;
}

/**
 * Match every live process, weighing where it runs from: a process that runs a program's own
 * file (the image's busybox, an installed binary) matches only by what the admin named
 * explicitly (--ioc name, path, regex or address), never by a hash or a derived name. A
 * dropped trojan that is a renamed busybox shares its hash with every busybox on the host.
 */
export function matchAll(snap: Snapshot, set: MatchSet): MatchResult {
  const matches: MatchedProcess[] = [];
  const spared: MatchedProcess[] = [];
  const notes: string[] = [];
  const byInode = new Map<number, { why: string; entry: IocEntry }[]>();
  if (set.iocs.ips.length || set.iocs.cidrs.length) {
    for (const s of snap.sockets) {
      const entry = matchAddress(set.iocs, s.remoteAddress);
      if (!entry) continue;
      const why = `address ${s.remoteAddress}:${s.remotePort} (${s.proto}) from ${entry.origin}`;
      byInode.set(s.inode, [...(byInode.get(s.inode) ?? []), { why, entry }]);
    }
  }
  for (const p of snap.processes) {
    if (p.kernelThread || p.state === "Z" || p.state === "X") continue;
    const hits: { why: string; entry: IocEntry }[] = matchProcess(set.iocs, p).map((m) => ({
      why: label(m),
      entry: m.entry,
    }));
    for (const inode of p.socketInodes) {
      for (const h of byInode.get(inode) ?? []) {
        if (!hits.some((x) => x.why === h.why)) hits.push(h);
      }
    }
    if (hits.length === 0) continue;
    const from = runsFrom(p, set.lists);
    const named = from.program
      ? hits.filter((h) => h.entry.kind !== "sha256" && set.explicit.has(h.entry))
      : hits;
    const row: MatchedProcess = {
      pid: p.pid,
      ppid: p.ppid,
      startTime: p.startTime,
      where: whereOf(snap, p),
      containerId: p.containerId,
      user: p.user ?? String(p.uid),
      uid: p.uid,
      state: p.state,
      comm: p.comm,
      commandLine: commandLineOf(p),
      exePath: p.exe.path,
      deleted: p.exe.deleted,
      sha256: p.exe.sha256,
      matchedBy: (named.length ? named : hits).map((h) => h.why),
      runsFrom: from.text,
    };
    if (named.length) {
      matches.push(row);
      continue;
    }
    spared.push(row);
    const kinds = [...new Set(hits.map((h) => (h.entry.kind === "sha256" ? "hash" : "name")))];
    const include = p.exe.path ? `--ioc path:${p.exe.path}` : `--ioc name:${p.comm}`;
    notes.push(
      `pid ${p.pid} (${p.comm}) in ${row.where} shares the ${kinds.join(" and ")} of an indicator but runs ${from.text}: a program, not the intrusion; not matched, never killed (to include it, name it: ${include})`,
    );
  }
  const order = (a: MatchedProcess, b: MatchedProcess) =>
    a.where.localeCompare(b.where) || a.pid - b.pid;
  return { matches: matches.sort(order), spared: spared.sort(order), notes };
}

// --- the plan ----------------------------------------------------------------------------------

export type StepKind = "restart-policy" | "pause" | "disconnect" | "stop" | "kill";

export interface PlannedStep {
  kind: StepKind;
  /** In words, for the terminal and the record. */
  description: string;
  /** What it corresponds to on the command line (the tool calls the API, not the CLI). */
  command: string;
  /** How to undo it; null when it cannot be undone (a killed process). */
  undo: string | null;
  network?: string;
  pid?: number;
  restartPolicy?: { from: string; to: "no" };
}

export interface ContainPlan {
  mode: ContainMode;
  target: {
    id: string;
    name: string;
    image: string;
    state: string;
    pid: number | null;
    networkMode: string;
    networks: string[];
    restartPolicy: string;
  };
  steps: PlannedStep[];
  /** The target's processes that kill mode will signal (host pids). */
  killPids: number[];
  notes: string[];
}

export interface PlanRefusal {
  /** not-running: nothing to contain; refused: the mode cannot work on this container. */
  kind: "not-running" | "refused";
  message: string;
  hint: string;
}

/**
 * A word of a printed command the admin may paste into a shell: Docker accepts network names
 * with spaces, ";" and escapes, so anything beyond a plain name is single-quoted.
 */
export function shellWord(word: string): string {
  return /^[A-Za-z0-9_.:@%+=,/-]+$/.test(word) ? word : `'${word.replace(/'/g, "'\\''")}'`;
}

function hostNetworked(c: Container): boolean {
  return c.networkMode === "host";
}

/** Networks a disconnect can remove: all but the "none" pseudo-network. */
export function connectedNetworks(c: Container): string[] {
  if (c.networkMode === "none") return [];
  return c.networks.filter((n) => n !== "none" && n !== "host");
}

/** "on-failure:5" -> {name: "on-failure", max: 5}. */
export function parseRestartPolicy(policy: string): { name: string; max: number } {
  const [name = "no", max = "0"] = policy.split(":");
  const n = Number(max);
  return { name: name === "" ? "no" : name, max: Number.isSafeInteger(n) && n > 0 ? n : 0 };
}

export function planContainment(
  target: Container,
  mode: ContainMode,
  matches: readonly MatchedProcess[],
): Result<ContainPlan, PlanRefusal> {
  const id = target.id;
  const name = target.name;
  const live = target.running || target.paused || target.state === "restarting";
  if (!live) {
    return err({
      kind: "not-running",
      message: `container ${name} (${id.slice(0, 12)}) is ${target.state}: nothing runs in it, nothing was changed`,
      hint: `It is already not running. To preserve it: breachkit collect --container ${name}. To look for its processes elsewhere: breachkit triage.`,
    });
  }
  const plan: ContainPlan = {
    mode,
    target: {
      id,
      name,
      image: target.image,
      state: target.state,
      pid: target.pid,
      networkMode: target.networkMode,
      networks: [...target.networks],
      restartPolicy: target.restartPolicy,
    },
    steps: [],
    killPids: [],
    notes: [],
  };
  const policyStep = (why: string): PlannedStep => ({
    kind: "restart-policy",
    description: `set the restart policy of ${name} from "${target.restartPolicy}" to "no" (${why})`,
    command: `docker update --restart=no ${id}`,
    undo: `docker update --restart=${target.restartPolicy} ${id}`,
    restartPolicy: { from: target.restartPolicy, to: "no" },
  });
  const restarts = parseRestartPolicy(target.restartPolicy).name !== "no";

  switch (mode) {
    case "pause":
      if (target.paused) {
        plan.notes.push(`${name} is already paused: nothing to change, the verdict checks it`);
        break;
      }
      plan.steps.push({
        kind: "pause",
        description: `pause ${name}: freeze all its processes (memory and state kept for analysis)`,
        command: `docker pause ${id}`,
        undo: `docker unpause ${id}`,
      });
      break;
    case "isolate": {
      if (hostNetworked(target)) {
        return err({
          kind: "refused",
          message: `cannot isolate a container on the host network: ${name} shares the host's network stack, and there is no network to disconnect`,
          hint: `Use --mode pause (freezes it) or --mode stop on ${name}, or isolate the host itself.`,
        });
      }
      if (target.networkMode.startsWith("container:")) {
        return err({
          kind: "refused",
          message: `cannot isolate ${name}: it uses the network of another container (${target.networkMode}); disconnecting that one would cut a different service`,
          hint: `Use --mode pause or --mode stop on ${name}, or contain the container that owns the network.`,
        });
      }
      const nets = connectedNetworks(target);
      if (nets.length === 0) {
        plan.notes.push(
          `${name} is already isolated: it has no network but its own loopback (network mode "${target.networkMode}"); nothing to disconnect. Its processes keep running: use --mode pause or stop to halt them`,
        );
        break;
      }
      for (const net of nets) {
        plan.steps.push({
          kind: "disconnect",
          description: `disconnect ${name} from network ${net}`,
          command: `docker network disconnect ${shellWord(net)} ${id}`,
          undo: `docker network connect ${shellWord(net)} ${id}`,
          network: net,
        });
      }
      break;
    }
    case "stop":
      if (restarts) plan.steps.push(policyStep("so that it is not brought back"));
      plan.steps.push({
        kind: "stop",
        description: `stop ${name} (SIGTERM, then SIGKILL after the grace period)`,
        command: `docker stop ${id}`,
        undo: `docker start ${id}`,
      });
      if (target.paused) plan.notes.push(`${name} is paused; the engine stops it as it is`);
      break;
    case "kill": {
      if (target.paused) {
        return err({
          kind: "refused",
          message: `${name} is paused: a SIGKILL to its frozen processes would take effect only when it is unpaused`,
          hint: `Use --mode stop, or unpause it first (docker unpause ${id}) if killing single processes is really what you want.`,
        });
      }
      const inTarget = matches.filter((m) => m.containerId === id);
      if (inTarget.length === 0) {
        return err({
          kind: "refused",
          message: `nothing to kill: no matching process runs in ${name}`,
          hint: "Name the trojan with --ioc NAME, --ioc SHA256 or --ioc FILE, or use --mode pause or stop.",
        });
      }
      const pids = inTarget.map((m) => m.pid).sort((a, b) => a - b);
      if (restarts && target.pid !== null && pids.includes(target.pid)) {
        plan.steps.push(policyStep(`pid ${target.pid} is its init: killing it ends the container`));
      }
      for (const m of inTarget) {
        plan.steps.push({
          kind: "kill",
          description: `SIGKILL pid ${m.pid} (${m.comm}) in ${name}: runs ${m.runsFrom}; matched by ${m.matchedBy.join("; ")}`,
          command: `kill -KILL ${m.pid}`,
          undo: null,
          pid: m.pid,
        });
      }
      plan.killPids = pids;
      plan.notes.push(
        "each pid is checked again just before the signal (same start time, same executable hash, still in this container)",
      );
      break;
    }
  }
  return ok(plan);
}

// --- the verdict -------------------------------------------------------------------------------

export interface ActionRecord {
  kind: StepKind;
  description: string;
  command: string;
  undo: string | null;
  startedAt: string;
  endedAt: string;
  ok: boolean;
  /** Why it failed or was skipped (a pid that changed identity is skipped, never signalled). */
  error: string | null;
  pid?: number;
  network?: string;
}

export interface TrafficSummary {
  /** Over the snapshot's interval; null when not measured. */
  intervalSeconds: number | null;
  txPacketsPerSec: number | null;
  /** Sent on interfaces other than lo: what can leave the container. */
  txPacketsPerSecOffLoopback: number | null;
  rxPacketsPerSec: number | null;
  /** Interfaces of its network namespace, with their counters at the second reading. */
  interfaces: { name: string; txPackets: number; rxPackets: number }[];
  /** No network namespace (not running) or the host's own. */
  note: string | null;
}

export interface VerdictThresholds {
  /** At or below this, a rate counts as stopped (one stray packet is not traffic). */
  quietPacketsPerSec: number;
  /** Kill mode keeps the container's own service running: only a flood fails it. */
  floodPacketsPerSec: number;
}

export const DEFAULT_VERDICT_THRESHOLDS: VerdictThresholds = {
  quietPacketsPerSec: 1,
  floodPacketsPerSec: 1000,
};

export interface VerdictInput {
  mode: ContainMode;
  targetId: string;
  before: Snapshot;
  after: Snapshot;
  beforeMatches: readonly MatchedProcess[];
  afterMatches: readonly MatchedProcess[];
  /** After: processes that share an indicator but run a program's own file (not counted). */
  afterSpared?: readonly MatchedProcess[];
  actions: readonly ActionRecord[];
  /** The freezer state of the target's processes after the action (null: unknown, not running). */
  targetFreezer: "frozen" | "freezing" | "thawed" | null;
  thresholds?: Partial<VerdictThresholds>;
}

export interface Verdict {
  contained: boolean;
  verdict: "CONTAINED" | "NOT CONTAINED";
  /** What was checked and held: the proof. */
  reasons: string[];
  /** What was checked and failed. Empty when contained. */
  problems: string[];
  /** Matching processes still running outside the frozen or stopped container. */
  stillRunning: MatchedProcess[];
  /** Matching processes that were not there in the first snapshot. */
  appeared: MatchedProcess[];
  traffic: { before: TrafficSummary; after: TrafficSummary };
  next: string[];
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
const key = (m: Pick<MatchedProcess, "pid" | "startTime">) => `${m.pid}@${m.startTime}`;

/** The target's traffic as one snapshot measured it. */
export function trafficOf(snap: Snapshot, containerId: string): TrafficSummary {
  const c = snap.containers.find((x) => x.id === containerId);
  const ns = snap.netns.find((n) => n.containerIds.includes(containerId));
  const interfaces = (ns?.interfaces ?? []).map((i) => ({
    name: i.name,
    txPackets: i.txPackets,
    rxPackets: i.rxPackets,
  }));
  const base = {
    intervalSeconds: null,
    txPacketsPerSec: null,
    txPacketsPerSecOffLoopback: null,
    rxPacketsPerSec: null,
    interfaces,
  };
  if (!c || (!c.running && !c.paused)) {
    return { ...base, interfaces: [], note: "not running: no network namespace" };
  }
  if (ns?.host || c.networkMode === "host") {
    return { ...base, note: "on the host network: its traffic is the host's" };
  }
  if (!ns || ns.rates.length === 0) {
    if (c.traffic) {
      return {
        ...base,
        intervalSeconds: c.traffic.intervalSeconds,
        txPacketsPerSec: c.traffic.txPacketsPerSec,
        rxPacketsPerSec: c.traffic.rxPacketsPerSec,
        note: null,
      };
    }
    return { ...base, note: "not measured" };
  }
  const rates = ns.rates;
  const sum = (f: (r: (typeof rates)[number]) => number, only?: (name: string) => boolean) =>
    rates.filter((r) => !only || only(r.name)).reduce((s, r) => s + f(r), 0);
  return {
    intervalSeconds: rates[0]?.intervalSeconds ?? null,
    txPacketsPerSec: sum((r) => r.txPacketsPerSec),
    txPacketsPerSecOffLoopback: sum(
      (r) => r.txPacketsPerSec,
      (n) => n !== "lo",
    ),
    rxPacketsPerSec: sum((r) => r.rxPacketsPerSec),
    interfaces,
    note: null,
  };
}

function describe(m: MatchedProcess): string {
  const exe = m.exePath ? `${m.exePath}${m.deleted ? " (deleted)" : ""}` : "?";
  const hash = m.sha256 ? `sha256 ${m.sha256.slice(0, 16)}…` : "no hash";
  const where = m.containerId === null ? "on the host" : `in container ${m.where}`;
  return `pid ${m.pid} ${where} (user ${m.user}): ${m.commandLine} [exe ${exe}, ${hash}]`;
}

function nextFor(m: MatchedProcess, targetId: string): string {
  if (m.containerId === targetId) {
    return `pid ${m.pid} still runs in ${m.where}: stop the container (docker kill ${targetId}), then run breachkit triage`;
  }
  if (m.containerId === null) {
    return `pid ${m.pid} on the host: preserve it (breachkit collect --pid ${m.pid}), then stop that process (kill -STOP ${m.pid} freezes it, kill -KILL ${m.pid} ends it), or isolate the host`;
  }
  return `pid ${m.pid} in container ${m.where}: breachkit contain ${m.where} (it preserves the evidence first)`;
}

export function judgeContainment(input: VerdictInput): Verdict {
  const t = { ...DEFAULT_VERDICT_THRESHOLDS, ...input.thresholds };
  const { mode, targetId, after } = input;
  const reasons: string[] = [];
  const problems: string[] = [];
  const next: string[] = [];
  const beforeTarget = input.before.containers.find((c) => c.id === targetId);
  const afterTarget = after.containers.find((c) => c.id === targetId);
  const name = afterTarget?.name ?? beforeTarget?.name ?? targetId.slice(0, 12);

  // 1. The action itself.
  const failed = input.actions.filter((a) => !a.ok);
  for (const a of failed) problems.push(`action failed: ${a.description}: ${a.error ?? "unknown"}`);
  if (input.actions.length && !failed.length) {
    reasons.push(
      `${input.actions.length} action(s) done: ${input.actions.map((a) => a.command).join("; ")}`,
    );
  }

  // 2. The container is in the state the mode asked for.
  const frozen =
    afterTarget?.paused === true &&
    input.targetFreezer !== "thawed" &&
    input.targetFreezer !== "freezing";
  const stopped = !afterTarget || (!afterTarget.running && !afterTarget.paused);
  let isolated = false;
  switch (mode) {
    case "pause":
      if (frozen) {
        reasons.push(
          `${name} is paused${input.targetFreezer === "frozen" ? " (the cgroup freezer reads FROZEN)" : ""}: its processes exist but cannot run`,
        );
      } else {
        problems.push(
          `${name} is not frozen (state ${afterTarget?.state ?? "gone"}, freezer ${input.targetFreezer ?? "unknown"})`,
        );
      }
      break;
    case "stop":
      if (stopped)
        reasons.push(`${name} is ${afterTarget?.state ?? "gone"}: no process of it runs`);
      else problems.push(`${name} is still ${afterTarget?.state}`);
      if (afterTarget && parseRestartPolicy(afterTarget.restartPolicy).name !== "no") {
        problems.push(
          `${name}'s restart policy is "${afterTarget.restartPolicy}": the engine may bring it back`,
        );
      }
      break;
    case "isolate": {
      const nets = afterTarget ? connectedNetworks(afterTarget) : [];
      if (afterTarget && nets.length > 0) {
        problems.push(`${name} is still connected to: ${nets.join(", ")}`);
      } else {
        isolated = true;
        reasons.push(`${name} has no network but its own loopback`);
      }
      break;
    }
    case "kill": {
      const killed = input.actions.filter((a) => a.kind === "kill");
      const still = killed.filter(
        (a) =>
          a.pid !== undefined &&
          input.afterMatches.some((m) => m.pid === a.pid && m.containerId === targetId),
      );
      for (const a of still) problems.push(`pid ${a.pid} still runs after SIGKILL`);
      if (killed.length && !still.length) {
        reasons.push(`the ${killed.length} killed process(es) are gone`);
      }
      break;
    }
  }

  // 3. Matching processes after: where they run, and whether they can run.
  const beforeKeys = new Set(input.beforeMatches.map(key));
  const pausedIds = new Set(after.containers.filter((c) => c.paused).map((c) => c.id));
  const stillRunning: MatchedProcess[] = [];
  let heldInTarget = 0;
  for (const m of input.afterMatches) {
    if (m.containerId === targetId) {
      const held = (mode === "pause" && frozen) || (mode === "isolate" && isolated);
      if (held) {
        heldInTarget++;
        continue;
      }
      // stop: nothing of the container should run; kill: the matches should be gone.
      stillRunning.push(m);
      continue;
    }
    if (m.containerId !== null && pausedIds.has(m.containerId)) {
      reasons.push(`pid ${m.pid} matches but is frozen in paused container ${m.where}`);
      continue;
    }
    stillRunning.push(m);
  }
  const spared = input.afterSpared ?? [];
  if (spared.length) {
    const places = [...new Set(spared.map((m) => m.where))].sort();
    reasons.push(
      `${spared.length} process(es) share an indicator's hash or name but run a program's own file (${places.slice(0, 5).join(", ")}${places.length > 5 ? ", ..." : ""}): a program, not the intrusion; not counted`,
    );
  }
  const appeared = input.afterMatches.filter((m) => !beforeKeys.has(key(m)));
  if (heldInTarget) {
    reasons.push(
      mode === "pause"
        ? `${heldInTarget} matching process(es) remain in ${name}, frozen`
        : `${heldInTarget} matching process(es) still run inside ${name}, cut off from every network`,
    );
  }
  for (const m of stillRunning) {
    problems.push(
      `matching process still running: ${describe(m)}; matched by ${m.matchedBy.join("; ")}`,
    );
    next.push(nextFor(m, targetId));
  }
  const appearedOutside = appeared.filter((m) => m.containerId !== targetId);
  if (appearedOutside.length) {
    for (const m of appearedOutside) {
      problems.push(`appeared between the two snapshots: ${describe(m)}`);
    }
  } else {
    reasons.push(
      "nothing matching appeared on the host or in another container between the snapshots",
    );
  }
  const outside = input.afterMatches.filter((m) => m.containerId !== targetId);
  if (outside.length === 0) {
    reasons.push(
      input.beforeMatches.length
        ? `no matching process runs outside ${name} (${input.beforeMatches.length} matched before)`
        : "no process matches the indicators anywhere",
    );
  }

  // 4. Traffic of the target, compared over an interval.
  const trafficBefore = trafficOf(input.before, targetId);
  const trafficAfter = trafficOf(after, targetId);
  const beforeText =
    trafficBefore.txPacketsPerSec === null
      ? ""
      : ` (before: ${fmt(trafficBefore.txPacketsPerSec)} packets/s)`;
  const interval = trafficAfter.intervalSeconds ?? after.intervalSeconds;
  const over = interval ? ` over ${interval.toFixed(1)} s` : "";
  if (stopped && mode !== "isolate") {
    reasons.push(`no traffic: ${name} has no network namespace any more${beforeText}`);
  } else if (mode === "isolate") {
    const offLo = trafficAfter.txPacketsPerSecOffLoopback;
    const others = trafficAfter.interfaces.filter((i) => i.name !== "lo");
    if (trafficAfter.note === null && others.length === 0) {
      reasons.push(
        `no interface but loopback in ${name}'s network namespace: nothing can leave it`,
      );
    } else if (offLo !== null && offLo <= t.quietPacketsPerSec) {
      reasons.push(`${name} sends ${fmt(offLo)} packets/s off its loopback${over}`);
    } else if (offLo !== null) {
      problems.push(`${name} still sends ${fmt(offLo)} packets/s off its loopback${over}`);
    } else {
      problems.push(`${name}'s traffic could not be measured (${trafficAfter.note ?? "unknown"})`);
    }
  } else {
    const tx = trafficAfter.txPacketsPerSec;
    const limit = mode === "kill" ? t.floodPacketsPerSec : t.quietPacketsPerSec;
    if (tx !== null && tx <= limit) {
      reasons.push(
        mode === "kill" && tx > t.quietPacketsPerSec
          ? `${name} sends ${fmt(tx)} packets/s${over}, below the flood threshold of ${fmt(limit)}${beforeText}`
          : `${name}'s traffic stopped: ${fmt(tx)} packets/s${over}${beforeText}`,
      );
    } else if (tx !== null) {
      problems.push(`${name} still sends ${fmt(tx)} packets/s${over}${beforeText}`);
    } else if (mode === "pause" && frozen) {
      reasons.push(
        `${name}'s traffic was not measured (${trafficAfter.note ?? "unknown"}), but its processes are frozen`,
      );
    } else {
      problems.push(`${name}'s traffic could not be measured (${trafficAfter.note ?? "unknown"})`);
    }
  }

  const contained = problems.length === 0;
  if (!contained && next.length === 0) {
    next.push(
      failed.length
        ? `retry, or contain ${name} by hand (docker stop ${targetId}) and run breachkit triage`
        : `check ${name} by hand (docker inspect ${targetId}) and run breachkit triage`,
    );
  }
  if (contained && mode === "isolate" && heldInTarget) {
    next.push(`the trojan still runs inside ${name}: pause or stop it once you have what you need`);
  }
  return {
    contained,
    verdict: contained ? "CONTAINED" : "NOT CONTAINED",
    reasons,
    problems,
    stillRunning,
    appeared,
    traffic: { before: trafficBefore, after: trafficAfter },
    next,
  };
}

/** The undo commands of the actions that changed something, in the order to run them. */
export function undoCommands(actions: readonly ActionRecord[]): string[] {
  const done = actions.filter((a) => a.ok && a.undo !== null);
  const policy = done.filter((a) => a.kind === "restart-policy");
  const stop = done.filter((a) => a.kind === "stop");
  const rest = done.filter((a) => a.kind !== "restart-policy" && a.kind !== "stop");
  // Restore the restart policy together with the start, so the container comes back as it was.
  const out: string[] = rest.map((a) => a.undo!);
  if (stop.length && policy.length) out.push(`${policy[0]!.undo!} && ${stop[0]!.undo!}`);
  else out.push(...policy.map((a) => a.undo!), ...stop.map((a) => a.undo!));
  return out;
}

/** describeIoc for the record: every indicator with where it came from. */
export function indicatorList(set: MatchSet): string[] {
  return set.iocs.entries.map(describeIoc);
}
