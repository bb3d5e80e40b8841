import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import { ResticWriter } from "../../act/backup/restic.js";
import { removeScratch, resticRestore, scratchDir } from "../../act/backup/restore.js";
import { runBackup } from "../../act/backup/run-backup.js";
import { DockerActions } from "../../act/docker-actions.js";
import { createBundle } from "../../evidence/bundle.js";
import type { BundleWriter } from "../../evidence/types.js";
import { retentionPlan } from "../../judge/backup/retention.js";
import { BackupConfigSchema } from "../../model/backup-config.js";
import {
  BACKUP_DRILL_SCHEMA_VERSION,
  BACKUP_PRUNE_SCHEMA_VERSION,
  BACKUP_STATUS_SCHEMA_VERSION,
  type BackupDrillOutput,
  type BackupOutput,
  type BackupPruneOutput,
  type BackupStatusOutput,
  type SnapshotRef,
} from "../../model/backup-output.js";
import type { Container } from "../../model/snapshot.js";
import { configSection, loadConfig } from "../../observe/config.js";
import { isEngineError, toBreachkitError } from "../../observe/docker/engine-error.js";
import { resolveContainer } from "../../observe/docker/resolve.js";
import { hashRestored, recordedFiles, verifyFile } from "../../observe/restic/files.js";
import {
  BREACHKIT_TAG,
  explainResticError,
  parseForget,
  type Snapshot,
  tagOf,
  tagValue,
} from "../../observe/restic/parse.js";
import { findRestic, ResticReader } from "../../observe/restic/read.js";
import { type ResticRepo, resolveRepo } from "../../observe/restic/repo.js";
import { BackupEngine, type BackupTarget, targetOf } from "../../observe/restic/targets.js";
import { formatBackup, formatDrill, formatPrune, formatStatus } from "../../tell/format-backup.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_ERROR, EXIT_FINDINGS } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import { safeText } from "../../util/sanitize.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
import { defineOptions, flag, type OptionValues, positive, text, withOptions } from "../options.js";

type Env = Readonly<Record<string, string | undefined>>;

/** Options every backup and restore command takes: where the repository is. */
export const REPO_OPTIONS = {
  repo: text(
    "--repo <location>",
    "restic repository (default: config backup.repo, else RESTIC_REPOSITORY)",
  ),
  passwordFile: text(
    "--password-file <file>",
    "file holding the repository's password, mode 0600 (default: config backup.passwordFile, else RESTIC_PASSWORD_FILE)",
  ),
  config: text("--config <file>", "breachkit's config file (default: /etc/breachkit/config.json)"),
} as const;

export interface Setup {
  repo: ResticRepo;
  exe: string;
  reader: ResticReader;
  writer: ResticWriter;
}

/** The repository, checked (password file mode, restic present, the repository opens). */
export async function setupRepo(
  opts: {
    repo?: string | undefined;
    passwordFile?: string | undefined;
    config?: string | undefined;
  },
  env: Env,
  cwd: string,
  open = true,
): Promise<Setup> {
  const cfg = await loadConfig(env, opts.config);
  if (!cfg.ok)
    throw new BreachkitError("USAGE", `${cfg.error.path} ${cfg.error.message}`, cfg.error.fix);
  const section = configSection(cfg.value, "backup", BackupConfigSchema);
  if (!section.ok)
    throw new BreachkitError(
      "USAGE",
      `${section.error.path}: ${section.error.message}`,
      section.error.fix,
    );
  const abs = (p: string | undefined) =>
    p === undefined || p.startsWith("/") || /^[a-z0-9]+:/.test(p) ? p : `${cwd}/${p}`;
  const repo = await resolveRepo(
    { repo: abs(opts.repo), passwordFile: abs(opts.passwordFile) },
    section.value,
    env,
  );
  const exe = await findRestic(env);
  const reader = new ResticReader(exe, repo, env);
  if (open) await openRepo(reader);
  return { repo, exe, reader, writer: new ResticWriter(exe, repo, env) };
}

/**
 * Open the repository (restic cat config, read-only) before anything is paused: a wrong
 * password or a missing repository is found here, not with a container frozen.
 */
export async function openRepo(reader: ResticReader): Promise<void> {
  const r = await reader.run(["cat", "config"]);
  if (r.exitCode !== 0) {
    const why = explainResticError(r.stderr, r.exitCode);
    throw new BreachkitError(
      "IO",
      `cannot open the repository ${safeText(reader.repo.location, 300)}: ${why.reason}`,
      why.hint,
    );
  }
}

/**
 * A restic run that Ctrl-C (or TERM) ends: restic runs in its own process group, so the
 * terminal's interrupt reaches it only through this signal. Interrupted, the command ends
 * with INTERRUPTED once restic has stopped (and removed its lock).
 */
export async function interruptible<T>(
  ctx: CommandContext,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const ac = new AbortController();
  const off = ctx.io.onInterrupt(() => ac.abort());
  try {
    const value = await run(ac.signal);
    if (ac.signal.aborted) throw new BreachkitError("INTERRUPTED", "interrupted: restic stopped");
    return value;
  } catch (e) {
    if (ac.signal.aborted) throw new BreachkitError("INTERRUPTED", "interrupted: restic stopped");
    throw e;
  } finally {
    off();
  }
}

/** Every container with its backup paths (inspect through the read-only client). */
export async function readTargets(engine: BackupEngine): Promise<BackupTarget[]> {
  try {
    const root = await engine.dockerRoot();
    const out: BackupTarget[] = [];
    for (const c of await engine.list()) {
      const inspect = await engine.inspect(c.id).catch(() => null);
      if (!inspect) continue; // removed meanwhile
      const imageId = typeof inspect.Image === "string" ? inspect.Image : "";
      out.push(targetOf(inspect, await engine.imageDigest(imageId), root));
    }
    return out;
  } catch (e) {
    if (isEngineError(e)) throw toBreachkitError(e);
    throw e;
  }
}

export function pickTargets(
  all: readonly BackupTarget[],
  names: readonly string[],
): BackupTarget[] {
  const models: Container[] = all.map((t) => t.container);
  const picked: BackupTarget[] = [];
  for (const n of names) {
    const r = resolveContainer(models, n);
    if (!r.ok)
      throw new BreachkitError(
        r.error.kind === "unknown" ? "NOT_FOUND" : "AMBIGUOUS",
        `${r.error.kind === "unknown" ? "no container" : "several containers match"} "${safeText(n, 100)}"${r.error.candidates.length ? `: ${r.error.candidates.map((c) => safeText(c.name, 80)).join(", ")}` : ""}`,
        "name a container by its name or an id prefix of 4+ hex digits (docker ps -a)",
      );
    const t = all.find((x) => x.container.id === r.value.id);
    if (t && !picked.includes(t)) picked.push(t);
  }
  return picked;
}

function refOf(s: Snapshot): SnapshotRef {
  return {
    id: s.id,
    shortId: s.shortId,
    time: s.time,
    hostname: s.hostname,
    paths: s.paths,
    tags: s.tags,
  };
}

const BACKUP_OPTIONS = defineOptions({
  ...REPO_OPTIONS,
  all: flag("--all", "every container with a volume or bind mount"),
  dryRun: flag("--dry-run", "show what would be read and how; change nothing"),
  hooks: flag("--no-hooks", "do not run the breachkit.backup.pre/.post hooks"),
  hookTimeout: positive("--hook-timeout <seconds>", "a hook is stopped after this long", 600),
  stopTimeout: positive("--stop-timeout <seconds>", "stop mode: grace period before SIGKILL", 30),
  timeout: positive(
    "--timeout <seconds>",
    "one container's restic backup is stopped after this long",
    6 * 3600,
  ),
  out: text(
    "--out <dir>",
    "also record the result in a sealed bundle under DIR (backup.json; every host change in its log)",
  ),
  json: flag(
    "--json",
    "print the result as JSON on stdout (schema: breachkit schema backup)",
    false,
  ),
});

const STATUS_OPTIONS = defineOptions({
  ...REPO_OPTIONS,
  maxAge: positive("--max-age <hours>", "a last snapshot older than this is stale", 26),
  json: flag("--json", "print as JSON (schema: breachkit schema backup-status)", false),
});

const PRUNE_OPTIONS = defineOptions({
  ...REPO_OPTIONS,
  keepDaily: text(
    "--keep-daily <n>",
    "daily snapshots kept (default: config backup.keep.daily, else 7)",
  ),
  keepWeekly: text("--keep-weekly <n>", "weekly snapshots kept (default: config, else 4)"),
  keepMonthly: text("--keep-monthly <n>", "monthly snapshots kept (default: config, else 6)"),
  dryRun: flag("--dry-run", "show what would be removed; remove nothing"),
  json: flag("--json", "print as JSON (schema: breachkit schema backup-prune)", false),
});

const DRILL_OPTIONS = defineOptions({
  ...REPO_OPTIONS,
  readDataSubset: text(
    "--read-data-subset <n%|n/t>",
    "share of the packs restic check reads back",
    "10%",
  ),
  scratch: text(
    "--scratch <dir>",
    "where the scratch restore is made (default: $TMPDIR); removed after",
  ),
  timeout: positive(
    "--timeout <seconds>",
    "restic restore/check are stopped after this long",
    6 * 3600,
  ),
  deep: flag(
    "--deep",
    "also compare every file blob by blob with breachkit's own reading of restic's trees (one restic run per directory: slow on big trees)",
  ),
  out: text(
    "--out <dir>",
    "also record the result in a sealed bundle under DIR (backup-drill.json)",
  ),
  json: flag("--json", "print as JSON (schema: breachkit schema backup-drill)", false),
});

const BACKUP_EXIT = `  0  every selected container was backed up (or --dry-run)
  1  a container's backup failed or is incomplete (a hook failed, restic could not read a file)
  2  could not back up: no repository, wrong password, disk full, restic or engine missing`;

export const registerBackup: RegisterCommand = (program: Command, ctx: CommandContext) => {
  const cmd = program
    .command("backup")
    .summary("consistent restic backups of containers' volumes; status, prune, drill")
    .description(
      `Back up containers' volumes and bind mounts with restic, consistently: each container is
paused while restic reads its data (or stopped, when labelled breachkit.backup.stop=true), and
unpaused (started) again whatever restic did. Snapshots are tagged container=NAME,
image=DIGEST, host=HOST. Never read: the Docker socket, /proc, /sys, /dev.

Hooks: a label breachkit.backup.pre (a database dump, say) runs before the pause, and
breachkit.backup.post after; the label is a JSON array of words or words separated by spaces,
never a shell line, and the program must be an absolute path owned by root that only root may
change. A failing pre hook fails that container's backup: nothing is read, nothing deleted.

The repository: --repo and --password-file, else the backup section of
/etc/breachkit/config.json ({"backup": {"repo": ..., "passwordFile": ..., "keep": {...}}}), else
RESTIC_REPOSITORY and RESTIC_PASSWORD_FILE. The password file must be mode 0600. Create the
repository once with restic init.

Changes on the host: pause/unpause (or stop/start) of each container, the hooks; restic writes
to the repository only (and its cache under ~/.cache/restic).`,
    )
    .argument("[containers...]", "container names or id prefixes (or --all)")
    .addHelpText(
      "after",
      helpFooter(
        [
          "breachkit backup --all --repo /srv/restic --password-file /root/.restic-pass",
          "breachkit backup gitlab --dry-run",
          "breachkit backup status",
          "breachkit backup prune --dry-run",
          "breachkit backup drill --json > drill.json",
          "breachkit restore gitlab --before-incident /root/evidence/breachkit-web01-20250101T120000Z --to /srv/restore/gitlab",
        ],
        BACKUP_EXIT,
      ),
    );
  // Options after a subcommand's name are that subcommand's (both take --repo, --json ...):
  // commander needs positional options on every command above the subcommand. The program
  // holds only --help and --version, and this runs only when `backup` is the command (or for
  // the overall help).
  program.enablePositionalOptions();
  cmd.enablePositionalOptions();
  withOptions(cmd, BACKUP_OPTIONS, async ({ args, options, commandLine }) =>
    backupAction(args, options, ctx, commandLine),
  );

  const status = cmd
    .command("status")
    .summary("per container, the last snapshot and its age")
    .description(
      `Per container of this host: the last snapshot in the repository and its age; stale when
there is none or it is older than --max-age. Containers that are gone but have snapshots are
listed too. Read-only: restic runs with --no-lock and --no-cache.`,
    )
    .addHelpText(
      "after",
      helpFooter(
        ["breachkit backup status", "breachkit backup status --max-age 48 --json"],
        `  0  every container with data has a fresh snapshot
  1  a container with data has none, or only a stale one
  2  could not read the repository`,
      ),
    );
  withOptions(status, STATUS_OPTIONS, async ({ options }) => statusAction(options, ctx));

  const prune = cmd
    .command("prune")
    .summary("restic forget (keep daily/weekly/monthly) per container, then prune")
    .description(
      `Apply the retention policy to each container's snapshots of this host (tag container=NAME):
restic forget --keep-daily 7 --keep-weekly 4 --keep-monthly 6 (or the config's backup.keep, or
the options), then one restic prune. breachkit also works out which snapshots the policy keeps
and reports any difference with what restic kept. Removes data from the repository.`,
    )
    .addHelpText(
      "after",
      helpFooter(
        ["breachkit backup prune --dry-run", "breachkit backup prune --keep-daily 14 --json"],
        `  0  pruned (or the plan shown)
  1  restic kept a different set than the policy says
  2  could not prune (repository, restic)`,
      ),
    );
  withOptions(prune, PRUNE_OPTIONS, async ({ options }) => pruneAction(options, ctx));

  const drill = cmd
    .command("drill")
    .summary("restore each container's latest snapshot to scratch and prove it")
    .description(
      `A restore drill: the latest snapshot of each container of this host is restored into a scratch directory (removed after); restic reads every restored file back and checks each data blob against the SHA-256 it recorded (restore --verify); breachkit compares the restored tree with the snapshot's record (every file present, same size, nothing extra; with --deep also blob by blob itself); and restic check --read-data-subset reads back part of the repository. Run it weekly (breachkit schedule).`,
    )
    .addHelpText(
      "after",
      helpFooter(
        ["breachkit backup drill", "breachkit backup drill --read-data-subset 100% --json"],
        `  0  every file matches and restic check passed
  1  a file differs or restic check failed
  2  could not run the drill`,
      ),
    );
  withOptions(drill, DRILL_OPTIONS, async ({ options, commandLine }) =>
    drillAction(options, ctx, `backup ${commandLine}`),
  );
};

/** A bundle under --out for the run's record. */
async function openBundle(
  out: string,
  ctx: CommandContext,
  command: string,
): Promise<BundleWriter> {
  return createBundle({ outDir: resolve(ctx.io.cwd, out), host: hostname(), command });
}

async function backupAction(
  names: string[],
  opts: OptionValues<typeof BACKUP_OPTIONS>,
  ctx: CommandContext,
  commandLine: string,
): Promise<void> {
  if (names.length === 0 && !opts.all)
    throw new BreachkitError(
      "USAGE",
      "name the containers to back up, or --all",
      "e.g. breachkit backup --all",
    );
  if (names.length > 0 && opts.all)
    throw new BreachkitError("USAGE", "give container names or --all, not both");
  const env = ctx.io.env;
  const json = opts.json === true;
  const progress = createProgress(ctx.io, json);
  const setup = await setupRepo(opts, env, ctx.io.cwd, false);
  const engine = BackupEngine.fromEnv(env);
  // The repository check (a restic start and its key derivation) runs while the engine is read.
  const opened = opts.dryRun ? Promise.resolve() : openRepo(setup.reader);
  opened.catch(() => {}); // awaited below; not an unhandled rejection meanwhile
  const all = await readTargets(engine);
  await opened;
  const targets = opts.all ? all.filter((t) => t.paths.length > 0) : pickTargets(all, names);
  const bundle = opts.out && !opts.dryRun ? await openBundle(opts.out, ctx, commandLine) : null;
  const ac = new AbortController();
  const off = ctx.io.onInterrupt(() => ac.abort());
  let out: BackupOutput;
  try {
    out = await runBackup({
      ...(bundle
        ? {
            onAction: (a) =>
              bundle.log({
                step: "backup",
                action: a.action,
                result: a.result,
                changedHost: true,
                ...(a.error ? { error: a.error } : {}),
                details: { undo: a.undo, containerId: a.containerId, at: a.time },
              }),
          }
        : {}),
      targets,
      repo: setup.repo,
      restic: setup.writer,
      docker: DockerActions.fromEnv(env),
      engine,
      host: tagValue(hostname()),
      dryRun: opts.dryRun === true,
      hooks: opts.hooks,
      hookTimeoutMs: opts.hookTimeout * 1000,
      resticTimeoutMs: opts.timeout * 1000,
      stopTimeoutSec: opts.stopTimeout,
      env,
      euid: ctx.io.euid,
      progress,
      signal: ac.signal,
    });
  } catch (e) {
    if (bundle) await bundle.seal({ complete: false, reason: errorMessage(e) }).catch(() => {});
    throw e;
  } finally {
    off();
    progress.done();
  }
  if (bundle) {
    out.bundle = bundle.dir;
    await bundle.writeJson("backup.json", out, { source: "breachkit" });
    await bundle.seal(
      ac.signal.aborted ? { complete: false, reason: "interrupted" } : { complete: true },
    );
  }
  ctx.io.write(json ? `${JSON.stringify(out, null, 2)}\n` : formatBackup(out, colorsFor(ctx.io)));
  if (out.fatal) ctx.setExitCode(EXIT_ERROR);
  else if (out.containers.some((c) => c.status === "failed" || c.status === "incomplete"))
    ctx.setExitCode(EXIT_FINDINGS);
}

/** This host's breachkit snapshots, by container name. */
async function snapshotsByContainer(reader: ResticReader, host: string) {
  const by = new Map<string, Snapshot[]>();
  for (const s of await reader.snapshots([BREACHKIT_TAG])) {
    const name = tagOf(s.tags, "container");
    if (name === null || (tagOf(s.tags, "host") ?? s.hostname) !== host) continue;
    const list = by.get(name) ?? [];
    list.push(s);
    by.set(name, list);
  }
  return by;
}

async function statusAction(opts: OptionValues<typeof STATUS_OPTIONS>, ctx: CommandContext) {
  const setup = await setupRepo(opts, ctx.io.env, ctx.io.cwd, false);
  const host = tagValue(hostname());
  const by = await snapshotsByContainer(setup.reader, host);
  let present: BackupTarget[] | null = null;
  try {
    present = (await readTargets(BackupEngine.fromEnv(ctx.io.env))).filter(
      (t) => t.paths.length > 0,
    );
  } catch (e) {
    if (!(e instanceof BreachkitError && e.code === "ENGINE_DOWN")) throw e;
  }
  const now = new Date();
  const maxAge = opts.maxAge * 3600;
  const names = new Set([...by.keys(), ...(present ?? []).map((t) => tagValue(t.container.name))]);
  const out: BackupStatusOutput = {
    schemaVersion: BACKUP_STATUS_SCHEMA_VERSION,
    repo: {
      location: setup.repo.location,
      passwordFile: setup.repo.passwordFile,
      from: setup.repo.from,
    },
    now: now.toISOString(),
    maxAgeSeconds: maxAge,
    containers: [...names].sort().map((name) => {
      const list = by.get(name) ?? [];
      const last = list[list.length - 1];
      const age = last ? (now.getTime() - last.timeMs) / 1000 : null;
      return {
        name,
        present: present === null ? null : present.some((t) => tagValue(t.container.name) === name),
        snapshots: list.length,
        last: last ? refOf(last) : null,
        ageSeconds: age,
        stale: age === null || age > maxAge,
      };
    }),
  };
  ctx.io.write(
    opts.json ? `${JSON.stringify(out, null, 2)}\n` : formatStatus(out, colorsFor(ctx.io)),
  );
  if (out.containers.some((c) => c.stale && c.present !== false)) ctx.setExitCode(EXIT_FINDINGS);
}

function count(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0)
    throw new BreachkitError(
      "USAGE",
      `${name} takes a whole number (0 or more), got "${safeText(v, 50)}"`,
    );
  return n;
}

async function pruneAction(opts: OptionValues<typeof PRUNE_OPTIONS>, ctx: CommandContext) {
  const setup = await setupRepo(opts, ctx.io.env, ctx.io.cwd);
  const policy = {
    daily: count("--keep-daily", opts.keepDaily, setup.repo.keep.daily),
    weekly: count("--keep-weekly", opts.keepWeekly, setup.repo.keep.weekly),
    monthly: count("--keep-monthly", opts.keepMonthly, setup.repo.keep.monthly),
  };
  const json = opts.json === true;
  const progress = createProgress(ctx.io, json);
  const host = tagValue(hostname());
  const by = await snapshotsByContainer(setup.reader, host);
  const out: BackupPruneOutput = {
    schemaVersion: BACKUP_PRUNE_SCHEMA_VERSION,
    repo: {
      location: setup.repo.location,
      passwordFile: setup.repo.passwordFile,
      from: setup.repo.from,
    },
    policy,
    dryRun: opts.dryRun === true,
    groups: [],
    pruned: false,
    error: null,
  };
  for (const [name, list] of [...by.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    progress.update(`forget: ${name}`);
    const args = [
      "--tag",
      `${BREACHKIT_TAG},container=${name}`,
      "--host",
      host,
      "--group-by",
      "host",
      "--keep-daily",
      String(policy.daily),
      "--keep-weekly",
      String(policy.weekly),
      "--keep-monthly",
      String(policy.monthly),
    ];
    if (opts.dryRun) args.push("--dry-run");
    const run = await interruptible(ctx, (signal) => setup.writer.forget(args, 3600_000, signal));
    if (run.exitCode !== 0) {
      out.error = `restic forget failed for ${name}: ${explainResticError(run.stderr, run.exitCode).reason}`;
      break;
    }
    const parsed = parseForget(run.stdout);
    if (!parsed.ok) {
      out.error = parsed.error;
      break;
    }
    const keep = parsed.value.flatMap((g) => g.keep.map((s) => s.id));
    const remove = parsed.value.flatMap((g) => g.remove.map((s) => s.id));
    const planned = retentionPlan(list, policy);
    out.groups.push({
      container: name,
      host,
      keep,
      remove,
      planned,
      agrees: planned.length === keep.length && planned.every((id) => keep.includes(id)),
    });
  }
  if (!out.error && !opts.dryRun && out.groups.some((g) => g.remove.length > 0)) {
    progress.update("prune: removing unreferenced data");
    const run = await interruptible(ctx, (signal) => setup.writer.prune(3 * 3600_000, signal));
    if (run.exitCode === 0) out.pruned = true;
    else out.error = `restic prune failed: ${explainResticError(run.stderr, run.exitCode).reason}`;
  }
  progress.done();
  ctx.io.write(json ? `${JSON.stringify(out, null, 2)}\n` : formatPrune(out, colorsFor(ctx.io)));
  if (out.error) ctx.setExitCode(EXIT_ERROR);
  else if (out.groups.some((g) => !g.agrees)) ctx.setExitCode(EXIT_FINDINGS);
}

async function drillAction(
  opts: OptionValues<typeof DRILL_OPTIONS>,
  ctx: CommandContext,
  commandLine: string,
) {
  const setup = await setupRepo(opts, ctx.io.env, ctx.io.cwd);
  const json = opts.json === true;
  const progress = createProgress(ctx.io, json);
  const started = new Date();
  const host = tagValue(hostname());
  const by = await snapshotsByContainer(setup.reader, host);
  const out: BackupDrillOutput = {
    schemaVersion: BACKUP_DRILL_SCHEMA_VERSION,
    repo: {
      location: setup.repo.location,
      passwordFile: setup.repo.passwordFile,
      from: setup.repo.from,
    },
    startedAt: started.toISOString(),
    durationMs: 0,
    containers: [],
    check: { subset: opts.readDataSubset, ok: false, output: "" },
    ok: false,
    bundle: null,
  };
  if (!/^(\d{1,3}(\.\d+)?%|\d+\/\d+)$/.test(opts.readDataSubset))
    throw new BreachkitError(
      "USAGE",
      `--read-data-subset ${safeText(opts.readDataSubset, 50)}: give n% or n/t`,
    );
  for (const [name, list] of [...by.entries()].sort(([a], [b]) => a.localeCompare(b))) {
    const snap = list[list.length - 1] as Snapshot;
    const entry: BackupDrillOutput["containers"][number] = {
      name,
      snapshot: refOf(snap),
      files: 0,
      bytes: 0,
      mismatches: [],
      ok: false,
      error: null,
    };
    out.containers.push(entry);
    const scratch = await scratchDir(opts.scratch);
    try {
      progress.update(`drill: restoring ${name} (${snap.shortId}), restic verifying every blob`);
      // restic restore --verify reads every restored file back and checks each of its data
      // blobs against the blob's id (the SHA-256 restic recorded).
      const said = await interruptible(ctx, (signal) =>
        resticRestore(setup.writer, snap.id, scratch, opts.timeout * 1000, signal, true),
      );
      const verified = /finished verifying (\d+) files/.exec(said);
      if (!verified)
        entry.mismatches.push({
          path: "/",
          reason: `restic did not finish verifying: ${said.trim().split("\n").slice(-1)[0] ?? ""}`,
        });
      progress.update(`drill: comparing ${name} with the snapshot's record`);
      const recorded = (await setup.reader.ls(snap.id)).filter((n) => n.type === "file");
      const restored = await hashRestored(scratch);
      const byPath = new Map(restored.files.map((f) => [`/${f.path}`, f]));
      for (const rec of recorded) {
        entry.files++;
        entry.bytes += rec.size;
        const f = byPath.get(rec.path);
        if (!f) entry.mismatches.push({ path: rec.path, reason: "missing from the restore" });
        else if (f.size !== rec.size)
          entry.mismatches.push({
            path: rec.path,
            reason: `size ${f.size}, restic recorded ${rec.size}`,
          });
        byPath.delete(rec.path);
      }
      for (const extra of byPath.keys())
        entry.mismatches.push({ path: extra, reason: "restored but not in the snapshot's record" });
      for (const u of restored.unreadable)
        entry.mismatches.push({ path: `/${u}`, reason: "restored but unreadable" });
      if (opts.deep && snap.tree) {
        progress.update(`drill: ${name}: breachkit's own blob-by-blob comparison`);
        const lengths = await setup.reader.blobLengths();
        for (const rec of await recordedFiles(setup.reader, snap.tree)) {
          const v = await verifyFile(`${scratch}${rec.path}`, rec, lengths);
          if (!v.ok) entry.mismatches.push({ path: rec.path, reason: v.reason });
        }
      }
      entry.ok = entry.mismatches.length === 0;
    } catch (e) {
      if (e instanceof BreachkitError && e.code === "INTERRUPTED") throw e;
      entry.error = errorMessage(e);
    } finally {
      await removeScratch(scratch);
    }
  }
  progress.update(`drill: restic check --read-data-subset ${opts.readDataSubset}`);
  const check = await interruptible(ctx, (signal) =>
    setup.writer.check(opts.readDataSubset, opts.timeout * 1000, signal),
  );
  out.check.ok = check.exitCode === 0;
  out.check.output = `${check.stdout}${check.stderr}`.trim().split("\n").slice(-10).join("\n");
  out.ok = out.check.ok && out.containers.every((c) => c.ok);
  out.durationMs = Date.now() - started.getTime();
  progress.done();
  if (opts.out) {
    const bundle = await openBundle(opts.out, ctx, commandLine);
    out.bundle = bundle.dir;
    await bundle.writeJson("backup-drill.json", out, { source: "breachkit" });
    await bundle.seal({ complete: true });
  }
  ctx.io.write(json ? `${JSON.stringify(out, null, 2)}\n` : formatDrill(out, colorsFor(ctx.io)));
  if (!out.ok) ctx.setExitCode(out.containers.some((c) => c.error) ? EXIT_ERROR : EXIT_FINDINGS);
}
