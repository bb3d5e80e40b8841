import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { createBundle } from "../evidence/bundle.js";
import { type CollectSummary, collectEvidence, collectRefusePaths } from "../evidence/collect.js";
import type { BundleWriter } from "../evidence/types.js";
import { judge } from "../judge/index.js";
import { loadIocs } from "../judge/ioc/load-iocs.js";
import { type RuleSet, ruleSetOrThrow, shippedLists } from "../judge/rule-set.js";
import type { Finding } from "../model/finding.js";
import type { Container } from "../model/snapshot.js";
import { DockerEngine } from "../observe/docker/engine.js";
import { isEngineError, toBreachkitError } from "../observe/docker/engine-error.js";
import { resolveContainer } from "../observe/docker/resolve.js";
import type { HashCacheEntry } from "../observe/proc/index.js";
import { type SnapshotResult, takeSnapshot } from "../observe/snapshot.js";
import { BreachkitError, EXIT_ERROR, EXIT_FINDINGS, EXIT_OK } from "../util/errors.js";
import { type Progress, silentProgress } from "../util/progress.js";
import { redactSnapshot } from "../util/redact.js";
import { errorMessage } from "../util/result.js";
import { safeText } from "../util/sanitize.js";
import { TOOL } from "../version.js";
import { captureIdentity, executePlan, type PidIdentity } from "./actions.js";
import {
  type ActionRecord,
  type ContainMode,
  type ContainPlan,
  deriveMatchSet,
  indicatorList,
  judgeContainment,
  type MatchedProcess,
  type MatchSet,
  matchAll,
  planContainment,
  undoCommands,
  type Verdict,
} from "./contain-plan.js";
import { DockerActions } from "./docker-actions.js";
import { readFreezerState } from "./freezer.js";
import { dumpProcesses, type MemoryDumpRecord } from "./memory-dump.js";

export const CONTAINMENT_FILE = "containment.json";

export interface ContainOptions {
  /** Container name or id prefix, as typed. */
  query: string;
  mode: ContainMode;
  /** --ioc values: an existing IOC file, or a name, hash, path or address. */
  iocs: readonly string[];
  /** Where the bundle directory is made. */
  outDir: string;
  cwd: string;
  dryRun: boolean;
  yes: boolean;
  /** A terminal that can answer a question. */
  interactive: boolean;
  confirm: (question: string) => Promise<boolean>;
  env: Readonly<Record<string, string | undefined>>;
  /** Seconds between the two readings of the counters, in each snapshot (default 2). */
  intervalSeconds?: number;
  /** Wait after acting before the second snapshot (default 1500 ms). */
  settleMs?: number;
  /** docker stop's grace period before SIGKILL (default 10 s). */
  stopTimeoutSec?: number;
  /** The command line, for the bundle's manifest. */
  command: string;
  progress?: Progress;
  signal?: AbortSignal;
  /** Shown before the confirmation: the plan and what matches. */
  onPlan?: (view: PlanView) => void;
  /** The rule set (--rules); the shipped one when absent. */
  rules?: RuleSet;
  /**
   * Dump the memory of the processes about to be killed or stopped, before acting (default
   * true; --no-memory). Pause and isolate keep the processes and their memory: no dump.
   */
  memory?: boolean;
  /** Bytes of memory at most per process (default 2 GiB). */
  memoryMax?: number;
  /** breachkit's own pid: never dumped. */
  selfPid: number;
  /** The host's own addresses, left out of the memory's indicators. */
  ownAddresses?: readonly string[];
}

export interface PlanView {
  takenAt: string;
  plan: ContainPlan;
  indicators: string[];
  notes: string[];
  matches: MatchedProcess[];
  /** Share an indicator but run a program's own file: set aside, never killed. */
  spared: MatchedProcess[];
  /** Processes whose memory is dumped before acting. */
  memoryPids: number[];
}

export interface ContainmentReport {
  format: "breachkit-containment";
  formatVersion: 1;
  tool: { name: string; version: string };
  host: string;
  mode: ContainMode;
  startedAt: string;
  endedAt: string;
  memory: MemoryDumpRecord[];
  target: ContainPlan["target"] & {
    stateAfter: string | null;
    networksAfter: string[];
    restartPolicyAfter: string | null;
  };
  indicators: string[];
  notes: string[];
  evidence: { complete: boolean; incompleteReason: string | null; files: number; bytes: number };
  before: { takenAt: string; matches: MatchedProcess[]; spared: MatchedProcess[] };
  after: {
    takenAt: string;
    matches: MatchedProcess[];
    spared: MatchedProcess[];
    freezer: string | null;
  };
  actions: ActionRecord[];
  undo: string[];
  verdict: Verdict["verdict"];
  contained: boolean;
  reasons: string[];
  problems: string[];
  stillRunning: MatchedProcess[];
  appeared: MatchedProcess[];
  traffic: Verdict["traffic"];
  next: string[];
}

export type ContainOutcome =
  | { kind: "dry-run"; view: PlanView }
  | {
      kind: "done";
      view: PlanView;
      report: ContainmentReport;
      bundleDir: string;
      manifestSha256: string;
      exitCode: number;
    };

function engineFromEnv(env: ContainOptions["env"]): DockerEngine {
  try {
    return DockerEngine.fromEnv(env);
  } catch (e) {
    if (isEngineError(e)) throw toBreachkitError(e);
    throw e;
  }
}

/**
 * The processes whose memory goes before acting: those kill mode will signal, or the matching
 * processes inside the container stop mode will end. Pause and isolate keep them alive.
 */
function memoryTargets(
  plan: ContainPlan,
  matches: readonly MatchedProcess[],
  targetId: string,
): number[] {
  if (plan.mode === "kill") return [...plan.killPids];
  if (plan.mode === "stop") {
    return matches.filter((m) => m.containerId === targetId).map((m) => m.pid);
  }
  return [];
}

function candidatesText(cs: readonly Container[]): string {
  return cs
    .slice(0, 20)
    .map((c) => `${c.name} (${c.id.slice(0, 12)}, ${c.state})`)
    .join(", ");
}

function resolveTarget(snap: SnapshotResult, query: string): Container {
  const r = resolveContainer(snap.snapshot.containers, query);
  if (r.ok) return r.value;
  const q = safeText(query, 100);
  if (r.error.kind === "ambiguous") {
    throw new BreachkitError(
      "AMBIGUOUS",
      `"${q}" names ${r.error.candidates.length} containers: ${candidatesText(r.error.candidates)}; nothing was changed`,
      "Give the full container name, or a longer id prefix (docker ps --no-trunc shows full ids).",
    );
  }
  throw new BreachkitError(
    "NOT_FOUND",
    `no container is named "${q}" or has an id starting with it${
      r.error.candidates.length ? `; did you mean: ${candidatesText(r.error.candidates)}` : ""
    }; nothing was changed`,
    "List the containers with docker ps -a, and give an exact name or an id prefix of 4+ hex digits.",
  );
}

export async function runContain(opts: ContainOptions): Promise<ContainOutcome> {
  const progress = opts.progress ?? silentProgress;
  const interval = opts.intervalSeconds ?? 2;
  if (!opts.dryRun && !opts.yes && !opts.interactive) {
    throw new BreachkitError(
      "USAGE",
      "contain changes the host and needs a confirmation, but there is no terminal to ask on; nothing was changed",
      "Run it on a terminal, or pass --yes to confirm in advance (--dry-run shows the plan without changing anything).",
    );
  }
  const userIocs = await loadIocs(opts.iocs, opts.cwd);
  const rules = opts.rules ?? (await ruleSetOrThrow());
  const engine = engineFromEnv(opts.env);
  // The same engine as `engine` (engineFromEnv accepted DOCKER_HOST), for the changes.
  const docker = DockerActions.fromEnv(opts.env);
  try {
    await engine.ping();
  } catch (e) {
    if (isEngineError(e)) throw toBreachkitError(e);
    throw e;
  }

  const hashCache = new Map<string, HashCacheEntry>();
  progress.update("before: snapshot");
  const before = await takeSnapshot({
    env: opts.env,
    intervalSeconds: interval,
    hashCache,
    onStep: (s) => progress.update(`before: ${s}`),
  });
  progress.done();
  if (!before.snapshot.engine.available) {
    throw new BreachkitError(
      "ENGINE_DOWN",
      `the Docker engine stopped answering (${before.snapshot.engine.error ?? "unknown"}); nothing was changed`,
      "Check the engine (docker info) and try again.",
    );
  }
  const target = resolveTarget(before, opts.query);
  const now = new Date(before.snapshot.takenAt);
  const ctx = { now, iocs: userIocs, lists: rules.lists };
  const findings: Finding[] = judge(before.snapshot, ctx);
  const matchSet: MatchSet = deriveMatchSet(before.snapshot, target, findings, ctx, userIocs);
  const beforeResult = matchAll(before.snapshot, matchSet);
  const beforeMatches = beforeResult.matches;
  const planned = planContainment(target, opts.mode, beforeMatches);
  if (!planned.ok) {
    throw new BreachkitError(
      planned.error.kind === "not-running" ? "BAD_INPUT" : "USAGE",
      planned.error.message,
      planned.error.hint,
    );
  }
  const plan = planned.value;

  // Pin down the processes to kill now, while the snapshot is fresh: pid reuse later is caught.
  const identities = new Map<number, PidIdentity>();
  for (const pid of plan.killPids) {
    const m = beforeMatches.find((x) => x.pid === pid);
    const r = await captureIdentity(pid, m?.sha256 ?? null, target.id);
    if ("identity" in r) identities.set(pid, r.identity);
    else plan.notes.push(`${r.error}: it will not be signalled`);
  }

  const memoryPids = opts.memory === false ? [] : memoryTargets(plan, beforeMatches, target.id);
  const memoryNote =
    opts.memory === false
      ? ["memory: not dumped (--no-memory)"]
      : memoryPids.length > 0
        ? [
            `memory: the memory of pid ${memoryPids.join(", ")} is dumped into the bundle (memory/) before acting; --no-memory skips it`,
          ]
        : [];
  const view: PlanView = {
    takenAt: before.snapshot.takenAt,
    plan,
    indicators: indicatorList(matchSet),
    notes: [...matchSet.notes, ...beforeResult.notes, ...plan.notes, ...memoryNote],
    matches: beforeMatches,
    spared: beforeResult.spared,
    memoryPids,
  };
  opts.onPlan?.(view);
  if (opts.dryRun) return { kind: "dry-run", view };
  if (!opts.yes) {
    const what = plan.steps.length
      ? safeText(plan.steps.map((s) => s.command).join("; "), 600)
      : "no change (only the evidence and the verdict)";
    // The terminal adds the [y/N]. A question cut short (Ctrl-C at the prompt) is a no.
    const yes = await opts.confirm(`Contain ${target.name} now (${what})?`).catch(() => false);
    if (!yes) {
      throw new BreachkitError(
        "USAGE",
        "not confirmed: nothing was changed",
        "Run it again and answer y, or pass --yes.",
      );
    }
  }

  const startedAt = new Date();
  const bundle = await createBundle({
    outDir: resolve(opts.cwd, opts.outDir),
    host: before.snapshot.host.hostname,
    command: opts.command,
    now: startedAt,
    refuseInside: collectRefusePaths(before.snapshot.engine.dockerRootDir),
  });
  try {
    return await preserveActJudge(opts, {
      bundle,
      engine,
      docker,
      before,
      target,
      findings,
      matchSet,
      beforeMatches,
      plan,
      identities,
      view,
      hashCache,
      startedAt,
    });
  } catch (e) {
    if (!bundle.sealed) {
      bundle.log({ step: "contain", action: "stop", result: "error", error: errorMessage(e) });
      await bundle.seal({ complete: false, reason: errorMessage(e) }).catch(() => {});
    }
    throw e;
  }
}

interface RunState {
  bundle: BundleWriter;
  engine: DockerEngine;
  docker: DockerActions;
  before: SnapshotResult;
  target: Container;
  findings: Finding[];
  matchSet: MatchSet;
  beforeMatches: MatchedProcess[];
  plan: ContainPlan;
  identities: Map<number, PidIdentity>;
  view: PlanView;
  hashCache: Map<string, HashCacheEntry>;
  startedAt: Date;
}

async function preserveActJudge(opts: ContainOptions, s: RunState): Promise<ContainOutcome> {
  const { bundle, target, plan } = s;
  const progress = opts.progress ?? silentProgress;
  const interval = opts.intervalSeconds ?? 2;

  // Preserve: the memory of what is about to be killed or stopped first (the most volatile),
  // then as collect --container does, before anything changes.
  let memory: MemoryDumpRecord[] = [];
  if (s.view.memoryPids.length > 0) {
    try {
      memory = await dumpProcesses({
        bundle,
        snapshot: s.before.snapshot,
        pids: s.view.memoryPids,
        ...(opts.memoryMax !== undefined ? { maxBytes: opts.memoryMax } : {}),
        ...(opts.ownAddresses ? { ownAddresses: opts.ownAddresses } : {}),
        selfPid: opts.selfPid,
        progress,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
    } catch (e) {
      const reason = `the memory dump stopped: ${errorMessage(e)}`;
      bundle.log({
        step: "contain",
        action: "act",
        result: "skipped",
        error: `${reason}: nothing was changed`,
      });
      await bundle.seal({ complete: false, reason });
      throw new BreachkitError(
        "INTERRUPTED",
        `${reason}; ${target.name} was not touched`,
        `What was collected is in ${bundle.dir}. Free space or rerun (--no-memory skips the dump), then contain again.`,
      );
    }
  }
  const summary: CollectSummary = await collectEvidence({
    bundle,
    snap: s.before,
    engine: s.engine,
    containerIds: [target.id],
    pids: s.beforeMatches.map((m) => m.pid),
    host: false,
    lists: opts.rules?.lists ?? shippedLists(),
    progress,
    ...(opts.signal ? { signal: opts.signal } : {}),
  });
  await bundle.writeJson("findings.json", s.findings, { source: "breachkit judge (before)" });
  await bundle.writeJson("contain/plan.json", s.view, { source: "breachkit contain" });
  if (summary.stopped || opts.signal?.aborted) {
    const reason = summary.incompleteReason ?? "interrupted";
    bundle.log({
      step: "contain",
      action: "act",
      result: "skipped",
      error: `evidence not fully preserved (${reason}): nothing was changed`,
    });
    await bundle.seal({ complete: false, reason });
    throw new BreachkitError(
      "INTERRUPTED",
      `the evidence could not be preserved (${reason}); ${target.name} was not touched`,
      `What was collected is in ${bundle.dir}. Free space or rerun, then contain again.`,
    );
  }

  // Act.
  progress.update(`acting: ${plan.mode} ${target.name}`);
  const actions = await executePlan(plan, {
    docker: s.docker,
    bundle,
    identities: s.identities,
    stopTimeoutSec: opts.stopTimeoutSec ?? 10,
  });
  if (plan.steps.length === 0) {
    bundle.log({
      step: "contain",
      action: `${plan.mode} ${target.id}`,
      result: "skipped",
      changedHost: false,
      details: { notes: plan.notes },
    });
  }

  // Look again, after the host had a moment to settle (a stop in progress, a respawn).
  progress.update("settling");
  await sleep(opts.settleMs ?? 1500);
  const after = await takeSnapshot({
    env: opts.env,
    intervalSeconds: interval,
    hashCache: s.hashCache,
    containerAccounts: false,
    onStep: (step) => progress.update(`after: ${step}`),
  });
  progress.done();
  const afterTarget = after.snapshot.containers.find((c) => c.id === target.id) ?? null;
  const freezer =
    afterTarget?.pid != null && (afterTarget.running || afterTarget.paused)
      ? await readFreezerState(afterTarget.pid)
      : null;
  const afterResult = matchAll(after.snapshot, s.matchSet);
  const afterMatches = afterResult.matches;
  const verdict = judgeContainment({
    mode: plan.mode,
    targetId: target.id,
    before: s.before.snapshot,
    after: after.snapshot,
    beforeMatches: s.beforeMatches,
    afterMatches,
    afterSpared: afterResult.spared,
    actions,
    targetFreezer: freezer,
  });

  const report: ContainmentReport = {
    format: "breachkit-containment",
    formatVersion: 1,
    tool: { ...TOOL },
    host: s.before.snapshot.host.hostname,
    mode: plan.mode,
    startedAt: s.startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    target: {
      ...plan.target,
      stateAfter: afterTarget?.state ?? null,
      networksAfter: afterTarget?.networks ?? [],
      restartPolicyAfter: afterTarget?.restartPolicy ?? null,
    },
    indicators: s.view.indicators,
    notes: s.view.notes,
    memory,
    evidence: {
      complete: summary.complete,
      incompleteReason: summary.incompleteReason,
      files: summary.files,
      bytes: summary.bytes,
    },
    before: {
      takenAt: s.before.snapshot.takenAt,
      matches: s.beforeMatches,
      spared: s.view.spared,
    },
    after: {
      takenAt: after.snapshot.takenAt,
      matches: afterMatches,
      spared: afterResult.spared,
      freezer,
    },
    actions,
    undo: undoCommands(actions),
    verdict: verdict.verdict,
    contained: verdict.contained,
    reasons: verdict.reasons,
    problems: verdict.problems,
    stillRunning: verdict.stillRunning,
    appeared: verdict.appeared,
    traffic: verdict.traffic,
    next: verdict.next,
  };
  await bundle.writeJson("contain/snapshot-after.json", redactSnapshot(after.snapshot), {
    source: "breachkit snapshot after containment",
  });
  await bundle.writeJson(CONTAINMENT_FILE, report, { source: "breachkit contain" });
  bundle.log({
    step: "contain",
    action: "verdict",
    result: "ok",
    details: { verdict: verdict.verdict, problems: verdict.problems.length },
  });
  const sealed = await bundle.seal(
    summary.complete
      ? { complete: true }
      : { complete: false, reason: summary.incompleteReason ?? "evidence incomplete" },
  );
  const actionFailed = actions.some((a) => !a.ok);
  return {
    kind: "done",
    view: s.view,
    report,
    bundleDir: bundle.dir,
    manifestSha256: sealed.manifestSha256,
    exitCode: actionFailed ? EXIT_ERROR : verdict.contained ? EXIT_OK : EXIT_FINDINGS,
  };
}
