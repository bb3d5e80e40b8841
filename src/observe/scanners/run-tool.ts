/**
 * Running an outside scanner: argv only (never a shell string), stdin closed, its own process
 * group so that a timeout ends the tool and every helper it forked, output bounded.
 */
import { spawn } from "node:child_process";
import { access, constants } from "node:fs/promises";
import { delimiter, join } from "node:path";

export interface ToolRun {
  argv: string[];
  exitCode: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
  durationMs: number;
  /** true when stdout or stderr hit the byte limit and was cut. */
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
}

const DEFAULT_MAX_OUTPUT = 32 * 1024 * 1024;
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
    child.stdout.on("data", (b: Buffer) => {
      if (outBytes >= max) {
        truncated = true;
        return;
      }
      out.push(b.subarray(0, max - outBytes));
      outBytes += b.length;
    });
    child.stderr.on("data", (b: Buffer) => {
      if (errBytes >= max) {
        truncated = true;
        return;
      }
      errs.push(b.subarray(0, max - errBytes));
      errBytes += b.length;
    });
    const stop = () => {
      if (child.pid === undefined) return;
      killGroup(child.pid, "SIGTERM");
      // Shell scripts may trap TERM; the group gets KILL shortly after.
      setTimeout(() => child.pid !== undefined && killGroup(child.pid, "SIGKILL"), 2000).unref();
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, opts.timeoutMs);
    const onAbort = () => stop();
    opts.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (e) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      reject(e);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener("abort", onAbort);
      // Helpers that outlived the tool (a hung child of a killed script) go with the group.
      if (timedOut && child.pid !== undefined) killGroup(child.pid, "SIGKILL");
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
