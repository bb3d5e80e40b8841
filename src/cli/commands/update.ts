import type { Command } from "commander";
import { InvalidArgumentError } from "commander";
import { runCheck, runUpdate } from "../../act/update/run-update.js";
import { UPDATE_SCHEMA_VERSION, type UpdateOutput } from "../../model/update-output.js";
import type { LabelFilter } from "../../observe/registry/check.js";
import { findComposeTool } from "../../observe/registry/compose-tool.js";
import { formatCheck, formatUpdatePlan, formatUpdateResult } from "../../tell/format-update.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_FINDINGS, EXIT_OK } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
import { defineOptions, flag, positive, repeatable, text, withOptions } from "../options.js";

const EXIT_CODES = `  0  --check: every container checked is current (or pinned, or local); update: every planned
     container was updated (or nothing needed it; --dry-run: the plan was shown)
  1  --check: an update is available, or a registry could not be checked (a gap); update: a
     container was rolled back because its new image did not settle
  2  could not act: unknown or ambiguous container, engine down, not confirmed, an update failed
     and could not be rolled back`;

function parseHost(raw: string): string {
  const v = raw.trim().toLowerCase();
  if (!/^[a-z0-9.-]+(:[0-9]{1,5})?$|^\[[0-9a-f:]+\](:[0-9]{1,5})?$/.test(v)) {
    throw new InvalidArgumentError(`--insecure-registry takes HOST or HOST:PORT, got "${raw}"`);
  }
  return v;
}

function parseLabel(raw: string): LabelFilter {
  const eq = raw.indexOf("=");
  const key = eq < 0 ? raw : raw.slice(0, eq);
  if (key === "") throw new InvalidArgumentError(`--label takes KEY or KEY=VALUE, got "${raw}"`);
  return { key, value: eq < 0 ? null : raw.slice(eq + 1) };
}

export const UPDATE_OPTIONS = defineOptions({
  check: flag("--check", "only compare each container's image with its registry; change nothing"),
  all: flag("--all", "update every container that has an update (pinned ones excepted)"),
  dryRun: flag("--dry-run", "show the plan; change nothing, write nothing"),
  yes: flag("-y, --yes", "do not ask for confirmation", false),
  json: flag(
    "--json",
    "print the result as JSON on stdout (schema: breachkit schema update)",
    false,
  ),
  out: text("--out <dir>", "where the evidence bundle directory is made", "."),
  settle: positive(
    "--settle <seconds>",
    "how long the new container has to become healthy (with a healthcheck) or keep running",
    30,
  ),
  stopTimeout: positive(
    "--stop-timeout <seconds>",
    "grace period of the old container's stop before SIGKILL",
    10,
  ),
  insecureRegistry: repeatable(
    "--insecure-registry <host[:port]>",
    "speak plain HTTP to this registry (repeatable); every other registry is HTTPS with its certificate verified",
    parseHost,
  ),
  label: repeatable(
    "--label <key[=value]>",
    "only containers with this label (repeatable: all of them)",
    parseLabel,
    (l: LabelFilter) => (l.value === null ? l.key : `${l.key}=${l.value}`),
  ),
  timeout: positive("--timeout <seconds>", "deadline of each registry request", 5),
  tags: flag("--no-tags", "do not list the repository's tags for newer versions"),
});

export const registerUpdate: RegisterCommand = (program: Command, ctx: CommandContext) => {
  const cmd = program
    .command("update")
    .summary(
      "keep containers current: registry digest check, evidence first, identical recreate, health-gated rollback",
    )
    .description(
      `Keep containers current, the way Watchtower should have, and keep the evidence.

--check (read-only): for every container (or those named, or --label), its image reference,
local image id and RepoDigests, the registry's current digest for the tag (HEAD of the manifest;
Docker v2 manifests, manifest lists, OCI manifests and indexes; when the digest differs it is
proven by GETting the manifest and hashing its bytes), whether a newer image for the tag is
already pulled but not running, the image's age, and newer semantic-version tags (reported,
never switched to). A container labelled breachkit.update=false is listed as pinned. A registry
that cannot be reached, answers 401/404/5xx, hangs or sends a malformed manifest is a gap with
its reason, within --timeout per request.

Registries: the token flow (WWW-Authenticate: Bearer realm, service, scope), anonymous or with
the credentials of the Docker config file ($DOCKER_CONFIG/config.json or ~/.docker/config.json,
"auths"; credential helpers are not run). TLS is always verified (Node's roots, plus the CA
files of /etc/docker/certs.d/HOST/*.crt for that registry, as Docker does); plain HTTP only to
the hosts named with --insecure-registry.

update CONTAINER... | --all, for each container with an update:
  1. preserve first: a snapshot and the container's evidence (inspect, raw logs) into a sealed
     bundle, as contain does;
  2. pull the registry's image by digest, and point the tag at it;
  3. stop the old container and set it aside under another name; create the new one with the
     identical configuration read from inspect (environment, mounts and volumes, networks with
     aliases and static addresses, ports, labels, restart policy, healthcheck, user,
     capabilities, limits, log configuration, command and entrypoint; values that were only the
     old image's defaults follow the new image);
  4. wait until it is healthy (its healthcheck) or has kept running for --settle seconds;
     otherwise remove it and start the old container again (same image id, same configuration),
     and say why;
  5. remove the old container (its image is kept: breachkit never prunes images).
Every action is recorded with its time and its undo in the bundle (update.json,
collection.log.jsonl). Compose-managed containers (com.docker.compose.* labels) are recreated
through the Engine API with their labels, so Compose still owns them; the output says so.

Engines from Debian's 20.10 (API 1.41) to 29 (API 1.44+): no API version is hard-coded, the
engine speaks its own.

Paths written: the bundle directory breachkit-<host>-<UTC time>/ under --out (update only;
nothing with --check or --dry-run). On the host: the pulled image, the tag, the containers.`,
    )
    .argument(
      "[containers...]",
      "container names or id prefixes (4+ hex digits); each must be unambiguous",
    )
    .addHelpText(
      "after",
      helpFooter(
        [
          "breachkit update --check",
          "breachkit update --check --json > updates.json",
          "breachkit update web --dry-run",
          "breachkit update web db --yes --out /root/evidence",
          "breachkit update --all --settle 60 --yes",
          "breachkit update --check --insecure-registry registry.lan:5000",
        ],
        EXIT_CODES,
      ),
    );
  withOptions(cmd, UPDATE_OPTIONS, async ({ args, options, commandLine }) => {
    const c = colorsFor(ctx.io);
    const json = options.json === true;
    const progress = createProgress(ctx.io, json);
    const registry = {
      insecureRegistries: options.insecureRegistry,
      timeoutMs: options.timeout * 1000,
      labels: options.label,
      tags: options.tags,
      env: ctx.io.env,
      progress,
    };
    if (options.check) {
      if (options.all || options.dryRun) {
        throw new BreachkitError(
          "USAGE",
          "--check changes nothing: it takes neither --all nor --dry-run",
          "breachkit update --check [CONTAINER...]",
        );
      }
      const { check } = await runCheck({ ...registry, queries: args });
      if (json) {
        const out: UpdateOutput = { schemaVersion: UPDATE_SCHEMA_VERSION, mode: "check", ...check };
        ctx.io.write(`${JSON.stringify(out, null, 2)}\n`);
      } else ctx.io.write(formatCheck(check, c));
      const attention = check.containers.some(
        (r) =>
          r.status === "update-available" ||
          r.status === "pulled-not-running" ||
          r.status === "gap",
      );
      ctx.setExitCode(attention ? EXIT_FINDINGS : EXIT_OK);
      return;
    }
    if (options.all && args.length) {
      throw new BreachkitError(
        "USAGE",
        "give container names or --all, not both",
        "breachkit update --all --dry-run shows what --all would do.",
      );
    }
    const ac = new AbortController();
    const off = ctx.io.onInterrupt(() => ac.abort());
    try {
      const outcome = await runUpdate({
        ...registry,
        queries: args,
        all: options.all === true,
        dryRun: options.dryRun === true,
        yes: options.yes === true,
        interactive: ctx.io.interactive,
        confirm: (q) => ctx.io.confirm(q),
        cwd: ctx.io.cwd,
        outDir: options.out,
        command: commandLine,
        settleSeconds: options.settle,
        stopTimeoutSec: options.stopTimeout,
        signal: ac.signal,
        composeTool: await findComposeTool(ctx.io.env),
        onPlan: (run) => {
          const text = formatUpdatePlan(run, c, options.dryRun === true);
          if (json) {
            if (!options.dryRun) ctx.io.error(text);
          } else ctx.io.write(text);
        },
      });
      if (json) ctx.io.write(`${JSON.stringify(outcome.output, null, 2)}\n`);
      else if (!options.dryRun) {
        ctx.io.write(
          formatUpdateResult(
            outcome.output,
            outcome.output.bundle,
            outcome.output.manifestSha256,
            c,
          ),
        );
      }
      ctx.setExitCode(outcome.exitCode);
    } finally {
      off();
    }
  });
};
