import type { Command } from "commander";
import { type VerifyReport, verifyBundle } from "../../evidence/verify.js";
import { VERIFY_SCHEMA_VERSION, type VerifyOutput } from "../../model/verify-output.js";
import { formatVerifyReport } from "../../tell/format-verify-report.js";
import { colorsFor } from "../../util/colors.js";
import { EXIT_FINDINGS } from "../../util/errors.js";
import { createProgress, formatBytes } from "../../util/progress.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
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
    else ctx.io.write(formatVerifyReport(report, colorsFor(ctx.io)));
    if (!report.intact) ctx.setExitCode(EXIT_FINDINGS);
  });
};
