/**
 * `breachkit report BUNDLE... [--watch FILE] [--out DIR] [--format ...] [--lang en|it]`: the
 * incident told to the people who need it. Verifies every bundle first (a bundle that does not
 * verify is reported as such in every output, never silently used), builds one incident model
 * (judge/report), and writes HTML, Markdown, the timeline (Timesketch JSONL and CSV), the
 * abuse-desk statement and the incident record (JSON and Markdown) into a new directory.
 */
import { constants } from "node:fs";
import { mkdir, open, realpath } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { bundleTimestamp } from "../../evidence/bundle.js";
import { buildIncident } from "../../judge/report/incident.js";
import type { BundleInput, FleetCaseInput, WatchInput } from "../../judge/report/input.js";
import {
  REPORT_FORMATS,
  REPORT_SCHEMA_VERSION,
  type ReportFormat,
  type ReportOutput,
} from "../../model/report-model.js";
import { htmlChunks } from "../../tell/report/html.js";
import { renderMarkdown } from "../../tell/report/markdown.js";
import { LANGS } from "../../tell/report/messages/index.js";
import { buildRecord, renderRecordJson, renderRecordMarkdown } from "../../tell/report/record.js";
import { renderStatement } from "../../tell/report/statement.js";
import { show } from "../../tell/report/text.js";
import { csvChunks, timesketchChunks } from "../../tell/report/timeline-files.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_FINDINGS } from "../../util/errors.js";
import { createProgress, formatBytes } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import { TOOL } from "../../version.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
import { choice, custom, defineOptions, flag, repeatable, text, withOptions } from "../options.js";
import { loadBundle, loadCase, loadWatch } from "../report-load.js";

const EXIT_CODES = `  0  the report was written and every bundle verifies
  1  the report was written, but a bundle does NOT verify (it is marked in every output)
  2  nothing written: not a bundle, unreadable input, or --out exists with report files`;

function parseFormats(raw: string): ReportFormat[] {
  const parts = raw
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = parts.filter((p) => !(REPORT_FORMATS as readonly string[]).includes(p));
  if (parts.length === 0 || bad.length > 0) {
    throw new InvalidArgumentError(
      `--format takes a comma-separated list of ${REPORT_FORMATS.join(", ")}; got "${raw}"`,
    );
  }
  return [...new Set(parts)] as ReportFormat[];
}

export const REPORT_OPTIONS = defineOptions({
  out: text(
    "--out <dir>",
    "directory the report files are written to (made if missing; default: breachkit-report-<UTC time> here)",
  ),
  format: custom(
    "--format <list>",
    `what to write, comma-separated: ${REPORT_FORMATS.join(",")} (default: all)`,
    parseFormats,
    { format: (v) => v.join(",") },
  ),
  lang: choice("--lang <lang>", "language of the statement", LANGS, "en"),
  watch: repeatable(
    "--watch <file>",
    "a watch recording (watch --record FILE) to plot and time (repeatable)",
  ),
  json: flag("--json", "print what was written as JSON (schema: breachkit schema report)", false),
});

/** Write a new file (never over an existing one, never through a symlink), mode 0600. */
async function writeNew(path: string, chunks: Iterable<string>): Promise<number> {
  const fh = await open(
    path,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  );
  try {
    let n = 0;
    for (const chunk of chunks) {
      const buf = Buffer.from(chunk, "utf8");
      await fh.write(buf);
      n += buf.length;
    }
    return n;
  } finally {
    await fh.close();
  }
}

async function realOrSelf(p: string): Promise<string> {
  return realpath(p).catch(() => p);
}

export const registerReport: RegisterCommand = (program: Command, ctx: CommandContext) => {
  const cmd = program
    .command("report")
    .summary("the incident as HTML, Markdown, a timeline, an abuse statement and a record")
    .description(
      `Read one or more bundles of the same incident (made by triage, collect, contain, scan,
audit) and tell the incident to the people who need it. Each bundle is verified first, as
breachkit verify does; one that does not verify is used but marked as such in every output.
Writes, into --out:

  report.html     one self-contained page, no network (its CSP forbids
                  every external load): verdict, summary, containment proof,
                  findings by place, traffic plot, accounts and logins,
                  a filterable timeline, audit, integrity
  report.md       the same, for a ticket or an email
  timeline.jsonl  Timesketch (message, datetime, timestamp_desc, place, pid,
                  sha256, bundle file and line); timeline.csv the same
  statement.txt   for the hoster's abuse desk: attack traffic first/last
                  seen, rate, destinations, the process and its hash, entry
                  point, containment and proof, fixes, SEALs (--lang en|it)
  record.json     the incident record (NIST SP 800-61 sections), and
                  record.md to read

The verdict tells COMPROMISED places (a direct sign) from places AT RISK (a misconfiguration
alone, such as the Docker socket mounted). Read-only on the bundles: nothing is written inside
them.

Given a fleet case directory (breachkit fleet --out CASE_DIR), it reads every host's bundle
in it (each verified), tells each host's places apart ("web01 / host", "web01 / app"), adds a
section per host (its state in case.json, its bundle, its findings), and computes the fleet
rule (the same flagged executable on several hosts) again from the verified bundles. The
report goes into CASE_DIR/report-<UTC time>/ unless --out says otherwise.`,
    )
    .argument(
      "<bundle...>",
      "bundle directories (breachkit-<host>-<time>/) of the same incident, or one fleet case directory",
    )
    .addHelpText(
      "after",
      `\nPaths written: the files above in --out (refused inside a bundle; an existing report file
there is never overwritten).\n${helpFooter(
        [
          "breachkit report breachkit-web01-20261202T090000Z breachkit-web01-20261202T091500Z",
          "breachkit report ./case/breachkit-* --watch watch.ndjson --out ./case/report",
          "breachkit report BUNDLE --format statement --lang it --out ./per-hetzner",
          "breachkit report BUNDLE --json | jq .files",
          "breachkit report ./case-2026-03   # a fleet case: one report, a section per host",
        ],
        EXIT_CODES,
      )}`,
    );
  withOptions(cmd, REPORT_OPTIONS, async ({ args, options }) => {
    const { io } = ctx;
    const started = Date.now();
    const formats = options.format ?? [...REPORT_FORMATS];
    const progress = createProgress(io, options.json === true);
    const bundles: BundleInput[] = [];
    let fleet: FleetCaseInput | undefined;
    try {
      for (const [i, b] of args.entries()) {
        // A fleet case directory (fleet --out): every host's bundle in it.
        const c = await loadCase(b, io.cwd);
        if (c !== null) {
          if (fleet !== undefined || args.length > 1) {
            throw new BreachkitError(
              "USAGE",
              `${show(b, 300)} is a fleet case: report reads one case at a time, alone`,
              "give the case directory alone (breachkit report CASE_DIR), or the bundles one by one",
            );
          }
          fleet = c.fleet;
          for (const [j, h] of c.bundles.entries()) {
            progress.update(
              `report: verifying and reading host ${j + 1}/${c.bundles.length} of the case…`,
            );
            try {
              const loaded = await loadBundle(h.path, io.cwd);
              bundles.push({ ...loaded, name: h.name, fleetHost: h.host });
            } catch (e) {
              // One host's unreadable bundle is a gap of the case, not the end of the report.
              fleet.gaps.push(
                `host ${h.host}: its bundle ${h.name} cannot be read (${e instanceof BreachkitError ? e.message : errorMessage(e)})`,
              );
            }
          }
          continue;
        }
        progress.update(`report: verifying and reading bundle ${i + 1}/${args.length}…`);
        bundles.push(await loadBundle(b, io.cwd));
      }
      const watches: WatchInput[] = [];
      for (const w of options.watch) watches.push(await loadWatch(w, io.cwd));

      const now = new Date();
      const outDir = resolve(
        io.cwd,
        options.out ??
          (fleet
            ? join(fleet.case, `report-${bundleTimestamp(now)}`)
            : `breachkit-report-${bundleTimestamp(now)}`),
      );
      const realOut = await realOrSelf(outDir);
      for (const b of bundles) {
        const real = await realOrSelf(b.path);
        if (realOut === real || realOut.startsWith(real + sep)) {
          throw new BreachkitError(
            "USAGE",
            `refusing to write the report inside the bundle ${show(b.path, 300)}: it would no longer verify`,
            "choose another --out, beside the bundles",
          );
        }
      }
      progress.update("report: building the incident…");
      const incident = buildIncident(bundles, watches, {
        generatedAt: now,
        tool: TOOL,
        ...(fleet ? { fleet } : {}),
      });
      // The incident holds what the outputs need: let the bundles' parsed files go.
      bundles.length = 0;
      const outputs: { format: ReportFormat; name: string; text: () => Iterable<string> }[] = [];
      for (const f of formats) {
        if (f === "html")
          outputs.push({ format: f, name: "report.html", text: () => htmlChunks(incident) });
        if (f === "md")
          outputs.push({ format: f, name: "report.md", text: () => [renderMarkdown(incident)] });
        if (f === "timeline") {
          outputs.push({
            format: f,
            name: "timeline.jsonl",
            text: () => timesketchChunks(incident.timeline),
          });
          outputs.push({
            format: f,
            name: "timeline.csv",
            text: () => csvChunks(incident.timeline),
          });
        }
        if (f === "statement")
          outputs.push({
            format: f,
            name: "statement.txt",
            text: () => [renderStatement(incident, options.lang)],
          });
        if (f === "record") {
          const record = buildRecord(incident);
          outputs.push({ format: f, name: "record.json", text: () => [renderRecordJson(record)] });
          outputs.push({
            format: f,
            name: "record.md",
            text: () => [renderRecordMarkdown(record)],
          });
        }
      }
      try {
        await mkdir(outDir, { recursive: true, mode: 0o700 });
      } catch (e) {
        throw new BreachkitError(
          "IO",
          `cannot create ${show(outDir, 300)}: ${show(errorMessage(e), 300)}`,
          "choose a writable --out",
        );
      }
      const written: ReportOutput["files"] = [];
      for (const o of outputs) {
        progress.update(`report: writing ${o.name}…`);
        const path = join(outDir, o.name);
        try {
          written.push({ format: o.format, path, bytes: await writeNew(path, o.text()) });
        } catch (e) {
          const exists = (e as NodeJS.ErrnoException).code === "EEXIST";
          throw new BreachkitError(
            "IO",
            `cannot write ${show(path, 300)}: ${exists ? "it already exists (a report is never overwritten)" : show(errorMessage(e), 300)}${written.length ? `; written so far: ${written.map((w) => relative(io.cwd, w.path)).join(", ")}` : ""}`,
            exists
              ? "give another --out (or move the old report away)"
              : "free space or choose another --out",
          );
        }
      }
      progress.done();
      const out: ReportOutput = {
        schemaVersion: REPORT_SCHEMA_VERSION,
        outDir,
        files: written,
        verdict: incident.verdict.headline,
        level: incident.verdict.level,
        bundles: incident.bundles,
        verified: incident.verified,
        events: incident.timeline.length,
        gaps: incident.gaps,
        durationMs: Date.now() - started,
        fleet: incident.fleet,
      };
      if (options.json) io.write(`${JSON.stringify(out, null, 2)}\n`);
      else {
        const c = colorsFor(io);
        const lines: string[] = [];
        for (const h of incident.fleet?.hosts ?? []) {
          lines.push(
            `${show(h.name, 120)}: ${h.state === "ok" ? c.green("ok") : c.yellow(show(h.state, 40))}${h.bundle === null ? ", no bundle" : h.verified ? `, bundle verified, ${h.findings} findings${h.worst ? ` (worst ${h.worst})` : ""}` : c.red(", bundle DOES NOT VERIFY")}`,
          );
        }
        for (const b of incident.bundles) {
          lines.push(
            b.verified
              ? `${c.green("verified")} ${show(b.name, 200)}  SEAL ${b.seal ?? "missing"}`
              : c.red(
                  c.bold(
                    `DOES NOT VERIFY ${show(b.name, 200)}: ${show(b.problem ?? "", 300)} (used, and marked in every output)`,
                  ),
                ),
          );
        }
        const head = show(incident.verdict.headline, 600);
        lines.push(
          incident.verdict.level === "compromised"
            ? c.bold(c.red(head))
            : incident.verdict.level === "clean"
              ? c.green(head)
              : c.bold(c.yellow(head)),
        );
        lines.push(
          `${incident.timeline.length} timeline events, ${incident.findings.length} findings; written to ${show(outDir, 300)}:`,
        );
        for (const w of written)
          lines.push(`  ${w.path.slice(outDir.length + 1)}  ${formatBytes(w.bytes)}`);
        if (incident.gaps.length > 0)
          lines.push(
            c.yellow(
              `${incident.gaps.length} gap(s) noted in the report, e.g. ${show(incident.gaps[0]!, 300)}`,
            ),
          );
        io.write(`${lines.join("\n")}\n`);
      }
      if (!incident.verified) ctx.setExitCode(EXIT_FINDINGS);
    } finally {
      progress.done();
    }
  });
};
