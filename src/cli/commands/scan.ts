import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import { createBundle } from "../../evidence/bundle.js";
import { loadFalsePositives } from "../../judge/scanners/false-positives.js";
import type { ScanResult } from "../../judge/scanners/index.js";
import { SEVERITIES, type Severity, severityRank } from "../../model/finding.js";
import { SCAN_SCHEMA_VERSION, type ScanOutput } from "../../model/scan-output.js";
import { DEFAULT_HOST_PATHS } from "../../observe/scanners/clamav.js";
import { discoverTargets } from "../../observe/scanners/discover.js";
import {
  CACHE_FILE,
  DEFAULT_SCAN_CACHE_DIR,
  openScanCache,
} from "../../observe/scanners/scan-cache.js";
import { DEFAULT_TOOLS, TOOL_NAMES, type ToolName } from "../../observe/scanners/types.js";
import { formatScan } from "../../tell/format-scan.js";
import { colorsFor } from "../../util/colors.js";
import { EXIT_ERROR, EXIT_FINDINGS } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
import {
  choice,
  custom,
  defineOptions,
  flag,
  type OptionValues,
  offable,
  parseNameList,
  repeatable,
  text,
  withOptions,
} from "../options.js";
import { runScan } from "../run-scan.js";

/** Where scan writes, besides --out: named in --help and the README. */
const PATHS_WRITTEN = `Paths written:
  --out DIR       a sealed evidence bundle breachkit-<host>-<UTC time>/ (only with --out)
  --cache DIR     ${CACHE_FILE}: device, inode, size and times of files found clean
                  (default ${DEFAULT_SCAN_CACHE_DIR}; --no-cache writes nothing there)
  $TMPDIR (/tmp)  per run, removed at its end: breachkit-rkhunter-*/ (copy of rkhunter's
                  database, its log), breachkit-lynis-*/ (profile, log, report),
                  breachkit-clamscan-*/ (file list), breachkit-yara-*/ (file list),
                  breachkit-clamd-*/ (the clamd started
                  for the run: clamd.conf, clamd.sock, clamd.pid, clamd.log; stopped by pid)
  Nothing under /var/lib/rkhunter, /var/log or the package lists is changed.`;

const EXIT_CODES = `  0  ran; no finding at or above --fail-on
  1  findings at or above --fail-on
  2  no requested tool ran to the end (every one missing, timed out or failed), or usage`;

export const SCAN_OPTIONS = defineOptions({
  packages: flag(
    "--packages",
    "package integrity: every dpkg/apk file of the host and each running container against its package's checksum",
  ),
  clamav: flag("--clamav", "ClamAV (clamd, started for the run if none runs with this database)"),
  rkhunter: flag("--rkhunter", "rkhunter --check, on a copy of its database"),
  chkrootkit: flag("--chkrootkit", "chkrootkit on the host and each running container"),
  lynis: flag("--lynis", "Lynis audit system (about a minute)"),
  all: flag("--all", "packages, ClamAV, rkhunter, chkrootkit and Lynis (the default)"),
  yara: text("--yara <rules>", "run these YARA rules (a .yar file) over the files ClamAV scans"),
  allFiles: flag(
    "--all-files",
    "ClamAV and YARA scan files verified unchanged against their package too (skipped by default)",
  ),
  container: repeatable(
    "--container <name>",
    "only this container (repeatable); no host paths unless --host-paths",
  ),
  hostPaths: repeatable(
    "--host-paths <path...>",
    `host paths for ClamAV (default: ${DEFAULT_HOST_PATHS.join(" ")})`,
  ),
  clamavDb: text(
    "--clamav-db <dir>",
    "ClamAV signature directory (.cvd/.hdb/.ndb/.ldb/.yar)",
    "/var/lib/clamav",
  ),
  rkhunterTests: custom(
    "--rkhunter-tests <groups>",
    "only these rkhunter tests or groups, comma-separated (rkhunter --enable; list them with rkhunter --list tests); default: the full check",
    parseNameList("--rkhunter-tests"),
    { format: (v) => v.join(",") },
  ),
  chkrootkitTests: custom(
    "--chkrootkit-tests <names>",
    "only these chkrootkit tests, comma-separated (chkrootkit -l); default: all",
    parseNameList("--chkrootkit-tests"),
    { format: (v) => v.join(",") },
  ),
  lynisGroups: custom(
    "--lynis-groups <groups>",
    "only these Lynis test groups, comma-separated (lynis --tests-from-group); default: the whole audit",
    parseNameList("--lynis-groups"),
    { format: (v) => v.join(",") },
  ),
  out: text("--out <dir>", "write an evidence bundle (raw outputs, parsed results, findings) here"),
  cache: offable(
    "--cache <dir>",
    `keep ClamAV's clean-file cache (${CACHE_FILE}) here: files unchanged since a clean scan are skipped`,
    DEFAULT_SCAN_CACHE_DIR,
    "scan every file again; neither read nor write the cache",
  ),
  json: flag("--json", "print the result as JSON on stdout (schema: breachkit schema scan)", false),
  failOn: choice("--fail-on <severity>", "exit 1 on findings at or above", SEVERITIES, "high"),
});

type ScanOptions = OptionValues<typeof SCAN_OPTIONS>;

export const registerScan: RegisterCommand = (program: Command, ctx: CommandContext) => {
  const cmd = program
    .command("scan")
    .summary(
      "verify package files, run ClamAV, rkhunter, chkrootkit, Lynis (and YARA) over the host and every container",
    )
    .description(
      `Run the scanners for real and turn what they say into findings, with the raw output kept.
The package check (--packages) hashes every file dpkg or apk installed on the host and in
each running container, from the host, and reports changed and missing files with the
package and both checksums (the same answers as debsums -s), and executables in bin
directories that no package owns. Files it verified unchanged are skipped by ClamAV and
YARA (counted, and named in scans/clamav/skipped-verified.txt) unless --all-files; temp
dirs, mail spools, web roots and homes are always scanned, and so is a container's
writable layer. ClamAV scans the host paths where droppers and service data live, every container's
filesystem as the host sees it (hits name the container and the path inside it), and the
executable of every running process (a deleted binary included). Mail spools are grouped
per mailbox and never modified. rkhunter runs on a copy of its database; chkrootkit runs on
the host and on each running container's root; Lynis runs without refreshing package lists.
chkrootkit's INFECTED verdicts on busybox applets (the same inode or hash as the root's own
busybox, not changed in the writable layer) are marked as known false positives. --yara
RULES runs YARA over the same files. No tool flag: packages, ClamAV, rkhunter, chkrootkit,
Lynis. A missing tool is reported with the package to install. An output
cut at its size bound, or a tool stopped by its time limit, is reported as incomplete.`,
    )
    .addHelpText(
      "after",
      `\n${PATHS_WRITTEN}\n${helpFooter(
        [
          "breachkit scan --packages --container bk-lab-gitlab",
          "breachkit scan --clamav --host-paths / --clamav-db /srv/clamav-db",
          "breachkit scan --yara /root/rules/wate.yar",
          "breachkit scan --clamav --all-files --container web",
          "breachkit scan --clamav --container bk-lab-mail --out /root/evidence",
          "breachkit scan --rkhunter --rkhunter-tests system_configs_ssh,group_accounts",
          "breachkit scan --clamav --cache /root/breachkit-cache",
          "breachkit scan --rkhunter --chkrootkit --json | jq '.findings[].title'",
        ],
        EXIT_CODES,
      )}`,
    );
  withOptions(cmd, SCAN_OPTIONS, async ({ options, commandLine }) => {
    await scanAction(options, commandLine, ctx);
  });
};

/** The --json document of scan (model: ScanOutputSchema in model/scan-output.ts). */
export function scanOutput(result: ScanResult, bundleDir: string | null): ScanOutput {
  return {
    schemaVersion: SCAN_SCHEMA_VERSION,
    tools: result.reports.map((r) => ({
      tool: r.tool,
      status: r.status,
      summary: r.summary,
      durationMs: r.durationMs,
      // A tool stopped by its time limit said only part of its answer, whatever it flagged.
      incomplete: r.incomplete === true || r.status === "timeout",
    })),
    ranToEnd: result.reports.some(ranToEnd),
    findings: result.findings,
    gaps: result.gaps,
    bundle: bundleDir,
  };
}

/** A tool ran to the end when it finished and said everything it had to say. */
function ranToEnd(r: ScanResult["reports"][number]): boolean {
  return r.status === "ok" && r.implicit !== true;
}

async function scanAction(
  opts: ScanOptions,
  commandLine: string,
  ctx: CommandContext,
): Promise<void> {
  const failOn: Severity = opts.failOn;
  const picked = TOOL_NAMES.filter((t) => (t === "yara" ? opts.yara !== undefined : opts[t]));
  const tools: ToolName[] =
    opts.all || picked.length === 0
      ? [...DEFAULT_TOOLS, ...(opts.yara !== undefined ? (["yara"] as const) : [])]
      : picked;
  const progress = createProgress(ctx.io, false);
  const host = opts.container.length === 0 || opts.hostPaths.length > 0;
  const discovered = await discoverTargets({
    env: ctx.io.env,
    selfPid: ctx.io.pid,
    hostPaths: (opts.hostPaths.length > 0 ? opts.hostPaths : DEFAULT_HOST_PATHS).map((p) =>
      resolve(ctx.io.cwd, p),
    ),
    containers: opts.container,
    host,
  });
  const bundle = opts.out
    ? await createBundle({
        outDir: resolve(ctx.io.cwd, opts.out),
        host: hostname(),
        command: commandLine,
      })
    : undefined;
  const ac = new AbortController();
  const off = ctx.io.onInterrupt(() => ac.abort());
  let result: ScanResult;
  try {
    const cacheDir = opts.cache === false ? null : resolve(ctx.io.cwd, opts.cache);
    result = await runScan({
      targets: discovered.targets,
      tools,
      clamavDb: resolve(ctx.io.cwd, opts.clamavDb),
      env: ctx.io.env,
      ...(bundle ? { bundle } : {}),
      progress,
      cache: cacheDir === null ? null : (key) => openScanCache(cacheDir, key),
      falsePositives: loadFalsePositives(),
      allFiles: opts.allFiles,
      ...(opts.yara !== undefined ? { yaraRules: resolve(ctx.io.cwd, opts.yara) } : {}),
      tests: {
        ...(opts.rkhunterTests ? { rkhunter: opts.rkhunterTests } : {}),
        ...(opts.chkrootkitTests ? { chkrootkit: opts.chkrootkitTests } : {}),
        ...(opts.lynisGroups ? { lynis: opts.lynisGroups } : {}),
      },
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
    ctx.io.write(`${JSON.stringify(scanOutput(result, bundle?.dir ?? null), null, 2)}\n`);
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
  // Nothing ran to the end: the findings (if any) are not an answer, and exit 0 would say "clean".
  if (!result.reports.some(ranToEnd)) {
    ctx.io.error(
      `scan: no requested tool ran to the end (${
        result.reports
          .filter((r) => r.implicit !== true)
          .map((r) => `${r.tool} ${r.status}`)
          .join(", ") || "none ran"
      })\n`,
    );
    ctx.setExitCode(EXIT_ERROR);
  }
}
