/** Log hunting: rule files, the fast scanner, and findings from its hits. */
export { type CompiledRuleSet, compileRules, dockerJsonEscape, selectRules } from "./compile.js";
export {
  type Hit,
  type HuntGap,
  type HuntOptions,
  huntBuffer,
  huntFile,
  isPartialRecord,
} from "./engine.js";
export { type FindingsFromHitsOptions, findingsFromHits, type HitOrigin } from "./findings.js";
export { type HuntLogsResult, huntLogs, type LogSource } from "./hunt-logs.js";
export { compileIocRules, IOC_LOG_RULE, iocHuntRules } from "./ioc-rules.js";
export {
  checkExamples,
  checkExamplesAt,
  dockerJsonLine,
  type LoadedRules,
  loadHuntRuleDirs,
  loadHuntRules,
} from "./load.js";
export {
  DEFAULT_RULE_DIR,
  type HuntRule,
  parseRuleFile,
  type RuleFileError,
  readRuleDir,
} from "./rule-file.js";
