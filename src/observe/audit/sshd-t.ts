/**
 * The effective sshd configuration from sshd itself: `sshd -T -f FILE -C user=U,host=H,addr=A`
 * (Match blocks evaluated for that connection). Run with argv only, stdin closed, bounded in
 * time and output. It needs sshd's privilege separation directory (/run/sshd) and readable host
 * keys; when it cannot run, the caller falls back to the parser (sshd-config.ts) and says so.
 */
import { findExecutable, runTool } from "../scanners/run-tool.js";
import { type EffectiveSshd, type MatchContext, parseSshdT } from "./sshd-config.js";

export interface SshdTOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** The config file (default /etc/ssh/sshd_config). */
  configFile?: string;
  /** Host keys to load instead of the configured ones (tests: keys in a temporary dir). */
  hostKeys?: readonly string[];
  executable?: string;
  timeoutMs?: number;
}

export type SshdTResult = { ok: true; effective: EffectiveSshd } | { ok: false; error: string };

/** A value for -C must not smuggle another field in (a user name with a comma). */
function cleanField(s: string): string {
  return s.replace(/[,\s=]/g, "_");
}

export async function findSshd(
  env: Readonly<Record<string, string | undefined>>,
  executable = "sshd",
): Promise<string | null> {
  return findExecutable(executable, env);
}

export async function runSshdT(ctx: MatchContext, opts: SshdTOptions): Promise<SshdTResult> {
  const exe = await findSshd(opts.env, opts.executable);
  if (!exe) return { ok: false, error: "sshd is not installed here" };
  const spec = [
    `user=${cleanField(ctx.user)}`,
    `host=${cleanField(ctx.host)}`,
    `addr=${cleanField(ctx.addr)}`,
  ];
  if (ctx.laddr) spec.push(`laddr=${cleanField(ctx.laddr)}`);
  if (ctx.lport !== undefined) spec.push(`lport=${ctx.lport}`);
  const args = [
    "-T",
    "-f",
    opts.configFile ?? "/etc/ssh/sshd_config",
    ...(opts.hostKeys ?? []).flatMap((k) => ["-h", k]),
    "-C",
    spec.join(","),
  ];
  let run: Awaited<ReturnType<typeof runTool>>;
  try {
    run = await runTool(exe, args, {
      timeoutMs: opts.timeoutMs ?? 10_000,
      env: opts.env,
      maxOutputBytes: 4 * 1024 * 1024,
      cwd: "/",
    });
  } catch (e) {
    return { ok: false, error: `sshd could not be started: ${String(e).slice(0, 300)}` };
  }
  if (run.timedOut) return { ok: false, error: "sshd -T timed out" };
  if (run.exitCode !== 0) {
    const why = run.stderr.trim().split("\n").slice(-2).join(" | ") || `exit ${run.exitCode}`;
    return { ok: false, error: `sshd -T failed: ${why.slice(0, 500)}` };
  }
  return {
    ok: true,
    effective: { context: ctx, values: parseSshdT(run.stdout), origins: {}, source: "sshd -T" },
  };
}
