import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import { createBundle } from "../../evidence/bundle.js";
import { loadFalsePositives } from "../../judge/scanners/false-positives.js";
import type { ScanResult } from "../../judge/scanners/index.js";
import { SEVERITIES, type Severity, severityRank } from "../../model/finding.js";
import { DEFAULT_HOST_PATHS } from "../../observe/scanners/clamav.js";
import { discoverTargets } from "../../observe/scanners/discover.js";
import { defaultCacheDir, openScanCache } from "../../observe/scanners/scan-cache.js";
import { TOOL_NAMES, type ToolName } from "../../observe/scanners/types.js";
import { formatScan } from "../../tell/format-scan.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_FINDINGS } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { type CommandContext, collect, helpFooter, type RegisterCommand } from "../command.js";
import { runScan } from "../run-scan.js";

interface ScanOptions {
  clamav?: boolean;
  rkhunter?: boolean;
  chkrootkit?: boolean;
  lynis?: boolean;
  all?: boolean;
  container: string[];
  hostPaths?: string[];
  clamavDb: string;
  out?: string;
  cache: boolean;
  json?: boolean;
  failOn: string;
}

export const registerScan: RegisterCommand = (program: Command, ctx: CommandContext) => {
  program
    .command("scan")
    .summary("run ClamAV, rkhunter, chkrootkit and Lynis over the host and every container")
    .description(
      `Run the scanners for real and turn what they say into findings, with the raw output kept.
ClamAV scans the host paths where droppers and service data live, every container's
filesystem as the host sees it (hits name the container and the path inside it), and the
executable of every running process (a deleted binary included). Mail spools are grouped
per mailbox and never modified. rkhunter runs on a copy of its database; chkrootkit runs on
the host and on each running container's root; Lynis runs without refreshing package lists.
No tool flag: all four. A missing tool is reported with the package to install.`,
    )
    .option("--clamav", "ClamAV (clamd, started for the run if none runs with this database)")
    .option("--rkhunter", "rkhunter --check, on a copy of its database")
    .option("--chkrootkit", "chkrootkit on the host and each running container")
    .option("--lynis", "Lynis audit system (about a minute)")
    .option("--all", "all four (the default)")
    .option(
      "--container <name>",
      "only this container (repeatable); no host paths unless --host-paths",
      collect,
      [],
    )
    .option(
      "--host-paths <path...>",
      `host paths for ClamAV (default: ${DEFAULT_HOST_PATHS.join(" ")})`,
    )
    .option(
      "--clamav-db <dir>",
      "ClamAV signature directory (.cvd/.hdb/.ndb/.ldb/.yar)",
      "/var/lib/clamav",
    )
    .option("--out <dir>", "write an evidence bundle (raw outputs, parsed results, findings) here")
    .option(
      "--no-cache",
      "scan every file again (the cache skips files unchanged since a clean scan)",
    )
    .option("--json", "print findings as JSON on stdout")
    .option(
      "--fail-on <severity>",
      `exit 1 on findings at or above (${SEVERITIES.join(", ")})`,
      "high",
    )
    .addHelpText(
      "after",
      helpFooter([
        "breachkit scan --clamav --clamav-db /srv/clamav-db",
        "breachkit scan --clamav --container bk-lab-mail --out /root/evidence",
        "breachkit scan --rkhunter --chkrootkit --json | jq '.findings[].title'",
      ]),
    )
    .action(async (opts: ScanOptions) => {
      await scanAction(opts, ctx);
    });
};

async function scanAction(opts: ScanOptions, ctx: CommandContext): Promise<void> {
  const failOn = opts.failOn as Severity;
  if (!SEVERITIES.includes(failOn)) {
    throw new BreachkitError(
      "USAGE",
      `--fail-on takes one of ${SEVERITIES.join(", ")}, got "${opts.failOn}"`,
    );
  }
  const picked = TOOL_NAMES.filter((t) => opts[t] === true);
  const tools: ToolName[] = opts.all || picked.length === 0 ? [...TOOL_NAMES] : picked;
  const progress = createProgress(ctx.io, false);
  const host = opts.container.length === 0 || opts.hostPaths !== undefined;
  const discovered = await discoverTargets({
    env: ctx.io.env,
    selfPid: ctx.io.pid,
    hostPaths: (opts.hostPaths ?? DEFAULT_HOST_PATHS).map((p) => resolve(ctx.io.cwd, p)),
    containers: opts.container,
    host,
  });
  const bundle = opts.out
    ? await createBundle({
        outDir: resolve(ctx.io.cwd, opts.out),
        host: hostname(),
        command: `scan ${tools.map((t) => `--${t}`).join(" ")}`,
      })
    : undefined;
  const ac = new AbortController();
  const off = ctx.io.onInterrupt(() => ac.abort());
  let result: ScanResult;
  try {
    const cacheDir = defaultCacheDir(ctx.io.env);
    result = await runScan({
      targets: discovered.targets,
      tools,
      clamavDb: resolve(ctx.io.cwd, opts.clamavDb),
      env: ctx.io.env,
      ...(bundle ? { bundle } : {}),
      progress,
      cache: opts.cache ? (key) => openScanCache(cacheDir, key) : null,
      falsePositives: loadFalsePositives(),
      signal: ac.signal,
    });
    result = { ...result, gaps: [...discovered.gaps, ...result.gaps] };
    if (bundle) {
      await bundle.writeJson("findings.json", result.findings, { source: "breachkit" });
      await bundle.writeJson("scans/gaps.json", result.gaps, { source: "breachkit" });
      await bundle.seal(
        ac.signal.aborted ? { complete: false, reason: "interrupted" } : { complete: true },
      );
    }
  } catch (e) {
    if (bundle && !bundle.sealed)
      await bundle.seal({ complete: false, reason: String(e) }).catch(() => {});
    throw e;
  } finally {
    off();
  }
  if (opts.json) {
    ctx.io.write(
      `${JSON.stringify(
        {
          tools: result.reports.map((r) => ({
            tool: r.tool,
            status: r.status,
            summary: r.summary,
            durationMs: r.durationMs,
          })),
          findings: result.findings,
          gaps: result.gaps,
          bundle: bundle?.dir ?? null,
        },
        null,
        2,
      )}\n`,
    );
  } else {
    ctx.io.write(formatScan(result, colorsFor(ctx.io), bundle?.dir ?? null));
  }
  if (
    result.findings.some(
      (f) => f.falsePositive === null && severityRank(f.severity) >= severityRank(failOn),
    )
  ) {
    ctx.setExitCode(EXIT_FINDINGS);
  }
}
