/**
 * Which restic repository and password file a backup command uses, checked before restic runs:
 * `--repo` (and `--password-file`), else the config's `backup` section, else restic's own
 * RESTIC_REPOSITORY and RESTIC_PASSWORD_FILE. The password is only ever in its file: never on
 * a command line, never in breachkit's output; the file must be readable by its owner only.
 */
import { constants, promises as fs } from "node:fs";
import { type BackupConfig, DEFAULT_KEEP, type KeepPolicy } from "../../model/backup-config.js";
import { BreachkitError } from "../../util/errors.js";
import { errorMessage } from "../../util/result.js";
import { safeText } from "../../util/sanitize.js";

export interface ResticRepo {
  location: string;
  passwordFile: string;
  from: "option" | "config" | "env";
  keep: KeepPolicy;
}

export interface RepoChoice {
  repo?: string | undefined;
  passwordFile?: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

/** The repository settings, from the option, the config or the environment (in that order). */
export function chooseRepo(
  opts: RepoChoice,
  config: BackupConfig | undefined,
  env: Env,
): Omit<ResticRepo, "passwordFile"> & { passwordFile: string | undefined } {
  const keep: KeepPolicy = { ...DEFAULT_KEEP, ...(config?.keep ?? {}) };
  const passwordFile = opts.passwordFile ?? config?.passwordFile ?? env.RESTIC_PASSWORD_FILE;
  if (opts.repo) return { location: opts.repo, passwordFile, from: "option", keep };
  if (config?.repo) return { location: config.repo, passwordFile, from: "config", keep };
  if (env.RESTIC_REPOSITORY)
    return { location: env.RESTIC_REPOSITORY, passwordFile, from: "env", keep };
  throw new BreachkitError(
    "USAGE",
    "no restic repository named",
    'name one with --repo DIR, or "backup": {"repo": ..., "passwordFile": ...} in /etc/breachkit/config.json, or RESTIC_REPOSITORY and RESTIC_PASSWORD_FILE',
  );
}

/**
 * Refuse a password file that is missing, not a regular file, empty, or readable or writable by
 * anyone but its owner (mode & 0o077), with the fix.
 */
export async function checkPasswordFile(path: string | undefined): Promise<string> {
  if (!path)
    throw new BreachkitError(
      "USAGE",
      "no password file for the restic repository",
      "name it with --password-file FILE, passwordFile in the config's backup section, or RESTIC_PASSWORD_FILE (breachkit never takes the password itself on a command line)",
    );
  let st: Awaited<ReturnType<typeof fs.stat>>;
  try {
    const h = await fs.open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    try {
      st = await h.stat();
    } finally {
      await h.close();
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new BreachkitError(
      "USAGE",
      `the password file ${safeText(path, 300)} ${code === "ELOOP" ? "is a symbolic link" : `cannot be read: ${errorMessage(e)}`}`,
      code === "ELOOP"
        ? "point at the file itself, not a link to it"
        : "check the path (--password-file, the config's backup.passwordFile or RESTIC_PASSWORD_FILE)",
    );
  }
  if (!st.isFile())
    throw new BreachkitError(
      "USAGE",
      `the password file ${safeText(path, 300)} is not a regular file`,
      "name the file that holds the repository's password",
    );
  if ((st.mode & 0o077) !== 0)
    throw new BreachkitError(
      "PERMISSION",
      `the password file ${safeText(path, 300)} has mode ${(st.mode & 0o777).toString(8).padStart(4, "0")}: others may read the repository's password`,
      `chmod 600 ${safeText(path, 300)}`,
    );
  if (st.size === 0)
    throw new BreachkitError(
      "USAGE",
      `the password file ${safeText(path, 300)} is empty`,
      "write the repository's password into it",
    );
  return path;
}

/**
 * The environment restic runs with: the caller's, with the repository and password file set and
 * every other way of passing a password removed, so the checked file is the one used.
 */
export function resticEnv(repo: ResticRepo, env: Env): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (k === "RESTIC_PASSWORD" || k === "RESTIC_PASSWORD_COMMAND") continue;
    out[k] = v;
  }
  out.RESTIC_REPOSITORY = repo.location;
  out.RESTIC_PASSWORD_FILE = repo.passwordFile;
  return out;
}

export async function resolveRepo(opts: RepoChoice, config: BackupConfig | undefined, env: Env) {
  const chosen = chooseRepo(opts, config, env);
  const passwordFile = await checkPasswordFile(chosen.passwordFile);
  return { ...chosen, passwordFile } satisfies ResticRepo;
}
