/**
 * Hunt a set of log files (containers' json-file logs, the host's logs) with the rules that
 * apply to each, plus IOCs, and turn the hits into findings. A file that cannot be read is
 * an expected gap, returned as data.
 */
import { stat } from "node:fs/promises";
import type { Finding } from "../../model/finding.js";
import { errorMessage } from "../../util/result.js";
import type { IocSet } from "../ioc/ioc-set.js";
import { type CompilableRule, type CompiledRuleSet, compileRules, selectRules } from "./compile.js";
import { type HuntOptions, huntFile } from "./engine.js";
import { findingsFromHits } from "./findings.js";
import { IOC_LOG_RULE, iocHuntRules } from "./ioc-rules.js";
import type { HuntRule } from "./rule-file.js";

export interface LogSource {
  path: string;
  /** "host" or the container's name. */
  where: string;
  containerId: string | null;
}

export interface HuntLogsResult {
  findings: Finding[];
  /** Files that could not be read, and parts of files not hunted whole (long lines, a limit), with why. */
  gaps: { path: string; message: string }[];
  bytes: number;
}

export async function huntLogs(
  sources: readonly LogSource[],
  rules: readonly HuntRule[],
  opts: { iocs?: IocSet | undefined; hunt?: HuntOptions; maxEvidence?: number } = {},
): Promise<HuntLogsResult> {
  const iocRules: CompilableRule[] = opts.iocs ? iocHuntRules(opts.iocs) : [];
  const sets = new Map<"container" | "host", CompiledRuleSet>();
  const setFor = (scope: "container" | "host") => {
    let s = sets.get(scope);
    if (!s) {
      s = compileRules([...selectRules(rules, scope), ...iocRules]);
      sets.set(scope, s);
    }
    return s;
  };
  const findings: Finding[] = [];
  const gaps: HuntLogsResult["gaps"] = [];
  let bytes = 0;
  for (const src of sources) {
    const set = setFor(src.containerId ? "container" : "host");
    try {
      const hits = await huntFile(src.path, set, {
        ...opts.hunt,
        // A part not hunted is said, never skipped silently: it shows in the verdict's gaps.
        onGap: (g) => gaps.push({ path: src.path, message: `line ${g.line}: ${g.message}` }),
      });
      bytes += (await stat(src.path)).size;
      const fs = findingsFromHits(hits, set, {
        origin: { where: src.where, containerId: src.containerId },
        ...(opts.maxEvidence !== undefined ? { maxEvidence: opts.maxEvidence } : {}),
      });
      findings.push(...fs.map((f) => (f.rule === IOC_LOG_RULE ? { ...f, source: "ioc" } : f)));
    } catch (e) {
      gaps.push({ path: src.path, message: errorMessage(e) });
    }
  }
  return { findings, gaps, bytes };
}
