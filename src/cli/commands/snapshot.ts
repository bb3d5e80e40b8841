import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { takeSnapshot } from "../../observe/snapshot.js";
import { renderSnapshotSummary } from "../../tell/snapshot-summary.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import { type CommandContext, helpFooter, parsePositive } from "../command.js";

interface SnapshotFlags {
  json?: boolean;
  output?: string;
  interval?: number;
  root?: string;
}

export function registerSnapshot(program: Command, ctx: CommandContext): void {
  program
    .command("snapshot")
    .description(
      "every process, container, socket, account and login of this host, read-only, in one model",
    )
    .option("--json", "print the whole snapshot as JSON")
    .option("-o, --output <file>", "write the JSON snapshot to a file (and print the summary)")
    .option(
      "--interval <seconds>",
      "read counters twice, this far apart, for packet and CPU rates",
      parsePositive("--interval"),
    )
    .option("--root <dir>", "read accounts from a mounted filesystem (a dead server's disk)")
    .addHelpText(
      "after",
      helpFooter(
        [
          "breachkit snapshot                      # summary: containers, accounts, logins",
          "breachkit snapshot --interval 2         # with packets per second per container",
          "breachkit snapshot --json > snap.json   # the full model, for jq or a later triage",
          "breachkit snapshot --root /mnt/disk     # accounts of a mounted disk image",
          "BREACHKIT_TRACE=1 breachkit snapshot    # the time each step took, on stderr",
        ],
        "  0  snapshot taken\n  2  could not take it",
      ),
    )
    .action(async (flags: SnapshotFlags) => {
      const { io } = ctx;
      const progress = createProgress(io);
      // BREACHKIT_TRACE=1: each step with the time since the process started, on stderr.
      const trace = io.env.BREACHKIT_TRACE === "1";
      const { snapshot } = await takeSnapshot({
        env: io.env,
        root: flags.root === undefined ? undefined : resolve(io.cwd, flags.root),
        intervalSeconds: flags.interval ?? null,
        onStep: (s) =>
          trace
            ? io.error(`[${performance.now().toFixed(0)} ms] snapshot: ${s}\n`)
            : progress.update(`snapshot: ${s}…`),
      });
      progress.done();
      if (trace) io.error(`[${performance.now().toFixed(0)} ms] snapshot: taken\n`);
      const json = `${JSON.stringify(snapshot, null, 2)}\n`;
      if (flags.output) {
        const path = resolve(io.cwd, flags.output);
        try {
          await writeFile(path, json, { mode: 0o600 });
        } catch (e) {
          throw new BreachkitError(
            "IO",
            `cannot write ${path}: ${errorMessage(e)}`,
            "choose a writable path for -o",
          );
        }
        io.error(`snapshot written to ${path}\n`);
      }
      if (flags.json) io.write(json);
      else io.write(renderSnapshotSummary(snapshot, colorsFor(io)));
    });
}
