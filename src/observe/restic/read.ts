/**
 * Read-only restic runs: `snapshots`, `cat blob` (trees), `list index` and `cat index`, each with
 * --no-lock and --no-cache so that reading a repository writes nothing to it or to the host.
 * restic itself is found on PATH (Debian's package: /usr/bin/restic); argv only, never a shell.
 */
import { BreachkitError } from "../../util/errors.js";
import { findExecutable, runTool, type ToolRun } from "../scanners/run-tool.js";
import {
  explainResticError,
  type LsNode,
  parseIndex,
  parseLs,
  parseSnapshots,
  parseTree,
  type Snapshot,
  type TreeNode,
} from "./parse.js";
import type { ResticRepo } from "./repo.js";
import { resticEnv } from "./repo.js";

type Env = Readonly<Record<string, string | undefined>>;

export const READ_FLAGS = ["--no-lock", "--no-cache"] as const;

export async function findRestic(env: Env): Promise<string> {
  const exe = await findExecutable(env.BREACHKIT_RESTIC ?? "restic", env);
  if (!exe)
    throw new BreachkitError(
      "TOOL_MISSING",
      "restic is not installed",
      "install it: apt-get install restic (breachkit's backups are restic repositories)",
    );
  return exe;
}

export class ResticError extends BreachkitError {
  readonly run: ToolRun;
  constructor(what: string, run: ToolRun) {
    const { reason, hint } = explainResticError(run.stderr, run.exitCode);
    super("IO", `restic ${what} failed: ${reason}`, hint);
    this.name = "ResticError";
    this.run = run;
  }
}

export class ResticReader {
  constructor(
    readonly exe: string,
    readonly repo: ResticRepo,
    readonly env: Env,
    readonly timeoutMs = 300_000,
  ) {}

  async run(args: readonly string[], maxOutputBytes?: number): Promise<ToolRun> {
    return runTool(this.exe, [...READ_FLAGS, ...args], {
      env: resticEnv(this.repo, this.env),
      timeoutMs: this.timeoutMs,
      ...(maxOutputBytes ? { maxOutputBytes } : {}),
    });
  }

  private async ok(what: string, args: readonly string[], max?: number): Promise<string> {
    const r = await this.run(args, max);
    if (r.exitCode !== 0 || r.timedOut) throw new ResticError(what, r);
    if (r.truncated) throw new BreachkitError("IO", `restic ${what}: output too large`);
    return r.stdout;
  }

  /** Every snapshot (optionally only those carrying all `tags`), oldest first. */
  async snapshots(tags: readonly string[] = []): Promise<Snapshot[]> {
    const args = ["snapshots", "--json"];
    if (tags.length > 0) args.push("--tag", tags.join(","));
    const parsed = parseSnapshots(await this.ok("snapshots", args, 256 * 1024 * 1024));
    if (!parsed.ok) throw new BreachkitError("IO", parsed.error);
    return parsed.value;
  }

  /** Every node of a snapshot as restic recorded it (path, type, size). */
  async ls(snapshotId: string): Promise<LsNode[]> {
    const parsed = parseLs(await this.ok("ls", ["ls", "--json", snapshotId], 512 * 1024 * 1024));
    if (!parsed.ok) throw new BreachkitError("IO", parsed.error);
    return parsed.value;
  }

  async tree(id: string): Promise<TreeNode[]> {
    if (!/^[0-9a-f]{64}$/.test(id)) throw new BreachkitError("IO", `not a tree id: ${id}`);
    const parsed = parseTree(await this.ok("cat blob", ["cat", "blob", id]));
    if (!parsed.ok) throw new BreachkitError("IO", parsed.error);
    return parsed.value;
  }

  /** Every data blob's plaintext length, from all the index files. */
  async blobLengths(): Promise<Map<string, number>> {
    const ids = (await this.ok("list index", ["list", "index"]))
      .split("\n")
      .map((s) => s.trim())
      .filter((s) => /^[0-9a-f]{64}$/.test(s));
    const out = new Map<string, number>();
    for (const id of ids) {
      const r = parseIndex(
        await this.ok("cat index", ["cat", "index", id], 512 * 1024 * 1024),
        out,
      );
      if (!r.ok) throw new BreachkitError("IO", r.error);
    }
    return out;
  }
}
