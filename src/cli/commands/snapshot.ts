import { stat } from "node:fs/promises";
import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import { createBundle } from "../../evidence/bundle.js";
import type { Snapshot } from "../../model/snapshot.js";
import { takeSnapshot } from "../../observe/snapshot.js";
import { renderSnapshotSummary } from "../../tell/snapshot-summary.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { redactSnapshot } from "../../util/redact.js";
import { errorMessage } from "../../util/result.js";
import { safeText } from "../../util/sanitize.js";
import { type CommandContext, helpFooter } from "../command.js";
import {
  DEFAULT_INTERVAL_SECONDS,
  defineOptions,
  flag,
  parsePositive,
  text,
  type ValueSpec,
  withOptions,
} from "../options.js";

export const SNAPSHOT_OPTIONS = defineOptions({
  json: flag(
    "--json",
    "print the whole snapshot as JSON (schema: breachkit schema snapshot)",
    false,
  ),
  out: text(
    "--out <dir>",
    "also write it as a sealed bundle breachkit-<host>-<UTC time>/ in this directory: snapshot.json, manifest.json, SEAL, collection.log.jsonl",
  ),
  interval: {
    kind: "value",
    flags: "--interval [seconds]",
    description: `read counters twice, this far apart, for packet and CPU rates (alone: ${DEFAULT_INTERVAL_SECONDS} s; without it, no rates)`,
    parse: parsePositive("--interval"),
    default: undefined,
    preset: String(DEFAULT_INTERVAL_SECONDS),
  } satisfies ValueSpec<number, false>,
  root: text("--root <dir>", "read accounts from a mounted filesystem (a dead server's disk)"),
  redact: flag(
    "--no-redact",
    "show and write secrets raw: command-line passwords and tokens, secret-looking container labels (redacted by default, on stdout too)",
  ),
});

export function registerSnapshot(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command("snapshot")
    .description(
      "every process, container, socket, account and login of this host, read-only, in one model",
    )
    .addHelpText(
      "after",
      `\nPaths written: only with --out DIR, the bundle directory in DIR. Nothing else.\n${helpFooter(
        [
          "breachkit snapshot                      # summary: containers, accounts, logins",
          "breachkit snapshot --interval           # with packets per second per container (1 s)",
          "breachkit snapshot --json > snap.json   # the full model, for jq or a later triage",
          "breachkit snapshot --out /root/evidence # also a sealed bundle holding snapshot.json",
          "breachkit snapshot --root /mnt/disk     # accounts of a mounted disk image",
          "BREACHKIT_TRACE=1 breachkit snapshot    # the time each step took, on stderr",
        ],
        "  0  snapshot taken\n  2  could not take it (or could not write the bundle under --out)",
      )}`,
    );
  withOptions(cmd, SNAPSHOT_OPTIONS, async ({ options: flags, commandLine }) => {
    const { io } = ctx;
    const progress = createProgress(io);
    // BREACHKIT_TRACE=1: each step with the time since the process started, on stderr.
    const trace = io.env.BREACHKIT_TRACE === "1";
    const root =
      flags.root === undefined ? undefined : await checkRoot(resolve(io.cwd, flags.root));
    const { snapshot } = await takeSnapshot({
      env: io.env,
      root,
      intervalSeconds: flags.interval ?? null,
      onStep: (s) =>
        trace
          ? io.error(`[${performance.now().toFixed(0)} ms] snapshot: ${s}\n`)
          : progress.update(`snapshot: ${s}…`),
    });
    progress.done();
    if (trace) io.error(`[${performance.now().toFixed(0)} ms] snapshot: taken\n`);
    // One policy for what leaves the host, on stdout too (a snapshot is piped to files and
    // pasted into tickets): secrets redacted unless --no-redact (see util/redact.ts).
    const shown = redactSnapshot(snapshot, flags.redact);
    const json = `${JSON.stringify(shown, null, 2)}\n`;
    if (flags.out !== undefined) {
      const dir = await writeSnapshotBundle(shown, resolve(io.cwd, flags.out), commandLine);
      io.error(`snapshot written to ${safeText(dir)}/snapshot.json (sealed bundle)\n`);
    }
    if (flags.json) io.write(json);
    else io.write(renderSnapshotSummary(shown, colorsFor(io)));
  });
}

/**
 * `--root` names a mounted disk: a typo must not give a snapshot with no accounts and exit 0,
 * which reads as "no accounts to worry about".
 */
async function checkRoot(root: string): Promise<string> {
  const st = await stat(root).catch((e: unknown) => {
    throw new BreachkitError(
      "USAGE",
      `--root ${safeText(root, 300)}: ${errorMessage(e).includes("ENOENT") ? "no such directory" : safeText(errorMessage(e), 300)}`,
      "give the directory where the disk is mounted, e.g. mount -o ro /dev/sdb1 /mnt/disk; breachkit snapshot --root /mnt/disk",
    );
  });
  if (!st.isDirectory()) {
    throw new BreachkitError(
      "USAGE",
      `--root ${safeText(root, 300)}: not a directory`,
      "give the directory where the disk is mounted (mount an image first: mount -o ro,loop disk.img /mnt/disk)",
    );
  }
  return root;
}

/**
 * `snapshot --out DIR`: the snapshot as a small sealed bundle (snapshot.json with the manifest,
 * SEAL and the log), so a snapshot kept for later (a baseline, say) is verifiable like any
 * evidence; `triage --baseline` takes the bundle directory.
 */
async function writeSnapshotBundle(
  snapshot: Snapshot,
  outDir: string,
  command: string,
): Promise<string> {
  const bundle = await createBundle({
    outDir,
    host: snapshot.host.hostname || hostname(),
    command,
  });
  try {
    await bundle.writeJson("snapshot.json", snapshot, { source: "breachkit snapshot" });
    await bundle.seal({ complete: true });
  } catch (e) {
    if (!bundle.sealed)
      await bundle.seal({ complete: false, reason: errorMessage(e) }).catch(() => {});
    throw new BreachkitError(
      "IO",
      `cannot write the snapshot bundle in ${outDir}: ${errorMessage(e)}`,
      "choose a writable directory for --out",
    );
  }
  return bundle.dir;
}
