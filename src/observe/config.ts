/**
 * breachkit's own configuration: /etc/breachkit/config.json (or `BREACHKIT_CONFIG`, or a path a
 * command is given). It can hold secrets (a webhook token, an SMTP password, a restic password
 * file's path), so a file that anyone but its owner may read is refused, with the fix.
 *
 * The file is one JSON object of sections (`backup`, `notify`, `update`, ...). This module only
 * reads and checks the file; each feature parses its own section with its own schema through
 * `configSection`, so adding a section touches no other feature.
 */
import { constants, promises as fs } from "node:fs";
import { err, errorMessage, ok, type Result } from "../util/result.js";
import type { z } from "../util/zod.js";

export const DEFAULT_CONFIG_PATH = "/etc/breachkit/config.json";

/** A config file above this size is not a config file. */
const MAX_CONFIG_BYTES = 1024 * 1024;

export interface BreachkitConfig {
  /** The file read, or undefined when none exists (every section then takes its defaults). */
  readonly path: string | undefined;
  readonly sections: Readonly<Record<string, unknown>>;
}

export interface ConfigError {
  readonly path: string;
  readonly message: string;
  /** What to do about it, one line. */
  readonly fix: string;
}

/** The path to read: an explicit one, else BREACHKIT_CONFIG, else the default. */
export function configPath(
  env: Readonly<Record<string, string | undefined>>,
  explicit?: string,
): { path: string; explicit: boolean } {
  if (explicit) return { path: explicit, explicit: true };
  const fromEnv = env.BREACHKIT_CONFIG;
  if (fromEnv) return { path: fromEnv, explicit: true };
  return { path: DEFAULT_CONFIG_PATH, explicit: false };
}

/**
 * Read the config. A missing default file is an empty config; a missing file that was named
 * (option or BREACHKIT_CONFIG) is an error. Refused: group- or world-readable or writable, not
 * a regular file, over 1 MiB, not a JSON object.
 */
export async function loadConfig(
  env: Readonly<Record<string, string | undefined>>,
  explicit?: string,
): Promise<Result<BreachkitConfig, ConfigError>> {
  const { path, explicit: named } = configPath(env, explicit);
  let handle: fs.FileHandle;
  try {
    handle = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" && !named) return ok({ path: undefined, sections: {} });
    if (code === "ELOOP")
      return err({
        path,
        message: "is a symbolic link; breachkit reads its config only from a regular file",
        fix: `replace the link with the file itself (cp --remove-destination "$(readlink -f ${path})" ${path})`,
      });
    return err({
      path,
      message: `cannot be read: ${errorMessage(e)}`,
      fix:
        code === "ENOENT"
          ? "create it, or name another with --config"
          : "check its path and permissions",
    });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile())
      return err({ path, message: "is not a regular file", fix: "point --config at a JSON file" });
    if ((st.mode & 0o077) !== 0)
      return err({
        path,
        message: `has mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}: others may read or change it, and it can hold passwords and tokens`,
        fix: `chmod 600 ${path}`,
      });
    if (st.size > MAX_CONFIG_BYTES)
      return err({
        path,
        message: `is ${st.size} bytes (over 1 MiB)`,
        fix: "keep only breachkit's settings in it",
      });
    const text = await handle.readFile({ encoding: "utf8" });
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      return err({
        path,
        message: `is not valid JSON: ${errorMessage(e)}`,
        fix: `check it with: python3 -m json.tool ${path}`,
      });
    }
    if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
      return err({
        path,
        message: "is not a JSON object",
        fix: 'write it as {"backup": {...}, "notify": {...}}',
      });
    return ok({ path, sections: parsed as Record<string, unknown> });
  } finally {
    await handle.close();
  }
}

/**
 * One section of the config, parsed with the feature's own schema. An absent section is
 * `undefined` (the feature's defaults apply); a malformed one is an error naming the section.
 */
export function configSection<S extends z.ZodType>(
  config: BreachkitConfig,
  name: string,
  schema: S,
): Result<z.infer<S> | undefined, ConfigError> {
  const raw = config.sections[name];
  if (raw === undefined) return ok(undefined);
  const parsed = schema.safeParse(raw);
  if (parsed.success) return ok(parsed.data);
  const issue = parsed.error.issues[0];
  const where = [name, ...(issue?.path ?? [])].join(".");
  return err({
    path: config.path ?? DEFAULT_CONFIG_PATH,
    message: `section "${where}": ${issue?.message ?? "does not match its schema"}`,
    fix: `see the README's configuration section for "${name}"`,
  });
}
