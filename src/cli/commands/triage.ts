import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { createBundle, safePathComponent } from "../../evidence/bundle.js";
import { collectEvidence, collectRefusePaths } from "../../evidence/collect.js";
import type { Allowlist } from "../../judge/context.js";
import { loadIocs } from "../../judge/ioc/load-iocs.js";
import { judgeBundle, readAllowlist } from "../../judge/judge-bundle.js";
import { ruleSetOrThrow } from "../../judge/rule-set.js";
import { verdictOf } from "../../judge/verdict.js";
import { SEVERITIES, type Severity, SeveritySchema } from "../../model/finding.js";
import { parseSnapshot, type Snapshot } from "../../model/snapshot.js";
import { DockerEngine } from "../../observe/docker/engine.js";
import { startSnapshot } from "../../observe/snapshot.js";
import { formatTriage } from "../../tell/format-triage.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_FINDINGS } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import { safeText } from "../../util/sanitize.js";
import { type CommandContext, collect, helpFooter, parsePositive } from "../command.js";

interface TriageFlags {
  json?: boolean;
  out?: string;
  bundle?: string;
  ioc?: string[];
  allowlist?: string;
  baseline?: string;
  rules?: string;
  interval: number;
  failOn: string;
  all?: boolean;
}

async function loadBaseline(path: string | undefined, cwd: string): Promise<Snapshot | null> {
  if (!path) return null;
  const full = resolve(cwd, path);
  try {
    const text = await readFile(full, "utf8");
    return parseSnapshot(text.trimStart().startsWith("{") ? text : "");
  } catch (e) {
    throw new BreachkitError(
      "BAD_INPUT",
      `cannot use ${full} as a baseline: ${errorMessage(e).slice(0, 300)}`,
      "a baseline is a snapshot saved on a known-good day: breachkit snapshot -o baseline.json",
    );
  }
}

export function registerTriage(program: Command, ctx: CommandContext): void {
  program
    .command("triage")
    .summary("what is wrong on this host, ranked, in seconds (read-only)")
    .description(
      `The command for the first minute of an incident. Takes a snapshot, writes a quick
evidence bundle (snapshot, suspicious executables, container logs, host logs; no filesystem
exports), runs every fast check (processes, spread, traffic, accounts, logins, log hunting,
container configuration, IOCs), and answers: what is compromised, where, how sure, and what
to do next. Read-only on the host: it writes only the bundle under --out.

With --bundle it judges a saved bundle offline and gives the same findings.`,
    )
    .option("--json", "print verdict and findings as JSON")
    .option("--out <dir>", "where to write the evidence bundle", ".")
    .option("--bundle <dir>", "judge a saved bundle instead of the live host")
    .option(
      "--ioc <file|value>",
      "IOC file, or a name, SHA-256, IP or CIDR (repeatable)",
      collect,
      [],
    )
    .option("--allowlist <file>", "known-good processes with reasons (JSON, see rules/README.md)")
    .option("--baseline <snapshot.json>", "a snapshot from a known-good day to compare with")
    .option("--rules <dir>", "more hunt rules and tuned lists (see rules/README.md)")
    .option(
      "--interval <seconds>",
      "traffic and CPU sampling interval",
      parsePositive("--interval"),
      1,
    )
    .option(
      "--fail-on <severity>",
      `exit 1 at or above this severity (${SEVERITIES.join(", ")})`,
      "high",
    )
    .option("--all", "list every finding, including low and info, with all evidence")
    .addHelpText(
      "after",
      helpFooter([
        "breachkit triage                           # live host, bundle in the current directory",
        "breachkit triage --out /root/evidence --ioc wate --ioc 203.0.113.7",
        "breachkit triage --ioc iocs.txt --fail-on medium",
        "breachkit triage --bundle breachkit-web01-20260101T120000Z   # offline, same findings",
        "breachkit triage --json | jq '.findings[] | select(.severity==\"critical\")'",
      ]),
    )
    .action(async (flags: TriageFlags) => {
      const { io } = ctx;
      const started = Date.now();
      const failOn = SeveritySchema.safeParse(flags.failOn);
      if (!failOn.success) {
        throw new BreachkitError(
          "USAGE",
          `--fail-on takes one of ${SEVERITIES.join(", ")}, got "${flags.failOn}"`,
        );
      }
      const threshold: Severity = failOn.data;
      const iocs = flags.ioc?.length ? await loadIocs(flags.ioc, io.cwd) : undefined;
      const allowlist: Allowlist | undefined = flags.allowlist
        ? await readAllowlist(resolve(io.cwd, flags.allowlist))
        : undefined;
      const baseline = await loadBaseline(flags.baseline, io.cwd);
      const rules = await ruleSetOrThrow(flags.rules && resolve(io.cwd, flags.rules));
      const progress = createProgress(io, flags.json === true);

      let bundleDir: string;
      let seal: string | null = null;
      let complete = true;
      if (flags.bundle) {
        bundleDir = resolve(io.cwd, flags.bundle);
      } else {
        progress.update("triage: snapshot…");
        // The traffic and CPU sample runs on while the quick bundle is written (the bundle's
        // snapshot.json waits for it).
        const { first: snap, final } = await startSnapshot({
          env: io.env,
          intervalSeconds: flags.interval,
          onStep: (s) => progress.update(`triage: snapshot: ${s}…`),
        });
        const bundle = await createBundle({
          outDir: resolve(io.cwd, flags.out ?? "."),
          host: snap.snapshot.host.hostname || "host",
          command: "triage",
          refuseInside: collectRefusePaths(snap.snapshot.engine.dockerRootDir),
        });
        bundleDir = bundle.dir;
        const controller = new AbortController();
        const off = io.onInterrupt((sig) => controller.abort(new Error(`interrupted by ${sig}`)));
        let engine: DockerEngine | null = null;
        try {
          engine = snap.snapshot.engine.available ? DockerEngine.fromEnv(io.env) : null;
        } catch {
          engine = null;
        }
        let stopReason: string | null = null;
        try {
          const summary = await collectEvidence({
            bundle,
            snap,
            final,
            engine,
            host: true,
            exportFs: false,
            maxFileBytes: 256 * 1024 * 1024,
            lists: rules.lists,
            progress,
            signal: controller.signal,
          });
          if (summary.stopped) stopReason = summary.incompleteReason ?? "stopped";
          else if (!summary.complete) {
            complete = false;
            io.error(
              `note: some evidence could not be collected: ${safeText(summary.incompleteReason ?? "", 2000)}\n`,
            );
          }
        } catch (e) {
          stopReason = controller.signal.aborted
            ? String(controller.signal.reason)
            : errorMessage(e);
        }
        if (stopReason !== null) {
          if (!bundle.sealed) await bundle.seal({ complete: false, reason: stopReason });
          off();
          progress.done();
          throw new BreachkitError(
            "INTERRUPTED",
            `triage stopped: ${stopReason}; the bundle ${bundle.dir} holds what was collected (incomplete, sealed)`,
            "run breachkit verify on it, then run triage again, or triage --bundle on it",
          );
        }
        progress.update("triage: judging…");
        let judged: Awaited<ReturnType<typeof judgeBundle>>;
        let verdict: ReturnType<typeof verdictOf>;
        try {
          judged = await judgeBundle(bundle.dir, safePathComponent, {
            iocs,
            allowlist,
            baseline,
            rules,
          });
          verdict = verdictOf(judged.findings, threshold);
          await bundle.writeJson(
            "findings.json",
            { verdict, findings: judged.findings, logsHunted: judged.logsHunted },
            { source: "breachkit triage" },
          );
          if (controller.signal.aborted) throw controller.signal.reason;
        } catch (e) {
          // The evidence is on disk: seal it whatever went wrong while judging it.
          const reason = controller.signal.aborted
            ? String(controller.signal.reason)
            : `judging failed: ${errorMessage(e)}`;
          if (!bundle.sealed) await bundle.seal({ complete: false, reason });
          off();
          progress.done();
          throw new BreachkitError(
            "INTERRUPTED",
            `triage stopped: ${reason}; the bundle ${bundle.dir} is sealed (incomplete)`,
            "run breachkit verify on it, then breachkit triage --bundle on it",
          );
        }
        const sealed = await bundle.seal(
          complete
            ? { complete: true }
            : { complete: false, reason: "some evidence could not be collected" },
        );
        off();
        seal = sealed.manifestSha256;
        progress.done();
        return report(ctx, flags, judged, verdict, bundleDir, seal, complete, started);
      }
      progress.update("triage: judging the bundle…");
      const judged = await judgeBundle(bundleDir, safePathComponent, {
        iocs,
        allowlist,
        baseline,
        rules,
      });
      progress.done();
      const verdict = verdictOf(judged.findings, threshold);
      return report(ctx, flags, judged, verdict, bundleDir, seal, complete, started);
    });
}

function report(
  ctx: CommandContext,
  flags: TriageFlags,
  judged: Awaited<ReturnType<typeof judgeBundle>>,
  verdict: ReturnType<typeof verdictOf>,
  bundleDir: string,
  seal: string | null,
  complete: boolean,
  started: number,
): void {
  const durationMs = Date.now() - started;
  ctx.io.write(
    formatTriage(
      { judged, verdict, bundleDir, seal, complete, durationMs },
      { json: flags.json === true, offline: Boolean(flags.bundle), all: flags.all === true },
      colorsFor(ctx.io),
    ),
  );
  if (verdict.atOrAboveThreshold > 0) ctx.setExitCode(EXIT_FINDINGS);
}
