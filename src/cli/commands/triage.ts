import { constants } from "node:fs";
import { open, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { Command } from "commander";
import { createBundle, safePathComponent } from "../../evidence/bundle.js";
import { collectEvidence, collectRefusePaths } from "../../evidence/collect.js";
import { type VerifyReport, verifyBundle } from "../../evidence/verify.js";
import { driftOfSnapshot } from "../../judge/baseline/diff.js";
import type { Allowlist } from "../../judge/context.js";
import { loadIocs } from "../../judge/ioc/load-iocs.js";
import { judgeBundle, readAllowlist } from "../../judge/judge-bundle.js";
import { ruleSetOrThrow } from "../../judge/rule-set.js";
import { verdictOf } from "../../judge/verdict.js";
import type { BaselineRecord } from "../../model/baseline.js";
import { SEVERITIES, type Severity, sortFindings } from "../../model/finding.js";
import { parseSnapshot, type Snapshot } from "../../model/snapshot.js";
import { baselineRecordIfAny } from "../../observe/baseline/record.js";
import { DockerEngine } from "../../observe/docker/engine.js";
import { startSnapshot } from "../../observe/snapshot.js";
import { formatTriage } from "../../tell/format-triage.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_FINDINGS } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import { safeText } from "../../util/sanitize.js";
import { type CommandContext, helpFooter } from "../command.js";
import {
  choice,
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

export const TRIAGE_OPTIONS = defineOptions({
  json: flag(
    "--json",
    "print verdict and findings as JSON (schema: breachkit schema triage)",
    false,
  ),
  out: text("--out <dir>", "where the quick evidence bundle directory is made", "."),
  bundle: text("--bundle <dir>", "judge a saved bundle instead of the live host (writes nothing)"),
  ioc: repeatable("--ioc <file|value>", "IOC file, or a name, SHA-256, IP or CIDR (repeatable)"),
  allowlist: text(
    "--allowlist <file>",
    "known-good processes with reasons (JSON, see rules/README.md)",
  ),
  baseline: text(
    "--baseline <snapshot>",
    "a snapshot from a known-good day to compare with: snapshot --out's bundle directory, a snapshot.json, or a baseline save file (drift of accounts, sockets, containers, programs)",
  ),
  interval: positive(
    "--interval <seconds>",
    "traffic and CPU sampling interval",
    DEFAULT_INTERVAL_SECONDS,
  ),
  failOn: choice("--fail-on <severity>", "exit 1 at or above this severity", SEVERITIES, "high"),
  all: flag("--all", "list every finding, including low and info, with all evidence", false),
  rules: rulesOption(),
});

type TriageFlags = OptionValues<typeof TRIAGE_OPTIONS>;

/** A snapshot of 10,000 processes is tens of MB; past this it is not one (or not ours). */
const MAX_BASELINE_BYTES = 256 * 1024 * 1024;

async function loadBaseline(path: string | undefined, cwd: string): Promise<Snapshot | null> {
  if (!path) return null;
  const given = resolve(cwd, path);
  const fail = (what: string, why: string): never => {
    throw new BreachkitError(
      "BAD_INPUT",
      `cannot use ${safeText(what, 300)} as a baseline: ${why}`,
      "a baseline is a snapshot saved on a known-good day: breachkit snapshot --out DIR (give the directory or its snapshot.json)",
    );
  };
  // snapshot --out writes a bundle directory: its snapshot.json is the baseline.
  const full = (await stat(given).catch(() => null))?.isDirectory()
    ? join(given, "snapshot.json")
    : given;
  // O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; fstat on the open
  // file then refuses anything but a regular file, with no window to swap it.
  const fh = await open(full, constants.O_RDONLY | constants.O_NONBLOCK).catch((e: unknown) =>
    fail(full, errorMessage(e).slice(0, 300)),
  );
  let text: string;
  try {
    const st = await fh.stat();
    if (!st.isFile()) fail(full, "not a regular file (a FIFO, device or socket)");
    if (st.size > MAX_BASELINE_BYTES)
      fail(full, `larger than ${MAX_BASELINE_BYTES / 1024 ** 2} MiB`);
    text = await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    fail(
      full,
      text.trim() === ""
        ? "the file is empty"
        : "not JSON (a snapshot is the JSON that breachkit snapshot --json prints)",
    );
  }
  if (
    typeof data !== "object" ||
    data === null ||
    !("schemaVersion" in data) ||
    !("processes" in data)
  ) {
    fail(full, "JSON, but not a breachkit snapshot (no schemaVersion and processes)");
  }
  try {
    return parseSnapshot(text);
  } catch (e) {
    return fail(full, `not a valid breachkit snapshot: ${safeText(errorMessage(e), 300)}`);
  }
}

export function registerTriage(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command("triage")
    .summary("what is wrong on this host, ranked, in seconds (read-only)")
    .description(
      `The command for the first minute of an incident. Takes a snapshot, writes a quick
evidence bundle (snapshot, suspicious executables, container logs, host logs; no filesystem
exports), runs every fast check (processes, spread, traffic, accounts, logins, log hunting,
container configuration, IOCs), and answers: what is compromised, where, how sure, and what
to do next. Read-only on the host: it writes only the bundle under --out (a directory
breachkit-<host>-<UTC time>/ with snapshot.json, findings.json, the evidence, manifest.json,
SEAL and collection.log.jsonl).

With --bundle it judges a saved bundle offline and gives the same findings.`,
    )
    .addHelpText(
      "after",
      `\nPaths written: the bundle directory under --out (default: the current directory);
nothing with --bundle.\n${helpFooter([
        "breachkit triage                           # live host, bundle in the current directory",
        "breachkit triage --out /root/evidence --ioc wate --ioc 203.0.113.7",
        "breachkit triage --ioc iocs.txt --fail-on medium",
        "breachkit triage --bundle breachkit-web01-20260101T120000Z   # offline, same findings",
        "breachkit triage --json | jq '.findings[] | select(.severity==\"critical\")'",
      ])}`,
    );
  withOptions(cmd, TRIAGE_OPTIONS, async ({ options: flags, commandLine }) => {
    const { io } = ctx;
    const started = Date.now();
    const threshold: Severity = flags.failOn;
    const iocs = flags.ioc?.length ? await loadIocs(flags.ioc, io.cwd) : undefined;
    const allowlist: Allowlist | undefined = flags.allowlist
      ? await readAllowlist(resolve(io.cwd, flags.allowlist))
      : undefined;
    // A `baseline save` record adds drift findings; a snapshot feeds the account rules.
    const record = flags.baseline
      ? await baselineRecordIfAny(resolve(io.cwd, flags.baseline))
      : null;
    const baseline = record ? null : await loadBaseline(flags.baseline, io.cwd);
    const rules = await ruleSetOrThrow(flags.rules && resolve(io.cwd, flags.rules));
    const progress = createProgress(io, flags.json === true);

    let bundleDir: string;
    let seal: string | null = null;
    let complete = true;
    let integrityProblem: string | null = null;
    if (flags.bundle) {
      bundleDir = resolve(io.cwd, flags.bundle);
      // Verify first: a bundle changed after it was sealed is judged only with a loud warning.
      progress.update("triage: verifying the bundle…");
      const check = await verifyBundle(bundleDir).catch((e: unknown) => errorMessage(e));
      integrityProblem = typeof check === "string" ? check : integrityProblemOf(check);
      complete = typeof check === "string" ? false : check.complete;
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
        command: commandLine,
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
      let truncated: string[] = [];
      try {
        const summary = await collectEvidence({
          bundle,
          snap,
          final,
          engine,
          host: true,
          exportFs: false,
          // No size limit: logs are copied and hunted whole (the newest lines, where the
          // attack is, come last). What a limit still cuts (host files) shows in the gaps.
          lists: rules.lists,
          progress,
          signal: controller.signal,
        });
        truncated = summary.truncated;
        if (summary.stopped) stopReason = summary.incompleteReason ?? "stopped";
        else if (!summary.complete) {
          complete = false;
          io.error(
            `note: some evidence could not be collected: ${safeText(summary.incompleteReason ?? "", 2000)}\n`,
          );
        }
      } catch (e) {
        stopReason = controller.signal.aborted ? String(controller.signal.reason) : errorMessage(e);
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
        judged = withDrift(
          await judgeBundle(bundle.dir, safePathComponent, {
            iocs,
            allowlist,
            baseline,
            rules,
            truncated,
          }),
          record,
        );
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
      return report(
        ctx,
        flags,
        judged,
        verdict,
        bundleDir,
        seal,
        complete,
        integrityProblem,
        started,
      );
    }
    progress.update("triage: judging the bundle…");
    const judged = withDrift(
      await judgeBundle(bundleDir, safePathComponent, {
        iocs,
        allowlist,
        baseline,
        rules,
      }),
      record,
    );
    progress.done();
    const verdict = verdictOf(judged.findings, threshold);
    return report(
      ctx,
      flags,
      judged,
      verdict,
      bundleDir,
      seal,
      complete,
      integrityProblem,
      started,
    );
  });
}

/** With a baseline record: the drift of the snapshot's kinds added to the findings. */
function withDrift(
  judged: Awaited<ReturnType<typeof judgeBundle>>,
  record: BaselineRecord | null,
): Awaited<ReturnType<typeof judgeBundle>> {
  if (!record) return judged;
  const drift = driftOfSnapshot(record.state, judged.snapshot).findings;
  return { ...judged, findings: sortFindings([...judged.findings, ...drift]) };
}

function report(
  ctx: CommandContext,
  flags: TriageFlags,
  judged: Awaited<ReturnType<typeof judgeBundle>>,
  verdict: ReturnType<typeof verdictOf>,
  bundleDir: string,
  seal: string | null,
  complete: boolean,
  integrityProblem: string | null,
  started: number,
): void {
  const durationMs = Date.now() - started;
  ctx.io.write(
    formatTriage(
      { judged, verdict, bundleDir, seal, complete, integrityProblem, durationMs },
      { json: flags.json === true, offline: Boolean(flags.bundle), all: flags.all === true },
      colorsFor(ctx.io),
    ),
  );
  if (verdict.atOrAboveThreshold > 0) ctx.setExitCode(EXIT_FINDINGS);
}

/** What breaks a saved bundle's integrity, in a few words; null when it verifies. */
function integrityProblemOf(r: VerifyReport): string | null {
  if (r.intact) return null;
  const parts: string[] = [];
  if (r.seal !== "ok") parts.push(`SEAL ${r.seal}`);
  const list = (what: string, paths: string[]) => {
    if (paths.length === 0) return;
    const shown = paths.slice(0, 3).join(", ");
    parts.push(`${what}: ${shown}${paths.length > 3 ? ` and ${paths.length - 3} more` : ""}`);
  };
  list(
    "changed",
    r.changed.map((c) => c.path),
  );
  list("missing", r.missing);
  list("added", r.added);
  return parts.length > 0 ? parts.join("; ") : "the bundle does not verify";
}
