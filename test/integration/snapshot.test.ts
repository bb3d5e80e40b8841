import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Process,
  parseSnapshot,
  type Snapshot,
  SnapshotSchema,
} from "../../src/model/snapshot.js";
import { takeSnapshot } from "../../src/observe/snapshot.js";
import { makeTree, type Tree } from "../helpers/accounts-fixtures.js";
import { type LabInfo, type LabTrojan, labDown, labUp } from "../helpers/lab.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const CLI = ["dist/cli/bin.cjs", "snapshot"];
const MAX_JSON = 256 * 1024 * 1024;

/** The built CLI, as an admin runs it: exit code and stdout are what the tests look at. */
function runCli(args: string[], env: Record<string, string | undefined> = process.env) {
  return execa("node", [...CLI, ...args], {
    cwd: REPO,
    env,
    extendEnv: false,
    reject: false,
    stdin: "ignore",
    maxBuffer: MAX_JSON,
    timeout: 120_000,
  });
}

async function psPids(): Promise<Set<number>> {
  const { stdout } = await execa("ps", ["-e", "-o", "pid="], { stdin: "ignore" });
  return pidSet(stdout);
}

/** `docker top` lists host pids; `-eo pid` makes its output one pid a line under a header. */
async function dockerTopPids(id: string): Promise<Set<number>> {
  const { stdout } = await execa("docker", ["top", id, "-eo", "pid"], { stdin: "ignore" });
  return pidSet(stdout);
}

function pidSet(text: string): Set<number> {
  return new Set(
    text
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => /^\d+$/.test(l))
      .map(Number),
  );
}

/**
 * Pids a reference tool listed in both readings (taken before and after ours) existed
 * throughout, so ours must have them; ours that neither reading listed must have been born
 * after the first one (boot time has whole-second precision, hence the margin).
 */
function disagreements(
  ours: readonly Process[],
  before: ReadonlySet<number>,
  after: ReadonlySet<number>,
  beforeMs: number,
): { missing: number[]; unexplained: number[] } {
  const mine = new Set(ours.map((p) => p.pid));
  const missing = [...before].filter((pid) => after.has(pid) && !mine.has(pid));
  const unexplained = ours
    .filter((p) => !before.has(p.pid) && !after.has(p.pid))
    .filter((p) => Date.parse(p.startTime) < beforeMs - 2000)
    .map((p) => p.pid);
  return { missing, unexplained };
}

describe("breachkit snapshot against the lab (escaped scenario)", () => {
  let info: LabInfo;
  let snap: Snapshot;
  let psBefore: Set<number>;
  let psAfter: Set<number>;
  let psBeforeMs: number;
  const topBefore = new Map<string, Set<number>>();
  const topAfter = new Map<string, Set<number>>();
  let tree: Tree | null = null;

  const labIds = () => Object.values(info.containers).map((c) => c.id);
  const trojan = (where: LabTrojan["where"]): LabTrojan => {
    const t = info.trojans.find((x) => x.where === where);
    if (!t) throw new Error(`the lab reports no ${where} trojan`);
    return t;
  };
  const proc = (pid: number): Process => {
    const p = snap.processes.find((x) => x.pid === pid);
    if (!p) throw new Error(`pid ${pid} is not in the snapshot`);
    return p;
  };

  beforeAll(async () => {
    // The CLI tests run the built code: build it while the lab comes up.
    const [built, lab] = await Promise.all([
      execa("npm", ["run", "build"], { cwd: REPO, reject: false, stdin: "ignore" }),
      labUp({ scenario: "escaped" }),
    ]);
    info = lab;
    if (built.exitCode !== 0)
      throw new Error(`npm run build failed:\n${String(built.stdout)}\n${String(built.stderr)}`);

    // ps and docker top bracket one snapshot, so the comparisons can allow for the processes
    // that started or ended in between and nothing else.
    psBefore = await psPids();
    psBeforeMs = Date.now();
    for (const id of labIds()) topBefore.set(id, await dockerTopPids(id));
    ({ snapshot: snap } = await takeSnapshot({ env: process.env, intervalSeconds: 1 }));
    psAfter = await psPids();
    for (const id of labIds()) topAfter.set(id, await dockerTopPids(id));
  });

  afterAll(async () => {
    await tree?.cleanup();
    await labDown();
  });

  it("produces a snapshot that validates against the schema", () => {
    expect(() => SnapshotSchema.parse(snap)).not.toThrow();
    expect(snap.host.live).toBe(true);
    expect(snap.intervalSeconds).toBe(1);
    expect(snap.engine.available).toBe(true);
  });

  it("finds wate in bk-lab-gitlab by id and name, deleted, in the upper layer, hashed", () => {
    const t = trojan("container");
    const wates = snap.processes.filter((p) => p.comm === "wate");
    expect(wates.map((p) => p.pid)).toEqual([t.hostPid]);
    const wate = proc(t.hostPid);
    expect(wate.containerId).toBe(info.containers.gitlab.id);
    expect(wate.containerName).toBe("bk-lab-gitlab");
    expect(wate.exe).toMatchObject({
      path: "/tmp/wate",
      deleted: true,
      memfd: false,
      upperLayer: true,
      sha256: t.sha256,
    });
  });

  it("sees wate's UDP socket in the container's network namespace", () => {
    const wate = proc(trojan("container").hostPid);
    const ns = snap.netns.find((n) => n.containerIds.includes(info.containers.gitlab.id));
    expect(ns?.host).toBe(false);
    expect(ns?.inode).toBe(wate.ns.net);
    const udp = snap.sockets.filter(
      (s) => s.proto === "udp" && s.pids.includes(wate.pid) && s.netns === ns?.inode,
    );
    expect(udp).toHaveLength(1);
    expect(udp[0]?.containerId).toBe(info.containers.gitlab.id);
    expect(wate.socketInodes).toContain(udp[0]?.inode);
    // Read from the container's namespace, not the host's: the host table does not hold it.
    const hostNs = snap.netns.find((n) => n.host)?.inode;
    expect(snap.sockets.some((s) => s.netns === hostNs && s.inode === udp[0]?.inode)).toBe(false);
  });

  it("measures the flood: bk-lab-gitlab sends more than 1,000 packets/s", () => {
    const gitlab = snap.containers.find((c) => c.id === info.containers.gitlab.id);
    expect(gitlab?.traffic?.txPacketsPerSec).toBeGreaterThan(1000);
    // The clean container is quiet: the rate is the container's own, not the host's.
    const wordpress = snap.containers.find((c) => c.id === info.containers.wordpress.id);
    expect(wordpress?.traffic?.txPacketsPerSec).toBeLessThan(100);
  });

  it("finds the escaped host copy outside any container with the same hash", () => {
    const t = trojan("host");
    const host = proc(t.hostPid);
    expect(host.containerId).toBeNull();
    expect(host.containerName).toBeNull();
    expect(host.exe).toMatchObject({ deleted: true, upperLayer: null, sha256: t.sha256 });
    expect(host.exe.sha256).toBe(trojan("container").sha256);
    const hostNs = snap.netns.find((n) => n.host)?.inode;
    expect(host.ns.net).toBe(hostNs);
    expect(
      snap.sockets.some(
        (s) => s.proto === "udp" && s.pids.includes(t.hostPid) && s.netns === hostNs,
      ),
    ).toBe(true);
  });

  it("shows no deleted executable in the clean container bk-lab-wordpress", () => {
    const ps = snap.processes.filter((p) => p.containerId === info.containers.wordpress.id);
    expect(ps.length).toBeGreaterThan(0);
    expect(ps.every((p) => p.containerName === "bk-lab-wordpress")).toBe(true);
    expect(ps.filter((p) => p.exe.deleted)).toEqual([]);
    expect(ps.some((p) => p.exe.sha256 === trojan("container").sha256)).toBe(false);
  });

  it("agrees with ps -e on the set of pids", () => {
    const { missing, unexplained } = disagreements(snap.processes, psBefore, psAfter, psBeforeMs);
    expect(missing).toEqual([]);
    expect(unexplained).toEqual([]);
    expect(snap.processes.length).toBeGreaterThan(10);
  });

  it("agrees with docker top on each lab container's processes", () => {
    for (const id of labIds()) {
      const ours = snap.processes.filter((p) => p.containerId === id);
      const before = topBefore.get(id) ?? new Set<number>();
      const after = topAfter.get(id) ?? new Set<number>();
      expect(before.size).toBeGreaterThan(0);
      expect(disagreements(ours, before, after, psBeforeMs)).toEqual({
        missing: [],
        unexplained: [],
      });
    }
  });

  it("reads the accounts of every running lab container", () => {
    for (const { id, name } of Object.values(info.containers)) {
      const c = snap.containers.find((x) => x.id === id);
      expect(c?.running).toBe(true);
      const accounts = snap.accounts.filter((a) => a.containerId === id);
      expect(accounts).toHaveLength(1);
      expect(accounts[0]?.scope).toBe(name);
      expect(accounts[0]?.root).toBe(`/proc/${c?.pid}/root`);
      expect(accounts[0]?.users.map((u) => u.name)).toContain("root");
    }
    expect(snap.accounts.filter((a) => a.scope === "host" && a.containerId === null)).toHaveLength(
      1,
    );
  });

  it("prints, with the CLI's --json, a snapshot that parseSnapshot reads back", async () => {
    const r = await runCli(["--json"]);
    expect(r.exitCode).toBe(0);
    const back = parseSnapshot(String(r.stdout));
    const wate = back.processes.find((p) => p.pid === trojan("container").hostPid);
    expect(wate).toMatchObject({ containerName: "bk-lab-gitlab", exe: { deleted: true } });
    expect(back.containers.map((c) => c.name)).toEqual(
      expect.arrayContaining(["bk-lab-gitlab", "bk-lab-wordpress", "bk-lab-mail"]),
    );
  });

  it("reads the accounts of a mounted tree with --root, and says it is not live", async () => {
    const hash = "$y$j9T$0123456789abcdefghijkl$ZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZZ";
    tree = await makeTree({
      "etc/hostname": "dead-server\n",
      "etc/passwd": [
        "root:x:0:0:root:/root:/bin/bash",
        "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin",
        "deploy:x:1000:1000:Deploy,,,:/home/deploy:/bin/bash",
        "backdoor:x:0:0::/tmp:/bin/sh",
        "",
      ].join("\n"),
      "etc/shadow": [
        "root:!:19700:0:99999:7:::",
        "daemon:*:19700:0:99999:7:::",
        `deploy:${hash}:19800:0:99999:7:::`,
        "backdoor::19900:0:99999:7:::",
        "",
      ].join("\n"),
      "etc/group": ["root:x:0:", "sudo:x:27:deploy,backdoor", "deploy:x:1000:", ""].join("\n"),
    });
    const r = await runCli(["--json", "--root", tree.root]);
    expect(r.exitCode).toBe(0);
    const stdout = String(r.stdout);
    // The shadow facts are kept, never the hash itself.
    expect(stdout).not.toContain(hash);
    const s = parseSnapshot(stdout);
    expect(s.host).toMatchObject({ live: false, root: tree.root, hostname: "dead-server" });
    expect(s.processes).toEqual([]);
    expect(s.containers).toEqual([]);
    expect(s.accounts).toHaveLength(1);
    const [accounts] = s.accounts;
    expect(accounts?.root).toBe(tree.root);
    expect(accounts?.users.map((u) => [u.name, u.uid, u.password])).toEqual([
      ["root", 0, "locked"],
      ["daemon", 1, "locked"],
      ["deploy", 1000, "set"],
      ["backdoor", 0, "empty"],
    ]);
    expect(accounts?.groups.find((g) => g.name === "sudo")?.members).toEqual([
      "deploy",
      "backdoor",
    ]);
    // None of the live host's accounts leak in.
    expect(accounts?.users.map((u) => u.name)).not.toContain("nobody");
  });

  it("completes from /proc alone when the Docker engine does not answer", async () => {
    const r = await runCli(["--json"], { ...process.env, DOCKER_HOST: "unix:///nonexistent.sock" });
    expect(r.exitCode).toBe(0);
    const s = parseSnapshot(String(r.stdout));
    expect(s.engine).toMatchObject({ available: false, endpoint: "unix:///nonexistent.sock" });
    expect(s.containers).toEqual([]);
    const gap = s.gaps.find((g) => g.source === "docker" && /not answering/.test(g.message));
    expect(gap?.message).toContain("/nonexistent.sock");
    // Still attributed by the cgroup's container id, with no name to give it.
    const wate = s.processes.find((p) => p.pid === trojan("container").hostPid);
    expect(wate).toMatchObject({
      containerId: info.containers.gitlab.id,
      containerName: null,
      exe: { deleted: true, sha256: trojan("container").sha256 },
    });
    expect(s.processes.length).toBeGreaterThan(10);
  });
});
