/**
 * Which Compose tool is installed, found by looking (never by running anything): the
 * `docker compose` CLI plugin in Docker's plugin directories, or a `docker-compose` on PATH.
 */
import { access, constants } from "node:fs/promises";
import { delimiter, join } from "node:path";

const PLUGIN_DIRS = [
  "/usr/local/lib/docker/cli-plugins",
  "/usr/local/libexec/docker/cli-plugins",
  "/usr/lib/docker/cli-plugins",
  "/usr/libexec/docker/cli-plugins",
];

async function executable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export async function findComposeTool(
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | null> {
  const pluginDirs = [
    ...(env.DOCKER_CONFIG ? [join(env.DOCKER_CONFIG, "cli-plugins")] : []),
    ...(env.HOME ? [join(env.HOME, ".docker", "cli-plugins")] : []),
    ...PLUGIN_DIRS,
  ];
  for (const dir of pluginDirs) {
    if (await executable(join(dir, "docker-compose"))) return "docker compose";
  }
  for (const dir of (env.PATH ?? "").split(delimiter)) {
    if (dir.startsWith("/") && (await executable(join(dir, "docker-compose"))))
      return "docker-compose";
  }
  return null;
}
