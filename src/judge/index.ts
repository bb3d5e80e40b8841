/**
 * The judge: pure rules over a Snapshot returning Findings. It never touches the host,
 * so a saved bundle judges exactly as a live one (given the same ctx.now).
 */
import { type Finding, sortFindings } from "../model/finding.js";
import type { Snapshot } from "../model/snapshot.js";
import { applyAllowlist } from "./allowlist.js";
import type { Rule, RuleContext } from "./context.js";
import { accountsRule } from "./rules/accounts.js";
import { containerConfigRule } from "./rules/container-config.js";
import { deletedExecutableRule, memfdExecutionRule } from "./rules/deleted-exe.js";
import { droppedBinaryRule } from "./rules/dropped-binary.js";
import { executableLocationRule } from "./rules/exe-location.js";
import { iocMatchRule } from "./rules/ioc-matches.js";
import { failedLoginBurstRule, newLoginAddressRule } from "./rules/logins.js";
import { kernelThreadMasqueradeRule, nameMismatchRule } from "./rules/masquerade.js";
import { minerRule } from "./rules/miner.js";
import { miningPortRule, rawSocketRule, unpublishedListenerRule } from "./rules/sockets.js";
import { spreadRule } from "./rules/spread.js";
import { destinationsPerPortRule, trafficRateRule } from "./rules/traffic.js";

export type { AllowEntry, Allowlist, Rule, RuleContext, Thresholds } from "./context.js";
export { DEFAULT_THRESHOLDS } from "./context.js";

/** Every snapshot rule, by name (for tests, `--rule` filters, and error reports). */
export const RULES: Readonly<Record<string, Rule>> = {
  deletedExecutable: deletedExecutableRule,
  memfdExecution: memfdExecutionRule,
  executableLocation: executableLocationRule,
  droppedBinary: droppedBinaryRule,
  kernelThreadMasquerade: kernelThreadMasqueradeRule,
  nameMismatch: nameMismatchRule,
  miner: minerRule,
  spread: spreadRule,
  trafficRate: trafficRateRule,
  destinationsPerPort: destinationsPerPortRule,
  rawSocket: rawSocketRule,
  unpublishedListener: unpublishedListenerRule,
  miningPort: miningPortRule,
  accounts: accountsRule,
  newLoginAddress: newLoginAddressRule,
  failedLoginBurst: failedLoginBurstRule,
  containerConfig: containerConfigRule,
  iocMatch: iocMatchRule,
};

/** Run every rule, apply the allowlist, and rank: most severe first, grouped by place. */
export function judge(snap: Snapshot, ctx: RuleContext): Finding[] {
  // breachkit's own process (marked `self` by the reading that took the snapshot) is not
  // judged: the single executable is copied to a temporary directory and run from there, and
  // Node 24 names its main thread "MainThread"; neither is a finding about the host.
  const judged = snap.processes.some((p) => p.self)
    ? { ...snap, processes: snap.processes.filter((p) => !p.self) }
    : snap;
  const findings = Object.values(RULES).flatMap((rule) => rule(judged, ctx));
  return sortFindings(applyAllowlist(snap, findings, ctx.allowlist));
}
