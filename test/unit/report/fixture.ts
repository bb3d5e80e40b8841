/**
 * A hostile incident for the report's tests, made with the real bundle writer and judged by the
 * real judge (as triage does): a "web" container running a deleted executable whose name is
 * `</script><script>alert(1)</script>`, flooding; an exploit line in its log carrying
 * `<img src=x onerror=alert(1)>`, ANSI escapes and a right-to-left override; a "mail" container
 * with the Docker socket mounted (at risk, not compromised) labelled `javascript:alert(1)`;
 * a contain bundle (containment.json in contain's format), an audit bundle and a watch recording
 * in the agreed NDJSON format.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createBundle, safePathComponent } from "../../../src/evidence/bundle.js";
import { judgeBundle } from "../../../src/judge/judge-bundle.js";
import type { ContainReport } from "../../../src/judge/report/input.js";
import { ruleSetOrThrow } from "../../../src/judge/rule-set.js";
import { verdictOf } from "../../../src/judge/verdict.js";
import type { Finding } from "../../../src/model/finding.js";
import { fakeSha256, SnapshotBuilder, traffic } from "../../helpers/snapshot-builder.js";

export const EVIL_NAME = "</script><script>alert(1)</script>";
export const EVIL_LOG = "<img src=x onerror=alert(1)>";
export const EVIL_LABEL = "javascript:alert(1)";
export const ANSI = "\u001b[31mRED\u001b[0m";
export const RTL = "\u202egnp.exe";
export const TROJAN_SHA = fakeSha256("wate");
export const T0 = "2026-03-01T12:00:00.000Z";

export function hostileSnapshot(takenAt = T0) {
  return new SnapshotBuilder({ takenAt, intervalSeconds: 1 })
    .dockerRuntime()
    .container({
      name: "web",
      image: "gitlab/gitlab-ce:13.10.2",
      traffic: traffic(120_000),
      labels: { "com.example.url": EVIL_LABEL, [EVIL_LABEL]: EVIL_NAME },
      startedAt: "2026-03-01T09:00:00.000Z",
    })
    .container({
      name: "mail",
      image: "mailserver:latest",
      traffic: traffic(3),
      mounts: [
        {
          type: "bind",
          source: "/var/run/docker.sock",
          destination: "/var/run/docker.sock",
          rw: true,
          dockerSocket: true,
          sensitive: true,
        },
      ],
    })
    .process(
      {
        pid: 4242,
        ppid: 1,
        comm: EVIL_NAME.slice(0, 15),
        argv: [`/tmp/${EVIL_NAME}`, EVIL_LOG, ANSI, RTL],
        cpuPercent: 95,
        startTime: "2026-03-01T11:51:00.000Z",
        exe: { path: `/tmp/${EVIL_NAME}`, deleted: true, sha256: TROJAN_SHA, upperLayer: true },
        socketInodes: [9001],
      },
      "web",
    )
    .socket(
      {
        proto: "udp",
        localAddress: "127.0.0.1",
        localPort: 40000,
        remoteAddress: "127.0.0.1",
        remotePort: 9,
        state: "ESTABLISHED",
        inode: 9001,
        pids: [4242],
      },
      "web",
    )
    .netns({}, "web")
    .build();
}

export async function makeTriageBundle(out: string): Promise<string> {
  const snap = hostileSnapshot();
  const b = await createBundle({
    outDir: out,
    host: "web01",
    command: "triage --out case",
    now: new Date(T0),
  });
  await b.writeJson("snapshot.json", snap, { source: "breachkit" });
  const web = snap.containers.find((c) => c.name === "web")!;
  const json = (log: string, time: string) =>
    `${JSON.stringify({ log: `${log}\n`, stream: "stdout", time })}\n`;
  await b.writeFile(
    `containers/${safePathComponent("web")}/${web.id}-json.log`,
    json("GET / HTTP/1.1 200", "2026-03-01T11:40:00.000Z") +
      json(
        `exiftool command failed ${EVIL_LOG} ${EVIL_NAME} ${ANSI} ${RTL} ${EVIL_LABEL}`,
        "2026-03-01T11:50:00.000Z",
      ),
    { source: `docker:/containers/${web.id}/logs` },
  );
  await b.writeJson(
    `containers/${safePathComponent("web")}/changes.json`,
    [
      { path: "/tmp", kind: "modified" },
      { path: `/tmp/${EVIL_NAME}`, kind: "deleted" },
      { path: `/tmp/${EVIL_LOG}${ANSI}${RTL}`, kind: "added" },
    ],
    { source: `docker:/containers/${web.id}/changes` },
  );
  const judged = await judgeBundle(b.dir, safePathComponent, { rules: await ruleSetOrThrow() });
  await b.writeJson(
    "findings.json",
    {
      verdict: verdictOf(judged.findings),
      findings: judged.findings,
      logsHunted: judged.logsHunted,
    },
    { source: "breachkit triage" },
  );
  await b.seal({ complete: true });
  return b.dir;
}

/** containment.json as contain writes it (see act/contain.ts ContainmentReport). */
export function containReport(webId: string): ContainReport {
  const match = {
    pid: 4242,
    ppid: 1,
    startTime: "2026-03-01T11:51:00.000Z",
    where: "web",
    containerId: webId,
    user: "git",
    uid: 998,
    state: "R",
    comm: EVIL_NAME.slice(0, 15),
    commandLine: `/tmp/${EVIL_NAME} ${EVIL_LOG}`,
    exePath: `/tmp/${EVIL_NAME}`,
    deleted: true,
    sha256: TROJAN_SHA,
    matchedBy: [`sha256 ${TROJAN_SHA}`],
    runsFrom: "a deleted file in the container's writable layer",
  };
  const tr = (tx: number) => ({
    intervalSeconds: 1,
    txPacketsPerSec: tx,
    txPacketsPerSecOffLoopback: 0,
    rxPacketsPerSec: tx,
    interfaces: [],
    note: null,
  });
  const target = {
    id: webId,
    name: "web",
    image: "gitlab/gitlab-ce:13.10.2",
    state: "running",
    pid: 4000,
    networkMode: "none",
    networks: [],
    restartPolicy: "always",
  };
  return {
    format: "breachkit-containment",
    formatVersion: 1,
    memory: [],
    tool: { name: "breachkit", version: "0.0.0-test" },
    host: "web01",
    mode: "pause",
    startedAt: "2026-03-01T12:05:00.000Z",
    endedAt: "2026-03-01T12:05:04.000Z",
    target: { ...target, stateAfter: "paused", networksAfter: [], restartPolicyAfter: "always" },
    indicators: [`sha256 ${TROJAN_SHA}`],
    notes: [],
    evidence: { complete: true, incompleteReason: null, files: 5, bytes: 1000 },
    before: { takenAt: "2026-03-01T12:05:00.000Z", matches: [match], spared: [] },
    after: {
      takenAt: "2026-03-01T12:05:03.000Z",
      matches: [{ ...match, state: "D" }],
      spared: [],
      freezer: "FROZEN",
    },
    actions: [
      {
        kind: "pause",
        description: `pause container web (${EVIL_LABEL})`,
        command: `docker pause ${webId}`,
        undo: `docker unpause ${webId}`,
        startedAt: "2026-03-01T12:05:01.000Z",
        endedAt: "2026-03-01T12:05:01.100Z",
        ok: true,
        error: null,
      },
    ],
    undo: [`docker unpause ${webId}`],
    verdict: "CONTAINED",
    contained: true,
    reasons: ["every matching process is frozen", "its traffic stopped"],
    problems: [],
    stillRunning: [],
    appeared: [],
    traffic: { before: tr(118_000), after: tr(0) },
    next: [],
  };
}

async function makeContainBundle(out: string): Promise<string> {
  const snap = hostileSnapshot("2026-03-01T12:05:00.000Z");
  const b = await createBundle({
    outDir: out,
    host: "web01",
    command: "contain web --mode pause",
    now: new Date("2026-03-01T12:05:00.000Z"),
  });
  await b.writeJson("snapshot.json", snap, { source: "breachkit" });
  const web = snap.containers.find((c) => c.name === "web")!;
  b.log({
    step: "contain",
    action: `docker pause ${web.id}`,
    result: "ok",
    changedHost: true,
    details: { undo: `docker unpause ${web.id}` },
  });
  await b.writeJson("containment.json", containReport(web.id), {
    source: "breachkit contain",
  });
  await b.seal({ complete: true });
  return b.dir;
}

export function auditFindings(): Finding[] {
  return [
    {
      rule: "audit.ssh-password-auth",
      severity: "high",
      confidence: "high",
      title: "SSH accepts passwords",
      where: "host",
      containerId: null,
      evidence: [
        {
          facts: {
            fix: "PasswordAuthentication no in /etc/ssh/sshd_config, then systemctl reload ssh",
            cis: "5.2.8",
            cost: "none",
          },
        },
      ],
      next: "turn password logins off",
      source: "audit",
      falsePositive: null,
    },
    {
      rule: "audit.docker-socket",
      severity: "high",
      confidence: "high",
      title: `mail mounts the Docker socket ${EVIL_LABEL}`,
      where: "mail",
      containerId: null,
      evidence: [
        {
          facts: {
            fix: "remove the /var/run/docker.sock mount from mail",
            cis: "5.31",
            cost: "mail loses its container management",
          },
        },
      ],
      next: "remove the mount",
      source: "audit",
      falsePositive: null,
    },
  ];
}

async function makeAuditBundle(out: string): Promise<string> {
  const b = await createBundle({
    outDir: out,
    host: "web01",
    command: "audit --out case",
    now: new Date("2026-03-01T13:00:00.000Z"),
  });
  await b.writeJson(
    "audit.json",
    { schemaVersion: 1, findings: auditFindings() },
    { source: "breachkit audit" },
  );
  await b.seal({ complete: true });
  return b.dir;
}

/** A watch recording in the agreed format: the flood, then silence after containment. */
export function watchLines(): string[] {
  const lines: string[] = [];
  for (let i = 0; i < 12; i++) {
    const t = new Date(Date.parse("2026-03-01T12:04:00.000Z") + i * 10_000).toISOString();
    const tx = i < 7 ? 110_000 + i * 1000 : 0;
    lines.push(
      JSON.stringify({
        schemaVersion: 1,
        time: t,
        intervalMs: 10_000,
        rows: [
          {
            place: "web",
            containerId: null,
            cpuPercent: 90,
            memoryBytes: 1e6,
            processes: 3,
            rxPacketsPerSec: tx,
            txPacketsPerSec: tx,
            rxBytesPerSec: tx * 64,
            txBytesPerSec: tx * 64,
            destinations: tx ? [{ address: "203.0.113.50", port: 80, count: 5 }] : [],
          },
          {
            place: "host",
            containerId: null,
            cpuPercent: 5,
            memoryBytes: 1e8,
            processes: 120,
            rxPacketsPerSec: 20,
            txPacketsPerSec: 15,
            rxBytesPerSec: 2000,
            txBytesPerSec: 1500,
            destinations: [],
          },
        ],
        alarms: tx
          ? [
              {
                rule: "flood",
                severity: "critical",
                place: "web",
                text: `web sends ${tx} packets/s ${EVIL_LOG}`,
              },
            ]
          : [],
      }),
    );
  }
  return lines;
}

export interface HostileCase {
  triage: string;
  contain: string;
  audit: string;
  watch: string;
}

export async function makeHostileCase(dir: string): Promise<HostileCase> {
  const out = join(dir, "case");
  await mkdir(out, { recursive: true });
  const triage = await makeTriageBundle(out);
  const contain = await makeContainBundle(out);
  const audit = await makeAuditBundle(out);
  const watch = join(dir, "watch.ndjson");
  await writeFile(watch, `${watchLines().join("\n")}\nnot json\n`);
  return { triage, contain, audit, watch };
}
