import { resolve } from "node:path";
import type { Command } from "commander";
import { runContain } from "../../act/contain.js";
import { CONTAIN_MODES, type ContainMode } from "../../act/contain-plan.js";
import { ruleSetOrThrow } from "../../judge/rule-set.js";
import { CONTAIN_SCHEMA_VERSION, type ContainOutput } from "../../model/contain-output.js";
import { formatContainReport } from "../../tell/format-contain-report.js";
import { formatPlan } from "../../tell/format-plan.js";
import { colorsFor } from "../../util/colors.js";
import { createProgress } from "../../util/progress.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
import { ownAddresses } from "../host-addresses.js";
import {
  choice,
  custom,
  DEFAULT_INTERVAL_SECONDS,
  defineOptions,
  flag,
  type OptionValues,
  positive,
  repeatable,
  rulesOption,
  text,
  withOptions,
} from "../options.js";
import { parseSize } from "./collect.js";

const EXIT_CODES = `  0  CONTAINED (or --dry-run: the plan was shown, nothing changed)
  1  NOT CONTAINED: a matching process still runs outside the container, or its traffic goes on
  2  could not act: unknown or ambiguous container, not running, engine down, not confirmed,
     the mode cannot work on it (isolate on the host network), or an action failed`;

export const CONTAIN_OPTIONS = defineOptions({
  mode: choice("--mode <mode>", "what to do (see above)", CONTAIN_MODES, "pause"),
  ioc: repeatable(
    "--ioc <name-or-file>",
    "indicator: an IOC file, a name, a sha256, a path or an address (repeatable)",
  ),
  out: text("--out <dir>", "where the evidence bundle directory is made", "."),
  dryRun: flag("--dry-run", "show the plan and what matches; change nothing, write nothing"),
  yes: flag("-y, --yes", "do not ask for confirmation", false),
  json: flag(
    "--json",
    "print the containment report as JSON on stdout (schema: breachkit schema contain)",
    false,
  ),
  interval: positive(
    "--interval <seconds>",
    "traffic counters are compared over this interval",
    DEFAULT_INTERVAL_SECONDS,
  ),
  stopTimeout: positive("--stop-timeout <seconds>", "stop mode: grace period before SIGKILL", 10),
  memory: flag(
    "--no-memory",
    "kill and stop modes: do not dump the memory of the processes about to end",
  ),
  memoryMax: custom(
    "--memory-max <size>",
    "bytes of memory at most per dumped process (default 2G)",
    (v) => parseSize(v, "--memory-max"),
  ),
  rules: rulesOption(),
});

type ContainCliOptions = OptionValues<typeof CONTAIN_OPTIONS>;

export const registerContain: RegisterCommand = (program: Command, ctx: CommandContext) => {
  const cmd = program
    .command("contain")
    .summary("contain a container with proof: evidence, action, before/after, verdict")
    .description(
      `Contain a breached container and prove it, as the playbook says: list the trojan's processes,
secure the evidence, act, list them again, and conclude.

1. Before: a snapshot; every process matching the indicators is listed wherever it runs (host
   or any container). Indicators: --ioc values, and the executables (hash first, then name) of
   the suspicious processes triage finds in the container.
2. Preserve: the container's evidence into a sealed bundle (as collect --container), before
   anything changes.
3. Act (after a confirmation, unless --yes):
     pause    freeze its processes; memory and state kept for analysis (default)
     isolate  disconnect every network (refused on the host network)
     stop     stop it, after setting its restart policy to "no" so it stays down
     kill     SIGKILL only the matching processes inside it, each re-verified first
   In kill and stop modes the memory of the processes about to end is dumped into the bundle
   first (memory/<pid>-<name>.core, an ELF core file, and memory/<pid>.iocs.txt, the addresses,
   URLs and domains found in it, as leads); --no-memory skips it.
4. After: a short settle, a second snapshot with traffic counters over an interval, and the
   verdict. CONTAINED: nothing matching runs outside the frozen/stopped container, its traffic
   stopped, nothing matching appeared elsewhere. NOT CONTAINED: what still runs, and where.

Every change is logged in the bundle with its time, and how to undo it is printed.
containment.json in the bundle holds the before/after tables, actions, and the verdict.

Paths written: the bundle directory breachkit-<host>-<UTC time>/ under --out (default: the
current directory); nothing with --dry-run. On the host: only the action of --mode.`,
    )
    .argument("<container>", "container name, or id prefix (4+ hex digits); must be unambiguous")
    .addHelpText(
      "after",
      helpFooter(
        [
          "breachkit contain gitlab --dry-run",
          "breachkit contain gitlab --ioc wate --out /root/evidence",
          "breachkit contain 3f2a9c --mode stop --yes --json > containment.json",
          "breachkit contain web --mode kill --ioc iocs.txt",
        ],
        EXIT_CODES,
      ),
    );
  withOptions(cmd, CONTAIN_OPTIONS, async ({ args, options, commandLine }) => {
    await containAction(args[0] ?? "", options, commandLine, ctx);
  });
};

async function containAction(
  query: string,
  opts: ContainCliOptions,
  commandLine: string,
  ctx: CommandContext,
): Promise<void> {
  const mode: ContainMode = opts.mode;
  const rules = await ruleSetOrThrow(opts.rules && resolve(ctx.io.cwd, opts.rules));
  const c = colorsFor(ctx.io);
  const json = opts.json === true;
  const progress = createProgress(ctx.io, json);
  const ac = new AbortController();
  const off = ctx.io.onInterrupt(() => ac.abort());
  try {
    const outcome = await runContain({
      query,
      mode,
      iocs: opts.ioc,
      outDir: opts.out,
      cwd: ctx.io.cwd,
      dryRun: opts.dryRun === true,
      yes: opts.yes === true,
      interactive: ctx.io.interactive,
      confirm: (q) => ctx.io.confirm(q),
      env: ctx.io.env,
      intervalSeconds: opts.interval,
      stopTimeoutSec: opts.stopTimeout,
      memory: opts.memory !== false,
      ...(opts.memoryMax !== undefined ? { memoryMax: opts.memoryMax } : {}),
      selfPid: ctx.io.pid,
      ownAddresses: ownAddresses(),
      rules,
      command: commandLine,
      progress,
      signal: ac.signal,
      onPlan: (view) => {
        // The plan goes to stderr with --json, so stdout stays one JSON document.
        const text = formatPlan(view, c, opts.dryRun === true);
        if (json) {
          if (!opts.dryRun) ctx.io.error(text);
        } else ctx.io.write(text);
      },
    });
    if (outcome.kind === "dry-run") {
      if (json) {
        const out = {
          schemaVersion: CONTAIN_SCHEMA_VERSION,
          dryRun: true as const,
          ...outcome.view,
        } satisfies ContainOutput;
        ctx.io.write(`${JSON.stringify(out, null, 2)}\n`);
      }
      return;
    }
    if (json) {
      ctx.io.write(
        `${JSON.stringify(
          {
            schemaVersion: CONTAIN_SCHEMA_VERSION,
            bundle: outcome.bundleDir,
            manifestSha256: outcome.manifestSha256,
            ...outcome.report,
          } satisfies ContainOutput,
          null,
          2,
        )}\n`,
      );
    } else {
      ctx.io.write(
        formatContainReport(outcome.report, outcome.bundleDir, outcome.manifestSha256, c),
      );
    }
    ctx.setExitCode(outcome.exitCode);
  } finally {
    off();
  }
}
