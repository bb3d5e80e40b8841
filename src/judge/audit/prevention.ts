/**
 * Prevention in place: something keeps containers updated, the host upgrades itself, backups
 * exist and are recent, a scan runs on a schedule, the firewall filters what comes in, and
 * what listens on every address is known.
 */
import type { ContainerObservation, PreventionObservation } from "../../model/audit-output.js";
import type { Finding } from "../../model/finding.js";
import { auditFinding } from "./common.js";

const UPDATERS: [RegExp, string][] = [
  [/(^|\/)watchtower(:|@|$)/, "watchtower"],
  [/(^|\/)diun(:|@|$)/, "diun"],
  [/(^|\/)(wud|whats-up-docker)(:|@|$)/, "wud"],
];

const DAY = 24 * 3600 * 1000;

export function preventionFindings(
  p: PreventionObservation,
  containers: readonly ContainerObservation[],
  now: Date,
  live: boolean,
): Finding[] {
  const out: Finding[] = [];
  const base = { area: "prevention" as const, where: "host", containerId: null };
  const add = (x: Omit<Parameters<typeof auditFinding>[0], "area" | "where" | "containerId">) =>
    out.push(auditFinding({ ...base, ...x }));

  const updaters = containers.flatMap((c) => {
    const image = String(
      (c.inspect.Config as Record<string, unknown> | undefined)?.Image ?? "",
    ).toLowerCase();
    const kind = UPDATERS.find(([re]) => re.test(image))?.[1];
    return kind ? [{ c, kind, image }] : [];
  });
  const updateScheduled = p.schedules.filter((s) => /breachkit\s+update/.test(s.text));
  const scanScheduled = p.schedules.filter((s) =>
    /breachkit\s+(audit|scan|triage|baseline)/.test(s.text),
  );
  for (const u of updaters.filter((x) => x.kind === "watchtower")) {
    out.push(
      auditFinding({
        area: "prevention",
        where: u.c.name,
        containerId: u.c.id,
        rule: "audit.prevention.watchtower",
        severity: "medium",
        title:
          "Watchtower keeps containers updated here, but it is archived (unmaintained since 2025-12) and fails against Docker 29, whose API minimum is 1.44",
        evidence: [{ facts: { field: "Config.Image", value: u.image.slice(0, 200) } }],
        fix: "replace it: schedule `breachkit update` (digest check, evidence first, health-gated rollback), or diun/wud for notices; then remove the watchtower container (it holds the Docker socket)",
        cost: "none for the other containers",
      }),
    );
  }
  if (updaters.length === 0 && updateScheduled.length === 0) {
    add({
      rule: "audit.prevention.no-updater",
      severity: "medium",
      title:
        "Nothing keeps the containers updated (no scheduled breachkit update, no diun/wud/watchtower container)",
      evidence: [{ facts: { checked: "cron, systemd timers, running containers' images" } }],
      fix: "schedule it: breachkit schedule (or a cron line: 0 4 * * * root breachkit update --check --json)",
      cost: "none",
    });
  }
  if (p.unattended.apt && !(p.unattended.installed && p.unattended.enabled)) {
    add({
      rule: "audit.prevention.unattended-upgrades",
      severity: "medium",
      title: p.unattended.installed
        ? "unattended-upgrades is installed but not enabled: the host's security updates wait for someone"
        : "The host does not install its security updates by itself (unattended-upgrades not installed)",
      evidence: [
        p.unattended.file
          ? { file: p.unattended.file, line: p.unattended.line ?? 1 }
          : { facts: { checked: "/etc/apt/apt.conf.d, /usr/bin/unattended-upgrade" } },
      ],
      fix: 'apt-get install unattended-upgrades && printf \'APT::Periodic::Update-Package-Lists "1";\\nAPT::Periodic::Unattended-Upgrade "1";\\n\' > /etc/apt/apt.conf.d/20auto-upgrades',
      cost: "none; some upgrades restart services",
    });
  }
  if (live) {
    const b = p.backup;
    if (b.configError) {
      add({
        rule: "audit.prevention.config-unreadable",
        severity: "low",
        title: `breachkit's config could not be used: ${b.configError}`,
        evidence: [{ text: b.configError }],
        fix: "repair it as the message says",
        cost: "none",
      });
    } else if (!b.configured) {
      add({
        rule: "audit.prevention.no-backup",
        severity: "medium",
        title:
          "No backup is configured in breachkit (backup.repo): nothing to restore from after a breach",
        evidence: [
          { file: "/etc/breachkit/config.json", facts: { section: "backup", value: "absent" } },
        ],
        fix: 'in /etc/breachkit/config.json (mode 600): {"backup": {"repo": "/srv/backup/restic", "passwordFile": "/root/.restic-pass"}}, then breachkit backup and a schedule',
        cost: "disk space for the repository",
      });
    } else if (b.error) {
      add({
        rule: "audit.prevention.backup-unreadable",
        severity: "high",
        title: `The backup repository ${b.repo} cannot be read: ${b.error}`,
        evidence: [{ facts: { repo: b.repo ?? "", error: b.error } }],
        fix: "check backup.repo and backup.passwordFile in breachkit's config; restic -r REPO snapshots must work",
        cost: "none",
      });
    } else {
      const age = b.latest
        ? (now.getTime() - Date.parse(b.latest)) / DAY
        : Number.POSITIVE_INFINITY;
      if (age > 2) {
        add({
          rule: "audit.prevention.backup-old",
          severity: b.latest ? (age > 7 ? "high" : "medium") : "high",
          title: b.latest
            ? `The newest backup snapshot is ${Math.floor(age)} days old (${b.latest.slice(0, 19)})`
            : `The backup repository ${b.repo} holds no snapshot`,
          evidence: [{ facts: { repo: b.repo ?? "", latest: b.latest ?? "none" } }],
          fix: "run breachkit backup now, and schedule it daily",
          cost: "none",
        });
      }
    }
  }
  if (scanScheduled.length === 0) {
    add({
      rule: "audit.prevention.no-scheduled-scan",
      severity: "medium",
      title:
        "No scan runs on a schedule (no breachkit audit/scan/triage in cron or a systemd timer)",
      evidence: [
        {
          facts: {
            checked: "/etc/crontab, /etc/cron.d, /var/spool/cron/crontabs, /etc/systemd/system",
          },
        },
      ],
      fix: "breachkit schedule, or a cron line: 30 3 * * * root breachkit triage --json --out /var/lib/breachkit",
      cost: "a few minutes of CPU a day",
    });
  }
  if (p.firewall) {
    const fw = p.firewall;
    if (fw.error) {
      add({
        rule: "audit.prevention.firewall-unreadable",
        severity: "info",
        title: `The firewall rules could not be read: ${fw.error}`,
        evidence: [{ text: fw.error }],
        fix: "install iptables or nftables to read them",
        cost: "none",
      });
    } else if (fw.inputRules === 0 && (fw.inputPolicy ?? "ACCEPT").toUpperCase() === "ACCEPT") {
      const ports = [...new Set(p.listeners.map((l) => l.port))].sort((a, b) => a - b);
      add({
        rule: "audit.prevention.no-firewall",
        severity: "medium",
        title: `No firewall filters what reaches the host (INPUT policy ${fw.inputPolicy ?? "accept"}, no input rules)${ports.length ? `; listening on every address: ${ports.slice(0, 12).join(", ")}` : ""}`,
        evidence: [
          {
            facts: {
              tool: fw.tool ?? "",
              inputPolicy: fw.inputPolicy ?? "",
              inputRules: String(fw.inputRules),
              listeners: ports.join(",").slice(0, 200),
            },
          },
        ],
        fix: "nft: a table inet filter with chain input { type filter hook input priority 0; policy drop; ct state established,related accept; iif lo accept; tcp dport { 22, 80, 443 } accept; } (ports published by Docker need rules in DOCKER-USER)",
        cost: "a wrong rule locks you out: keep a console open and apply with a timed rollback",
      });
    }
  }
  if (live && p.listeners.length > 0) {
    const published = new Set<number>();
    for (const c of containers) {
      const ports = (c.inspect.NetworkSettings as Record<string, unknown> | undefined)?.Ports;
      for (const binds of Object.values((ports ?? {}) as Record<string, unknown>)) {
        for (const b of Array.isArray(binds) ? binds : []) {
          const port = Number((b as Record<string, unknown>).HostPort);
          if (Number.isInteger(port)) published.add(port);
        }
      }
    }
    const host = [...new Set(p.listeners.map((l) => l.port))]
      .filter((x) => !published.has(x))
      .sort((a, b) => a - b);
    if (host.length > 0) {
      add({
        rule: "audit.prevention.host-listeners",
        severity: "info",
        title: `Host services listen on every address, besides the ports Docker publishes: ${host.slice(0, 20).join(", ")}`,
        evidence: [
          {
            file: "/proc/net/tcp",
            facts: {
              listening: p.listeners
                .map((l) => `${l.address === "::" ? "[::]" : l.address}:${l.port}`)
                .join(",")
                .slice(0, 300),
              publishedByDocker: [...published]
                .sort((a, b) => a - b)
                .join(",")
                .slice(0, 200),
            },
          },
        ],
        fix: "bind each service that need not be public to 127.0.0.1 (its own config), or drop the port in the firewall's input chain",
        cost: "a restart of that service",
      });
    }
  }
  return out;
}
