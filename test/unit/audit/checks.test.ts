/**
 * The audit's pure checks, each on a case that fires and a near miss that does not; SARIF
 * validated against the SARIF 2.1.0 schema; hostile input (a daemon.json that is not JSON, a
 * 1 MB label) gives a finding or a gap, never a crash.
 */
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import AjvModule from "ajv-draft-04";

// A CommonJS module: under NodeNext its class is the default export's .default.
const Ajv = AjvModule.default;

import pc from "picocolors";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  affected,
  compareVersions,
  imageFindings,
  loadAdvisories,
} from "../../../src/judge/audit/advisories.js";
import { containerFindings, daemonFindings } from "../../../src/judge/audit/docker.js";
import { judgeAudit } from "../../../src/judge/audit/index.js";
import { sshFindings } from "../../../src/judge/audit/ssh.js";
import type { ContainerObservation, SshObservation } from "../../../src/model/audit-output.js";
import { jsonKeyLines, observeDaemon } from "../../../src/observe/audit/docker.js";
import { OPENSSH_DEFAULTS } from "../../../src/observe/audit/sshd-config.js";
import { formatAudit } from "../../../src/tell/format-audit.js";
import { toSarif } from "../../../src/tell/sarif.js";

const now = new Date("2026-12-02T10:00:00Z");

function ssh(
  values: Record<string, string[]>,
  extra: Partial<SshObservation> = {},
): SshObservation {
  const base = Object.fromEntries(Object.entries(OPENSSH_DEFAULTS).map(([k, v]) => [k, [...v]]));
  return {
    where: "host",
    containerId: null,
    configFiles: ["/etc/ssh/sshd_config"],
    sshdInstalled: true,
    fatal: null,
    contexts: [
      {
        user: "root",
        host: "h",
        addr: "203.0.113.10",
        source: "parser",
        values: { ...base, ...values },
        origins: { passwordauthentication: { file: "/etc/ssh/sshd_config", line: 3 } },
      },
    ],
    users: [
      { name: "root", uid: 0, shell: "/bin/bash", loginShell: true, password: "locked" },
      { name: "git", uid: 998, shell: "/usr/sbin/nologin", loginShell: false, password: "locked" },
    ],
    keys: [],
    disagreements: [],
    ...extra,
  };
}

const hardened = {
  passwordauthentication: ["no"],
  kbdinteractiveauthentication: ["no"],
  permitrootlogin: ["without-password"],
  maxauthtries: ["3"],
  allowtcpforwarding: ["no"],
  macs: ["hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com"],
};

describe("SSH checks", () => {
  it("fires on passwords, root with a password, empty passwords, weak algorithms", () => {
    const rules = sshFindings(
      ssh({
        permitrootlogin: ["yes"],
        permitemptypasswords: ["yes"],
        ciphers: ["aes128-cbc,aes256-ctr"],
        maxauthtries: ["10"],
      }),
    ).map((f) => f.rule);
    expect(rules).toEqual(
      expect.arrayContaining([
        "audit.ssh.password-auth",
        "audit.ssh.root-password",
        "audit.ssh.empty-passwords",
        "audit.ssh.weak-ciphers",
        "audit.ssh.max-auth-tries",
      ]),
    );
    const pw = sshFindings(ssh({})).find((f) => f.rule === "audit.ssh.password-auth")!;
    expect(pw.evidence[0]!.file).toBe("/etc/ssh/sshd_config");
    expect(pw.evidence[0]!.line).toBe(3);
    expect(pw.evidence[0]!.facts!.fix).toMatch(/^PasswordAuthentication no/);
    expect(pw.evidence[0]!.facts!.cost).toMatch(/reload sshd/);
  });

  it("a hardened config (keys only) gives none of them", () => {
    expect(sshFindings(ssh(hardened)).map((f) => f.rule)).toEqual([]);
  });

  it("AuthenticationMethods publickey makes PasswordAuthentication yes harmless", () => {
    const rules = sshFindings(
      ssh({ ...hardened, passwordauthentication: ["yes"], authenticationmethods: ["publickey"] }),
    ).map((f) => f.rule);
    expect(rules).not.toContain("audit.ssh.password-auth");
  });

  it("authorized_keys hygiene: DSA, short RSA, no shell, root without from=, duplicates", () => {
    const key = (user: string, type: string, bits: number, fp: string, options = "") => ({
      user,
      path: `/home/${user}/.ssh/authorized_keys`,
      line: 1,
      type,
      bits,
      fingerprint: fp,
      options,
    });
    const rules = sshFindings(
      ssh(hardened, {
        keys: [
          key("root", "ssh-rsa", 2048, "SHA256:a"),
          key("git", "ssh-ed25519", 256, "SHA256:a"),
          key("root", "ssh-dss", 1024, "SHA256:b", 'from="198.51.100.7"'),
        ],
      }),
    ).map((f) => f.rule);
    expect(rules.sort()).toEqual(
      [
        "audit.ssh.key-dsa",
        "audit.ssh.key-duplicate",
        "audit.ssh.key-no-shell",
        "audit.ssh.key-rsa-short",
        "audit.ssh.root-key-no-from",
      ].sort(),
    );
    const ok = sshFindings(
      ssh(hardened, { keys: [key("root", "ssh-ed25519", 256, "SHA256:c", 'from="198.51.100.7"')] }),
    );
    expect(ok).toEqual([]);
  });
});

describe("known-exploited versions", () => {
  const adv = loadAdvisories();
  it("has CVE-2021-22205 with the issue's ranges and four more", () => {
    expect(adv.length).toBeGreaterThanOrEqual(5);
    const gl = adv.find((a) => a.id === "CVE-2021-22205")!;
    for (const v of ["11.9.0", "13.8.7", "13.9.5", "13.10.2"])
      expect(affected(gl, v), v).toBe(true);
    for (const v of ["11.8.9", "13.8.8", "13.9.6", "13.10.3", "14.0.0"])
      expect(affected(gl, v), v).toBe(false);
    const jenkins = adv.find((a) => a.id === "CVE-2024-23897")!;
    expect(affected(jenkins, "2.441")).toBe(true);
    expect(affected(jenkins, "2.426.2")).toBe(true);
    expect(affected(jenkins, "2.426.3")).toBe(false);
    expect(affected(jenkins, "2.440.1")).toBe(false);
    expect(affected(jenkins, "2.442")).toBe(false);
    expect(compareVersions("13.10", "13.10.0")).toBe(0);
  });

  it("falls back to the image tag with medium confidence", () => {
    const c: ContainerObservation = {
      id: "a".repeat(64),
      name: "ci",
      inspect: { Config: { Image: "jenkins/jenkins:2.426.2-lts" } },
      source: "engine",
      imageCreated: null,
      tagNowPointsTo: null,
      fsRoot: null,
      apps: [
        {
          product: "jenkins",
          version: "2.426.2",
          from: "image-tag",
          evidence: "jenkins/jenkins:2.426.2-lts",
        },
      ],
    };
    const f = imageFindings(c, adv, now);
    expect(f.map((x) => x.rule)).toEqual(["audit.image.known-exploited.CVE-2024-23897"]);
    expect(f[0]!.confidence).toBe("medium");
  });
});

describe("hostile input", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "bk-audit-unit-"));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it("a daemon.json that is not JSON is a finding, not a crash", async () => {
    await mkdir(join(dir, "etc/docker"), { recursive: true });
    await writeFile(
      join(dir, "etc/docker/daemon.json"),
      '{"icc": false,\n "log-opts": {"max-size": }',
    );
    const { daemon } = await observeDaemon({ root: dir, live: false, env: {} });
    expect(daemon.daemonJson.error).toMatch(/not valid JSON/);
    expect(daemonFindings(daemon).map((f) => f.rule)).toContain("audit.daemon.daemon-json-invalid");
  });

  it("finds the line of each daemon.json key, nested keys ignored", () => {
    expect(
      jsonKeyLines(
        '{\n  "icc": false,\n  "log-opts": {"max-size": "1m"},\n  "live-restore": true\n}',
      ),
    ).toEqual({ icc: 2, "log-opts": 3, "live-restore": 4 });
  });

  it("a 1 MB label and a hostile name do not blow up the output", () => {
    const c: ContainerObservation = {
      id: "b".repeat(64),
      name: "evil\u001b[31mname\n",
      source: "engine",
      imageCreated: null,
      tagNowPointsTo: null,
      fsRoot: null,
      apps: [],
      inspect: {
        Config: { Image: "x", Labels: { "com.docker.compose.service": "y".repeat(1024 * 1024) } },
        HostConfig: { Privileged: true },
      },
    };
    const findings = containerFindings(c, false);
    expect(findings.map((f) => f.rule)).toContain("audit.container.privileged");
    const judged = judgeAudit({
      ssh: [],
      daemon: null,
      containers: [c],
      prevention: null,
      live: true,
      now,
      advisories: [],
      lynis: null,
    });
    const text = formatAudit(
      {
        schemaVersion: 1,
        host: "h",
        root: null,
        startedAt: now.toISOString(),
        durationMs: 1,
        overall: judged.overall,
        scores: judged.areas,
        threshold: "high",
        atOrAboveThreshold: 1,
        findings: judged.findings,
        ssh: [],
        containersChecked: 1,
        lynis: null,
        gaps: [],
        sarif: null,
        bundle: null,
      },
      { json: false, all: true },
      pc.createColors(false),
    );
    expect(text).not.toContain("\u001b");
    expect(text.length).toBeLessThan(64 * 1024);
  });
});

describe("SARIF", () => {
  it("validates against the SARIF 2.1.0 schema, with stable ruleIds and fingerprints", () => {
    const findings = [
      ...sshFindings(ssh({ permitrootlogin: ["yes"] })),
      ...containerFindings(
        {
          id: "c".repeat(64),
          name: "mail",
          source: "engine",
          imageCreated: null,
          tagNowPointsTo: null,
          fsRoot: null,
          apps: [],
          inspect: {
            Mounts: [
              { Source: "/var/run/docker.sock", Destination: "/var/run/docker.sock", RW: false },
            ],
          },
        },
        false,
      ),
    ];
    const a = toSarif(findings, {
      toolVersion: "0.1.0",
      startedAt: now.toISOString(),
      endedAt: now.toISOString(),
    });
    const b = toSarif(findings, {
      toolVersion: "0.1.0",
      startedAt: now.toISOString(),
      endedAt: now.toISOString(),
    });
    const schema = JSON.parse(
      readFileSync(join(process.cwd(), "test/fixtures/audit/sarif-2.1.0-rtm.5.json"), "utf8"),
    );
    const validate = new Ajv({
      allErrors: true,
      strict: false,
      validateFormats: false,
      unicodeRegExp: false,
    }).compile(schema);
    expect(validate(a), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    // A broken document is refused: the check can fail.
    expect(validate({ version: "2.1.0", runs: [{ results: [] }] })).toBe(false);
    const fp = (s: Record<string, unknown>) =>
      (s.runs as { results: { partialFingerprints: unknown }[] }[])[0]!.results.map(
        (r) => r.partialFingerprints,
      );
    expect(fp(a)).toEqual(fp(b));
    const ids = (a.runs as { results: { ruleId: string }[] }[])[0]!.results.map((r) => r.ruleId);
    expect(ids).toContain("audit.container.docker-socket");
  });
});

describe("Lynis merged (--lynis)", () => {
  it("turns a recorded Lynis 3.0.8 report into findings of area lynis, scored beside the others", async () => {
    const { parseLynisReport } = await import("../../../src/observe/scanners/lynis.js");
    const { lynisAuditFindings } = await import("../../../src/judge/audit/lynis.js");
    const report = parseLynisReport(
      readFileSync(join(process.cwd(), "test/fixtures/scanners/lynis-3.0.8-report.dat"), "utf8"),
    );
    const merged = lynisAuditFindings(report, "lynis-report.dat");
    expect(merged.length).toBe(report.warnings.length + report.suggestions.length);
    expect(
      merged.every((f) => f.evidence[0]!.facts!.area === "lynis" && f.evidence[0]!.facts!.fix),
    ).toBe(true);
    const judged = judgeAudit({
      ssh: [],
      daemon: null,
      containers: [],
      prevention: null,
      live: true,
      now,
      advisories: [],
      lynis: merged,
    });
    const area = judged.areas.find((a) => a.area === "lynis")!;
    expect(area.checked).toBe(true);
    expect(area.counts.medium).toBe(report.warnings.length);
  });
});

describe("prevention", () => {
  it("lists host listeners not published by Docker, and flags a missing updater, backup and firewall", async () => {
    const { preventionFindings } = await import("../../../src/judge/audit/prevention.js");
    const { parseListeners } = await import("../../../src/observe/audit/prevention.js");
    // A recorded /proc/net/tcp shape: sshd on 0.0.0.0:22, a published 8080, one on 127.0.0.1:25.
    const tcp = [
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
      "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0 100 0 0 10 0",
      "   1: 00000000:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0 100 0 0 10 0",
      "   2: 0100007F:0019 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 3 1 0 100 0 0 10 0",
    ].join("\n");
    const listeners = parseListeners(tcp, false);
    expect(listeners).toEqual([
      { port: 22, address: "0.0.0.0" },
      { port: 8080, address: "0.0.0.0" },
    ]);
    const web: ContainerObservation = {
      id: "d".repeat(64),
      name: "web",
      source: "engine",
      imageCreated: null,
      tagNowPointsTo: null,
      fsRoot: null,
      apps: [],
      inspect: {
        Config: { Image: "containrrr/watchtower:1.7.1" },
        NetworkSettings: { Ports: { "80/tcp": [{ HostIp: "0.0.0.0", HostPort: "8080" }] } },
      },
    };
    const findings = preventionFindings(
      {
        schedules: [],
        unattended: { apt: true, installed: false, enabled: false, file: null, line: null },
        backup: { configured: false, repo: null, latest: null, error: null, configError: null },
        firewall: { tool: "iptables-save", inputRules: 0, inputPolicy: "ACCEPT", error: null },
        listeners,
      },
      [web],
      now,
      true,
    );
    const rules = findings.map((f) => f.rule);
    expect(rules).toEqual(
      expect.arrayContaining([
        "audit.prevention.watchtower",
        "audit.prevention.unattended-upgrades",
        "audit.prevention.no-backup",
        "audit.prevention.no-scheduled-scan",
        "audit.prevention.no-firewall",
        "audit.prevention.host-listeners",
      ]),
    );
    expect(rules).not.toContain("audit.prevention.no-updater");
    expect(findings.find((f) => f.rule === "audit.prevention.host-listeners")!.title).toMatch(
      /: 22$/,
    );
    expect(findings.find((f) => f.rule === "audit.prevention.watchtower")!.title).toMatch(
      /archived.*Docker 29.*1\.44/,
    );
    const old = preventionFindings(
      {
        schedules: [
          {
            file: "/etc/cron.d/breachkit",
            line: 1,
            text: "0 3 * * * root breachkit triage --json --out /var/lib/bk",
          },
        ],
        unattended: {
          apt: true,
          installed: true,
          enabled: true,
          file: "/etc/apt/apt.conf.d/20auto-upgrades",
          line: 2,
        },
        backup: {
          configured: true,
          repo: "/srv/restic",
          latest: "2026-11-20T03:00:00Z",
          error: null,
          configError: null,
        },
        firewall: { tool: "nft", inputRules: 4, inputPolicy: "drop", error: null },
        listeners: [],
      },
      [],
      now,
      true,
    ).map((f) => f.rule);
    expect(old.sort()).toEqual(["audit.prevention.backup-old", "audit.prevention.no-updater"]);
  });
});

describe("scores", () => {
  it("scores containers per container, then the mean; a critical caps the overall at 40", async () => {
    const { scoreAreas } = await import("../../../src/judge/audit/index.js");
    const mk = (where: string, severity: "low" | "critical") =>
      containerFindings(
        {
          id: where.padEnd(64, "0"),
          name: where,
          source: "engine",
          imageCreated: null,
          tagNowPointsTo: null,
          fsRoot: null,
          apps: [],
          inspect: {
            Config: { User: "1000" },
            HostConfig: {
              Memory: 1,
              NanoCpus: 1,
              PidsLimit: 10,
              ReadonlyRootfs: true,
              SecurityOpt: ["no-new-privileges"],
              Privileged: severity === "critical",
            },
          },
        },
        false,
      );
    const quiet = mk("a", "low");
    expect(quiet.map((f) => f.severity)).toEqual(["info"]);
    const bad = mk("b", "critical");
    const { areas, overall } = scoreAreas([...quiet, ...bad], new Set(["containers"]), 2);
    const c = areas.find((a) => a.area === "containers")!;
    expect(c.score).toBe(Math.round((100 + 60) / 2));
    expect(overall).toBe(40);
  });
});
