/**
 * Text for `breachkit backup`, `backup status`, `backup prune`, `backup drill` and `restore`.
 * Every string from the host (names, paths, hook output, restic's messages) through safeText.
 */
import type {
  BackupDrillOutput,
  BackupOutput,
  BackupPruneOutput,
  BackupStatusOutput,
  RestoreOutput,
} from "../model/backup-output.js";
import type { Colors } from "../util/colors.js";
import { formatBytes } from "../util/progress.js";
import { safeText } from "../util/sanitize.js";

const s = (t: string, max = 300) => safeText(t, max);

export function formatAge(seconds: number): string {
  if (seconds < 120) return `${Math.round(seconds)} s`;
  if (seconds < 7200) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}

export function formatBackup(o: BackupOutput, c: Colors): string {
  const lines: string[] = [];
  lines.push(
    `${c.bold(o.dryRun ? "Backup plan" : "Backup")} to ${s(o.repo.location)} (host ${s(o.host)})`,
  );
  for (const b of o.containers) {
    const mark =
      b.status === "ok"
        ? c.green("ok")
        : b.status === "planned" || b.status === "nothing"
          ? c.dim(b.status)
          : b.status === "incomplete"
            ? c.yellow("INCOMPLETE")
            : c.red("FAILED");
    lines.push(
      `  ${s(b.name, 100)}  ${mark}  (${b.consistency === "none" ? "read as is" : `${b.consistency}d while read`})`,
    );
    for (const p of b.paths)
      lines.push(
        `    ${p.type === "volume" ? `volume ${s(p.volume ?? "?", 100)}` : "bind"}  ${s(p.source)} -> ${s(p.destination)}`,
      );
    for (const k of b.skipped) lines.push(c.dim(`    skipped ${s(k.source)}: ${k.reason}`));
    if (b.summary)
      lines.push(
        `    snapshot ${s(b.summary.snapshotId, 64)}: ${b.summary.totalFilesProcessed} files, ${formatBytes(b.summary.totalBytesProcessed)} read, ${formatBytes(b.summary.dataAdded)} added, ${b.summary.totalDuration.toFixed(1)} s`,
      );
    if (b.pre)
      lines.push(`    pre hook: ${b.pre.ok ? "ok" : c.red(`failed: ${s(b.pre.output, 500)}`)}`);
    if (b.post)
      lines.push(`    post hook: ${b.post.ok ? "ok" : c.red(`failed: ${s(b.post.output, 500)}`)}`);
    for (const a of b.actions)
      lines.push(
        c.dim(`    ${a.time} ${a.action}: ${a.result}${a.error ? ` (${s(a.error)})` : ""}`),
      );
    if (b.after)
      lines.push(`    now: ${b.after.paused ? "paused" : b.after.running ? "running" : "stopped"}`);
    if (b.error) lines.push(c.red(`    ${s(b.error, 1000)}`));
    for (const w of b.warnings.slice(0, 10)) lines.push(c.yellow(`    warning: ${s(w, 500)}`));
  }
  if (o.containers.length === 0) lines.push("  no container selected");
  if (o.fatal) lines.push(c.red(`Stopped: ${s(o.fatal, 1000)}`));
  return `${lines.join("\n")}\n`;
}

export function formatStatus(o: BackupStatusOutput, c: Colors): string {
  const lines = [
    `${c.bold("Backups")} in ${s(o.repo.location)} (stale after ${formatAge(o.maxAgeSeconds)})`,
  ];
  for (const x of o.containers) {
    const last = x.last
      ? `${x.last.shortId} at ${x.last.time} (${formatAge(x.ageSeconds ?? 0)} ago), ${x.snapshots} snapshot(s)`
      : "never backed up";
    lines.push(
      `  ${s(x.name, 100)}  ${x.stale ? c.red("STALE") : c.green("ok")}  ${last}${x.present === false ? c.dim("  (container gone)") : ""}`,
    );
  }
  if (o.containers.length === 0) lines.push("  no container with data, no snapshot");
  return `${lines.join("\n")}\n`;
}

export function formatPrune(o: BackupPruneOutput, c: Colors): string {
  const p = o.policy;
  const lines = [
    `${c.bold(o.dryRun ? "Retention plan" : "Retention")} (daily ${p.daily}, weekly ${p.weekly}, monthly ${p.monthly}) in ${s(o.repo.location)}`,
  ];
  for (const g of o.groups) {
    lines.push(
      `  ${s(g.container, 100)} on ${s(g.host, 100)}: keep ${g.keep.length}, remove ${g.remove.length}${g.agrees ? "" : c.yellow("  (differs from breachkit's reading of the policy)")}`,
    );
  }
  lines.push(
    o.pruned ? "Unreferenced data pruned." : o.dryRun ? "Nothing removed (--dry-run)." : "",
  );
  if (o.error) lines.push(c.red(s(o.error, 1000)));
  return `${lines.filter(Boolean).join("\n")}\n`;
}

export function formatDrill(o: BackupDrillOutput, c: Colors): string {
  const lines = [
    `${c.bold("Restore drill")} of ${s(o.repo.location)}: ${o.ok ? c.green("PASSED") : c.red("FAILED")}`,
  ];
  for (const x of o.containers) {
    lines.push(
      `  ${s(x.name, 100)}  snapshot ${x.snapshot.shortId} (${x.snapshot.time}): ${x.files} files, ${formatBytes(x.bytes)}, ${x.ok ? c.green("every file matches") : c.red(`${x.mismatches.length} mismatch(es)`)}`,
    );
    for (const m of x.mismatches.slice(0, 20)) lines.push(c.red(`    ${s(m.path)}: ${m.reason}`));
    if (x.error) lines.push(c.red(`    ${s(x.error, 1000)}`));
  }
  lines.push(
    `  restic check --read-data-subset ${o.check.subset}: ${o.check.ok ? c.green("ok") : c.red(`failed: ${s(o.check.output, 1000)}`)}`,
  );
  return `${lines.join("\n")}\n`;
}

export function formatRestore(o: RestoreOutput, c: Colors): string {
  const lines = [
    `${c.bold("Restore")} of ${s(o.container, 100)} from snapshot ${o.snapshot.shortId} (${o.snapshot.time}, chosen by ${o.selectedBy}${o.before ? ` before ${o.before}` : ""})`,
    `  into ${o.target.kind === "volume" ? `the new volume ${s(o.target.volume ?? "", 100)} (${s(o.target.path)})` : s(o.target.path)}`,
    `  ${o.files} files, ${formatBytes(o.bytes)}, ${o.executables} executable(s); ${o.iocHashes} IOC hash(es) checked; ClamAV: ${o.clamav.status}`,
    o.safe
      ? c.green("SAFE: no ClamAV hit, no IOC hash")
      : c.red("UNSAFE: do not hand this data over as it is"),
  ];
  for (const r of o.reasons) lines.push(`  - ${s(r, 500)}`);
  return `${lines.join("\n")}\n`;
}
