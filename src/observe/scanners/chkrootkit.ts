/**
 * chkrootkit: its exit code is always 0, so its text is the result. Run with -q on the host and
 * with -r ROOT against each running container's filesystem as seen from the host.
 */
import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { errorMessage } from "../../util/result.js";
import { readApkDb } from "../packages/apk.js";
import { RootResolver } from "../packages/resolve.js";
import { upperDirFromMountinfo } from "../proc/mountinfo.js";
import { findExecutable, runTool, truncationReason } from "./run-tool.js";
import type { ChkrootkitSaid, ScanGap, ToolReport } from "./types.js";

export type ChkrootkitKind = "infected" | "disabled" | "warning" | "clean" | "not-tested" | "other";

export interface ChkrootkitItem {
  /** The check's name (`amd`, `sniffer`, "Linux.Xor.DDoS") or "" for a bare WARNING block. */
  check: string;
  status: string;
  kind: ChkrootkitKind;
  /** Lines printed under it (a WARNING block up to its blank line, or detail lines). */
  lines: string[];
  /** 1-based line of the item in the output. */
  line: number;
  /** For an INFECTED check in a container: the binary chkrootkit looked at, as the container sees it. */
  binary?: BinaryIdentity | null;
}

/** A file identified by what it is, not by its name: device, inode and SHA-256. */
export interface BinaryIdentity {
  /** The path found (inside the root) and where its symlinks lead. */
  path: string;
  resolved: string;
  dev: string;
  ino: string;
  sha256: string;
  /** Present in the container's writable layer: changed or added after the image was built. */
  inWritableLayer: boolean;
}

export interface BusyboxIdentity extends BinaryIdentity {
  /** apk's checksum for it matches (true), differs (false), or there is none (null). */
  packageVerified: boolean | null;
}

const HEAD = /^(?:Checking `(.+?)'\.\.\.|Searching for (.+?)\.\.\.)\s*(.*)$/;

export function statusKind(status: string): ChkrootkitKind {
  const s = status.trim();
  if (/(Vulnerable|INFECTED) but disabled/i.test(s)) return "disabled";
  if (/INFECTED/.test(s)) return "infected";
  if (/^WARNING/.test(s)) return "warning";
  if (/^not tested/i.test(s)) return "not-tested";
  if (
    /^(not infected|not found|nothing found|nothing detected|no suspect files|started|finished|done|not promisc)/i.test(
      s,
    ) ||
    s === ""
  )
    return "clean";
  return "other";
}

/** Parse chkrootkit's output, verbose or -q. */
export function parseChkrootkit(text: string): ChkrootkitItem[] {
  const items: ChkrootkitItem[] = [];
  const lines = text.split("\n");
  let block: ChkrootkitItem | null = null;
  let lastHead: ChkrootkitItem | null = null;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, "");
    if (block) {
      if (line.trim() === "") {
        block = null;
        continue;
      }
      block.lines.push(line);
      continue;
    }
    if (line.startsWith("WARNING: ")) {
      // A WARNING block belongs to the check whose status line said WARNING just before it.
      const check = lastHead?.kind === "warning" ? lastHead.check : "";
      block = { check, status: line, kind: "warning", lines: [line], line: i + 1 };
      items.push(block);
      if (lastHead?.kind === "warning") lastHead.kind = "clean";
      continue;
    }
    const h = HEAD.exec(line);
    if (h) {
      const status = h[3] ?? "";
      lastHead = {
        check: (h[1] ?? h[2])!,
        status,
        kind: statusKind(status),
        lines: [],
        line: i + 1,
      };
      items.push(lastHead);
      continue;
    }
    if (line.trim() === "" || line.startsWith("ROOTDIR is")) continue;
    const kind = statusKind(line);
    if (kind === "infected" || kind === "disabled") {
      items.push({ check: lastHead?.check ?? "", status: line, kind, lines: [line], line: i + 1 });
      continue;
    }
    // Detail lines (chkproc, chkdirs, ifpromisc output) go with the last check.
    if (lastHead) lastHead.lines.push(line);
    else items.push({ check: "", status: line, kind: "other", lines: [line], line: i + 1 });
  }
  return items;
}

/**
 * The tool flagged the item: INFECTED, WARNING, vulnerable but disabled, output we cannot
 * classify, or detail lines under a check that say Warning or Possible. Counted in the
 * summary line; how serious each is, is the judge's call (judge/scanners/chkrootkit.ts).
 */
export function chkrootkitFlagged(it: ChkrootkitItem): boolean {
  if (it.kind === "infected" || it.kind === "warning" || it.kind === "disabled") return true;
  if (it.kind === "other") return true;
  return it.kind === "clean" && it.lines.some((l) => /Warning|Possible/i.test(l));
}

export interface ChkrootkitRoot {
  where: string;
  containerId: string | null;
  /** "/" for the host, else /proc/<pid>/root. */
  root: string;
}

/** The directories chkrootkit's `loc` searches, in its order: $PATH, then its own list. */
function chkrootkitPath(env: Readonly<Record<string, string | undefined>>): string[] {
  const path = (env.PATH ?? "").split(":").filter((d) => d.startsWith("/"));
  return [...path, "/sbin", "/usr/sbin", "/lib", "/usr/lib", "/usr/libexec"];
}

async function identify(
  res: RootResolver,
  inside: string,
  upper: string | null,
): Promise<BinaryIdentity | null> {
  try {
    const resolved = await res.resolve(inside);
    const host = res.host(resolved);
    const st = await stat(host, { bigint: true });
    if (!st.isFile()) return null;
    const bytes = await readFile(host);
    let inWritableLayer = false;
    if (upper)
      inWritableLayer = await stat(`${upper}${resolved}`).then(
        () => true,
        () => false,
      );
    return {
      path: inside,
      resolved,
      dev: String(st.dev),
      ino: String(st.ino),
      sha256: createHash("sha256").update(bytes).digest("hex"),
      inWritableLayer,
    };
  } catch {
    return null;
  }
}

/**
 * For a container root with INFECTED checks: which file each check read (found the way
 * chkrootkit's loc finds it, but with symlinks resolved inside the container), and the
 * container's own busybox, for the judge to compare by inode and hash.
 */
export async function identifyBinaries(
  root: string,
  items: ChkrootkitItem[],
  env: Readonly<Record<string, string | undefined>>,
): Promise<BusyboxIdentity | null> {
  const infected = items.filter((i) => i.kind === "infected" && /^[A-Za-z0-9_.+-]+$/.test(i.check));
  if (root === "/" || infected.length === 0) return null;
  const res = new RootResolver(root);
  const pid = /^\/proc\/(\d+)\/root\/?$/.exec(root)?.[1];
  const upper = pid
    ? upperDirFromMountinfo(await readFile(`/proc/${pid}/mountinfo`, "utf8").catch(() => ""))
    : null;
  const dirs = chkrootkitPath(env);
  for (const it of infected) {
    it.binary = null;
    for (const d of dirs) {
      const id = await identify(res, `${d.replace(/\/+$/, "")}/${it.check}`, upper);
      if (id) {
        it.binary = id;
        break;
      }
    }
  }
  let busybox: BinaryIdentity | null = null;
  for (const d of ["/bin", "/usr/bin", "/sbin", "/usr/sbin"]) {
    busybox = await identify(res, `${d}/busybox`, upper);
    if (busybox) break;
  }
  if (!busybox) return null;
  let packageVerified: boolean | null = null;
  const apk = await readApkDb(root).catch(() => null);
  const entry = apk?.files.find((f) => f.path === busybox.resolved || f.path === busybox.path);
  if (entry) {
    const bytes = await readFile(res.host(busybox.resolved)).catch(() => null);
    packageVerified =
      bytes !== null && createHash(entry.algo).update(bytes).digest("hex") === entry.expected;
  }
  return { ...busybox, packageVerified };
}

export interface RunChkrootkitOptions {
  roots: ChkrootkitRoot[];
  timeoutMs: number;
  executable?: string;
  /** Only these tests (chkrootkit's own names, `chkrootkit -l`); empty or absent: all. */
  tests?: readonly string[];
  signal?: AbortSignal;
  env: Readonly<Record<string, string | undefined>>;
}

function slug(s: string): string {
  return s.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 100) || "_";
}

export async function runChkrootkit(opts: RunChkrootkitOptions): Promise<ToolReport> {
  const started = Date.now();
  const exe = await findExecutable(opts.executable ?? "chkrootkit", opts.env);
  if (!exe) {
    return {
      tool: "chkrootkit",
      status: "missing",
      summary: "chkrootkit is not installed (apt-get install chkrootkit)",
      said: null,
      gaps: [
        {
          tool: "chkrootkit",
          what: "chkrootkit",
          reason: "not installed: apt-get install chkrootkit",
        },
      ],
      durationMs: 0,
      raw: {},
      parsed: null,
    };
  }
  const said: ChkrootkitSaid = { tool: "chkrootkit", roots: [] };
  let flagged = 0;
  const gaps: ScanGap[] = [];
  const raw: Record<string, string> = {};
  const parsed: Record<string, unknown> = {};
  let timedOut = false;
  let incomplete = false;
  for (const r of opts.roots) {
    const name = r.root === "/" ? "host" : `container-${slug(r.where)}`;
    const args = [...(r.root === "/" ? ["-q"] : ["-q", "-r", r.root]), ...(opts.tests ?? [])];
    try {
      const run = await runTool(exe, args, {
        timeoutMs: opts.timeoutMs,
        env: opts.env,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      raw[`${name}.stdout.txt`] = run.stdout;
      raw[`${name}.stderr.txt`] = run.stderr;
      const items = parseChkrootkit(run.stdout);
      parsed[name] = {
        argv: run.argv,
        exitCode: run.exitCode,
        timedOut: run.timedOut,
        truncated: run.truncated,
        incomplete: run.truncated || run.timedOut,
        items,
      };
      const cutGap = truncationReason(run);
      if (cutGap) {
        incomplete = true;
        gaps.push({ tool: "chkrootkit", what: `chkrootkit ${args.join(" ")}`, reason: cutGap });
      }
      const busybox = await identifyBinaries(r.root, items, opts.env).catch(() => null);
      said.roots.push({
        where: r.where,
        containerId: r.containerId,
        outputFile: `scans/chkrootkit/${name}.stdout.txt`,
        items,
        busybox,
      });
      flagged += items.filter(chkrootkitFlagged).length;
      if (run.timedOut) {
        timedOut = true;
        gaps.push({
          tool: "chkrootkit",
          what: `chkrootkit ${args.join(" ")}`,
          reason: "timed out; partial output kept",
        });
      }
    } catch (e) {
      gaps.push({
        tool: "chkrootkit",
        what: `chkrootkit ${args.join(" ")}`,
        reason: errorMessage(e),
      });
    }
  }
  return {
    tool: "chkrootkit",
    status: timedOut ? "timeout" : gaps.length > 0 && flagged === 0 ? "error" : "ok",
    summary: `${opts.roots.length} root(s), ${flagged} finding(s)`,
    said,
    gaps,
    durationMs: Date.now() - started,
    raw,
    parsed,
    incomplete: incomplete || timedOut,
  };
}
