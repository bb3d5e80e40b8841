/**
 * collect's terminal summary: COMPLETE or INCOMPLETE, the seal to write down, what was copied
 * and what failed. Every string from the host through safeText.
 */
import type { ArchiveResult } from "../evidence/archive.js";
import type { CollectSummary } from "../evidence/collect.js";
import type { MemoryDumpRecord } from "../model/memory-dump.js";
import type { Colors } from "../util/colors.js";
import { formatBytes } from "../util/progress.js";
import { safeText } from "../util/sanitize.js";

/** How the bundle ended: what the command knows beyond the collection's own summary. */
export interface CollectOutcome {
  files: number;
  bytes: number;
  reason: string | null;
  seal: string;
  archive: ArchiveResult | null;
  archiveError: string | null;
  /** The memory dumps made (--memory, --memory-suspicious); none when not asked. */
  memory?: readonly MemoryDumpRecord[];
}

/** One line per memory dump: the core file and its hash, or why there is none. */
export function formatMemoryDumps(memory: readonly MemoryDumpRecord[], c: Colors): string[] {
  const t = (x: string) => safeText(x, 300);
  const lines: string[] = [];
  if (memory.length === 0) return lines;
  const written = memory.filter((m) => m.file !== null);
  lines.push(
    `  memory     ${written.length} of ${memory.length} processes dumped (ELF core files)`,
  );
  for (const m of memory.slice(0, 10)) {
    const where = m.containerName ? ` in ${t(m.containerName)}` : "";
    const head = `    pid ${m.pid} ${t(m.comm ?? "?")}${where}`;
    if (m.file === null) {
      lines.push(`${head}: ${c.yellow("not dumped")}: ${t(m.error ?? "unknown")}`);
      continue;
    }
    const held =
      m.held === "cgroup-freezer"
        ? `container frozen ${m.heldMs ?? 0} ms`
        : m.held === "sigstop"
          ? `stopped ${m.heldMs ?? 0} ms`
          : m.held;
    lines.push(`${head}: ${formatBytes(m.dumpedBytes)}, ${held}, sha256 ${m.sha256 ?? "?"}`);
    const leads = m.indicators.ips + m.indicators.urls + m.indicators.domains;
    if (leads > 0) {
      lines.push(
        `      leads: ${m.indicators.ips} addresses, ${m.indicators.urls} URLs, ${m.indicators.domains} domains in ${t(m.iocsFile ?? "?")} (low confidence)`,
      );
    }
    if (!m.complete) lines.push(`      ${c.yellow("partial")}: ${t(m.incompleteReason ?? "?")}`);
    else if (m.skipped.some((r) => r.reason.startsWith("over --memory-max"))) {
      lines.push(`      cut at --memory-max: ${m.skipped.length} mappings listed, not read`);
    }
  }
  if (memory.length > 10) lines.push(`    ... ${memory.length - 10} more in memory/index.json`);
  return lines;
}

export function formatCollect(
  dir: string,
  s: CollectSummary,
  o: CollectOutcome,
  c: Colors,
): string {
  const t = (x: string) => safeText(x, 300);
  const lines: string[] = [];
  lines.push(
    o.reason === null
      ? `${c.bold(c.green("COMPLETE"))}  ${t(dir)}`
      : `${c.bold(c.yellow("INCOMPLETE"))}  ${t(dir)}`,
  );
  if (o.reason !== null) {
    lines.push(`  reason     ${t(o.reason)}`);
    lines.push(
      "             the bundle is still sealed and valid: what was collected is listed and hashed",
    );
  }
  lines.push(`  files      ${o.files}, ${formatBytes(o.bytes)}`);
  lines.push(`  seal       ${o.seal}  (SHA-256 of manifest.json: write it down)`);
  if (o.archive) {
    lines.push(`  archive    ${t(o.archive.path)}`);
    lines.push(`  sha256     ${o.archive.sha256}`);
  }
  if (o.archiveError) lines.push(`  ${c.red("archive failed")}: ${t(o.archiveError)}`);
  lines.push(...formatMemoryDumps(o.memory ?? [], c));
  const copied = s.executables.filter((e) => e.file !== null);
  if (s.executables.length > 0) {
    lines.push(
      `  executables ${copied.length} of ${s.executables.length} copied from /proc/<pid>/exe`,
    );
    for (const e of s.executables.slice(0, 10)) {
      const where = e.containerName ? ` in ${t(e.containerName)}` : "";
      lines.push(
        `    pid ${e.pid} ${t(e.comm ?? "?")}${where}: ${e.sha256 ? `sha256 ${e.sha256}` : t(e.error ?? "not copied")}`,
      );
    }
  }
  lines.push(`  containers ${s.containers.length}`);
  if (s.truncated.length > 0) {
    lines.push(
      `  ${c.yellow("cut by a size limit")}: ${s.truncated.slice(0, 5).map(t).join(", ")}`,
    );
  }
  for (const e of s.errors.slice(0, 10)) {
    lines.push(`  ${c.red("failed")}  ${t(e.action)}: ${t(e.error)}`);
  }
  if (s.errors.length > 10)
    lines.push(`  ... ${s.errors.length - 10} more in collection.log.jsonl`);
  lines.push("");
  lines.push(`  check it any time with: breachkit verify ${t(dir)}`);
  return `${lines.join("\n")}\n`;
}
