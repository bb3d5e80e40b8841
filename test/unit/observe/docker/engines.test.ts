/**
 * What differs between engines, on answers recorded from the real engines by
 * scripts/record-engine-fixtures.sh (test/fixtures/engines/README.md): Debian 13's Docker 26
 * with the containerd image store, and Debian 12's podman 4.3 through its Docker-compatible API.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { daemonFindings } from "../../../../src/judge/audit/docker.js";
import type { DaemonObservation } from "../../../../src/model/audit-output.js";
import { ContainerSchema } from "../../../../src/model/snapshot.js";
import { podmanVersion, servesSocket } from "../../../../src/observe/audit/docker.js";
import { logDriver, toContainer } from "../../../../src/observe/docker/container-model.js";
import { toEngine } from "../../../../src/observe/docker/engine-model.js";
import {
  EngineInfoSchema,
  EngineVersionSchema,
} from "../../../../src/observe/docker/engine-types.js";
import { containerFromCgroup } from "../../../../src/observe/proc/cgroup.js";
import { upperDirFromMountinfo } from "../../../../src/observe/proc/mountinfo.js";

const text = (engine: string, name: string): string =>
  readFileSync(new URL(`../../../fixtures/engines/${engine}/${name}`, import.meta.url), "utf8");
const json = (engine: string, name: string): Record<string, unknown> =>
  JSON.parse(text(engine, name)) as Record<string, unknown>;

describe("Docker 26 with the containerd image store (recorded)", () => {
  const running = toContainer(json("docker26", "inspect-running.json"));

  it("names its version, API range and the containerd snapshotter", () => {
    const version = EngineVersionSchema.parse(json("docker26", "version.json"));
    expect(version.Version).toMatch(/^26\.1\./);
    expect(version.ApiVersion).toBe("1.45");
    expect(version.MinAPIVersion).toBe("1.24");
    const info = EngineInfoSchema.parse(json("docker26", "info.json"));
    expect(info.DriverStatus).toContainEqual(["driver-type", "io.containerd.snapshotter.v1"]);
    const engine = toEngine("unix:///run/x.sock", version, info);
    expect(engine.storageDriver).toBe("overlayfs");
    expect(engine.dockerRootDir).toBe("/var/lib/breachkit-engines/docker26");
  });

  it("has no GraphDriver upper dir: the writable layer is null until mountinfo gives it", () => {
    expect(ContainerSchema.parse(running)).toEqual(running);
    expect(json("docker26", "inspect-running.json").GraphDriver).toEqual({
      Data: null,
      Name: "overlayfs",
    });
    expect(running.upperDir).toBeNull();
    const upper = upperDirFromMountinfo(text("docker26", "mountinfo-root.txt"));
    expect(upper).toMatch(
      /^\/var\/lib\/breachkit-engines\/docker26\/containerd\/daemon\/io\.containerd\.snapshotter\.v1\.overlayfs\/snapshots\/\d+\/fs$/,
    );
  });

  it("keeps json-file logs under its data root, and maps running, paused, exited", () => {
    expect(running.logDriver).toBe("json-file");
    expect(running.logPath).toBe(
      `/var/lib/breachkit-engines/docker26/containers/${running.id}/${running.id}-json.log`,
    );
    expect(JSON.parse(text("docker26", "log-head.txt").split("\n")[0]!)).toHaveProperty("log");
    expect([running.state, running.running, running.paused]).toEqual(["running", true, false]);
    expect(running.pid).toBeGreaterThan(1);
    const paused = toContainer(json("docker26", "inspect-paused.json"));
    expect([paused.state, paused.running, paused.paused]).toEqual(["paused", true, true]);
    const exited = toContainer(json("docker26", "inspect-exited.json"));
    expect([exited.state, exited.running, exited.pid]).toEqual(["exited", false, null]);
    expect(exited.finishedAt).toMatch(/^2026-/);
  });

  it("puts containers in /docker/<id> (cgroupfs) and its shim outside any container", () => {
    const c = containerFromCgroup(text("docker26", "cgroup-container.txt"));
    expect(c).toMatchObject({ id: running.id, runtime: "docker" });
    expect(text("docker26", "monitor-comm.txt").trim()).toBe("containerd-shim");
    expect(containerFromCgroup(text("docker26", "cgroup-monitor.txt"))).toBeNull();
  });
});

describe("podman 4.3 through its Docker-compatible API (recorded)", () => {
  const raw = json("podman", "inspect-running.json");
  const running = toContainer(raw);

  it("names itself in the version's components, API 1.41", () => {
    const version = EngineVersionSchema.parse(json("podman", "version.json"));
    expect(version.ApiVersion).toBe("1.41");
    expect(JSON.stringify(version.Components)).toContain("Podman Engine");
    const info = EngineInfoSchema.parse(json("podman", "info.json"));
    expect(info.Driver).toBe("overlay");
  });

  it("reports the upper dir in GraphDriver, the same one the container's mountinfo shows", () => {
    expect(ContainerSchema.parse(running)).toEqual(running);
    expect(running.upperDir).toMatch(/^\/var\/lib\/breachkit-engines\/podman\/storage\/overlay\//);
    expect(upperDirFromMountinfo(text("podman", "mountinfo-root.txt"))).toBe(running.upperDir);
  });

  it('says "json-file" but writes k8s-file (CRI) lines to userdata/ctr.log', () => {
    expect((raw.HostConfig as { LogConfig: { Type: string } }).LogConfig.Type).toBe("json-file");
    expect(running.logDriver).toBe("k8s-file");
    expect(running.logPath).toMatch(/\/overlay-containers\/[0-9a-f]{64}\/userdata\/ctr\.log$/);
    expect(text("podman", "log-head.txt").split("\n")[0]).toMatch(
      /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+[+-]\d\d:\d\d stdout F /,
    );
    // Docker's own json-file paths stay json-file.
    expect(logDriver("json-file", "/var/lib/docker/containers/a/a-json.log")).toBe("json-file");
    expect(logDriver("journald", "")).toBe("journald");
  });

  it("maps running, paused and exited as Docker does", () => {
    expect([running.state, running.running, running.paused]).toEqual(["running", true, false]);
    const paused = toContainer(json("podman", "inspect-paused.json"));
    expect([paused.state, paused.running, paused.paused]).toEqual(["paused", true, true]);
    const exited = toContainer(json("podman", "inspect-exited.json"));
    expect([exited.state, exited.running, exited.pid]).toEqual(["exited", false, null]);
  });

  it("puts containers in libpod-<id> and conmon in libpod_parent/conmon, a host process", () => {
    const c = containerFromCgroup(text("podman", "cgroup-container.txt"));
    expect(c).toMatchObject({ id: running.id, runtime: "podman" });
    expect(text("podman", "monitor-comm.txt").trim()).toBe("conmon");
    expect(containerFromCgroup(text("podman", "cgroup-monitor.txt"))).toBeNull();
  });
});

describe("which dockerd serves a socket (audit reads that one's flags)", () => {
  it("matches -H/--host values, the default socket for a dockerd without -H or with fd://", () => {
    const own = "/run/breachkit-engines/docker26/docker.sock";
    const second = ["dockerd", "--host", `unix://${own}`, "--data-root", "/var/lib/x"];
    expect(servesSocket(second, own)).toBe(true);
    expect(servesSocket(second, "/var/run/docker.sock")).toBe(false);
    expect(servesSocket(["dockerd"], "/var/run/docker.sock")).toBe(true);
    expect(servesSocket(["dockerd"], own)).toBe(false);
    expect(servesSocket(["dockerd", "-H", "fd://"], "/var/run/docker.sock")).toBe(true);
    expect(servesSocket(["dockerd", "-H=unix:///run/docker.sock"], "/var/run/docker.sock")).toBe(
      true,
    );
    expect(servesSocket(["dockerd", "-H", "tcp://127.0.0.1:2375"], "/var/run/docker.sock")).toBe(
      false,
    );
  });
});

describe("audit on podman", () => {
  const daemon = (podman: string | null): DaemonObservation => ({
    engineAvailable: true,
    engineError: null,
    info: json("podman", "info.json"),
    bridgeOptions: null,
    daemonJson: {
      path: "/etc/docker/daemon.json",
      parsed: null,
      error: null,
      exists: false,
      mode: null,
      uid: null,
      gid: null,
      lines: {},
    },
    cmdline: null,
    socket: null,
    podmanVersion: podman,
  });

  it("knows podman by its version's components", () => {
    expect(podmanVersion(json("podman", "version.json"))).toBe("4.3.1");
    expect(podmanVersion(json("docker26", "version.json"))).toBeNull();
    expect(podmanVersion(null)).toBeNull();
  });

  it("does not apply dockerd's settings to podman", () => {
    // Without knowing, podman's /info reads as a dockerd left at Docker's defaults.
    expect(daemonFindings(daemon(null)).map((f) => f.rule)).toContain("audit.daemon.live-restore");
    expect(daemonFindings(daemon("4.3.1"))).toEqual([]);
  });
});
