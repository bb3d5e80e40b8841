/**
 * Redaction of a container's inspect document before it goes into an evidence bundle.
 *
 * Why: the environment of a container is where Docker deployments keep their secrets (database
 * passwords, API tokens, cloud keys), and a bundle leaves the host: it is sent to the hoster,
 * an insurer, a forensic firm, the police. Copying the secrets would spread the breach. The
 * variable names stay, because "this container had AWS_SECRET_ACCESS_KEY" is exactly what tells
 * the admin which secrets to rotate. Every environment value is redacted, not only those whose
 * names look secret: names like DATABASE_URL carry passwords inside. Labels are kept (they are
 * configuration, and often evidence: Watchtower, Traefik, Compose), except those whose names
 * look secret.
 *
 * Not redacted: the command line (Path, Args, Config.Cmd, Config.Entrypoint). It is evidence of
 * what the container ran, and a `--password=...` on it is already visible to any `ps` on the host.
 */

export const REDACTED = "<redacted>";

/** Names that usually hold a secret: DB_PASSWORD, GITHUB_TOKEN, com.example.api_key ... */
export const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|KEY|PASS|CREDENTIAL|AUTH|API|PRIVATE/i;

export interface RedactOptions {
  /** false: a plain deep copy (`collect --no-redact`). Default true. */
  redact?: boolean;
  /** false: redact only the variables whose names look secret. Default true: all of them. */
  allEnv?: boolean;
}

/** A deep copy of `inspect` with Config.Env values and secret-looking labels replaced. */
export function redactInspect<T>(inspect: T, options: RedactOptions = {}): T {
  const copy = structuredClone(inspect);
  if (options.redact === false) return copy;
  const config = isRecord(copy) ? copy.Config : undefined;
  if (!isRecord(config)) return copy;
  if (Array.isArray(config.Env)) {
    const all = options.allEnv ?? true;
    config.Env = config.Env.map((entry: unknown) =>
      all || typeof entry !== "string" || SECRET_NAME.test(entry.split("=", 1)[0] ?? "")
        ? redactEnvEntry(entry)
        : entry,
    );
  }
  if (isRecord(config.Labels)) {
    for (const key of Object.keys(config.Labels)) {
      if (SECRET_NAME.test(key)) config.Labels[key] = REDACTED;
    }
  }
  return copy;
}

/**
 * "NAME=value" becomes "NAME=<redacted>". An empty value stays empty (that it is unset is a
 * fact, not a secret); an entry without "=" is only a name and stays as it is.
 */
export function redactEnvEntry(entry: unknown): unknown {
  if (typeof entry !== "string") return REDACTED;
  const eq = entry.indexOf("=");
  if (eq < 0 || eq === entry.length - 1) return entry;
  return `${entry.slice(0, eq)}=${REDACTED}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
