import type { Command } from "commander";
import { type VerifyReport, verifyBundle } from "../../evidence/verify.js";
import { VERIFY_SCHEMA_VERSION, type VerifyOutput } from "../../model/verify-output.js";
import { createProgress, formatBytes } from "../../tell/progress.js";
import { safeText } from "../../tell/sanitize.js";
import { EXIT_FINDINGS } from "../../util/errors.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
import { type Colors, colorsFor } from "../io.js";
import { defineOptions, flag, withOptions } from "../options.js";

const EXIT_CODES = `  0  intact: every file is byte for byte what the manifest says, and SEAL matches it
  1  NOT intact: a file changed, went missing or was added, or SEAL does not match
  2  unreadable: not a bundle, manifest corrupt, archive corrupt or truncated`;

export const VERIFY_OPTIONS = defineOptions({
  json: flag(
    "--json",
    "print the report as JSON on stdout (schema: breachkit schema verify)",
    false,
  ),
});

/** The --json document (model: VerifyOutputSchema in model/verify-output.ts). */
export function verifyOutput(report: VerifyReport): VerifyOutput {
  return { schemaVersion: VERIFY_SCHEMA_VERSION, ...report };
}

export const registerVerify: RegisterCommand = (program: Command, ctx: CommandContext) => {
  const cmd = program
    .command("verify")
    .summary("prove an evidence bundle is unchanged since it was sealed")
    .description(
      `Recompute the SHA-256 of every file in an evidence bundle (a directory or its .tar.gz)
and compare with manifest.json, and manifest.json with SEAL. Every changed, missing or added
file is named. An archive is read as a stream and never extracted.

Also compare the manifest's SHA-256 (printed here) with the one printed when the bundle was
made: someone who rewrote files, manifest and SEAL together is caught only that way.
Read-only: writes nothing.`,
    )
    .argument("<bundle>", "bundle directory (breachkit-<host>-<time>/) or .tar.gz archive")
    .addHelpText(
      "after",
      helpFooter(
        [
          "breachkit verify breachkit-web01-20250101T120000Z/",
          "breachkit verify breachkit-web01-20250101T120000Z.tar.gz",
          "breachkit verify --json bundle.tar.gz | jq .changed",
        ],
        EXIT_CODES,
      ),
    );
  withOptions(cmd, VERIFY_OPTIONS, async ({ args, options: opts }) => {
    const bundle = args[0] ?? "";
    const progress = createProgress(ctx.io, opts.json === true);
    let done = 0;
    const report = await verifyBundle(bundle, {
      onBytes: (n) => {
        done += n;
        progress.update(`verifying: ${formatBytes(done)} hashed`);
      },
    }).finally(() => progress.done());
    if (opts.json) ctx.io.write(`${JSON.stringify(verifyOutput(report), null, 2)}\n`);
    else ctx.io.write(formatReport(report, colorsFor(ctx.io)));
    if (!report.intact) ctx.setExitCode(EXIT_FINDINGS);
  });
};

/** The terminal report; every string from the bundle is attacker-controlled, hence safeText. */
export function formatReport(r: VerifyReport, c: Colors): string {
  const lines: string[] = [];
  const t = (s: string) => safeText(s, 300);
  lines.push(
    r.intact
      ? `${c.bold(c.green("INTACT"))}  ${t(r.path)}`
      : `${c.bold(c.red("NOT INTACT"))}  ${t(r.path)}`,
  );
  for (const f of r.changed) {
    const detail =
      f.expected && f.actual
        ? ` (expected ${f.expected.size} bytes sha256 ${f.expected.sha256.slice(0, 16)}…, found ${f.actual.size} bytes sha256 ${f.actual.sha256.slice(0, 16)}…)`
        : "";
    lines.push(`  ${c.red("changed")}  ${t(f.path)}: ${t(f.problem)}${detail}`);
  }
  for (const p of r.missing) lines.push(`  ${c.red("missing")}  ${t(p)}`);
  for (const p of r.added) lines.push(`  ${c.red("added")}    ${t(p)}`);
  if (r.seal === "missing") {
    lines.push(
      `  ${c.red("SEAL is missing")}: nothing proves manifest.json is the one written at collection`,
    );
  } else if (r.seal === "mismatch") {
    lines.push(
      `  ${c.red("SEAL does not match manifest.json")}: manifest.json or SEAL was changed after sealing`,
    );
  }
  lines.push("");
  const sealed =
    r.seal === "ok"
      ? c.green("yes")
      : r.seal === "missing"
        ? c.red("no SEAL")
        : c.red("SEAL mismatch");
  lines.push(`  sealed     ${sealed}, manifest sha256 ${r.manifestSha256}`);
  if (r.archiveSha256) lines.push(`  archive    sha256 ${r.archiveSha256}`);
  lines.push(
    r.complete
      ? `  complete   ${c.green("yes")}`
      : `  complete   ${c.yellow("NO")}: ${t(r.incompleteReason ?? "no reason given")} (what was collected is listed and hashed)`,
  );
  lines.push(`  files      ${r.files} listed, ${formatBytes(r.bytes)}`);
  lines.push(`  host       ${t(r.host)}`);
  lines.push(`  tool       ${t(r.tool.name)} ${t(r.tool.version)}: ${t(r.command)}`);
  lines.push(`  collected  ${t(r.startedAt)} to ${t(r.endedAt)}`);
  if (!r.intact) {
    lines.push("");
    lines.push(
      "  This copy cannot be trusted as collected. Verify another copy (the archive, or the original) and keep both.",
    );
  }
  return `${lines.join("\n")}\n`;
}
