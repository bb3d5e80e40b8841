/**
 * The facts about one process that the process rules report and that other rules
 * (spread, traffic, miner) use to decide whether a place holds a suspicious process.
 * Pure functions of the Snapshot.
 */
import type { Process, Snapshot } from "../../model/snapshot.js";
import type { RuleContext } from "../context.js";
import { ancestors, basename, hiddenComponent, inTmpDir } from "../facts.js";
import { type IocMatch, matchProcess } from "../ioc/ioc-set.js";
import { matchesName, type RuleLists } from "../rule-lists.js";

/** Executables (basenames) of container runtimes, which run from sealed memfds legitimately. */
const RUNTIME_EXES =
  /^(runc|crun|containerd|containerd-shim(-runc-v\d+)?|dockerd|conmon|podman|docker-init)$/;

/** Where packaged binaries live: a deleted one is usually an upgrade, a renamed one an alternative. */
const SYSTEM_DIRS = ["/usr/", "/bin/", "/sbin/", "/lib/", "/lib64/", "/lib32/", "/libexec/"];

export function inSystemDir(path: string): boolean {
  return SYSTEM_DIRS.some((d) => path.startsWith(d));
}

/** The runtime ancestor that explains a memfd executable, if any (by real exe, not comm). */
export function runtimeAncestor(snap: Snapshot, p: Process): Process | null {
  for (const a of ancestors(snap, p)) {
    if (a.exe.path && !a.exe.deleted && !a.exe.memfd && RUNTIME_EXES.test(basename(a.exe.path))) {
      return a;
    }
  }
  return null;
}

const BRACKETED = /^\[[\w/:.+-]+\]$/;

/**
 * A user-space process named like a kernel thread (rules/kernel-threads.json) is hiding:
 * kinsing's `kdevtmpfsi` starts like `kdevtmpfs`, on purpose. So is a bracketed argv[0].
 */
export function kernelThreadMasquerade(p: Process, lists: RuleLists): string | null {
  if (p.kernelThread) return null;
  const argv0 = p.argv[0] ?? "";
  if (BRACKETED.test(argv0)) return `argv[0] is "${argv0}"`;
  if (matchesName(lists.kernelThreads, p.comm)) return `comm is "${p.comm}"`;
  return null;
}

/**
 * Programs whose process name is the script or applet they run, not their own: comm differs
 * from the executable by design. Matched on the executable's basename.
 */
const INTERPRETERS =
  /^(python[\d.]*m?|pypy[\d.]*|node(js)?|deno|bun|perl[\d.]*|ruby[\d.]*|java|php[\d.]*(-fpm[\d.]*|-cgi)?|lua[\d.]*|luajit|tclsh[\d.]*|wish[\d.]*|R|Rscript|dotnet|mono|busybox|toybox|env|sh|bash|dash|ash|zsh|ksh|mksh|fish|tcsh|csh|qemu-.*|ld-linux.*\.so.*|ld-musl.*\.so.*|erl|beam\.smp|beam)$/;

function stem(name: string): string {
  return name
    .toLowerCase()
    .replace(/[.\-_]?\d[\d.]*$/, "")
    .replace(/\.(basic|tiny|openbsd|traditional|real|bin)$/, "");
}

export interface NameMismatch {
  exeName: string;
  /** The name impersonates a well-known daemon. */
  impersonates: boolean;
}

/**
 * comm differing from the executable's basename, minus the known near-misses: comm is
 * cut to 15 bytes; interpreters and busybox run something named differently; symlinked
 * alternatives (awk -> mawk, vi -> vim.basic, python3 -> python3.11) resolve exe to the
 * target while comm keeps the link's name; packaged daemons rename themselves (prctl).
 */
export function nameMismatch(p: Process, lists: RuleLists): NameMismatch | null {
  if (p.kernelThread || !p.exe.path || p.exe.memfd) return null;
  const exeName = basename(p.exe.path);
  const comm = p.comm;
  if (exeName.slice(0, 15) === comm || comm === "") return null;
  if (INTERPRETERS.test(exeName)) return null;
  const a = stem(exeName);
  const b = stem(comm);
  if (a.length >= 2 && b.length >= 2 && (a.includes(b) || b.includes(a))) return null;
  // Daemons an attacker likes to be mistaken for: rules/well-known-daemons.json.
  const impersonates = lists.wellKnownDaemons.has(comm);
  if (inSystemDir(p.exe.path) && !impersonates) return null;
  return { exeName, impersonates };
}

const MINER_ARGS =
  /stratum\+(tcp|ssl|tls):\/\/|--donate-level|--cpu-max-threads-hint|\bnicehash\b|--coin[= ](monero|xmr)|-a\s+(rx\/0|cryptonight)/i;

/** Why the command line or name (rules/miner-names.json) says "miner", or null. */
export function minerSign(p: Process, lists: RuleLists): string | null {
  const names = [p.comm, p.exe.path ? basename(p.exe.path) : "", basename(p.argv[0] ?? "")];
  const n = names.find((x) => x && matchesName(lists.minerNames, x));
  if (n) return `named "${n}"`;
  const cmd = p.argv.join(" ").slice(0, 8192);
  const m = MINER_ARGS.exec(cmd);
  return m ? `command line has "${m[0]}"` : null;
}

export type DeletedKind =
  /** memfd started by a container runtime: expected. */
  | "memfd-runtime"
  | "memfd"
  /** A packaged binary replaced by an upgrade while running. */
  | "upgraded"
  | "dropped";

export function deletedKind(snap: Snapshot, p: Process, lists: RuleLists): DeletedKind | null {
  if (p.exe.memfd) return runtimeAncestor(snap, p) ? "memfd-runtime" : "memfd";
  if (!p.exe.deleted || !p.exe.path) return null;
  const path = p.exe.path;
  if (p.exe.upperLayer === true || inTmpDir(lists, path) || hiddenComponent(lists, path))
    return "dropped";
  if (inSystemDir(path) || path.startsWith("/opt/")) return "upgraded";
  return "dropped";
}

export interface Traits {
  deleted: DeletedKind | null;
  tmp: boolean;
  hidden: string | null;
  dropped: boolean;
  kthread: string | null;
  name: NameMismatch | null;
  miner: string | null;
  iocs: IocMatch[];
}

export function traitsOf(snap: Snapshot, p: Process, ctx: RuleContext): Traits {
  const path = p.exe.path && !p.exe.memfd ? p.exe.path : null;
  return {
    deleted: deletedKind(snap, p, ctx.lists),
    tmp: path !== null && inTmpDir(ctx.lists, path),
    hidden: path !== null ? hiddenComponent(ctx.lists, path) : null,
    dropped: p.exe.upperLayer === true,
    kthread: kernelThreadMasquerade(p, ctx.lists),
    name: nameMismatch(p, ctx.lists),
    miner: minerSign(p, ctx.lists),
    iocs: ctx.iocs ? matchProcess(ctx.iocs, p) : [],
  };
}

/** Short labels of what is suspicious about a process; empty when nothing is. */
export function suspiciousReasons(t: Traits): string[] {
  const r: string[] = [];
  if (t.deleted === "dropped") r.push("deleted executable");
  if (t.deleted === "memfd") r.push("runs from memfd");
  if (t.tmp) r.push("runs from a temp dir");
  if (t.hidden) r.push(`runs from hidden dir ${t.hidden}`);
  if (t.dropped) r.push("not in the image");
  if (t.kthread) r.push("poses as a kernel thread");
  if (t.name?.impersonates) r.push("poses as a well-known daemon");
  if (t.miner) r.push(`miner (${t.miner})`);
  for (const m of t.iocs) r.push(`IOC ${m.entry.kind}:${m.entry.value}`);
  return r;
}

/** pid -> reasons, for every suspicious process of the snapshot (memoised per snapshot and ctx). */
const cache = new WeakMap<Snapshot, WeakMap<RuleContext, Map<number, string[]>>>();

export function suspiciousProcesses(snap: Snapshot, ctx: RuleContext): Map<number, string[]> {
  let byCtx = cache.get(snap);
  if (!byCtx) {
    byCtx = new WeakMap();
    cache.set(snap, byCtx);
  }
  let out = byCtx.get(ctx);
  if (!out) {
    out = new Map();
    for (const p of snap.processes) {
      const reasons = suspiciousReasons(traitsOf(snap, p, ctx));
      if (reasons.length) out.set(p.pid, reasons);
    }
    byCtx.set(ctx, out);
  }
  return out;
}
