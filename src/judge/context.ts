/**
 * What every judge rule receives besides the Snapshot: the clock (rules never read the
 * real one, so a saved bundle judges the same way tomorrow), the tuned lists of the rule
 * set (rules/*.json, loaded by the command: rules read no files), optional IOCs, a baseline
 * snapshot to compare against, an allowlist of known-good processes, and thresholds.
 */
import type { Finding } from "../model/finding.js";
import type { Snapshot } from "../model/snapshot.js";
import type { IocSet } from "./ioc/ioc-set.js";
import type { RuleLists } from "./rule-lists.js";

export interface Thresholds {
  /** Packets per second sent by one container or namespace that make a flood. */
  txPacketsPerSec: number;
  /** "Far above its peers": this many times the median of the other places. */
  peerFactor: number;
  /** Floor under which a rate is never called out relative to peers. */
  peerMinPacketsPerSec: number;
  /** CPU (percent of one core) that counts as "very high" for the miner rule. */
  cpuPercent: number;
  /** Changes (passwords, sudoers, authorized_keys) this recent are worth a look. */
  recentDays: number;
  /** Failed logins from one address within `failedLoginMinutes` that make a burst. */
  failedLogins: number;
  failedLoginMinutes: number;
  /** Distinct remote addresses on one remote port, from one place, that look like a flood or scan. */
  destinationsPerPort: number;
}

export const DEFAULT_THRESHOLDS: Thresholds = {
  txPacketsPerSec: 1000,
  peerFactor: 20,
  peerMinPacketsPerSec: 300,
  cpuPercent: 80,
  recentDays: 7,
  failedLogins: 10,
  failedLoginMinutes: 10,
  destinationsPerPort: 50,
};

/**
 * One known-good thing, with the admin's reason. A finding about a matching process is
 * kept but marked (`falsePositive`) and lowered to info: marked, never hidden.
 */
export interface AllowEntry {
  /** The executable's SHA-256. */
  sha256?: string;
  /** The executable's path (as /proc/<pid>/exe shows it, without " (deleted)"). */
  path?: string;
  /** The basename of the executable of any ancestor process (e.g. "containerd-shim-runc-v2"). */
  parent?: string;
  /** Only for findings of this rule id (or rule id prefix ending in "."); all rules when absent. */
  rule?: string;
  reason: string;
}

export interface Allowlist {
  entries: readonly AllowEntry[];
}

export interface RuleContext {
  now: Date;
  /** Mining ports, kernel-thread names, staging dirs ...: see rules/README.md. */
  lists: RuleLists;
  iocs?: IocSet | undefined;
  /** An earlier snapshot of the same host, taken when it was believed clean. */
  baseline?: Snapshot | null | undefined;
  allowlist?: Allowlist | undefined;
  thresholds?: Partial<Thresholds> | undefined;
}

export function thresholdsOf(ctx: RuleContext): Thresholds {
  return { ...DEFAULT_THRESHOLDS, ...ctx.thresholds };
}

/** Every judge rule: pure, no I/O, no clock but `ctx.now`. */
export type Rule = (snap: Snapshot, ctx: RuleContext) => Finding[];
