/**
 * `scan --packages`: package integrity of the host and of every running container, as a
 * scanner report. Each container is verified through /proc/<pid>/root (its merged filesystem
 * as the host sees it), its writable layer read from that pid's mountinfo, so that a changed
 * file says whether it changed after the image was built.
 */
import { readFile } from "node:fs/promises";
import type { Progress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import { upperDirFromMountinfo } from "../proc/mountinfo.js";
import type { ScanGap, ScanTarget, ToolReport } from "../scanners/types.js";
import { type RootIntegrity, type VerifiedFile, verifyRoot } from "./verify.js";

/** What ClamAV may skip: files verified unchanged, by `dev:ino`. */
export type VerifiedSet = ReadonlyMap<string, VerifiedFile & { path: string; where: string }>;

export interface PackagesSaid {
  tool: "packages";
  roots: RootIntegrity[];
}

export interface RunPackagesOptions {
  targets: readonly ScanTarget[];
  progress: Progress;
  concurrency?: number;
  signal?: AbortSignal;
  /**
   * "scanned-paths": the check runs only so that ClamAV and YARA can skip verified files: the
   * host's package files under the scanned host paths only (containers: whole, as they are
   * scanned whole). "full" (the default): every package file.
   */
  scope?: "full" | "scanned-paths";
}

const MAX_LISTED = 5000;

/** The report's JSON: counts and every finding-worthy file, bounded; not the verified set. */
function parsedOf(r: RootIntegrity) {
  return {
    where: r.where,
    containerId: r.containerId,
    root: r.root,
    managers: r.managers,
    checked: r.checked,
    ok: r.ok,
    bytes: r.bytes,
    durationMs: r.durationMs,
    changed: r.changed.slice(0, MAX_LISTED),
    missing: r.missing.slice(0, MAX_LISTED),
    unowned: r.unowned,
    errors: r.errors.slice(0, MAX_LISTED),
    notes: r.notes,
    truncated:
      r.changed.length > MAX_LISTED ||
      r.missing.length > MAX_LISTED ||
      r.errors.length > MAX_LISTED,
  };
}

export function verifiedSetOf(said: PackagesSaid): VerifiedSet {
  const out = new Map<string, VerifiedFile & { path: string; where: string }>();
  for (const r of said.roots) {
    for (const [k, v] of r.verified)
      out.set(k, { ...v, path: r.verifiedPaths.get(k) ?? "", where: r.where });
  }
  return out;
}

export async function runPackages(opts: RunPackagesOptions): Promise<ToolReport> {
  const started = Date.now();
  const gaps: ScanGap[] = [];
  const roots: RootIntegrity[] = [];
  const list: {
    root: string;
    where: string;
    containerId: string | null;
    pid: number | null;
    onlyUnder?: string[];
  }[] = [];
  const host = opts.targets.find((t) => t.kind === "host");
  if (host && host.kind === "host") {
    const scoped = opts.scope === "scanned-paths";
    if (!scoped || host.paths.length > 0)
      list.push({
        root: "/",
        where: "host",
        containerId: null,
        pid: null,
        ...(scoped ? { onlyUnder: host.paths } : {}),
      });
  }
  for (const t of opts.targets) {
    if (t.kind !== "container") continue;
    if (t.pid === null) {
      gaps.push({
        tool: "packages",
        what: `container ${t.name}`,
        reason:
          "not running: its package files are spread over image layers; start it (or docker export it) to verify",
      });
      continue;
    }
    list.push({
      root: t.root,
      where: t.name,
      containerId: t.id,
      pid: t.pid,
      ...(opts.scope === "scanned-paths" && t.paths ? { onlyUnder: t.paths } : {}),
    });
  }
  for (const l of list) {
    if (opts.signal?.aborted) break;
    opts.progress.update(`packages: ${l.where}: reading the package database`);
    try {
      const upperDir =
        l.pid === null
          ? null
          : upperDirFromMountinfo(
              await readFile(`/proc/${l.pid}/mountinfo`, "utf8").catch(() => ""),
            );
      const r = await verifyRoot({
        root: l.root,
        where: l.where,
        containerId: l.containerId,
        upperDir,
        progress: opts.progress,
        ...(l.onlyUnder ? { onlyUnder: l.onlyUnder } : {}),
        ...(opts.concurrency ? { concurrency: opts.concurrency } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      roots.push(r);
      if (r.managers.length === 0)
        gaps.push({
          tool: "packages",
          what: l.where,
          reason: `no package database (dpkg, apk) to verify against${r.notes.length ? `; ${r.notes.join("; ")}` : ""}`,
        });
      else for (const n of r.notes) gaps.push({ tool: "packages", what: l.where, reason: n });
    } catch (e) {
      gaps.push({ tool: "packages", what: l.where, reason: errorMessage(e) });
    }
  }
  const said: PackagesSaid = { tool: "packages", roots };
  const n = (f: (r: RootIntegrity) => number) => roots.reduce((s, r) => s + f(r), 0);
  return {
    tool: "packages",
    status: opts.signal?.aborted ? "error" : roots.length === 0 && gaps.length > 0 ? "error" : "ok",
    summary: `${roots.length} root(s), ${n((r) => r.checked)} files checked, ${n((r) => r.changed.length)} changed, ${n((r) => r.missing.length)} missing, ${n((r) => r.unowned.length)} unowned executable(s)`,
    said,
    gaps,
    durationMs: Date.now() - started,
    raw: {},
    parsed: roots.map(parsedOf),
  };
}
