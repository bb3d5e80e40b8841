import { hostname } from "node:os";
import { posix } from "node:path";
import type { Command } from "commander";
import { createVolume, hoist, prepareDir, resticRestore } from "../../act/backup/restore.js";
import { judgeRestore } from "../../judge/backup/restore-safety.js";
import { parseTime, selectSnapshot } from "../../judge/backup/select.js";
import { loadIocs } from "../../judge/ioc/load-iocs.js";
import { RESTORE_SCHEMA_VERSION, type RestoreOutput } from "../../model/backup-output.js";
import { clamscanDir } from "../../observe/restic/clamscan.js";
import { hashRestored } from "../../observe/restic/files.js";
import { readIncident } from "../../observe/restic/incident.js";
import { BREACHKIT_TAG, tagOf, tagValue } from "../../observe/restic/parse.js";
import { BackupEngine } from "../../observe/restic/targets.js";
import { formatRestore } from "../../tell/format-backup.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_FINDINGS } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { safeText } from "../../util/sanitize.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
import {
  defineOptions,
  flag,
  type OptionValues,
  positive,
  repeatable,
  text,
  withOptions,
} from "../options.js";
import { interruptible, REPO_OPTIONS, setupRepo } from "./backup.js";

const RESTORE_OPTIONS = defineOptions({
  ...REPO_OPTIONS,
  before: text(
    "--before <time>",
    "the newest snapshot strictly before this time (ISO 8601, a date, or 3d/12h ago)",
  ),
  beforeIncident: text(
    "--before-incident <bundle>",
    "the newest snapshot before the earliest evidence time of this bundle; its findings' hashes are IOCs",
  ),
  snapshot: text("--snapshot <id>", "this snapshot (id or a prefix of 4+ hex digits)"),
  to: text(
    "--to <dir>",
    "restore into this new (or empty) directory; the snapshot's paths appear below it",
  ),
  volume: text("--volume <name>", "restore into a new Docker volume of this name"),
  path: text(
    "--path <source>",
    "with --volume: which of the snapshot's paths (when it holds several)",
  ),
  ioc: repeatable(
    "--ioc <file-or-sha256>",
    "more IOC hashes: an IOC file or a sha256 (repeatable)",
  ),
  clamavDb: text("--clamav-db <dir>", "ClamAV signature directory", "/var/lib/clamav"),
  clamav: flag(
    "--no-clamav",
    "do not run ClamAV over the restored files (the verdict then rests on the IOC hashes alone, and says so)",
  ),
  timeout: positive(
    "--timeout <seconds>",
    "restic restore and clamscan are stopped after this long",
    6 * 3600,
  ),
  json: flag(
    "--json",
    "print the result as JSON on stdout (schema: breachkit schema restore)",
    false,
  ),
});

export const registerRestore: RegisterCommand = (program: Command, ctx: CommandContext) => {
  const cmd = program
    .command("restore")
    .summary("restore a container's data from before the incident, and check it")
    .description(
      `Restore a container's backed-up data (breachkit backup) into a new place, never over live
data: --to DIR (a new or empty directory outside every live path; restic keeps the snapshot's
absolute paths below it) or --volume NAME (a new Docker volume, created here).

Which snapshot: --snapshot ID, or the newest strictly before --before TIME, or before the
earliest evidence time of an incident bundle (--before-incident: the bundle's start, or the
start of a process a finding names), or else the newest.

Before the data is handed over it is checked: ClamAV (clamscan) over the restored files, and
the SHA-256 of every restored file (executables included) against the incident's IOC hashes
(the hashes the bundle's findings name, and --ioc). A hit, or a check that could not run, marks
the restore UNSAFE.

Changes on the host: the target directory or volume, and what restic writes into it.`,
    )
    .argument("<container>", "the container's name, as tagged in the snapshots")
    .addHelpText(
      "after",
      helpFooter(
        [
          "breachkit restore gitlab --before 2025-01-01T08:00:00Z --to /srv/restore/gitlab",
          "breachkit restore gitlab --before-incident /root/evidence/breachkit-web01-20250101T120000Z --volume gitlab-data-clean",
          "breachkit restore wordpress --snapshot 3f2a9c1e --to /srv/restore/wp --json",
        ],
        `  0  restored, and SAFE: no ClamAV hit, no IOC hash
  1  restored, but UNSAFE: a hit (or a check could not run); see the reasons
  2  could not restore: no such snapshot, the target holds data, repository or restic errors`,
      ),
    );
  withOptions(cmd, RESTORE_OPTIONS, async ({ args, options }) =>
    restoreAction(args[0] ?? "", options, ctx),
  );
};

async function restoreAction(
  container: string,
  opts: OptionValues<typeof RESTORE_OPTIONS>,
  ctx: CommandContext,
): Promise<void> {
  const started = Date.now();
  const env = ctx.io.env;
  const chosen = [opts.before, opts.beforeIncident, opts.snapshot].filter((x) => x !== undefined);
  if (chosen.length > 1)
    throw new BreachkitError("USAGE", "give one of --before, --before-incident, --snapshot");
  if ((opts.to === undefined) === (opts.volume === undefined))
    throw new BreachkitError(
      "USAGE",
      "give --to DIR or --volume NAME (one of them)",
      "a restore never writes over live data: name a new place",
    );
  const now = new Date();
  let before: Date | undefined;
  if (opts.before !== undefined) {
    const t = parseTime(opts.before, now);
    if (!t)
      throw new BreachkitError(
        "USAGE",
        `--before ${safeText(opts.before, 80)}: not a time`,
        "e.g. 2025-01-01T08:00:00Z, 2025-01-01, or 3d",
      );
    before = t;
  }
  const iocs = new Map<string, string>();
  if (opts.beforeIncident !== undefined) {
    const incident = await readIncident(posix.resolve(ctx.io.cwd, opts.beforeIncident));
    before = incident.earliest;
    for (const [h, o] of incident.hashes) iocs.set(h, o);
  }
  if (opts.ioc.length > 0) {
    const set = await loadIocs(opts.ioc, ctx.io.cwd);
    for (const [h, e] of set.sha256) iocs.set(h, e.origin);
  }
  const json = opts.json === true;
  const progress = createProgress(ctx.io, json);
  const setup = await setupRepo(opts, env, ctx.io.cwd);
  const host = tagValue(hostname());
  const all = await setup.reader.snapshots([BREACHKIT_TAG, `container=${tagValue(container)}`]);
  const mine = all.filter((s) => (tagOf(s.tags, "host") ?? s.hostname) === host);
  const pool = mine.length > 0 ? mine : all;
  const sel = selectSnapshot(pool, { snapshot: opts.snapshot, before });
  if (!sel.ok)
    throw new BreachkitError(
      "NOT_FOUND",
      `${safeText(container, 100)}: ${sel.error}`,
      "list them with: breachkit backup status, or restic snapshots --tag container=NAME",
    );
  const snap = sel.value;

  const engine = BackupEngine.fromEnv(env);
  let dockerRoot = "/var/lib/docker";
  try {
    dockerRoot = await engine.dockerRoot();
  } catch {
    // no engine: --to still works; Docker's default data directory stays refused
  }
  let target: RestoreOutput["target"];
  let scanRoot: string;
  if (opts.to !== undefined) {
    const dir = await prepareDir(posix.resolve(ctx.io.cwd, opts.to), snap.paths, dockerRoot);
    progress.update(`restoring ${snap.shortId} into ${dir.path}`);
    await interruptible(ctx, (signal) =>
      resticRestore(setup.writer, snap.id, dir.path, opts.timeout * 1000, signal),
    );
    target = { kind: "dir", path: dir.path, volume: null };
    scanRoot = dir.path;
  } else {
    const name = opts.volume ?? "";
    const inner = opts.path ?? (snap.paths.length === 1 ? snap.paths[0] : undefined);
    if (inner === undefined || !snap.paths.includes(inner))
      throw new BreachkitError(
        "USAGE",
        `snapshot ${snap.shortId} holds ${snap.paths.length} paths: name one with --path`,
        `one of: ${snap.paths.map((p) => safeText(p, 200)).join(", ")}`,
      );
    if (await engine.volume(name))
      throw new BreachkitError(
        "USAGE",
        `the volume ${safeText(name, 100)} exists already`,
        "a restore never writes over live data: name a new volume",
      );
    const v = await createVolume(env, name);
    progress.update(`restoring ${snap.shortId} into the volume ${name}`);
    await interruptible(ctx, (signal) =>
      resticRestore(setup.writer, snap.id, v.mountpoint, opts.timeout * 1000, signal),
    );
    await hoist(v.mountpoint, inner);
    target = { kind: "volume", path: v.mountpoint, volume: name };
    scanRoot = v.mountpoint;
  }

  progress.update("hashing the restored files");
  const hashed = await hashRestored(scanRoot);
  let clamav: RestoreOutput["clamav"];
  if (!opts.clamav) clamav = { status: "skipped", dbDir: null, hits: [], error: null };
  else {
    progress.update("ClamAV over the restored files");
    const r = await clamscanDir(
      scanRoot,
      posix.resolve(ctx.io.cwd, opts.clamavDb),
      env,
      opts.timeout * 1000,
    );
    clamav = {
      status: r.status,
      dbDir: opts.clamavDb,
      hits: r.hits.map((h) => ({ ...h, path: posix.relative(scanRoot, h.path) || h.path })),
      error: r.error,
    };
  }
  progress.done();
  const verdict = judgeRestore({
    files: hashed.files,
    iocs,
    clamav,
    unreadable: hashed.unreadable,
  });
  const out: RestoreOutput = {
    schemaVersion: RESTORE_SCHEMA_VERSION,
    repo: {
      location: setup.repo.location,
      passwordFile: setup.repo.passwordFile,
      from: setup.repo.from,
    },
    container,
    snapshot: {
      id: snap.id,
      shortId: snap.shortId,
      time: snap.time,
      hostname: snap.hostname,
      paths: snap.paths,
      tags: snap.tags,
    },
    selectedBy: opts.snapshot
      ? "snapshot"
      : opts.beforeIncident
        ? "before-incident"
        : opts.before
          ? "before"
          : "latest",
    before: before ? before.toISOString() : null,
    target,
    files: hashed.files.length,
    bytes: hashed.bytes,
    executables: hashed.files.filter((f) => f.executable).length,
    clamav,
    iocHashes: iocs.size,
    iocHits: verdict.iocHits,
    safe: verdict.safe,
    reasons: [
      ...verdict.reasons,
      ...(clamav.status === "skipped" ? ["ClamAV was not run (--no-clamav)"] : []),
    ],
    durationMs: Date.now() - started,
  };
  ctx.io.write(json ? `${JSON.stringify(out, null, 2)}\n` : formatRestore(out, colorsFor(ctx.io)));
  if (!out.safe) ctx.setExitCode(EXIT_FINDINGS);
}
