import { resolve } from "node:path";
import type { Command } from "commander";
import { writeOwnFile } from "../../act/schedule/files.js";
import { diffBaseline } from "../../judge/baseline/diff.js";
import { verdictOf } from "../../judge/verdict.js";
import { makeRecord } from "../../model/baseline.js";
import type { BaselineDiffOutput, BaselineSaveOutput } from "../../model/baseline-output.js";
import { SEVERITIES, severityRank } from "../../model/finding.js";
import { BASELINE_SCHEMA_VERSION } from "../../model/schema-version.js";
import { observeBaseline } from "../../observe/baseline/index.js";
import { DEFAULT_BASELINE_PATH, readBaselineRecord } from "../../observe/baseline/record.js";
import { formatBaselineDiff, formatBaselineSave } from "../../tell/format-baseline.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_FINDINGS } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import { TOOL } from "../../version.js";
import { type CommandContext, helpFooter } from "../command.js";
import { choice, defineOptions, flag, text, withOptions } from "../options.js";

const COMMON = {
  json: flag("--json", "print the result as JSON (schema: breachkit schema baseline)", false),
  root: text(
    "--root <dir>",
    "read the host's files (accounts, SUID/SGID, cron, systemd units) from this directory instead of / (a mounted disk); processes, sockets, containers and modules stay live",
  ),
  suid: flag("--no-suid", "do not walk filesystems for SUID/SGID files (faster; not compared)"),
} as const;

export const BASELINE_SAVE_OPTIONS = defineOptions({
  ...COMMON,
  out: text("--out <file>", "where the baseline is written (mode 0600)", DEFAULT_BASELINE_PATH),
});

export const BASELINE_DIFF_OPTIONS = defineOptions({
  ...COMMON,
  failOn: choice("--fail-on <severity>", "exit 1 at or above this severity", SEVERITIES, "high"),
  all: flag("--all", "list every change, including low and info", false),
});

export function registerBaseline(program: Command, ctx: CommandContext): void {
  const base = program
    .command("baseline")
    .summary("record a known-good state, and say what changed since (drift)")
    .description(
      `A baseline is the record of a known-good day: UID 0 accounts, sudo rights, SSH key
fingerprints, listening sockets (host and each container), SUID/SGID files (host and each
container's filesystem), containers (image, privileged, mounts, published ports), image tags,
cron entries, systemd units and timers, loaded kernel modules and the programs running (path,
SHA-256, place). "baseline save" writes it sealed (SHA-256 of its content); "baseline diff"
observes the host again and lists what is new or changed, each with a severity. Read-only on
the host, but for the file save writes.`,
    )
    .addHelpText(
      "after",
      helpFooter([
        "breachkit baseline save                        # /var/lib/breachkit/baseline.json",
        "breachkit baseline diff                        # what changed since",
        "breachkit baseline diff --fail-on medium --json | jq '.findings[].title'",
        "breachkit triage --baseline /var/lib/breachkit/baseline.json",
      ]),
    );

  const save = base
    .command("save")
    .summary("record the known-good state of this host (sealed)")
    .description(
      "Observe the host and its containers and write the baseline (a JSON file, mode 0600, sealed by the SHA-256 of its content). Save it on a day you trust.",
    )
    .addHelpText(
      "after",
      `\nPaths written: the file --out names (default ${DEFAULT_BASELINE_PATH}), nothing else.\n${helpFooter(
        [
          "breachkit baseline save",
          "breachkit baseline save --out /root/baseline-web01.json --no-suid",
        ],
        "  0  saved\n  2  could not save (permission, unreadable root)",
      )}`,
    );
  withOptions(save, BASELINE_SAVE_OPTIONS, async ({ options }) => {
    const io = ctx.io;
    const progress = createProgress(io, options.json);
    const root = options.root ? resolve(io.cwd, options.root) : undefined;
    const state = await observeBaseline({
      env: io.env,
      ...(root ? { root } : {}),
      suid: options.suid,
      onStep: (s) => progress.update(`baseline: ${s}…`),
    });
    const record = makeRecord(state, TOOL);
    const out = resolve(io.cwd, options.out);
    try {
      await writeOwnFile(out, `${JSON.stringify(record)}\n`);
    } catch (e) {
      progress.done();
      throw new BreachkitError(
        "IO",
        `cannot write the baseline to ${out}: ${errorMessage(e)}`,
        "run as root, or name a writable file with --out",
      );
    }
    progress.done();
    const counts: Record<string, number> = {};
    for (const k of state.kinds) counts[k] = 0;
    for (const i of state.items) counts[i.kind] = (counts[i.kind] ?? 0) + 1;
    const output: BaselineSaveOutput = {
      schemaVersion: BASELINE_SCHEMA_VERSION,
      command: "baseline save",
      path: out,
      seal: record.seal,
      takenAt: state.takenAt,
      host: state.host,
      root: state.root,
      counts,
      gaps: state.gaps,
    };
    io.write(
      options.json
        ? `${JSON.stringify(output, null, 2)}\n`
        : formatBaselineSave(output, colorsFor(io)),
    );
  });

  const diff = base
    .command("diff")
    .summary("what is new or changed since the baseline, with a severity each")
    .argument("[baseline]", `the file baseline save wrote (default ${DEFAULT_BASELINE_PATH})`)
    .description(
      "Observe the host again and compare with the baseline: a new UID 0 account, SSH key or sudo right, a new listening port, a new SUID file, a new container, an image changed without an update record, privileged turned on, a new cron job or unit, a new kernel module. A baseline whose seal does not match is refused.",
    )
    .addHelpText(
      "after",
      `\nPaths written: none.\n${helpFooter([
        "breachkit baseline diff",
        "breachkit baseline diff /root/baseline-web01.json --fail-on medium",
        "breachkit baseline diff --json | jq '.findings[] | select(.severity==\"critical\")'",
      ])}`,
    );
  withOptions(diff, BASELINE_DIFF_OPTIONS, async ({ args, options }) => {
    const io = ctx.io;
    const started = Date.now();
    const path = resolve(io.cwd, args[0] ?? DEFAULT_BASELINE_PATH);
    const record = await readBaselineRecord(path);
    const progress = createProgress(io, options.json);
    const root = options.root
      ? resolve(io.cwd, options.root)
      : record.state.root !== "/"
        ? record.state.root
        : undefined;
    const now = await observeBaseline({
      env: io.env,
      ...(root ? { root } : {}),
      suid: options.suid && record.state.kinds.includes("suid"),
      onStep: (s) => progress.update(`baseline diff: ${s}…`),
    });
    const drift = diffBaseline(record.state, now);
    progress.done();
    const verdict = verdictOf(drift.findings, options.failOn);
    const output: BaselineDiffOutput = {
      schemaVersion: BASELINE_SCHEMA_VERSION,
      command: "baseline diff",
      baseline: {
        path,
        takenAt: record.state.takenAt,
        seal: record.seal,
        host: record.state.host,
      },
      takenAt: now.takenAt,
      compared: drift.compared,
      findings: drift.findings,
      removed: drift.removed as Record<string, number>,
      atOrAboveThreshold: drift.findings.filter(
        (f) => severityRank(f.severity) >= severityRank(options.failOn),
      ).length,
      gaps: now.gaps,
      durationMs: Date.now() - started,
    };
    io.write(
      options.json
        ? `${JSON.stringify(output, null, 2)}\n`
        : formatBaselineDiff(output, verdict, colorsFor(io), options.all),
    );
    if (output.atOrAboveThreshold > 0) ctx.setExitCode(EXIT_FINDINGS);
  });
}
