/**
 * Running an outside program (the scanners, restic, backup hooks): argv only (never a shell
 * string), stdin closed, its own process group so that a timeout or an abort ends the program
 * and every helper it forked, output bounded.
 */
import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { delimiter, join } from "node:path";
import { StringDecoder } from "node:string_decoder";

export interface ToolRun {
  argv: string[];
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
  /** true when stdout or stderr went past the byte limit and was cut: the output is incomplete. */
  truncated: boolean;
}

export interface RunToolOptions {
  cwd?: string;
  timeoutMs: number;
  /** The tool's environment: the caller's (the CLI's io.env), never read from the process here. */
  env: Readonly<Record<string, string | undefined>>;
  /** Per stream; the rest is dropped (a hostile tree can make a scanner print without end). */
  maxOutputBytes?: number;
  signal?: AbortSignal;
  /**
   * Each line of stdout as it arrives, without its newline (UTF-8 decoded across chunks): every
   * line, also those past the byte bound, so a summary printed last is never lost.
   */
  onStdoutLine?: (line: string) => void;
  /**
   * After SIGTERM (timeout or abort), how long the group has before SIGKILL. Scanners get 2 s;
   * restic more, to remove its lock from the repository as it exits.
   */
  killGraceMs?: number;
}

export const DEFAULT_MAX_OUTPUT = 32 * 1024 * 1024;
/** sbin is not on every PATH (cron, sudo -E); the scanners live there. */
const EXTRA_DIRS = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];

/** Find an executable by name on PATH plus the sbin dirs; absolute paths are checked as given. */
export async function findExecutable(
  name: string,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | null> {
  const candidates = name.includes("/")
    ? [name]
    : [...(env.PATH ?? "").split(delimiter).filter(Boolean), ...EXTRA_DIRS].map((d) =>
        join(d, name),
      );
  for (const c of candidates) {
    try {
      await access(c, constants.X_OK);
      return c;
    } catch {
      // next
    }
  }
  return null;
}

/** Signal a whole process group we started; ESRCH (already gone) is fine. */
export function killGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // gone
    }
  }
}

/**
 * Keep what fits of `chunk` under `max` bytes in all (`held` so far); returns the bytes kept.
 * A chunk that crosses the bound is cut, and the caller learns it from the count: flagging only
 * chunks that arrive after the bound missed a cut in the last chunk, and a cut-off output was
 * then parsed as a whole one.
 */
export function keepWithin(into: Buffer[], held: number, chunk: Buffer, max: number): number {
  const room = Math.max(0, max - held);
  if (room === 0 || chunk.length === 0) return 0;
  const kept = chunk.length <= room ? chunk : chunk.subarray(0, room);
  into.push(kept);
  return kept.length;
}

/**
 * The gap to record when a run's output was cut at its bound: what was parsed is incomplete.
 * Adapters add it to their report so the scan's output says so (and scan does not present a
 * cut-off parse as the tool's whole answer).
 */
export function truncationReason(
  run: Pick<ToolRun, "truncated">,
  maxOutputBytes?: number,
): string | null {
  if (!run.truncated) return null;
  const max = maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  return `output cut at ${max} bytes per stream: the parsed result is incomplete`;
}

export function runTool(file: string, args: readonly string[], opts: RunToolOptions) {
  const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
  const started = Date.now();
  return new Promise<ToolRun>((resolve, reject) => {
    const child = spawn(file, [...args], {
      cwd: opts.cwd ?? "/",
      env: { ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
      // A new process group: the timeout kills the tool's children too (rkhunter and
      // chkrootkit are shell scripts that fork hundreds of helpers).
      detached: true,
    });
    const out: Buffer[] = [];
    const errs: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let truncated = false;
    let timedOut = false;
    const onLine = opts.onStdoutLine;
    const decoder = onLine ? new StringDecoder("utf8") : null;
    let partial = "";
    const passLines = (text: string) => {
      if (!onLine) return;
      partial += text;
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) onLine(l);
    };
    child.stdout.on("data", (b: Buffer) => {
      const kept = keepWithin(out, outBytes, b, max);
      outBytes += kept;
      if (kept < b.length) truncated = true;
      if (decoder) passLines(decoder.write(b));
    });
    child.stderr.on("data", (b: Buffer) => {
      const kept = keepWithin(errs, errBytes, b, max);
      errBytes += kept;
      if (kept < b.length) truncated = true;
    });
    let stopped = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = () => {
      if (child.pid === undefined || stopped) return;
      stopped = true;
      killGroup(child.pid, "SIGTERM");
      // Shell scripts may trap TERM; the group gets KILL after the grace.
      killTimer = setTimeout(
        () => child.pid !== undefined && killGroup(child.pid, "SIGKILL"),
        opts.killGraceMs ?? 2000,
      );
      killTimer.unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = () => stop();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    // Aborted before it started (an interrupt during the step before): it ends at once.
    if (opts.signal?.aborted) stop();
    child.on("error", (e) => {
      clearTimeout(timer);
      clearTimeout(killTimer);
      opts.signal?.removeEventListener("abort", onAbort);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      // Not a KILL later to a process id that may by then be another's.
      clearTimeout(killTimer);
      opts.signal?.removeEventListener("abort", onAbort);
      if (decoder) {
        passLines(decoder.end());
        if (partial !== "") onLine?.(partial);
      }
      // Helpers that outlived the tool (a hung child of a killed script) go with the group.
      if (stopped && child.pid !== undefined) killGroup(child.pid, "SIGKILL");
      resolve({
        argv: [file, ...args],
        exitCode: code,
        signal,
        stdout: Buffer.concat(out).toString("utf8"),
        stderr: Buffer.concat(errs).toString("utf8"),
        timedOut,
        durationMs: Date.now() - started,
        truncated,
      });
    });
  });
}
