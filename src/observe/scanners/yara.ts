/**
 * YARA (Debian's `yara`) over the same files ClamAV scans: the host paths, every container's
 * filesystem as the host sees it, every running process's executable (a deleted one too),
 * minus the files verified unchanged against their package (unless --all-files). The files are
 * listed by us (symlinks never followed, virtual filesystems skipped) and handed to yara as a
 * scan list, so each hit maps back to its container and the path inside it (no -r, so no
 * directory is walked by yara; no -N, which would refuse /proc/<pid>/exe). `-m` prints each
 * matching rule's metadata, which goes into the finding.
 */
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { availableParallelism, tmpdir } from "node:os";
import { join } from "node:path";
import { errorMessage } from "../../util/result.js";
import type { VerifiedSet } from "../packages/scan.js";
import { insidePath } from "./clamav.js";
import { findExecutable, runTool, truncationReason } from "./run-tool.js";
import type { Location, ScanGap, ScanTarget, ToolReport } from "./types.js";
import { skipDirsFor, walkFiles } from "./walk.js";

export interface YaraHit {
  rule: string;
  meta: Record<string, string>;
  location: Location;
  /** Matched strings as yara printed them (`0x1a:$s1: text`), bounded. */
  strings: string[];
}

export interface RunYaraOptions {
  targets: readonly ScanTarget[];
  rules: string;
  timeoutMs: number;
  /** Files verified against their package: skipped unless in an always-scanned place. */
  verified?: VerifiedSet | null;
  executable?: string;
  maxFilesPerTarget?: number;
  signal?: AbortSignal;
  env: Readonly<Record<string, string | undefined>>;
}

/** Places scanned whatever their package says: droppers and service data live there. */
export const ALWAYS_SCAN = [
  "/tmp",
  "/var/tmp",
  "/dev/shm",
  "/root",
  "/home",
  "/srv",
  "/var/www",
  "/var/mail",
  "/var/spool",
  "/var/vmail",
  "/run",
];

export function alwaysScanned(path: string): boolean {
  return ALWAYS_SCAN.some((p) => path === p || path.startsWith(`${p}/`));
}

/** `k="v",n=3` (inside yara -m's brackets) to a record. */
export function parseYaraMeta(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const re = /([A-Za-z_][A-Za-z0-9_]*)=("((?:[^"\\]|\\.)*)"|[^,\]]*)/g;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    out[m[1]!] = m[3] !== undefined ? m[3].replace(/\\(.)/g, "$1") : m[2]!;
  }
  return out;
}

/**
 * yara's output: `RULE [meta] PATH` per match, then `0xOFF:$id: data` lines with -s. A path is
 * recognised as one of those we listed (file names may hold spaces and brackets).
 */
export function parseYaraOutput(
  text: string,
  known: ReadonlySet<string>,
): { rule: string; meta: Record<string, string>; path: string; strings: string[] }[] {
  const out: { rule: string; meta: Record<string, string>; path: string; strings: string[] }[] = [];
  let last: (typeof out)[number] | null = null;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (/^0x[0-9a-f]+:\$/.test(line) && last) {
      if (last.strings.length < 20) last.strings.push(line.slice(0, 300));
      continue;
    }
    const sp = line.indexOf(" ");
    if (sp < 0) continue;
    const rule = line.slice(0, sp);
    let path: string | null = null;
    for (let i = line.indexOf(" /"); i >= 0; i = line.indexOf(" /", i + 1)) {
      const cand = line.slice(i + 1);
      if (known.has(cand)) {
        path = cand;
        const middle = line.slice(sp + 1, i);
        last = { rule, meta: parseYaraMeta(middle.replace(/^\[|\]$/g, "")), path, strings: [] };
        out.push(last);
        break;
      }
    }
    if (path === null) last = null;
  }
  return out;
}

function skippable(
  verified: VerifiedSet | null | undefined,
  st: { dev: bigint; ino: bigint; size: bigint; mtimeNs: bigint; ctimeNs: bigint },
  path: string,
): boolean {
  if (!verified) return false;
  const v = verified.get(`${st.dev}:${st.ino}`);
  return (
    v !== undefined &&
    v.size === st.size &&
    v.mtimeNs === st.mtimeNs &&
    v.ctimeNs === st.ctimeNs &&
    !alwaysScanned(path)
  );
}

export async function runYara(opts: RunYaraOptions): Promise<ToolReport> {
  const started = Date.now();
  const gaps: ScanGap[] = [];
  const exe = await findExecutable(opts.executable ?? "yara", opts.env);
  const base = {
    tool: "yara" as const,
    raw: {} as Record<string, string>,
    parsed: null as unknown,
  };
  if (!exe) {
    return {
      ...base,
      status: "missing",
      summary: "yara is not installed (apt-get install yara)",
      said: null,
      gaps: [{ tool: "yara", what: "yara", reason: "not installed: apt-get install yara" }],
      durationMs: 0,
    };
  }
  try {
    await stat(opts.rules);
  } catch (e) {
    return {
      ...base,
      status: "error",
      summary: `cannot read the YARA rules ${opts.rules}: ${errorMessage(e)}`,
      said: null,
      gaps: [{ tool: "yara", what: opts.rules, reason: errorMessage(e) }],
      durationMs: 0,
    };
  }
  const byPath = new Map<string, Location>();
  let skipped = 0;
  const maxFiles = opts.maxFilesPerTarget ?? 5_000_000;
  for (const t of opts.targets) {
    if (opts.signal?.aborted) break;
    if (t.kind === "process") {
      const hostPath = `/proc/${t.pid}/exe`;
      byPath.set(hostPath, {
        where: t.containerName ?? (t.containerId ? t.containerId.slice(0, 12) : "host"),
        containerId: t.containerId,
        path: t.exe,
        hostPath,
        pid: t.pid,
      });
      continue;
    }
    const root = t.kind === "container" ? t.root : "/";
    const where = t.kind === "container" ? t.name : "host";
    const containerId = t.kind === "container" ? t.id : null;
    const skip =
      t.kind === "container" && t.pid === null
        ? new Set<string>()
        : await skipDirsFor(
            root,
            t.kind === "container" ? `/proc/${t.pid}/mountinfo` : "/proc/self/mountinfo",
          );
    const starts =
      t.kind === "host"
        ? t.paths
        : (t.paths ?? ["/"]).map((p) => (p === "/" ? root : `${root.replace(/\/+$/, "")}${p}`));
    for (const start of starts) {
      for await (const f of walkFiles(start, {
        skip,
        maxFiles,
        onError: (e) => {
          if (/ENOENT/.test(e.message) && e.path === start) return;
          if (/stopped after/.test(e.message))
            gaps.push({ tool: "yara", what: e.path, reason: e.message });
        },
      })) {
        const hp = f.path.toString("utf8");
        // A name that is not valid UTF-8 or holds a newline cannot go into a scan list.
        if (hp.includes("\n") || hp.includes("\uFFFD")) {
          gaps.push({
            tool: "yara",
            what: insidePath(hp, root),
            reason: "file name not listable for yara: not scanned",
          });
          continue;
        }
        const inside = insidePath(hp, root);
        if (skippable(opts.verified, f.stat, inside)) {
          skipped++;
          continue;
        }
        byPath.set(hp, { where, containerId, path: inside, hostPath: hp, pid: null });
      }
    }
  }
  const work = await mkdtemp(join(tmpdir(), "breachkit-yara-"));
  try {
    const list = join(work, "files.txt");
    await writeFile(list, [...byPath.keys()].join("\n") + (byPath.size ? "\n" : ""), {
      mode: 0o600,
    });
    const threads = String(Math.max(1, Math.min(4, availableParallelism())));
    const run = await runTool(
      exe,
      ["-w", "-m", "-s", "-p", threads, "--scan-list", opts.rules, list],
      {
        timeoutMs: opts.timeoutMs,
        env: opts.env,
        ...(opts.signal ? { signal: opts.signal } : {}),
      },
    );
    const matches = parseYaraOutput(run.stdout, new Set(byPath.keys()));
    const hits: YaraHit[] = matches.map((m) => ({
      rule: m.rule,
      meta: m.meta,
      strings: m.strings,
      location: byPath.get(m.path)!,
    }));
    const cut = truncationReason(run);
    if (cut) gaps.push({ tool: "yara", what: "yara output", reason: cut });
    // Exit 1 is a compile error in the rules, or an error on some file: stderr says which.
    const failed = run.exitCode !== 0 && !run.timedOut && hits.length === 0;
    if (run.stderr.trim())
      gaps.push({
        tool: "yara",
        what: "yara",
        reason: run.stderr.trim().split("\n").slice(0, 5).join("; "),
      });
    return {
      ...base,
      status: run.timedOut ? "timeout" : failed ? "error" : "ok",
      summary: failed
        ? `yara failed (exit ${run.exitCode}): ${run.stderr.trim().split("\n")[0] ?? ""}`
        : `${byPath.size} files scanned, ${skipped} skipped (verified against their package), ${hits.length} match(es)`,
      said: { tool: "yara", hits, rules: opts.rules },
      gaps,
      raw: { "stdout.txt": run.stdout, "stderr.txt": run.stderr },
      parsed: {
        argv: run.argv,
        exitCode: run.exitCode,
        files: byPath.size,
        skippedVerified: skipped,
        hits,
      },
      durationMs: Date.now() - started,
      ...(run.timedOut || run.truncated ? { incomplete: true } : {}),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
