import { hostname } from "node:os";
import { resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import { dumpProcesses, type MemoryDumpRecord } from "../../act/memory-dump.js";
import { type ArchiveResult, archiveBundle } from "../../evidence/archive.js";
import { createBundle, InterruptedError, isFatalError } from "../../evidence/bundle.js";
import { collectEvidence, collectRefusePaths } from "../../evidence/collect.js";
import type { BundleWriter } from "../../evidence/types.js";
import { judge } from "../../judge/index.js";
import { shippedLists } from "../../judge/rule-set.js";
import { COLLECT_SCHEMA_VERSION, type CollectOutput } from "../../model/collect-output.js";
import type { Snapshot } from "../../model/snapshot.js";
import { DockerEngine } from "../../observe/docker/engine.js";
import { isEngineError, toBreachkitError } from "../../observe/docker/engine-error.js";
import { resolveContainer } from "../../observe/docker/resolve.js";
import { takeSnapshot } from "../../observe/snapshot.js";
import { formatCollect } from "../../tell/format-collect.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_ERROR } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import { safeText } from "../../util/sanitize.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
import { ownAddresses } from "../host-addresses.js";
import {
  custom,
  defineOptions,
  flag,
  type OptionValues,
  repeatable,
  text,
  withOptions,
} from "../options.js";

const EXIT_CODES = `  0  complete: everything asked for is in the sealed bundle
  2  incomplete (interrupted, disk full, engine or container gone: the bundle is still sealed
     and valid, marked incomplete with the reason) or could not start (not root, bad option)`;

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  k: 1024,
  m: 1024 ** 2,
  g: 1024 ** 3,
  t: 1024 ** 4,
};

/** "1048576", "512k", "100M", "1.5GiB", "2g" -> bytes (binary units). */
export function parseSize(text: string, option = "--max-file-size"): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$/i.exec(text);
  const unit = SIZE_UNITS[(m?.[2] ?? "").toLowerCase()];
  const n = m ? Number(m[1]) * (unit ?? 1) : Number.NaN;
  if (!m || !Number.isFinite(n) || n < 1) {
    throw new InvalidArgumentError(`${option} takes a size like 100M or 2G, got "${text}"`);
  }
  return Math.floor(n);
}

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** "2h", "30m", "7d" (before `now`) or an ISO date/time ("2025-01-31", "2025-01-31T12:00Z"). */
export function parseSince(text: string, now: Date = new Date()): Date {
  const rel = /^\s*(\d+)\s*([smhdw])\s*$/i.exec(text);
  if (rel) {
    const unit = DURATION_UNITS[(rel[2] ?? "").toLowerCase()] ?? 1;
    return new Date(now.getTime() - Number(rel[1]) * unit * 1000);
  }
  if (
    /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(text.trim())
  ) {
    const d = new Date(text.trim());
    if (!Number.isNaN(d.getTime())) return d;
  }
  throw new InvalidArgumentError(
    `--since takes a duration (30m, 2h, 7d) or a date (2025-01-31, 2025-01-31T12:00:00Z), got "${text}"`,
  );
}

function parsePidFor(option: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!/^\d+$/.test(value) || !Number.isSafeInteger(n) || n < 1) {
      throw new InvalidArgumentError(`${option} takes a process id, got "${value}"`);
    }
    return n;
  };
}

export const COLLECT_OPTIONS = defineOptions({
  out: text("--out <dir>", "where the bundle directory is made", "."),
  container: repeatable("--container <name>", "only this container, by name or id (repeatable)"),
  pid: repeatable(
    "--pid <pid>",
    "also copy this process's executable (repeatable)",
    parsePidFor("--pid"),
  ),
  memory: repeatable(
    "--memory <pid>",
    "dump this process's memory as an ELF core file, first of all (repeatable)",
    parsePidFor("--memory"),
  ),
  memorySuspicious: flag(
    "--memory-suspicious",
    "dump the memory of every process triage's checks flag high or critical",
  ),
  memoryMax: custom(
    "--memory-max <size>",
    "bytes of memory at most per process (default 2G); mappings past it are listed, not read",
    (v) => parseSize(v, "--memory-max"),
  ),
  exportFs: flag("--export-fs", "also each container's filesystem (docker export) and each volume"),
  since: custom(
    "--since <time>",
    "bound logs by time: 2h, 7d, 2025-01-31T12:00Z",
    (v) => parseSince(v),
    {
      // Recorded as the time it meant: "7d" alone would not say when the bundle was made.
      format: (d) => d.toISOString(),
    },
  ),
  redact: flag(
    "--no-redact",
    "keep secrets raw: environment values, secret-looking labels and command-line passwords in inspect.json, snapshot.json and processes.json",
  ),
  maxFileSize: custom(
    "--max-file-size <size>",
    "cut any file at this size (100M, 2G), noted in the manifest",
    parseSize,
  ),
  archive: flag("--archive", "also pack the bundle as .tar.gz next to it and print its SHA-256"),
  host: flag("--no-host", "leave out the host's logs and configuration"),
  json: flag(
    "--json",
    "print a summary as JSON on stdout (schema: breachkit schema collect)",
    false,
  ),
});

type CollectCliOptions = OptionValues<typeof COLLECT_OPTIONS>;

export const registerCollect: RegisterCommand = (program: Command, ctx: CommandContext) => {
  const cmd = program
    .command("collect")
    .summary("secure the evidence in a sealed, hashed bundle before anything is shut down")
    .description(
      `Copy the evidence of this host into a new directory breachkit-<host>-<UTC time>/,
most volatile first (RFC 3227): a snapshot of processes, sockets and containers; the
executables of suspicious processes (deleted, memfd, run from /tmp, /var/tmp, /dev/shm, or
named with --pid) read from /proc/<pid>/exe; per container its inspect (environment values,
secret labels and command-line passwords redacted, as in snapshot.json and processes.json), its raw log files byte for byte (every rotation), its filesystem changes and
processes; then the host's Docker daemon log, auth and system logs, login records, cron tables,
systemd units changed in the last 30 days, shell histories, passwd, group, sudoers, sshd
configuration and authorized_keys. Shadow files are never copied.

Every file is hashed as it is written (manifest.json), the manifest is sealed (SEAL), every
step is logged (collection.log.jsonl). Nothing is written outside --out and no container is
changed: no exec, no pause. Interrupted (Ctrl-C), disk full or the engine gone: the bundle is
still sealed and valid, marked incomplete with the reason. Needs root.

Raw log files are copied whole even with --since (they are the evidence); --since bounds the
logs read through the Engine API and the journal, and leaves out rotated files older than it.
Container logs are copied whole unless --max-file-size is given; host files are cut at 1 GiB.`,
    )
    .addHelpText(
      "after",
      `\nPaths written: the bundle directory breachkit-<host>-<UTC time>/ under --out (default:
the current directory; never inside a path it collects), and with --archive
breachkit-<host>-<UTC time>.tar.gz beside it. Nothing else.\n${helpFooter(
        [
          "breachkit collect --out /mnt/usb --archive",
          "breachkit collect --container bk-lab-gitlab --export-fs --out /root/evidence",
          "breachkit collect --pid 4242 --since 7d --no-host",
          "breachkit collect --memory-suspicious --container bk-lab-gitlab",
          "breachkit collect --memory 4242 --memory-max 512M",
          "breachkit collect --json | jq .seal",
        ],
        EXIT_CODES,
      )}`,
    );
  withOptions(cmd, COLLECT_OPTIONS, async ({ options, commandLine }) => {
    await collectAction(options, commandLine, ctx);
  });
};

async function collectAction(
  opts: CollectCliOptions,
  commandLine: string,
  ctx: CommandContext,
): Promise<void> {
  const { io } = ctx;
  // Without root, /proc/<pid>/exe, the raw container logs and most of /var/log are unreadable:
  // a bundle made that way would lack exactly the evidence that matters, and look complete.
  if (io.euid !== 0) {
    throw new BreachkitError(
      "PERMISSION",
      "collect needs root: the raw container logs, /proc/<pid>/exe of other users' processes and the host's logs are readable by root only",
      "run it as root: sudo breachkit collect ...",
    );
  }
  const progress = createProgress(io, opts.json === true);
  const ac = new AbortController();
  let bundle: BundleWriter | null = null;
  let sealing: Promise<{ manifestSha256: string }> | null = null;
  let interruptedBy: string | null = null;
  // A dropped SSH session must not cost the evidence: collect goes on to the end without its
  // terminal (its output is dropped) and says so in the bundle's log.
  const goOn = (signal: string) =>
    bundle?.log({
      step: "collect",
      action: `${signal}: terminal gone, collecting on`,
      result: "ok",
    });
  const off = io.onInterrupt(
    (signal) => {
      if (interruptedBy !== null) return;
      interruptedBy = signal;
      // A second Ctrl-C then ends the process at once (an engine call cannot be cancelled).
      off();
      const reason = `interrupted by ${signal}`;
      ac.abort(reason);
      if (bundle) sealing = bundle.seal({ complete: false, reason });
    },
    { onHangup: goOn },
  );
  try {
    let engine: DockerEngine | null;
    try {
      engine = DockerEngine.fromEnv(io.env);
    } catch (e) {
      throw isEngineError(e) ? toBreachkitError(e) : e;
    }
    progress.update("snapshot: processes, sockets, containers...");
    const snap = await takeSnapshot({
      env: io.env,
      onStep: (s) => progress.update(`snapshot: ${s}`),
    });
    progress.done();
    if (ac.signal.aborted) {
      throw new InterruptedError(
        `${String(ac.signal.reason)} before anything was written; no bundle was made`,
      );
    }
    if (!snap.snapshot.engine.available) engine = null;
    // With the engine down a name cannot be resolved: "no container X" would send the
    // responder hunting a typo. Say the engine is down and collect every container's files
    // on disk, as plain collect does (the bundle's log says so too).
    const engineDown = engine === null && opts.container.length > 0;
    if (engineDown) {
      io.error(
        `breachkit: the Docker engine at ${safeText(snap.snapshot.engine.endpoint, 200)} is not answering (${safeText(snap.snapshot.engine.error ?? "unknown", 200)}): --container ${opts.container.map((c) => safeText(c, 80)).join(", ")} cannot be resolved; collecting every container's files on disk instead\n`,
      );
    }
    const containerIds = engineDown
      ? undefined
      : resolveContainers(snap.snapshot.containers, opts.container);
    const made = await createBundle({
      outDir: resolve(io.cwd, opts.out),
      host: snap.snapshot.host.hostname || hostname(),
      command: commandLine,
      refuseInside: collectRefusePaths(snap.snapshot.engine.dockerRootDir),
    });
    bundle = made;
    if (!opts.json) io.error(`collecting into ${safeText(made.dir)}\n`);
    // Memory first: it is the most volatile evidence (RFC 3227), and the only copy of what a
    // self-deleting trojan keeps there.
    const memoryPids = [
      ...opts.memory,
      ...(opts.memorySuspicious ? flaggedPids(snap.snapshot) : []),
    ];
    let memory: MemoryDumpRecord[] = [];
    if (memoryPids.length > 0) {
      try {
        memory = await dumpProcesses({
          bundle: made,
          snapshot: snap.snapshot,
          pids: memoryPids,
          ...(opts.memoryMax !== undefined ? { maxBytes: opts.memoryMax } : {}),
          ownAddresses: ownAddresses(),
          selfPid: io.pid,
          signal: ac.signal,
          progress,
        });
      } catch (e) {
        if (!isFatalError(e) && !ac.signal.aborted) throw e;
        const why = ac.signal.aborted ? String(ac.signal.reason) : errorMessage(e);
        made.log({ step: "memory", action: "stop", result: "error", error: why });
        sealing ??= made.seal({ complete: false, reason: why });
        await sealing;
        throw new BreachkitError(
          "INTERRUPTED",
          `the memory dump stopped (${why}); the bundle is sealed incomplete in ${made.dir}`,
          "Free space on the --out device (or rerun without --memory), then collect again.",
        );
      }
    } else if (opts.memorySuspicious) {
      made.log({
        step: "memory",
        action: "dump the memory of the processes flagged high or critical",
        result: "skipped",
        error: "no process is flagged high or critical",
      });
    }
    const summary = await collectEvidence({
      bundle: made,
      snap,
      engine,
      ...(containerIds ? { containerIds } : {}),
      pids: opts.pid,
      lists: shippedLists(),
      exportFs: opts.exportFs === true,
      host: opts.host,
      ...(opts.since ? { since: opts.since } : {}),
      redact: opts.redact,
      ...(opts.maxFileSize !== undefined ? { maxFileBytes: opts.maxFileSize } : {}),
      progress,
      signal: ac.signal,
    });
    const memoryGap = memory.find((m) => !m.complete && m.file !== null);
    const reason = interruptedBy
      ? `interrupted by ${interruptedBy}`
      : (summary.incompleteReason ??
        (memoryGap
          ? `the memory dump of pid ${memoryGap.pid} is partial: ${memoryGap.incompleteReason}`
          : null));
    const sealed = await (sealing ??
      made.seal(reason === null ? { complete: true } : { complete: false, reason }));
    let archive: ArchiveResult | null = null;
    let archiveError: string | null = null;
    if (opts.archive && interruptedBy === null) {
      try {
        archive = await archiveBundle(made.dir);
      } catch (e) {
        archiveError = e instanceof Error ? e.message : String(e);
      }
    }
    const files = made.entries.length;
    const bytes = made.entries.reduce((s, e) => s + e.size, 0);
    const complete = reason === null;
    if (opts.json) {
      io.write(
        `${JSON.stringify(
          {
            schemaVersion: COLLECT_SCHEMA_VERSION,
            bundle: made.dir,
            complete,
            incompleteReason: reason,
            files,
            bytes,
            seal: sealed.manifestSha256,
            archive,
            archiveError,
            truncated: summary.truncated,
            errors: summary.errors,
            executables: summary.executables,
            containers: summary.containers,
            memory,
            durationMs: summary.durationMs,
          } satisfies CollectOutput,
          null,
          2,
        )}\n`,
      );
    } else {
      io.write(
        formatCollect(
          made.dir,
          summary,
          { files, bytes, reason, seal: sealed.manifestSha256, archive, archiveError, memory },
          colorsFor(io),
        ),
      );
    }
    if (!complete || archiveError !== null) ctx.setExitCode(EXIT_ERROR);
  } finally {
    off();
    progress.done();
  }
}

/** The pids of the processes the snapshot rules flag high or critical (--memory-suspicious). */
function flaggedPids(snapshot: Snapshot): number[] {
  const findings = judge(snapshot, { now: new Date(snapshot.takenAt), lists: shippedLists() });
  const pids = findings
    .filter((f) => f.severity === "high" || f.severity === "critical")
    .flatMap((f) => f.evidence.map((e) => e.pid))
    .filter((p): p is number => p !== undefined);
  return [...new Set(pids)].sort((a, b) => a - b);
}

function resolveContainers(
  containers: Parameters<typeof resolveContainer>[0],
  queries: readonly string[],
): string[] | undefined {
  if (queries.length === 0) return undefined;
  const ids: string[] = [];
  for (const q of queries) {
    const r = resolveContainer(containers, q);
    if (r.ok) {
      ids.push(r.value.id);
      continue;
    }
    const list = r.error.candidates
      .slice(0, 10)
      .map((c) => `${safeText(c.name, 80)} (${c.id.slice(0, 12)})`)
      .join(", ");
    throw new BreachkitError(
      r.error.kind === "ambiguous" ? "AMBIGUOUS" : "NOT_FOUND",
      r.error.kind === "ambiguous"
        ? `--container ${safeText(q, 80)} matches several containers: ${list}`
        : `no container ${safeText(q, 80)}${list ? `; did you mean: ${list}` : ""}`,
      r.error.kind === "ambiguous"
        ? "give the full name, or a longer id prefix"
        : "list them with: docker ps -a",
    );
  }
  return [...new Set(ids)];
}
