/**
 * The one redaction policy for everything breachkit writes or prints that carries a host's
 * secrets: container environments and labels (inspect.json, snapshot.json) and command lines
 * (processes' argv and cmdline in snapshot.json and processes.json, a container's Args, Cmd,
 * Entrypoint and healthcheck in inspect.json). Every layer that writes may use it; the raw
 * values are kept only when the user asks with --no-redact.
 *
 * Why: a bundle leaves the host (to the hoster, an insurer, a forensic firm, the police), and
 * copying the secrets would spread the breach. Names stay, because "this container had
 * AWS_SECRET_ACCESS_KEY", "this process was given --password" is exactly what tells the admin
 * which secrets to rotate. Every environment value is redacted, not only those whose names
 * look secret: names like DATABASE_URL carry passwords inside. Labels are kept (they are
 * configuration, and often evidence: Watchtower, Traefik, Compose), except those whose names
 * look secret. Of a command line only the values of secret-looking options and assignments and
 * the password of a URL (`scheme://user:pass@host`) are replaced: the rest is the evidence of
 * what ran, and rules judge it.
 */

export const REDACTED = "<redacted>";

/** Names that usually hold a secret: DB_PASSWORD, GITHUB_TOKEN, com.example.api_key ... */
export const SECRET_NAME = /PASSWORD|PASSWD|SECRET|TOKEN|KEY|PASS|CREDENTIAL|AUTH|API|PRIVATE/i;

/**
 * Option and variable names on a command line whose value is a secret. Narrower than
 * SECRET_NAME: `--api-port 8080` or `--keyfile /etc/x.pem` are evidence, not secrets (a file
 * name is not the key); `--password-file` names a file and stays.
 */
const ARG_SECRET_NAME =
  /(^|[-_.])(pass|pwd|auth|key)$|(password|passwd|passphrase|secret|token|credentials?|api[-_]?key|access[-_]?key|private[-_]?key)$/i;

/** `user:password@` in a URL: the password goes, the user stays. */
const URL_PASSWORD = /([a-z][a-z0-9+.-]*:\/\/[^/\s:@]*:)[^/\s@]+@/gi;

export interface RedactOptions {
  /** false: a plain deep copy (`--no-redact`). Default true. */
  redact?: boolean;
  /** false: redact only the variables whose names look secret. Default true: all of them. */
  allEnv?: boolean;
}

/** A deep copy of `inspect` with environment values, secret labels and arguments replaced. */
export function redactInspect<T>(inspect: T, options: RedactOptions = {}): T {
  const copy = structuredClone(inspect);
  if (options.redact === false) return copy;
  if (!isRecord(copy)) return copy;
  const doc: Record<string, unknown> = copy;
  if (isStringArray(doc.Args)) doc.Args = redactArgv(doc.Args);
  const config = doc.Config;
  if (!isRecord(config)) return copy;
  if (Array.isArray(config.Env)) {
    const all = options.allEnv ?? true;
    config.Env = config.Env.map((entry: unknown) =>
      all || typeof entry !== "string" || SECRET_NAME.test(entry.split("=", 1)[0] ?? "")
        ? redactEnvEntry(entry)
        : entry,
    );
  }
  if (isRecord(config.Labels)) config.Labels = redactLabels(config.Labels);
  if (isStringArray(config.Cmd)) config.Cmd = redactArgv(config.Cmd);
  if (isStringArray(config.Entrypoint)) config.Entrypoint = redactArgv(config.Entrypoint);
  if (isRecord(config.Healthcheck) && isStringArray(config.Healthcheck.Test)) {
    config.Healthcheck.Test = redactArgv(config.Healthcheck.Test);
  }
  return copy;
}

/** Labels with the values of secret-looking keys replaced (`db.password=hunter2`). */
export function redactLabels<V>(labels: Record<string, V>): Record<string, V | string> {
  const out: Record<string, V | string> = {};
  for (const [key, value] of Object.entries(labels)) {
    out[key] = SECRET_NAME.test(key) ? REDACTED : value;
  }
  return out;
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

/**
 * A command line with its secrets replaced: `--password=x`, `--password x`, `-p=x` style
 * options and `DB_PASSWORD=x` assignments whose name looks secret, and URL passwords. A shell
 * command string (`sh -c "mysql --password=x"`) is redacted inside the same way.
 */
export function redactArgv(argv: readonly string[]): string[] {
  const out: string[] = [];
  let nextIsSecret = false;
  for (const arg of argv) {
    if (nextIsSecret && !arg.startsWith("-")) {
      out.push(REDACTED);
      nextIsSecret = false;
      continue;
    }
    nextIsSecret = false;
    const option = /^--?([A-Za-z0-9][\w.-]*)$/.exec(arg);
    if (option && ARG_SECRET_NAME.test(option[1] ?? "")) {
      nextIsSecret = true;
      out.push(arg);
      continue;
    }
    out.push(redactWords(arg));
  }
  return out;
}

/** Secret `name=value` pairs and URL passwords inside one argument (or a shell string). */
function redactWords(text: string): string {
  return text
    .replace(URL_PASSWORD, `$1${REDACTED}@`)
    .replace(
      /(^|[\s'"])(--?|)([A-Za-z_][\w.-]*)=("[^"]*"|'[^']*'|[^\s'"]+)/g,
      (whole, lead: string, dashes: string, name: string) =>
        ARG_SECRET_NAME.test(name) ? `${lead}${dashes}${name}=${REDACTED}` : whole,
    );
}

/** What of a process redaction touches: its argv and the raw cmdline it came from. */
interface ArgvCarrier {
  argv: string[];
  cmdlineB64: string;
}

/**
 * A process with its command line redacted. The raw cmdline bytes are rebuilt from the
 * redacted argv only when something was replaced (then they are no longer byte-exact: the
 * secret was the point); otherwise they stay the exact evidence.
 */
export function redactProcess<P extends ArgvCarrier>(p: P): P {
  const argv = redactArgv(p.argv);
  if (argv.every((a, i) => a === p.argv[i])) return p;
  const raw = Buffer.from(p.cmdlineB64, "base64");
  const trailingNul = raw.length > 0 && raw[raw.length - 1] === 0;
  const bytes = Buffer.from(`${argv.join("\0")}${trailingNul ? "\0" : ""}`, "utf8");
  return { ...p, argv, cmdlineB64: bytes.toString("base64") };
}

/**
 * A snapshot (or anything shaped like one) as a bundle or `snapshot --json` shows it: the
 * processes' command lines and the containers' secret labels redacted, unless `redact` is false.
 */
export function redactSnapshot<
  S extends {
    processes: readonly ArgvCarrier[];
    containers: readonly { labels: Record<string, string> }[];
  },
>(snapshot: S, redact = true): S {
  if (!redact) return snapshot;
  return {
    ...snapshot,
    processes: snapshot.processes.map(redactProcess),
    containers: snapshot.containers.map((c) => ({ ...c, labels: redactLabels(c.labels) })),
  };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((v) => typeof v === "string");
}
