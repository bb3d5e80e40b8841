/**
 * Registry credentials from the Docker client's config file (`$DOCKER_CONFIG/config.json`, else
 * `~/.docker/config.json`): the `auths` map of `docker login`, whose `auth` is base64 of
 * `user:password` (or an `identitytoken`). Credential helpers (`credsStore`, `credHelpers`) run
 * programs: breachkit does not run them, and says so for the registries they cover.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "../../util/zod.js";
import { DOCKER_HUB } from "./reference.js";

export interface RegistryCredential {
  username: string;
  password: string;
  /** An OAuth refresh token (identitytoken), used at the token endpoint instead of a password. */
  identityToken: string | null;
}

export interface DockerAuths {
  /** The file read, or null when none exists. */
  path: string | null;
  byHost: Map<string, RegistryCredential>;
  /** Registries whose credentials live in a helper breachkit does not run. */
  helperHosts: Set<string>;
  /** A helper for every registry (`credsStore`), or null. */
  credsStore: string | null;
  /** Why the file could not be used (unreadable, not JSON): a gap, not a failure. */
  problem: string | null;
}

const MAX_CONFIG_BYTES = 1024 * 1024;

const ConfigSchema = z.looseObject({
  auths: z
    .record(
      z.string(),
      z.looseObject({
        auth: z.string().nullish(),
        identitytoken: z.string().nullish(),
        username: z.string().nullish(),
        password: z.string().nullish(),
      }),
    )
    .nullish(),
  credsStore: z.string().nullish(),
  credHelpers: z.record(z.string(), z.string()).nullish(),
});

export function dockerConfigPath(env: Readonly<Record<string, string | undefined>>): string | null {
  if (env.DOCKER_CONFIG) return join(env.DOCKER_CONFIG, "config.json");
  if (env.HOME) return join(env.HOME, ".docker", "config.json");
  return null;
}

/** `https://index.docker.io/v1/` and `docker.io` both name Docker Hub; a URL names its host. */
export function authKeyHost(key: string): string {
  let host = key.trim();
  const m = /^[a-z]+:\/\/([^/]+)/i.exec(host);
  if (m?.[1]) host = m[1];
  else host = host.split("/")[0] ?? host;
  host = host.toLowerCase();
  if (host === "index.docker.io" || host === "registry-1.docker.io") return DOCKER_HUB;
  return host;
}

export function parseDockerConfig(text: string, path: string | null): DockerAuths {
  const out: DockerAuths = {
    path,
    byHost: new Map(),
    helperHosts: new Set(),
    credsStore: null,
    problem: null,
  };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    out.problem = `${path ?? "the Docker config"} is not JSON: no registry credentials used`;
    return out;
  }
  const parsed = ConfigSchema.safeParse(json);
  if (!parsed.success) {
    out.problem = `${path ?? "the Docker config"} has an unexpected shape: no registry credentials used`;
    return out;
  }
  for (const [key, entry] of Object.entries(parsed.data.auths ?? {})) {
    let username = entry.username ?? "";
    let password = entry.password ?? "";
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
      const colon = decoded.indexOf(":");
      if (colon > 0) {
        username = decoded.slice(0, colon);
        password = decoded.slice(colon + 1);
      }
    }
    const identityToken = entry.identitytoken ?? null;
    if (username === "" && identityToken === null) continue;
    out.byHost.set(authKeyHost(key), { username, password, identityToken });
  }
  for (const key of Object.keys(parsed.data.credHelpers ?? {}))
    out.helperHosts.add(authKeyHost(key));
  out.credsStore = parsed.data.credsStore ?? null;
  return out;
}

export async function readDockerAuths(
  env: Readonly<Record<string, string | undefined>>,
): Promise<DockerAuths> {
  const path = dockerConfigPath(env);
  const empty: DockerAuths = {
    path: null,
    byHost: new Map(),
    helperHosts: new Set(),
    credsStore: null,
    problem: null,
  };
  if (path === null) return empty;
  let text: string;
  try {
    const buf = await readFile(path);
    if (buf.length > MAX_CONFIG_BYTES) {
      return {
        ...empty,
        path,
        problem: `${path} is larger than 1 MiB: no registry credentials used`,
      };
    }
    text = buf.toString("utf8");
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return empty;
    return {
      ...empty,
      path,
      problem: `cannot read ${path} (${code ?? "error"}): no registry credentials used`,
    };
  }
  return parseDockerConfig(text, path);
}
