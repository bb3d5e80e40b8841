import { resolve } from "node:path";
import { Argument, type Command } from "commander";
import { runFleet } from "../../act/fleet/run-fleet.js";
import type { FleetHost } from "../../model/fleet-output.js";
import { readInventory } from "../../observe/inventory/inventory.js";
import { toBulkNdjson } from "../../tell/export/opensearch.js";
import { toTimesketchJsonl } from "../../tell/export/timesketch.js";
import { fileExists } from "../../util/assets.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_FINDINGS } from "../../util/errors.js";
import { IN_EXECUTABLE } from "../../util/package-root.js";
import { createProgress } from "../../util/progress.js";
import { safeText } from "../../util/sanitize.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
import { choice, defineOptions, flag, positive, text, withOptions } from "../options.js";

export const FLEET_COMMANDS = ["triage", "collect", "audit", "scan", "snapshot"] as const;

const EXIT_CODES = `  0  every host ok, no finding at high or above
  1  a host not ok (unreachable, host key refused, auth failed, timed out, command failed,
     executable altered, bundle not intact), or findings at high or above
  2  could not start: inventory unreadable, no executable to copy, bad options`;

export const FLEET_OPTIONS = defineOptions({
  json: flag("--json", "print the case manifest as JSON (schema: breachkit schema fleet)", false),
  out: text("--out <dir>", "the case directory (default: ./breachkit-case-<UTC time>)"),
  forks: positive("--forks <n>", "hosts worked on at the same time", 10),
  timeout: positive(
    "--timeout <seconds>",
    "the command's run on each host (copy and fetch: 10 min each at most)",
    900,
  ),
  exe: text(
    "--exe <file>",
    "the single executable to copy (default: this one, when breachkit runs as it)",
  ),
  knownHosts: text(
    "--known-hosts <file>",
    "known_hosts to check host keys against (default: ssh's own)",
  ),
  identity: text("--identity <file>", "the private key to log in with (default: ssh's own)"),
  sshConfig: text("--ssh-config <file>", "an ssh_config to use instead of the user's"),
  connectTimeout: positive("--connect-timeout <seconds>", "ssh's ConnectTimeout", 10),
  copy: choice(
    "--copy <how>",
    "gzip: the executable compressed once for the run (about a third of the bytes), decompressed and hashed on each host; plain: as it is (a fast network and a busy admin machine)",
    ["gzip", "plain"] as const,
    "gzip",
  ),
  keepExe: flag(
    "--keep-exe",
    "keep a copy of the executable on each host (~/.cache/breachkit/exe/<SHA-256>, the ssh user's, mode 0700) and reuse it in later runs: copied into the run's private directory and hashed there in every run before it runs; an altered kept copy is not run, set aside and reported (fleet.kept-exe-altered)",
    false,
  ),
});

function hostLine(h: FleetHost): string {
  const state = h.state === "ok" ? "ok" : h.state.toUpperCase();
  const why = h.reason ? `: ${safeText(h.reason, 300)}` : "";
  const seal = h.bundle ? `  SEAL ${h.bundle.manifestSha256.slice(0, 16)}…` : "";
  const kept =
    h.keep?.found === "altered"
      ? "  KEPT COPY ALTERED (not run, set aside, replaced)"
      : h.keep?.found === "refused"
        ? "  kept copy refused"
        : "";
  return `${safeText(h.name, 120).padEnd(24)} ${state}${why}${seal}${kept}  ${h.findings} findings, ${(h.durationMs / 1000).toFixed(1)} s\n`;
}

export const registerFleet: RegisterCommand = (program: Command, ctx: CommandContext) => {
  const cmd = program
    .command("fleet")
    .summary("run triage, collect, audit, scan or snapshot on many hosts over OpenSSH")
    .description(
      `Run one breachkit command on every host of an inventory over OpenSSH and gather one case:
a verified bundle per host, a case manifest (case.json: hosts, states, SEALs), the findings
of every host merged (findings.json) with the fleet rule fleet.same-exe (the same flagged
executable on several hosts), and exports for OpenSearch/Elasticsearch (_bulk NDJSON, ECS
names) and Timesketch (JSONL per host).

INVENTORY: a list of hosts ([user@]host[:port] per line, [group] headers), or an Ansible
inventory (INI, or YAML by its .yml/.yaml name): hosts, groups, ansible_host, ansible_port,
ansible_user.

Per host, up to --forks at a time: the system ssh with BatchMode=yes (never a prompt),
StrictHostKeyChecking=yes (an unknown or changed host key is refused, never accepted) and
one shared connection (ControlMaster). Through it: copy the single executable into a private
temporary directory, check its SHA-256 there, run COMMAND --json --out, stream the bundle
back as tar, verify its SEAL here, remove what was copied. Each host ends in a state: ok,
unreachable, host-key-refused, auth-failed, timed-out, command-failed, exe-altered,
bundle-not-intact. Arguments after -- go to COMMAND.

Writes only the case directory here; on each host, only its temporary directory, removed at
the end; with --keep-exe also ~/.cache/breachkit/exe/ (below).

--keep-exe (opt-in): the executable's copy is kept on each host, in the ssh user's
~/.cache/breachkit/exe/<SHA-256> (directories and file mode 0700, owned by that user), so
that later runs do not send 124 MiB again. Every run links the kept file into its private
temporary directory (a hard link; a copy when that is on another file system), hashes it
there on the host against the SHA-256 computed here in this run, and runs it by that name
only when they are equal (check and run in one round trip). A kept file of
another owner or mode, a symbolic link, or directories not 0700 are refused: a fresh copy is
sent. A kept copy whose hash differs is not run: it is moved aside on the host (kept as
evidence, not deleted), a fresh copy is sent, and the host's record (keep.found "altered")
and the finding fleet.kept-exe-altered say so. case.json's copy says per host how the
executable got there: gzip, plain or kept. The kept file is a trace on the host that an
examiner should know of (124 MiB; one version per user: older ones are removed when a new
one is stored); remove it with rm -r ~/.cache/breachkit.`,
    )
    .argument("<inventory>", "the hosts: a list, or an Ansible INI or YAML inventory")
    .addArgument(new Argument("<command>", "what to run on each host").choices(FLEET_COMMANDS))
    .argument("[args...]", "after --: COMMAND's own options")
    .addHelpText(
      "after",
      helpFooter(
        [
          "breachkit fleet hosts.txt triage --out /root/case-2026-03",
          "breachkit fleet inventory.ini snapshot --forks 20 --known-hosts ~/.ssh/known_hosts",
          "breachkit fleet inventory.yml triage -- --fail-on medium",
          "breachkit fleet hosts.txt collect --timeout 3600 -- --archive",
          "breachkit fleet hosts.txt triage --keep-exe   # later runs reuse the verified copy on each host",
        ],
        EXIT_CODES,
      ),
    );
  withOptions(cmd, FLEET_OPTIONS, async ({ args, options }) => {
    const [inventory = "", command = "", ...rest] = args;
    const inv = await readInventory(resolve(ctx.io.cwd, inventory));
    if (!inv.ok) {
      throw new BreachkitError(
        "BAD_INPUT",
        inv.error.message,
        "fix the inventory: one host per line ([user@]host[:port]), [group] headers, or an Ansible INI/YAML inventory",
      );
    }
    const exe = options.exe
      ? resolve(ctx.io.cwd, options.exe)
      : IN_EXECUTABLE
        ? "/proc/self/exe"
        : null;
    if (exe === null || !fileExists(exe)) {
      throw new BreachkitError(
        "USAGE",
        exe === null
          ? "fleet copies breachkit's single executable to each host: this breachkit is not one"
          : `no executable at ${safeText(exe, 300)}`,
        "build it (npm run build:exe) and pass --exe dist/breachkit-linux-x64, or run fleet from the executable",
      );
    }
    const stamp = new Date()
      .toISOString()
      .replace(/[-:]/g, "")
      .replace(/\.\d+Z$/, "Z");
    const caseDir = resolve(ctx.io.cwd, options.out ?? `breachkit-case-${stamp}`);
    const progress = createProgress(ctx.io, options.json === true);
    const c = colorsFor(ctx.io);
    // Ctrl-C or SIGTERM: running hosts stop their step, clean up and end "interrupted".
    const abort = new AbortController();
    const off = ctx.io.onInterrupt(() => abort.abort());
    const out = await runFleet({
      signal: abort.signal,
      inventory: resolve(ctx.io.cwd, inventory),
      hosts: inv.value,
      command,
      args: rest,
      exe,
      caseDir,
      forks: Math.max(1, Math.floor(options.forks)),
      compress: options.copy === "gzip",
      keep: options.keepExe === true,
      timeoutMs: options.timeout * 1000,
      ssh: {
        knownHosts: options.knownHosts ? resolve(ctx.io.cwd, options.knownHosts) : null,
        identity: options.identity ? resolve(ctx.io.cwd, options.identity) : null,
        config: options.sshConfig ? resolve(ctx.io.cwd, options.sshConfig) : null,
        connectTimeoutS: Math.max(1, Math.floor(options.connectTimeout)),
      },
      renderExports: (findings, hosts, at) => [
        { file: "opensearch-bulk.ndjson", text: toBulkNdjson(findings, hosts, at) },
        ...hosts.map((h) => ({
          file: `timesketch/${h.folder}.jsonl`,
          text: toTimesketchJsonl(h, findings, at),
        })),
      ],
      onHost: (h, done, total) => {
        progress.update(
          `fleet: ${done}/${total} hosts done (last: ${safeText(h.name, 60)} ${h.state})`,
        );
      },
    }).finally(() => {
      off();
      progress.done();
    });
    const notOk = out.hosts.filter((h) => h.state !== "ok").length;
    const high = out.findings.filter(
      (f) => (f.severity === "high" || f.severity === "critical") && f.falsePositive === null,
    ).length;
    if (notOk > 0 || high > 0) ctx.setExitCode(EXIT_FINDINGS);
    if (options.json) {
      ctx.io.write(`${JSON.stringify(out, null, 2)}\n`);
      return;
    }
    for (const h of out.hosts) ctx.io.write(hostLine(h));
    ctx.io.write("\n");
    for (const f of out.findings
      .filter((x) => x.severity === "critical" || x.severity === "high")
      .slice(0, 20)) {
      ctx.io.write(
        `${c.red(f.severity.toUpperCase())} ${safeText(f.host, 80)}: ${safeText(f.title, 300)}\n`,
      );
    }
    ctx.io.write(
      `\n${out.hosts.length} hosts, ${out.hosts.length - notOk} ok, ${notOk} not; ${out.findings.length} findings (${high} high or above)\ncase: ${safeText(caseDir, 300)} (case.json, findings.json, hosts/, exports/)\n`,
    );
  });
};
