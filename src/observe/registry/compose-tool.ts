/**
 * Which Compose tool is installed, found by looking (never by running anything): the
 * `docker compose` CLI plugin in Docker's plugin directories (with a `docker` CLI on PATH to
 * run it), or a `docker-compose` on PATH (Debian 12's package is Compose v1, 1.29).
 */
import { access, constants } from "node:fs/promises";
import { delimiter, join } from "node:path";

const PLUGIN_DIRS = [
  "/usr/local/lib/docker/cli-plugins",
  "/usr/local/libexec/docker/cli-plugins",
  "/usr/lib/docker/cli-plugins",
  "/usr/libexec/docker/cli-plugins",
];

export interface ComposeTool {
  /** As the output names it: "docker compose" (v2 plugin) or "docker-compose". */
  name: "docker compose" | "docker-compose";
  /** The program and its leading arguments, absolute: ["/usr/bin/docker", "compose"]. */
  argv: string[];
}

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

async function onPath(
  env: Readonly<Record<string, string | undefined>>,
  program: string,
): Promise<string | null> {
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    // Only absolute directories: a relative PATH entry would run what the cwd holds.
    if (dir.startsWith("/") && (await executable(join(dir, program)))) return join(dir, program);
  }
  return null;
}

export async function findComposeTool(
  env: Readonly<Record<string, string | undefined>>,
): Promise<ComposeTool | null> {
  const pluginDirs = [
    ...(env.DOCKER_CONFIG ? [join(env.DOCKER_CONFIG, "cli-plugins")] : []),
    ...(env.HOME ? [join(env.HOME, ".docker", "cli-plugins")] : []),
    ...PLUGIN_DIRS,
  ];
  const dockerCli = await onPath(env, "docker");
  if (dockerCli) {
    for (const dir of pluginDirs) {
      if (await executable(join(dir, "docker-compose")))
        return { name: "docker compose", argv: [dockerCli, "compose"] };
    }
  }
  const v1 = await onPath(env, "docker-compose");
  return v1 ? { name: "docker-compose", argv: [v1] } : null;
}
