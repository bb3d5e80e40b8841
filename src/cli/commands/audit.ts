import { writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import { createBundle } from "../../evidence/bundle.js";
import { loadAdvisories } from "../../judge/audit/advisories.js";
import { judgeAudit } from "../../judge/audit/index.js";
import { lynisAuditFindings } from "../../judge/audit/lynis.js";
import {
  AUDIT_SCHEMA_VERSION,
  type AuditOutput,
  type ContainerObservation,
  type SshObservation,
} from "../../model/audit-output.js";
import { type Finding, SEVERITIES, severityRank } from "../../model/finding.js";
import { RootFs } from "../../observe/accounts/root-fs.js";
import {
  observeContainers,
  observeContainersOnDisk,
  observeDaemon,
} from "../../observe/audit/docker.js";
import { observePrevention } from "../../observe/audit/prevention.js";
import { observeSsh } from "../../observe/audit/ssh.js";
import { runLynis } from "../../observe/scanners/lynis.js";
import { formatAudit } from "../../tell/format-audit.js";
import { toSarif } from "../../tell/sarif.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError, EXIT_FINDINGS } from "../../util/errors.js";
import { createProgress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import { TOOL } from "../../version.js";
import { type CommandContext, helpFooter } from "../command.js";
import {
  choice,
  custom,
  defineOptions,
  flag,
  parseNameList,
  text,
  withOptions,
} from "../options.js";

export const AUDIT_OPTIONS = defineOptions({
  json: flag("--json", "print scores and findings as JSON (schema: breachkit schema audit)", false),
  sarif: text("--sarif <file>", "also write the findings as SARIF 2.1.0 to this file"),
  failOn: choice("--fail-on <severity>", "exit 1 at or above this severity", SEVERITIES, "high"),
  out: text(
    "--out <dir>",
    "also write a sealed bundle with audit.json (and audit.sarif) under this directory",
  ),
  root: text(
    "--root <dir>",
    "audit a dead server's disk mounted here (sshd_config, daemon.json, containers from var/lib/docker) instead of the live host",
  ),
  lynis: flag(
    "--lynis",
    "run Lynis too (minutes) and merge its hardening index, warnings and suggestions",
  ),
  lynisGroups: custom(
    "--lynis-groups <names>",
    "with --lynis: only these Lynis test groups, comma-separated (e.g. ssh,firewalls)",
    parseNameList("--lynis-groups"),
    { format: (v) => v.join(",") },
  ),
  config: text(
    "--config <file>",
    "breachkit's config (default /etc/breachkit/config.json): backup.repo for the backup check",
  ),
  all: flag("--all", "list every finding, including low and info, with all evidence", false),
});

export function registerAudit(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command("audit")
    .summary(
      "prevention checked: SSH, Docker daemon and containers (CIS 1.8), exploited versions, backups (read-only)",
    )
    .description(
      `The prevention half of the playbook, checked, with the exact fix for each finding:
- SSH: the effective sshd configuration (sshd -T -C for root, every login account and an
  outside address, so Match blocks count), keys only, root login, AllowUsers, weak
  algorithms, and authorized_keys hygiene (DSA, short RSA, keys without a shell, duplicates);
- the Docker daemon (CIS Docker Benchmark sections 2 and 3) from /info, daemon.json and
  dockerd's command line, and docker.sock's owner and mode;
- every container (CIS section 5) from inspect: privileged, capabilities, host mounts, the
  Docker socket (5.32), host namespaces, seccomp/AppArmor, limits, ports on all addresses;
- known-exploited versions of GitLab, WordPress, Jenkins, Confluence, Roundcube read from the
  container's own files (never docker exec), against rules/advisories.json;
- prevention in place: an updater, unattended upgrades, recent restic backups, a scheduled
  scan, a firewall with input rules.
Each finding carries its evidence (file:line, or the inspect field and value), the fix
(sshd_config lines, daemon.json keys, docker run / compose lines) and what it costs.
Read-only: it changes nothing; it writes only --sarif FILE and the --out bundle.`,
    )
    .addHelpText(
      "after",
      `\nPaths written: the --sarif file and the bundle under --out, nothing else.\n${helpFooter([
        "breachkit audit",
        "breachkit audit --sarif audit.sarif --fail-on medium",
        "breachkit audit --json | jq '.findings[] | select(.severity==\"critical\")'",
        "breachkit audit --root /mnt/dead-server --out /root/evidence",
        "breachkit audit --lynis",
      ])}`,
    );
  withOptions(cmd, AUDIT_OPTIONS, async ({ options: flags, commandLine }) => {
    const { io } = ctx;
    const startedAt = new Date();
    const live = !flags.root;
    const root = flags.root ? resolve(io.cwd, flags.root) : "/";
    if (flags.root && !(await new RootFs(root).stat("/")).ok) {
      throw new BreachkitError(
        "BAD_INPUT",
        `cannot read ${root}`,
        "give the directory where the disk is mounted (mount -o ro /dev/sdX1 /mnt/dead-server)",
      );
    }
    const progress = createProgress(io, flags.json);
    const gaps: AuditOutput["gaps"] = [];
    const gap = (source: string) => (message: string) => gaps.push({ source, message });
    const advisories = loadAdvisories();

    // SSH, Docker and prevention read different things: at the same time.
    progress.update("audit: SSH, Docker, prevention…");
    const dockerPart = (async () => {
      const daemon = await observeDaemon({ root, live, env: io.env });
      daemon.gaps.forEach(gap("docker"));
      let containers: ContainerObservation[] = [];
      try {
        const got = live
          ? daemon.engine
            ? await observeContainers(daemon.engine, io.env)
            : { containers: [], gaps: [] }
          : await observeContainersOnDisk(root);
        containers = got.containers;
        got.gaps.forEach(gap("containers"));
      } catch (e) {
        gaps.push({ source: "containers", message: errorMessage(e).slice(0, 300) });
      }
      // SSH inside containers that ship sshd (CIS 5.7): parsed from their files, never exec.
      const inContainers: SshObservation[] = [];
      for (const c of containers) {
        if (!c.fsRoot) continue;
        if (!(await new RootFs(c.fsRoot).stat("/usr/sbin/sshd")).ok) continue;
        const got = await observeSsh({
          root: c.fsRoot,
          where: c.name,
          containerId: c.id,
          live: false,
          env: io.env,
        });
        inContainers.push(got.obs);
        got.gaps.forEach(gap(`ssh:${c.name}`));
      }
      return { daemon, containers, inContainers };
    })();
    const [host, docker, prevention] = await Promise.all([
      observeSsh({ root, where: live ? "host" : "disk", containerId: null, live, env: io.env }),
      dockerPart,
      observePrevention({
        root,
        live,
        env: io.env,
        ...(flags.config ? { configFile: resolve(io.cwd, flags.config) } : {}),
      }),
    ]);
    host.gaps.forEach(gap("ssh"));
    const ssh: SshObservation[] = [host.obs, ...docker.inContainers];
    const { daemon, containers } = docker;

    let lynis: Finding[] | null = null;
    let lynisSummary: AuditOutput["lynis"] = null;
    if (flags.lynis) {
      if (!live)
        gaps.push({
          source: "lynis",
          message: "Lynis audits the running system: not run with --root",
        });
      else {
        progress.update("audit: Lynis (minutes)…");
        const r = await runLynis({
          timeoutMs: 15 * 60_000,
          env: io.env,
          ...flagsGroups(flags.lynisGroups),
        });
        const said = r.said?.tool === "lynis" ? r.said.report : null;
        lynis = said ? lynisAuditFindings(said, "lynis-report.dat") : [];
        lynisSummary = {
          hardeningIndex: said?.hardeningIndex ?? null,
          warnings: said?.warnings.length ?? 0,
          suggestions: said?.suggestions.length ?? 0,
          status: r.status === "ok" ? r.summary : `${r.status}: ${r.summary}`,
        };
        for (const g of r.gaps) gaps.push({ source: "lynis", message: g.reason });
      }
    }

    progress.update("audit: judging…");
    const judged = judgeAudit({
      ssh,
      daemon: daemon.daemon,
      containers,
      prevention,
      live,
      now: startedAt,
      advisories,
      lynis,
    });
    const threshold = flags.failOn;
    const atOrAbove = judged.findings.filter(
      (f) => !f.falsePositive && severityRank(f.severity) >= severityRank(threshold),
    ).length;
    const endedAt = new Date();
    const hostName = live ? hostname() : await diskHostname(root);
    const output: AuditOutput = {
      schemaVersion: AUDIT_SCHEMA_VERSION,
      host: hostName,
      root: live ? null : root,
      startedAt: startedAt.toISOString(),
      durationMs: endedAt.getTime() - startedAt.getTime(),
      overall: judged.overall,
      scores: judged.areas,
      threshold,
      atOrAboveThreshold: atOrAbove,
      findings: judged.findings,
      ssh: ssh.map((s) => ({
        where: s.where,
        configFiles: s.configFiles,
        contexts: s.contexts.map((x) => ({
          user: x.user,
          host: x.host,
          addr: x.addr,
          source: x.source,
        })),
        disagreements: s.disagreements,
      })),
      containersChecked: containers.length,
      lynis: lynisSummary,
      gaps,
      sarif: null,
      bundle: null,
    };
    const sarif = toSarif(judged.findings, {
      toolVersion: TOOL.version,
      startedAt: output.startedAt,
      endedAt: endedAt.toISOString(),
    });
    if (flags.sarif) {
      const path = resolve(io.cwd, flags.sarif);
      try {
        await writeFile(path, `${JSON.stringify(sarif, null, 2)}\n`, { mode: 0o600 });
      } catch (e) {
        throw new BreachkitError(
          "IO",
          `cannot write the SARIF file ${path}: ${errorMessage(e)}`,
          "choose a writable path for --sarif",
        );
      }
      output.sarif = path;
    }
    if (flags.out) {
      progress.update("audit: sealing the bundle…");
      const bundle = await createBundle({
        outDir: resolve(io.cwd, flags.out),
        host: hostName,
        command: commandLine,
      });
      await bundle.writeJson("audit.json", output, { source: "breachkit audit" });
      await bundle.writeJson("audit.sarif", sarif, { source: "breachkit audit" });
      const sealed = await bundle.seal({ complete: true });
      output.bundle = { path: bundle.dir, manifestSha256: sealed.manifestSha256 };
    }
    progress.done();
    io.write(formatAudit(output, { json: flags.json, all: flags.all }, colorsFor(io)));
    if (atOrAbove > 0) ctx.setExitCode(EXIT_FINDINGS);
  });
}

function flagsGroups(groups: string[] | undefined): { groups?: string[] } {
  return groups && groups.length > 0 ? { groups } : {};
}

async function diskHostname(root: string): Promise<string> {
  const r = await new RootFs(root).read("/etc/hostname", { maxBytes: 4096 });
  return r.ok ? r.value.bytes.toString("utf8").trim().slice(0, 255) || "disk" : "disk";
}
