import { createHash } from "node:crypto";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Process } from "../../src/model/snapshot.js";
import { readHostFacts } from "../../src/observe/proc/host-facts.js";
import { readNetwork } from "../../src/observe/proc/network.js";
import { readProcesses } from "../../src/observe/proc/processes.js";

// A container of our own, from a one-file image (busybox-static imported with `docker
// import`: no registry needed). Inside, with no network but its own loopback:
// - httpd listening on 127.0.0.1:8080 (a socket to find in the container's namespace),
// - a copy of busybox in the writable layer, running as `sleep` (a "dropped" binary),
// - another copy that deletes itself once started (like the `wate` trojan).
const BUSYBOX = "/bin/busybox";
const SCRIPT = [
  "/bin/busybox mkdir -p /tmp/kept /tmp/gone",
  "/bin/busybox cp /bin/busybox /tmp/kept/sleep",
  "/bin/busybox cp /bin/busybox /tmp/gone/sleep",
  "/bin/busybox httpd -f -p 127.0.0.1:8080 &",
  "/tmp/kept/sleep 600 &",
  "/tmp/gone/sleep 600 &",
  "/bin/busybox sleep 1",
  "/bin/busybox rm /tmp/gone/sleep",
  "exec /bin/busybox sleep 600",
].join("\n");

const work = mkdtempSync(join(tmpdir(), "bk-proc-it-"));
let imageId = "";
let containerId = "";
let initPid = 0;
const busyboxSha = createHash("sha256").update(readFileSync(BUSYBOX)).digest("hex");

async function snapshot(): Promise<Process[]> {
  const facts = await readHostFacts();
  const { processes } = await readProcesses({
    bootTimeMs: facts.bootTimeMs ?? 0,
    clockTicks: facts.host.clockTicks,
  });
  return processes;
}

const inContainer = (ps: Process[]) => ps.filter((p) => p.containerId === containerId);

beforeAll(async () => {
  const rootfs = join(work, "rootfs");
  mkdirSync(join(rootfs, "bin"), { recursive: true });
  mkdirSync(join(rootfs, "tmp"));
  copyFileSync(BUSYBOX, join(rootfs, "bin/busybox"));
  symlinkSync("busybox", join(rootfs, "bin/sh"));
  await execa("tar", ["-C", rootfs, "-cf", join(work, "rootfs.tar"), "."]);
  const imported = await execa("docker", [
    "import",
    join(work, "rootfs.tar"),
    `breachkit-proc-observe-test:${process.pid}`,
  ]);
  imageId = imported.stdout.trim();
  const run = await execa("docker", [
    "run",
    "-d",
    "--network",
    "none",
    "--label",
    "breachkit.test=1",
    imageId,
    "/bin/sh",
    "-c",
    SCRIPT,
  ]);
  containerId = run.stdout.trim();
  initPid = Number(
    (await execa("docker", ["inspect", "-f", "{{.State.Pid}}", containerId])).stdout,
  );
  // Wait (bounded) until the self-deleting copy is running without its file.
  for (let i = 0; i < 100; i++) {
    const ps = inContainer(await snapshot());
    if (ps.some((p) => p.exe.path === "/tmp/gone/sleep" && p.exe.deleted)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the test container did not reach its expected state");
});

afterAll(async () => {
  if (containerId !== "") await execa("docker", ["rm", "-f", containerId], { reject: false });
  if (imageId !== "") await execa("docker", ["rmi", imageId], { reject: false });
  rmSync(work, { recursive: true, force: true });
});

describe("procfs observers against a real container", () => {
  it("attributes the container's processes to its id through their cgroup", async () => {
    const ps = inContainer(await snapshot());
    expect(ps.map((p) => p.pid)).toContain(initPid);
    expect(ps).toHaveLength(4);
    const init = ps.find((p) => p.pid === initPid);
    expect(init?.cgroup).toBe(`/docker/${containerId}`);
    // All in the container's own namespaces, not the host's.
    expect(new Set(ps.map((p) => p.ns.net)).size).toBe(1);
    const host = (await snapshot()).find((p) => p.pid === process.pid);
    expect(host?.containerId).toBeNull();
    expect(init?.ns.net).not.toBe(host?.ns.net);
    expect(init?.ns.pid).not.toBe(host?.ns.pid);
  });

  it("hashes executables and tells image, writable-layer and deleted binaries apart", async () => {
    const ps = inContainer(await snapshot());
    const httpd = ps.find((p) => p.argv[1] === "httpd");
    expect(httpd?.exe).toMatchObject({
      path: "/bin/busybox",
      deleted: false,
      upperLayer: false,
      sha256: busyboxSha,
    });
    const kept = ps.find((p) => p.exe.path === "/tmp/kept/sleep");
    expect(kept?.exe).toMatchObject({ deleted: false, upperLayer: true, sha256: busyboxSha });
    const gone = ps.find((p) => p.exe.path === "/tmp/gone/sleep");
    expect(gone?.exe).toMatchObject({ deleted: true, upperLayer: true, memfd: false });
    // Read through /proc/<pid>/exe although the file is gone.
    expect(gone?.exe.sha256).toBe(busyboxSha);
    expect(gone?.argv).toEqual(["/tmp/gone/sleep", "600"]);
  });

  it("sees the container's listening socket in its namespace, tied to its pid", async () => {
    const processes = await snapshot();
    const httpd = inContainer(processes).find((p) => p.argv[1] === "httpd");
    const { sockets, netns } = await readNetwork(processes);
    const ns = netns.find((n) => n.inode === httpd?.ns.net);
    expect(ns).toMatchObject({ host: false, containerIds: [containerId] });
    expect(ns?.interfaces.map((i) => i.name)).toEqual(["lo"]);
    expect(netns.filter((n) => n.host)).toHaveLength(1);
    const listen = sockets.find((s) => s.netns === httpd?.ns.net && s.localPort === 8080);
    expect(listen).toMatchObject({
      proto: "tcp",
      localAddress: "127.0.0.1",
      state: "LISTEN",
      containerId,
    });
    expect(listen?.pids).toContain(httpd?.pid);
    // The host namespace does not show it.
    const hostNs = netns.find((n) => n.host)?.inode;
    expect(sockets.some((s) => s.netns === hostNs && s.inode === listen?.inode)).toBe(false);
  });

  it("sees the same processes as ps, allowing for those that start or end meanwhile", async () => {
    const ps = async () =>
      new Set(
        (await execa("ps", ["-e", "-o", "pid="])).stdout
          .split("\n")
          .map((l) => Number(l.trim()))
          .filter((n) => n > 0),
      );
    const before = await ps();
    const beforeMs = Date.now();
    const ours = await snapshot();
    const after = await ps();
    const mine = new Set(ours.map((p) => p.pid));
    // Present in both ps readings: it existed throughout, so we must have it.
    const throughout = [...before].filter((pid) => after.has(pid));
    expect(throughout.filter((pid) => !mine.has(pid))).toEqual([]);
    // Ours but in neither ps reading: only a process born after the first one (boot time
    // has whole-second precision, hence the margin).
    const unexplained = ours.filter(
      (p) => !before.has(p.pid) && !after.has(p.pid) && Date.parse(p.startTime) < beforeMs - 2000,
    );
    expect(unexplained.map((p) => p.pid)).toEqual([]);
    expect(mine.size).toBeGreaterThan(10);
  });
});
