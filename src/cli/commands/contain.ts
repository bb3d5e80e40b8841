import type { Command } from "commander";
import { type ContainmentReport, type PlanView, runContain } from "../../act/contain.js";
import { CONTAIN_MODES, type ContainMode, type MatchedProcess } from "../../act/contain-plan.js";
import { CONTAIN_SCHEMA_VERSION, type ContainOutput } from "../../model/contain-output.js";
import { createProgress } from "../../tell/progress.js";
import { safeText } from "../../tell/sanitize.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
import { type Colors, colorsFor } from "../io.js";
import {
  choice,
  DEFAULT_INTERVAL_SECONDS,
  defineOptions,
  flag,
  type OptionValues,
  positive,
  repeatable,
  text,
  withOptions,
} from "../options.js";

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
      prefetch: ctx.takeProcessPrefetch?.() ?? null,
      env: ctx.io.env,
      intervalSeconds: opts.interval,
      stopTimeoutSec: opts.stopTimeout,
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
      ctx.io.write(formatReport(outcome.report, outcome.bundleDir, outcome.manifestSha256, c));
    }
    ctx.setExitCode(outcome.exitCode);
  } finally {
    off();
  }
}

const t = (s: string, max = 200) => safeText(s, max);

/** The matching processes; with `status`, a column saying whether each one can still run. */
function table(
  rows: readonly MatchedProcess[],
  c: Colors,
  status?: (m: MatchedProcess) => string,
): string[] {
  if (rows.length === 0) return [`  ${c.dim("(none)")}`];
  const statusHead = status ? "STATUS".padEnd(10) : "";
  const lines = [
    `  ${c.dim(`${"PID".padEnd(8)}${statusHead}${"WHERE".padEnd(22)}${"USER".padEnd(10)}${"SHA256".padEnd(14)}COMMAND`)}`,
  ];
  for (const m of rows) {
    const exe = m.exePath ? ` [${t(m.exePath, 120)}${m.deleted ? " (deleted)" : ""}]` : "";
    const st = status ? status(m).padEnd(10) : "";
    const stShown = st.startsWith("RUNNING") ? c.red(st) : st;
    lines.push(
      `  ${String(m.pid).padEnd(8)}${stShown}${t(m.where, 20).padEnd(22)}${t(m.user, 9).padEnd(10)}${(m.sha256?.slice(0, 12) ?? "-").padEnd(14)}${t(m.commandLine, 120)}${exe}`,
    );
    lines.push(`  ${"".padEnd(8)}${c.dim(`matched by ${t(m.matchedBy.join("; "), 300)}`)}`);
  }
  return lines;
}

export function formatPlan(view: PlanView, c: Colors, dryRun: boolean): string {
  const p = view.plan;
  const lines: string[] = [];
  lines.push(
    `${c.bold("contain")} ${t(p.target.name)} (${p.target.id.slice(0, 12)}, ${t(p.target.state)}, network ${t(p.target.networkMode)}, restart ${t(p.target.restartPolicy)}), mode ${c.bold(p.mode)}`,
  );
  lines.push("");
  lines.push(`Indicators (${view.indicators.length}):`);
  for (const i of view.indicators) lines.push(`  ${t(i, 300)}`);
  if (view.indicators.length === 0) {
    lines.push(
      `  ${c.yellow("none")}: triage found no suspicious process in it and no --ioc was given; the verdict rests on its state and traffic`,
    );
  }
  lines.push("");
  lines.push(`Before (${view.takenAt}): ${view.matches.length} matching process(es)`);
  lines.push(...table(view.matches, c));
  lines.push("");
  lines.push(dryRun ? "Plan (dry run: nothing will be changed):" : "Plan:");
  if (p.steps.length === 0) lines.push("  no change to the container");
  for (const s of p.steps) {
    lines.push(`  - ${t(s.description, 300)}`);
    lines.push(
      `      ${c.dim(`${t(s.command, 300)}${s.undo ? `   (undo: ${t(s.undo, 300)})` : "   (cannot be undone)"}`)}`,
    );
  }
  for (const n of view.notes) lines.push(`  ${c.dim(`note: ${t(n, 300)}`)}`);
  if (!dryRun) lines.push("  The evidence is preserved into a bundle first.");
  return `${lines.join("\n")}\n`;
}

export function formatReport(
  r: ContainmentReport,
  bundleDir: string,
  manifestSha256: string,
  c: Colors,
): string {
  const lines: string[] = [""];
  lines.push(
    `Evidence: ${t(bundleDir, 300)} (${r.evidence.files} files${r.evidence.complete ? "" : `, ${c.yellow("incomplete")}: ${t(r.evidence.incompleteReason ?? "", 200)}`})`,
  );
  lines.push(`  sealed, manifest sha256 ${manifestSha256}`);
  lines.push("");
  lines.push("Actions:");
  if (r.actions.length === 0) lines.push("  none");
  for (const a of r.actions) {
    const status = a.ok ? c.green("done") : c.red("FAILED");
    lines.push(
      `  ${a.startedAt}  ${status}  ${t(a.command, 200)}${a.error ? `: ${t(a.error, 300)}` : ""}`,
    );
  }
  if (r.undo.length) {
    lines.push("To undo:");
    for (const u of r.undo) lines.push(`  $ ${t(u, 600)}`);
  }
  lines.push("");
  lines.push(`After (${r.after.takenAt}): ${r.after.matches.length} matching process(es)`);
  const running = new Set(r.stillRunning.map((m) => `${m.pid}@${m.startTime}`));
  const held = r.mode === "pause" ? "frozen" : r.mode === "isolate" ? "isolated" : "held";
  lines.push(
    ...table(r.after.matches, c, (m) =>
      running.has(`${m.pid}@${m.startTime}`)
        ? "RUNNING"
        : m.containerId === r.target.id
          ? held
          : "frozen",
    ),
  );
  lines.push("");
  lines.push(r.contained ? c.bold(c.green("CONTAINED")) : c.bold(c.red("NOT CONTAINED")));
  for (const x of r.reasons) lines.push(`  ${c.green("ok")}   ${t(x, 400)}`);
  for (const x of r.problems) lines.push(`  ${c.red("FAIL")} ${t(x, 600)}`);
  if (r.next.length) {
    lines.push("");
    lines.push("Next:");
    for (const n of r.next) lines.push(`  - ${t(n, 400)}`);
  }
  return `${lines.join("\n")}\n`;
}
