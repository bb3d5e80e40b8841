/**
 * Compose, for the containers it manages: run from the project's own labels
 * (`com.docker.compose.project`, `.project.working_dir`, `.project.config_files`), as argv (never
 * a shell string: every one of those labels is read from the host), with a deadline, its output
 * kept for the bundle. breachkit asks Compose two things only:
 * - `config --hash SERVICE`: the hash Compose would give the service now, compared with the
 *   container's `com.docker.compose.config-hash` label. When they differ, the project's files
 *   (or the variables they read) changed since the container was created, and an `up` would
 *   apply those changes too; breachkit then refuses, since an image update must not also deploy
 *   an unreviewed configuration.
 * - `up -d --no-deps --no-build --force-recreate SERVICE`: recreate that service's container
 *   on the image its tag names now (breachkit points the tag at the digest it pulled first).
 */
import { isAbsolute, resolve } from "node:path";
import { execa } from "execa";
import type { ComposeInfo } from "../../model/update-output.js";
import type { ComposeTool } from "../../observe/registry/compose-tool.js";

export const CONFIG_HASH_LABEL = "com.docker.compose.config-hash";
const OUTPUT_MAX = 1024 * 1024;

export interface ComposeRun {
  argv: string[];
  exitCode: number | null;
  timedOut: boolean;
  durationMs: number;
  /** stdout and stderr, interleaved, at most 1 MiB. */
  output: string;
}

/** `-p PROJECT --project-directory DIR -f FILE...`; null when the labels cannot locate it. */
export function projectArgs(info: ComposeInfo): { args: string[] } | { problem: string } {
  const dir = info.workingDir;
  // Read from the host: only Compose's own alphabets, so that no label becomes an option.
  if (!/^[a-z0-9][a-z0-9_-]*$/.test(info.project)) {
    return { problem: "its Compose project label is not a Compose project name" };
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9._-]*$/.test(info.service)) {
    return { problem: "its Compose service label is not a Compose service name" };
  }
  if (!dir || !isAbsolute(dir)) {
    return { problem: "its Compose labels name no absolute project directory" };
  }
  if (info.configFiles.length === 0) {
    return { problem: "its Compose labels name no configuration file" };
  }
  const args = ["-p", info.project, "--project-directory", dir];
  for (const f of info.configFiles) args.push("-f", resolve(dir, f));
  return { args };
}

export async function runCompose(
  tool: ComposeTool,
  info: ComposeInfo,
  command: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
  timeoutMs: number,
): Promise<ComposeRun> {
  const project = projectArgs(info);
  if ("problem" in project) throw new Error(project.problem);
  const [program, ...pre] = tool.argv;
  const argv = [...pre, ...project.args, ...command];
  const t0 = Date.now();
  const r = await execa(program ?? "docker-compose", argv, {
    cwd: info.workingDir ?? "/",
    env: { ...env, COMPOSE_INTERACTIVE_NO_CLI: "1" },
    extendEnv: false,
    stdin: "ignore",
    all: true,
    reject: false,
    timeout: timeoutMs,
    maxBuffer: OUTPUT_MAX,
    stripFinalNewline: true,
  });
  return {
    argv: [program ?? "", ...argv],
    exitCode: typeof r.exitCode === "number" ? r.exitCode : null,
    timedOut: r.timedOut === true,
    durationMs: Date.now() - t0,
    output: String(r.all ?? "").slice(0, OUTPUT_MAX),
  };
}

/** Why a run failed, in one line, with the end of its output. */
export function composeFailure(run: ComposeRun): string {
  const tail = run.output.trim().split("\n").slice(-3).join(" / ").slice(0, 600);
  const how = run.timedOut ? "timed out" : `exited ${run.exitCode ?? "by a signal"}`;
  return `${run.argv.slice(0, 2).join(" ")} … ${how}${tail ? `: ${tail}` : ""}`;
}

/** The hash Compose gives SERVICE now (`config --hash`, Compose v1 and v2 alike). */
export async function composeConfigHash(
  tool: ComposeTool,
  info: ComposeInfo,
  env: Readonly<Record<string, string | undefined>>,
  timeoutMs: number,
): Promise<{ hash: string | null; run: ComposeRun }> {
  const run = await runCompose(tool, info, ["config", `--hash=${info.service}`], env, timeoutMs);
  if (run.exitCode !== 0) return { hash: null, run };
  for (const line of run.output.split("\n")) {
    const m = /^(\S+)\s+([a-f0-9]{64})\s*$/.exec(line.trim());
    if (m && m[1] === info.service) return { hash: m[2] ?? null, run };
  }
  return { hash: null, run };
}

export function composeUp(
  tool: ComposeTool,
  info: ComposeInfo,
  env: Readonly<Record<string, string | undefined>>,
  stopTimeoutSec: number,
): Promise<ComposeRun> {
  return runCompose(
    tool,
    info,
    [
      "up",
      "-d",
      "--no-deps",
      "--no-build",
      "--force-recreate",
      "-t",
      String(stopTimeoutSec),
      info.service,
    ],
    env,
    (stopTimeoutSec + 120) * 1000,
  );
}
