/**
 * Pre and post hooks named in a container's labels (`breachkit.backup.pre`, `.post`): a
 * database dump before the read, say. A label is host data, so it is never handed to a shell:
 * it is a JSON array of strings (`["/usr/local/sbin/dump-db", "--out", "/srv/db/dump"]`) or
 * words split on spaces, and its first word must be an absolute path to a regular file owned by
 * root (or by breachkit's user) that nobody else may change: a label can name a program the
 * admin installed, never write one.
 */
import { promises as fs } from "node:fs";
import type { HookRun } from "../../model/backup-output.js";
import { runTool } from "../../observe/scanners/run-tool.js";
import { err, ok, type Result } from "../../util/result.js";

const MAX_ARGS = 64;
const MAX_ARG = 4096;

/** The argv a label asks for, or why it is refused. */
export function parseHookLabel(value: string): Result<string[], string> {
  const v = value.trim();
  let argv: unknown;
  if (v.startsWith("[")) {
    try {
      argv = JSON.parse(v);
    } catch {
      return err("not a JSON array of strings");
    }
  } else {
    argv = v.split(/ +/).filter(Boolean);
  }
  if (
    !Array.isArray(argv) ||
    argv.length === 0 ||
    argv.length > MAX_ARGS ||
    !argv.every((a) => typeof a === "string" && a.length <= MAX_ARG && !a.includes("\0"))
  )
    return err("not a list of at most 64 words");
  const words = argv as string[];
  if (!words[0]?.startsWith("/")) return err("the program must be named by its absolute path");
  return ok(words);
}

/** Whether the program may run: a regular file, owned by root or `euid`, changed by no one else. */
export async function checkHookProgram(path: string, euid: number): Promise<string | null> {
  let st: Awaited<ReturnType<typeof fs.lstat>>;
  try {
    st = await fs.lstat(path);
  } catch (e) {
    return `cannot use ${path}: ${(e as NodeJS.ErrnoException).code ?? "unreadable"}`;
  }
  if (!st.isFile()) return `${path} is not a regular file (links are not followed)`;
  if (st.uid !== 0 && st.uid !== euid) return `${path} is owned by uid ${st.uid}, not root`;
  if ((st.mode & 0o022) !== 0) return `${path} may be changed by group or others (chmod go-w)`;
  if ((st.mode & 0o111) === 0) return `${path} is not executable`;
  return null;
}

export async function runHook(
  label: string,
  value: string,
  ctx: {
    containerId: string;
    containerName: string;
    env: Readonly<Record<string, string | undefined>>;
    euid: number;
    timeoutMs: number;
    /** An interrupt of breachkit ends the hook (it runs in its own process group). */
    signal?: AbortSignal;
  },
): Promise<HookRun> {
  const refused = (argv: string[], why: string): HookRun => ({
    label,
    argv,
    exitCode: null,
    signal: null,
    timedOut: false,
    durationMs: 0,
    output: `refused: ${why}`,
    ok: false,
  });
  const parsed = parseHookLabel(value);
  if (!parsed.ok) return refused([value], parsed.error);
  const argv = parsed.value;
  const why = await checkHookProgram(argv[0] ?? "", ctx.euid);
  if (why) return refused(argv, why);
  let tail = "";
  try {
    const run = await runTool(argv[0] ?? "", argv.slice(1), {
      env: {
        PATH: ctx.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
        BREACHKIT_CONTAINER_ID: ctx.containerId,
        BREACHKIT_CONTAINER_NAME: ctx.containerName,
      },
      timeoutMs: ctx.timeoutMs,
      maxOutputBytes: 4 * 1024 * 1024,
      ...(ctx.signal ? { signal: ctx.signal } : {}),
    });
    tail = `${run.stdout}${run.stderr}`.split("\n").slice(-20).join("\n").slice(-4000);
    return {
      label,
      argv,
      exitCode: run.exitCode,
      signal: run.signal,
      timedOut: run.timedOut,
      durationMs: run.durationMs,
      output: tail,
      ok: run.exitCode === 0 && !run.timedOut,
    };
  } catch (e) {
    return refused(argv, `could not start: ${(e as Error).message}`);
  }
}
