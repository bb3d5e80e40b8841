/**
 * The same lab verdicts on every engine people run. `npm run test:engines` (scripts/test-engines.sh)
 * starts each engine on its own socket and runs this file with DOCKER_HOST naming it and
 * BREACHKIT_TEST_ENGINE saying which engine it must be:
 *
 *   system    the host's dockerd (Debian 12's Docker 20.10, overlay2 graph driver)
 *   docker26  Debian 13's Docker 26 with the containerd image store (no GraphDriver upper dir)
 *   podman    Debian's podman through `podman system service` (libpod cgroups, k8s-file logs)
 *
 * snapshot, triage, collect, audit and contain run as the CLI (dist/) against the lab's
 * contained and escaped scenarios; only lab containers (labDown) are ever acted on.
 */
import { existsSync } from "node:fs";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLabImage } from "../../lab/lab-core.js";
import type { ContainmentReport } from "../../src/act/contain.js";
import type { Finding } from "../../src/model/finding.js";
import type { Snapshot } from "../../src/model/snapshot.js";
import { DockerEngine } from "../../src/observe/docker/engine.js";
import { type LabInfo, labDown, labUp, sha256File } from "../helpers/lab.js";

const BIN = join(process.cwd(), "dist/cli/bin.cjs");
const ENGINE = process.env.BREACHKIT_TEST_ENGINE ?? "system";
const KNOWN = ["system", "docker26", "podman"];

async function cli(args: string[]) {
  const r = await execa("node", [BIN, ...args], {
    reject: false,
    env: { ...process.env, NO_COLOR: "1" },
    timeout: 170_000,
  });
  let json: unknown = null;
  if (args.includes("--json")) {
    try {
      json = JSON.parse(r.stdout);
    } catch {
      /* asserted by the caller */
    }
  }
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr, json };
}

interface TriageJson {
  verdict: { level: string; headline: string };
  findings: Finding[];
  bundle: { path: string };
}

const trojan = (lab: LabInfo, where: "container" | "host") =>
  lab.trojans.find((t) => t.where === where)!;

let out: string;
let allowlist: string;

beforeAll(async () => {
  expect(KNOWN, `BREACHKIT_TEST_ENGINE=${ENGINE}`).toContain(ENGINE);
  out = await mkdtemp(join(tmpdir(), `bk-engines-${ENGINE}-`));
  await labDown();
  // The machine's own memfd programs (its sandbox) are allowlisted, as an admin would.
  const snap = await cli(["snapshot", "--json"]);
  const processes = (snap.json as Snapshot | null)?.processes ?? [];
  allowlist = join(out, "allow.json");
  await writeFile(
    allowlist,
    JSON.stringify({
      entries: [
        ...new Set(processes.filter((p) => p.exe.memfd && p.exe.sha256).map((p) => p.exe.sha256)),
      ].map((sha256) => ({ sha256, reason: "this machine's sandbox runs it from a sealed memfd" })),
    }),
  );
}, 120_000);

afterAll(async () => {
  await labDown();
  await rm(out, { recursive: true, force: true });
});

describe(`the engine (${ENGINE})`, () => {
  it("is the one the run asked for", async () => {
    const engine = DockerEngine.fromEnv(process.env);
    const { info, apiVersion } = await engine.infoAndApiVersion();
    const version = await engine.version();
    process.stderr.write(
      `engine ${ENGINE}: ${version.Version} API ${version.ApiVersion} (min ${version.MinAPIVersion ?? "?"}) driver ${info.Driver} ${JSON.stringify(info.DriverStatus ?? [])}\n`,
    );
    expect(apiVersion).toBe(version.ApiVersion);
    const components = JSON.stringify((version as { Components?: unknown }).Components ?? []);
    if (ENGINE === "system") {
      expect(version.Version).toMatch(/^20\.10\./);
      expect(info.Driver).toBe("overlay2");
    } else if (ENGINE === "docker26") {
      expect(version.Version).toMatch(/^26\./);
      expect(info.DriverStatus).toContainEqual(["driver-type", "io.containerd.snapshotter.v1"]);
    } else {
      expect(components).toContain("Podman Engine");
    }
  });
});

describe(`the contained scenario on ${ENGINE}`, () => {
  let lab: LabInfo;
  let snapshot: Snapshot;
  beforeAll(async () => {
    lab = await labUp({ scenario: "contained", trojanSeconds: 300 });
    const r = await cli(["snapshot", "--json"]);
    expect(r.json, r.stderr).not.toBeNull();
    snapshot = r.json as Snapshot;
  }, 120_000);

  it("snapshot: attributes the trojan to bk-lab-gitlab and finds its writable layer", async () => {
    const gitlab = snapshot.containers.find((c) => c.name === "bk-lab-gitlab");
    expect(gitlab?.id).toBe(lab.containers.gitlab.id);
    const pid = trojan(lab, "container").hostPid;
    expect(snapshot.processes.find((p) => p.pid === pid)?.containerId).toBe(gitlab!.id);
    // Without GraphDriver (containerd image store) the upper dir comes from mountinfo.
    expect(gitlab?.upperDir).toBeTruthy();
    expect(existsSync(join(gitlab!.upperDir!, "lab/run.sh"))).toBe(true);
    // Podman's compatible API says json-file, but its file holds k8s-file (CRI) lines.
    expect(gitlab?.logDriver).toBe(ENGINE === "podman" ? "k8s-file" : "json-file");
    // Container processes only: conmon, shims and the engine stay on the host.
    const inGitlab = snapshot.processes.filter((p) => p.containerId === gitlab!.id);
    expect(inGitlab.map((p) => p.comm)).not.toContain("conmon");
    expect(inGitlab.map((p) => p.comm)).toContain("wate");
  });

  it("triage: COMPROMISED bk-lab-gitlab; deleted, dropped, flood; the exploit in its log", async () => {
    const r = await cli(["triage", "--json", "--out", out, "--allowlist", allowlist]);
    const json = r.json as TriageJson | null;
    expect(json, r.stderr).not.toBeNull();
    expect(r.code).toBe(1);
    expect(json!.verdict.level).toBe("compromised");
    expect(json!.verdict.headline).toContain("bk-lab-gitlab");
    const gitlab = json!.findings.filter((f) => f.where === "bk-lab-gitlab");
    const pid = trojan(lab, "container").hostPid;
    for (const rule of ["process.deleted-exe", "process.dropped-binary", "traffic.flood"]) {
      const f = gitlab.find((x) => x.rule === rule);
      expect(f, `${rule} in ${JSON.stringify(gitlab.map((x) => x.rule))}`).toBeDefined();
      expect(f!.severity).toBe("critical");
      expect(f!.evidence.some((e) => e.pid === pid)).toBe(true);
    }
    const cve = gitlab.find((x) => x.rule === "hunt.gitlab-exiftool-cve-2021-22205");
    expect(cve?.evidence[0]?.text).toContain("/uploads/user");
    const wp = json!.findings.filter(
      (f) => f.where === "bk-lab-wordpress" && ["medium", "high", "critical"].includes(f.severity),
    );
    expect(wp).toEqual([]);
  });

  it("collect: the raw log byte for byte, the deleted trojan by hash, a bundle that verifies", async () => {
    const dir = join(out, "collect");
    const r = await cli(["collect", "--container", "bk-lab-gitlab", "--no-host", "--out", dir]);
    expect(r.code, r.stderr).toBe(0);
    const [bundleName] = (await readdir(dir)).filter((n) => n.startsWith("breachkit-"));
    const bundle = join(dir, bundleName!);
    const gitlab = snapshot.containers.find((c) => c.name === "bk-lab-gitlab")!;
    expect(gitlab.logPath).toBeTruthy();
    const copy = await readFile(
      join(bundle, "containers/bk-lab-gitlab/logs", basename(gitlab.logPath!)),
    );
    expect(copy.toString("utf8")).toContain("/uploads/user");
    // The live file only grows: what was copied is its beginning, byte for byte.
    const live = await readFile(gitlab.logPath!);
    expect(live.subarray(0, copy.length).equals(copy)).toBe(true);
    const index = JSON.parse(await readFile(join(bundle, "executables/index.json"), "utf8")) as {
      pid: number;
      sha256: string | null;
    }[];
    const wate = trojan(lab, "container");
    expect(index.find((e) => e.pid === wate.hostPid)?.sha256).toBe(wate.sha256);
    const verify = await cli(["verify", bundle]);
    expect(verify.code, verify.stdout).toBe(0);
  });

  it("audit: the engine's socket mounted into bk-lab-mail is critical", async () => {
    const r = await cli(["audit", "--json"]);
    const json = r.json as { findings: Finding[] } | null;
    expect(json, r.stderr).not.toBeNull();
    const f = json!.findings.find(
      (x) => x.rule === "audit.container.docker-socket" && x.where === "bk-lab-mail",
    );
    expect(f?.severity).toBe("critical");
    const daemon = json!.findings.filter((x) => x.rule.startsWith("audit.daemon."));
    const gaps = JSON.stringify((json as { gaps?: unknown }).gaps ?? []);
    if (ENGINE === "podman") {
      // dockerd's settings do not apply to podman: no daemon findings, a gap that says why.
      expect(daemon).toEqual([]);
      expect(gaps).toContain("the engine is Podman");
    } else if (ENGINE === "docker26") {
      // The flags and daemon.json of the dockerd behind DOCKER_HOST, not the system one's.
      expect(JSON.stringify(daemon)).toContain("/run/breachkit-engines/docker26/daemon.json");
    }
  });

  it("contain (pause): CONTAINED, the trojan frozen and silent", async () => {
    const r = await cli([
      "contain",
      "bk-lab-gitlab",
      "--yes",
      "--json",
      "--interval",
      "1",
      "--out",
      out,
    ]);
    const report = r.json as ContainmentReport | null;
    expect(report, r.stderr).not.toBeNull();
    expect(report!.problems).toEqual([]);
    expect(report!.verdict).toBe("CONTAINED");
    expect(r.code).toBe(0);
    const pid = trojan(lab, "container").hostPid;
    expect(report!.after.matches.map((m) => m.pid)).toEqual([pid]);
    expect(report!.after.freezer).toBe("frozen");
    expect(report!.traffic.before.txPacketsPerSec).toBeGreaterThan(1000);
    expect(report!.traffic.after.txPacketsPerSec).toBe(0);
  });
});

describe(`collect with another log driver on ${ENGINE}`, () => {
  // Docker's local driver keeps compressed files only the engine reads (collect keeps them raw
  // and asks the API for the text); podman has no local driver: its "none" must not fail collect.
  const driver = ENGINE === "podman" ? "none" : "local";
  const own: string[] = [];
  afterAll(async () => {
    for (const id of own) await execa("docker", ["rm", "-f", id], { reject: false });
  });

  it(`collects a ${driver}-driver container's log as the engine keeps it`, async () => {
    const image = await buildLabImage();
    const marker = `bk-engines-log-${process.pid}`;
    const run = await execa("docker", [
      "run",
      "-d",
      "--label",
      "breachkit.test=1",
      "--network",
      "none",
      "--log-driver",
      driver,
      image.ref,
      "/bin/sh",
      "-c",
      `echo ${marker}; sleep 60`,
    ]);
    const id = run.stdout.trim();
    own.push(id);
    await execa("sleep", ["1"]);
    const dir = join(out, `collect-${driver}`);
    const r = await cli(["collect", "--container", id, "--no-host", "--json", "--out", dir]);
    expect(r.code, r.stderr).toBe(0);
    const summary = r.json as { bundle?: string; containers?: unknown } | null;
    expect(summary, r.stdout).not.toBeNull();
    const [bundleName] = (await readdir(dir)).filter((n) => n.startsWith("breachkit-"));
    const bundle = join(dir, bundleName!);
    const [cdir] = await readdir(join(bundle, "containers"));
    const files = await readdir(join(bundle, "containers", cdir!));
    if (driver === "local") {
      expect(await readdir(join(bundle, "containers", cdir!, "logs"))).toContain("container.log");
      const api = await readFile(join(bundle, "containers", cdir!, "logs.api.txt"), "utf8");
      expect(api).toMatch(new RegExp(`^\\d{4}-\\d\\d-\\d\\dT\\S+ ${marker}$`, "m"));
    } else {
      expect(files).not.toContain("logs");
      const log = await readFile(join(bundle, "collection.log.jsonl"), "utf8");
      expect(log).toContain('the log driver is \\"none\\"');
    }
    expect((await cli(["verify", bundle])).code).toBe(0);
  });
});

describe(`the escaped scenario on ${ENGINE}`, () => {
  let lab: LabInfo;
  beforeAll(async () => {
    lab = await labUp({ scenario: "escaped", trojanSeconds: 300 });
  }, 120_000);

  it("triage: a critical spread finding naming the host pid and the container", async () => {
    const r = await cli(["triage", "--json", "--out", out, "--allowlist", allowlist]);
    const json = r.json as TriageJson | null;
    expect(json, r.stderr).not.toBeNull();
    const host = trojan(lab, "host");
    const spread = json!.findings.find((f) => f.rule === "spread.same-executable");
    expect(spread, JSON.stringify(json!.findings.map((f) => f.rule))).toBeDefined();
    expect(spread!.severity).toBe("critical");
    expect(spread!.evidence.some((e) => e.pid === host.hostPid)).toBe(true);
    expect(JSON.stringify(spread)).toContain("bk-lab-gitlab");
    expect(r.code).toBe(1);
  });

  it("contain: NOT CONTAINED, naming the host pid, which it leaves alone", async () => {
    const host = trojan(lab, "host");
    const r = await cli(["contain", "bk-lab-gitlab", "--yes", "--interval", "1", "--out", out]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toContain("NOT CONTAINED");
    expect(r.stdout).toMatch(
      new RegExp(`matching process still running: pid ${host.hostPid} on the host`),
    );
    expect(await sha256File(`/proc/${host.hostPid}/exe`)).toBe(host.sha256);
  });
});
