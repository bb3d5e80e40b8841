/**
 * `contain` against the breach lab, for real: every mode on the `contained` scenario, the
 * `escaped` scenario, and the refusals. Only lab containers (label breachkit.lab=1, removed by
 * labDown) and one network this file creates (removed by id) are ever acted on.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContainmentReport } from "../../src/act/contain.js";
import { runCli } from "../../src/cli/main.js";
import { verifyBundle } from "../../src/evidence/verify.js";
import {
  LAB_LABEL,
  type LabInfo,
  labDown,
  labUp,
  procLoopbackPackets,
  sha256File,
} from "../helpers/lab.js";
import { memoryIo } from "../helpers/memory-io.js";

type JsonReport = ContainmentReport & { bundle: string; manifestSha256: string };

async function docker(args: string[]): Promise<string> {
  return (await execa("docker", args, { stdin: "ignore" })).stdout.trim();
}

async function state(id: string): Promise<Record<string, unknown>> {
  return JSON.parse(await docker(["inspect", "--format", "{{json .State}}", id])) as Record<
    string,
    unknown
  >;
}

async function networksOf(id: string): Promise<string[]> {
  const nets = JSON.parse(
    await docker(["inspect", "--format", "{{json .NetworkSettings.Networks}}", id]),
  ) as Record<string, unknown> | null;
  return Object.keys(nets ?? {});
}

/** Packets sent on the loopback of a process's network namespace over one second. */
async function loopbackGrowth(pid: number): Promise<number> {
  const a = await procLoopbackPackets(pid);
  await sleep(1000);
  const b = await procLoopbackPackets(pid);
  if (a === null || b === null) throw new Error(`cannot read /proc/${pid}/net/dev`);
  return b.txPackets - a.txPackets;
}

async function contain(args: string[], out: string) {
  const { io, stdout, stderr } = memoryIo({ env: process.env, cwd: out });
  const code = await runCli(["contain", ...args, "--interval", "1", "--out", out], io);
  return { code, stdout: stdout(), stderr: stderr() };
}

async function containJson(args: string[], out: string) {
  const r = await contain([...args, "--yes", "--json"], out);
  if (!r.stdout.trim().startsWith("{")) throw new Error(`no JSON (exit ${r.code}): ${r.stderr}`);
  return { ...r, report: JSON.parse(r.stdout) as JsonReport };
}

async function expectSealedBundle(report: JsonReport, changed: string) {
  const verified = await verifyBundle(report.bundle);
  expect(verified.intact).toBe(true);
  expect(verified.complete).toBe(true);
  const manifest = JSON.parse(await readFile(join(report.bundle, "manifest.json"), "utf8")) as {
    files: { path: string }[];
  };
  const paths = manifest.files.map((f) => f.path);
  expect(paths).toContain("containment.json");
  expect(paths).toContain("snapshot.json");
  expect(paths.some((p) => p.startsWith("containers/bk-lab-gitlab/"))).toBe(true);
  const written = JSON.parse(
    await readFile(join(report.bundle, "containment.json"), "utf8"),
  ) as ContainmentReport;
  expect(written.verdict).toBe(report.verdict);
  const log = (await readFile(join(report.bundle, "collection.log.jsonl"), "utf8"))
    .trim()
    .split("\n")
    .map(
      (l) => JSON.parse(l) as { step: string; action: string; changedHost?: boolean; time: string },
    );
  // The memory dump's freeze/thaw (or SIGSTOP/SIGCONT) is a change too: the action is the
  // first change of the contain step.
  const change = log.find((e) => e.changedHost === true && e.step === "contain");
  if (changed === "") {
    expect(change).toBeUndefined();
    return;
  }
  expect(change?.action).toBe(changed);
  expect(Date.parse(change?.time ?? "")).toBeGreaterThan(0);
  // Preserved before acting: every evidence entry comes before the first change.
  const firstChange = log.indexOf(change!);
  expect(log.findIndex((e) => e.action.startsWith("write containers/bk-lab-gitlab/"))).toBeLessThan(
    firstChange,
  );
}

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), "bk-contain-it-"));
});
afterAll(async () => {
  await labDown();
  await rm(out, { recursive: true, force: true });
});

const trojanIn = (info: LabInfo, where: "container" | "host") =>
  info.trojans.find((t) => t.where === where)!;

describe("contain: refusals and dry run (lab contained)", () => {
  let info: LabInfo;
  beforeAll(async () => {
    info = await labUp({ scenario: "contained", trojanSeconds: 600 });
  });

  it("--dry-run shows the plan and changes nothing", async () => {
    const id = info.containers.gitlab.id;
    const before = await state(id);
    const r = await contain(["bk-lab-gitlab", "--dry-run"], out);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("Plan (dry run: nothing will be changed):");
    expect(r.stdout).toContain(`docker pause ${id}`);
    expect(r.stdout).toContain(`undo: docker unpause ${id}`);
    expect(r.stdout).toContain(`${trojanIn(info, "container").hostPid}`);
    expect(await state(id)).toEqual(before);
    expect(await readdir(out)).toEqual([]);
    expect(await loopbackGrowth(trojanIn(info, "container").hostPid)).toBeGreaterThan(1000);
  });

  it("refuses an unknown name, listing near misses", async () => {
    const before = await state(info.containers.gitlab.id);
    const r = await contain(["bk-lab-gitla", "--yes"], out);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no container is named "bk-lab-gitla"');
    expect(r.stderr).toContain("did you mean: bk-lab-gitlab");
    expect(r.stderr).toContain("nothing was changed");
    expect(await state(info.containers.gitlab.id)).toEqual(before);
    expect(await readdir(out)).toEqual([]);
  });

  it("refuses an ambiguous name: a container named like another's id prefix", async () => {
    const prefix = info.containers.gitlab.id.slice(0, 8);
    // The attacker's trick the resolver guards against: a container NAMED like an id prefix.
    await docker([
      "create",
      "--name",
      prefix,
      "--label",
      `${LAB_LABEL}=1`,
      "--network",
      "none",
      info.image.ref,
      "true",
    ]);
    const before = await state(info.containers.gitlab.id);
    const r = await contain([prefix, "--yes"], out);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`"${prefix}" names 2 containers`);
    expect(r.stderr).toContain("bk-lab-gitlab");
    expect(await state(info.containers.gitlab.id)).toEqual(before);
    expect(await readdir(out)).toEqual([]);
  });

  it("refuses a container that is not running, and changes nothing", async () => {
    const id = await docker([
      "create",
      "--name",
      "bk-contain-stopped",
      "--label",
      `${LAB_LABEL}=1`,
      "--network",
      "none",
      "--restart",
      "always",
      info.image.ref,
      "true",
    ]);
    const before = await state(id);
    const r = await contain(["bk-contain-stopped", "--yes", "--mode", "stop"], out);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("bk-contain-stopped");
    expect(r.stderr).toContain("is created: nothing runs in it, nothing was changed");
    expect(await state(id)).toEqual(before);
    expect(await docker(["inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", id])).toBe(
      "always",
    );
    expect(await readdir(out)).toEqual([]);
  });

  it("asks on a terminal; a no changes nothing and writes no bundle", async () => {
    const id = info.containers.gitlab.id;
    const before = await state(id);
    const questions: string[] = [];
    const { io, stdout, stderr } = memoryIo({
      env: process.env,
      cwd: out,
      interactive: true,
      confirm: async (q) => {
        questions.push(q);
        return false;
      },
    });
    expect(await runCli(["contain", "bk-lab-gitlab", "--interval", "1", "--out", out], io)).toBe(2);
    // The terminal (bin.ts) adds the "[y/N]": the question must not carry its own.
    expect(questions).toEqual([`Contain bk-lab-gitlab now (docker pause ${id})?`]);
    expect(stdout()).toContain("Plan:");
    expect(stderr()).toContain("not confirmed: nothing was changed");
    expect(await state(id)).toEqual(before);
    expect(await readdir(out)).toEqual([]);
  });

  it("Ctrl-C at the question is a no: changes nothing, writes no bundle, exit 2", async () => {
    const id = info.containers.gitlab.id;
    const before = await state(id);
    const { io, stderr } = memoryIo({
      env: process.env,
      cwd: out,
      interactive: true,
      // What node:readline/promises does when Ctrl-C is pressed at rl.question.
      confirm: async () => {
        throw Object.assign(new Error("Aborted with Ctrl+C"), {
          name: "AbortError",
          code: "ABORT_ERR",
        });
      },
    });
    expect(await runCli(["contain", "bk-lab-gitlab", "--interval", "1", "--out", out], io)).toBe(2);
    expect(stderr()).toContain("not confirmed: nothing was changed");
    expect(stderr()).not.toContain("internal error");
    expect(await state(id)).toEqual(before);
    expect(await readdir(out)).toEqual([]);
  });

  it("says the engine is down, and changes nothing", async () => {
    const before = await state(info.containers.gitlab.id);
    const { io, stderr } = memoryIo({
      env: { ...process.env, DOCKER_HOST: "unix:///nonexistent.sock" },
      cwd: out,
    });
    expect(await runCli(["contain", "bk-lab-gitlab", "--yes", "--out", out], io)).toBe(2);
    expect(stderr()).toContain("no Docker engine answers at unix:///nonexistent.sock");
    expect(await state(info.containers.gitlab.id)).toEqual(before);
  });

  it("pause: CONTAINED, the container frozen, its counters still, the bundle sealed", async () => {
    const id = info.containers.gitlab.id;
    const wate = trojanIn(info, "container");
    const r = await containJson(["bk-lab-gitlab"], out);
    expect(r.stderr).not.toContain("error");
    expect(r.report.problems).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report.verdict).toBe("CONTAINED");
    expect(r.report.before.matches.map((m) => m.pid)).toEqual([wate.hostPid]);
    expect(r.report.after.matches.map((m) => m.pid)).toEqual([wate.hostPid]);
    expect(r.report.after.freezer).toBe("frozen");
    expect(r.report.traffic.before.txPacketsPerSec).toBeGreaterThan(1000);
    expect(r.report.traffic.after.txPacketsPerSec).toBe(0);
    expect(r.report.undo).toEqual([`docker unpause ${id}`]);
    const s = await state(id);
    expect(s.Paused).toBe(true);
    expect(s.Running).toBe(true);
    expect(await loopbackGrowth(wate.hostPid)).toBe(0);
    await expectSealedBundle(r.report, `docker pause ${id}`);
    // The trojan's only copy (its file deleted itself) is in the bundle, byte for byte.
    const index = JSON.parse(
      await readFile(join(r.report.bundle, "executables/index.json"), "utf8"),
    ) as { pid: number; sha256: string | null }[];
    expect(index.find((e) => e.pid === wate.hostPid)?.sha256).toBe(wate.sha256);
  });
});

describe("contain --mode isolate", () => {
  let info: LabInfo;
  let networkId: string | null = null;
  beforeAll(async () => {
    info = await labUp({ scenario: "contained", trojanSeconds: 600 });
  });
  afterAll(async () => {
    await labDown();
    if (networkId) await docker(["network", "rm", networkId]).catch(() => {});
  });

  it("on a --network none container: already isolated, nothing changed, CONTAINED", async () => {
    const id = info.containers.gitlab.id;
    const before = await state(id);
    const r = await containJson(["bk-lab-gitlab", "--mode", "isolate"], out);
    expect(r.code).toBe(0);
    expect(r.report.verdict).toBe("CONTAINED");
    expect(r.report.actions).toEqual([]);
    expect(r.report.notes.join("\n")).toContain("already isolated");
    expect(r.report.reasons.join("\n")).toContain("no interface but loopback");
    expect(r.report.traffic.after.interfaces.map((i) => i.name)).toEqual(["lo"]);
    expect(r.report.next.join("\n")).toContain("still runs inside bk-lab-gitlab");
    expect(await state(id)).toEqual(before);
    // Honest about it: the flood goes on inside its own loopback, where it cannot reach anyone.
    expect(await loopbackGrowth(trojanIn(info, "container").hostPid)).toBeGreaterThan(1000);
    await expectSealedBundle(r.report, "");
  });

  it("on a container with a network: disconnects it and prints how to reconnect", async () => {
    const net = `bk-contain-net-${process.pid}`;
    networkId = await docker(["network", "create", "--internal", net]);
    const id = await docker([
      "run",
      "-d",
      "--name",
      "bk-contain-bridged",
      "--label",
      `${LAB_LABEL}=1`,
      "--network",
      net,
      info.image.ref,
      "sleep",
      "600",
    ]);
    expect(await networksOf(id)).toEqual([net]);
    const r = await containJson(["bk-contain-bridged", "--mode", "isolate"], out);
    expect(r.report.problems).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report.actions.map((a) => [a.command, a.ok])).toEqual([
      [`docker network disconnect ${net} ${id}`, true],
    ]);
    expect(r.report.undo).toEqual([`docker network connect ${net} ${id}`]);
    expect(await networksOf(id)).toEqual([]);
    expect((await state(id)).Running).toBe(true);
    expect(r.report.traffic.after.interfaces.map((i) => i.name)).toEqual(["lo"]);
  });
});

describe("contain --mode stop", () => {
  let info: LabInfo;
  beforeAll(async () => {
    info = await labUp({ scenario: "contained", trojanSeconds: 600 });
  });

  it("turns the restart policy off, stops it, CONTAINED", async () => {
    const id = info.containers.gitlab.id;
    await docker(["update", "--restart", "always", id]);
    const r = await containJson(["bk-lab-gitlab", "--mode", "stop", "--stop-timeout", "1"], out);
    expect(r.report.problems).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report.actions.map((a) => a.kind)).toEqual(["restart-policy", "stop"]);
    expect(r.report.undo).toEqual([`docker update --restart=always ${id} && docker start ${id}`]);
    const s = await state(id);
    expect(s.Running).toBe(false);
    expect(s.Status).toBe("exited");
    expect(await docker(["inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", id])).toBe(
      "no",
    );
    expect(r.report.after.matches).toEqual([]);
    expect(await procLoopbackPackets(trojanIn(info, "container").hostPid)).toBeNull();
    await expectSealedBundle(r.report, `docker update --restart=no ${id}`);
  });
});

describe("contain --mode kill", () => {
  let info: LabInfo;
  beforeAll(async () => {
    info = await labUp({ scenario: "contained", trojanSeconds: 600 });
  });

  it("kills only the verified trojan inside the container, CONTAINED", async () => {
    const id = info.containers.gitlab.id;
    const wate = trojanIn(info, "container");
    const init = Number(await docker(["inspect", "--format", "{{.State.Pid}}", id]));
    const r = await containJson(["bk-lab-gitlab", "--mode", "kill"], out);
    expect(r.report.problems).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.report.actions.map((a) => [a.kind, a.pid, a.ok])).toEqual([
      ["kill", wate.hostPid, true],
    ]);
    expect(r.report.after.matches).toEqual([]);
    expect(await sha256File(`/proc/${wate.hostPid}/exe`)).toBeNull();
    // Its memory was dumped first (issue 24): the core file is in the bundle, its dump logged
    // before the kill, the command server address that only memory held among its leads.
    expect(r.report.memory.map((m) => [m.pid, m.held, m.complete])).toEqual([
      [wate.hostPid, "cgroup-freezer", true],
    ]);
    const log = (await readFile(join(r.report.bundle, "collection.log.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; time: string });
    const dumped = log.findIndex((e) =>
      e.action.startsWith(`dump the memory of pid ${wate.hostPid}`),
    );
    const killed = log.findIndex((e) => e.action === `kill -KILL ${wate.hostPid}`);
    expect(dumped).toBeGreaterThanOrEqual(0);
    expect(killed).toBeGreaterThan(dumped);
    expect(Date.parse(log[dumped]!.time)).toBeLessThanOrEqual(Date.parse(log[killed]!.time));
    const iocs = await readFile(join(r.report.bundle, r.report.memory[0]!.iocsFile!), "utf8");
    expect(iocs).toContain("ip:198.51.100.77\n");
    // The container and its innocent processes live on; its loopback is quiet.
    expect((await state(id)).Running).toBe(true);
    expect(await loopbackGrowth(init)).toBeLessThan(10);
    await expectSealedBundle(r.report, `kill -KILL ${wate.hostPid}`);
  });
});

// issue 23, item 1: a trojan that is a renamed copy of the image's own busybox shares its hash
// with the container's PID 1 and with every other lab container: only the copy may be killed.
describe("contain --mode kill, trojan a renamed copy of the image's busybox", () => {
  let info: LabInfo;
  beforeAll(async () => {
    info = await labUp({ scenario: "contained", trojanSeconds: 600 });
  });

  it("kills the dropped copy and the trojan, never PID 1; the other busybox containers are set aside", async () => {
    const id = info.containers.gitlab.id;
    const wate = trojanIn(info, "container");
    const init = Number(await docker(["inspect", "--format", "{{.State.Pid}}", id]));
    // busybox picks its applet from argv[0] unless the name starts with "busybox".
    await docker([
      "exec",
      id,
      "/bin/sh",
      "-c",
      "cp /bin/busybox /tmp/busyboxd && { /tmp/busyboxd sleep 2000 </dev/null >/dev/null 2>&1 & } && sleep 0.5 && rm /tmp/busyboxd",
    ]);
    const r = await containJson(["bk-lab-gitlab", "--mode", "kill"], out);
    const copy = r.report.before.matches.find((m) => m.comm === "busyboxd");
    expect(copy?.deleted).toBe(true);
    expect(copy?.runsFrom).toBe("a deleted file /tmp/busyboxd in the container's writable layer");
    expect(copy?.matchedBy.some((m) => m.startsWith("sha256 from triage"))).toBe(true);
    expect(r.report.actions.map((a) => [a.kind, a.pid, a.ok])).toEqual(
      [
        ["kill", wate.hostPid, true],
        ["kill", copy!.pid, true],
      ].sort((a, b) => Number(a[1]) - Number(b[1])),
    );
    const spared = r.report.before.spared;
    expect(spared.find((m) => m.pid === init)?.runsFrom).toBe("/bin/busybox, the image's own file");
    expect(spared.some((m) => m.where === "bk-lab-wordpress")).toBe(true);
    expect(r.report.problems).toEqual([]);
    expect(r.report.verdict).toBe("CONTAINED");
    expect(r.code).toBe(0);
    expect(r.report.next.some((n) => n.includes("breachkit contain"))).toBe(false);
    // PID 1 and the container live on.
    const after = await state(id);
    expect(after.Running).toBe(true);
    expect(after.Pid).toBe(init);
    const written = JSON.parse(
      await readFile(join(r.report.bundle, "containment.json"), "utf8"),
    ) as ContainmentReport;
    expect(written.before.spared.map((m) => m.pid)).toContain(init);
  });
});

describe("contain on the escaped lab", () => {
  let info: LabInfo;
  beforeAll(async () => {
    info = await labUp({ scenario: "escaped", trojanSeconds: 600 });
  });

  it("NOT CONTAINED: names the renamed host copy found by its hash, and leaves it alone", async () => {
    const host = trojanIn(info, "host");
    const r = await contain(["bk-lab-gitlab", "--yes"], out);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("NOT CONTAINED");
    expect(r.stdout).toMatch(
      new RegExp(`matching process still running: pid ${host.hostPid} on the host`),
    );
    expect(r.stdout).toContain(`breachkit collect --pid ${host.hostPid}`);
    expect(r.stdout).toContain("kdevtmpfsd");
    const bundle = (await readdir(out)).filter((d) => d.startsWith("breachkit-")).sort();
    const report = JSON.parse(
      await readFile(join(out, bundle.at(-1)!, "containment.json"), "utf8"),
    ) as ContainmentReport;
    expect(report.verdict).toBe("NOT CONTAINED");
    const still = report.stillRunning.find((m) => m.pid === host.hostPid);
    expect(still?.containerId).toBeNull();
    expect(still?.sha256).toBe(host.sha256);
    expect(still?.exePath).toMatch(/\/kdevtmpfsd$/);
    expect(still?.matchedBy.some((m) => m.startsWith("sha256"))).toBe(true);
    expect(still?.matchedBy.some((m) => m.startsWith("name"))).toBe(false);
    // contain never touches anything outside the target: the host copy still runs.
    expect(await sha256File(`/proc/${host.hostPid}/exe`)).toBe(host.sha256);
    expect((await state(info.containers.gitlab.id)).Paused).toBe(true);
  });
});
