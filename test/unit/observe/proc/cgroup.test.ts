import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { containerFromCgroup } from "../../../../src/observe/proc/cgroup.js";

const fixtures = new URL("../../../fixtures/proc/", import.meta.url);
const read = (rel: string) => readFileSync(new URL(rel, fixtures), "utf8");
const ID = "4f6e0b8c2a1d9e7f3b5c6a8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f";

describe("containerFromCgroup on recorded samples", () => {
  it("finds the Docker container of a cgroup v1 cgroupfs process", () => {
    const c = containerFromCgroup(read("real/cgroup-v1-docker-cgroupfs"));
    expect(c?.runtime).toBe("docker");
    expect(c?.id).toMatch(/^[0-9a-f]{64}$/);
    expect(c?.path).toBe(`/docker/${c?.id}`);
  });

  it("returns null for a host process, even in a non-container cgroup with a hex name", () => {
    // Recorded here: memory:/process_api/<32 hex> is the VM's own supervisor, not a container.
    expect(containerFromCgroup(read("real/cgroup-host-process"))).toBeNull();
  });
});

describe("containerFromCgroup on hand-written shapes", () => {
  const expected: Record<string, [string, string] | null> = {
    "v2-systemd-docker.txt": ["docker", `/system.slice/docker-${ID}.scope`],
    "v1-systemd-docker.txt": ["docker", `/system.slice/docker-${ID}.scope`],
    "v2-kubepods-containerd.txt": ["containerd", ""],
    "v2-kubepods-crio.txt": ["crio", ""],
    "v2-crio-conmon-host.txt": null,
    "v1-kubepods-cgroupfs.txt": ["unknown", ""],
    "v2-podman-machine-slice.txt": ["podman", `/machine.slice/libpod-${ID}.scope/container`],
    "v2-podman-rootless.txt": ["podman", ""],
    "v2-podman-conmon-host.txt": null,
    "v1-podman-cgroupfs.txt": ["podman", `/libpod_parent/libpod-${ID}`],
    "v2-docker-systemd-inside.txt": ["docker", `/docker/${ID}/init.scope`],
    "v2-nerdctl.txt": ["containerd", ""],
    "v2-host-init.txt": null,
    "v2-host-user-session.txt": null,
    "v2-host-dockerd.txt": null,
    "v2-host-containerd.txt": null,
    "v1-docker-in-docker.txt": ["docker", ""],
    "v1-unknown-runtime.txt": ["unknown", `/custom-runtime/${ID}`],
    "hostile-near-misses.txt": null,
  };

  it("has an expectation for every fixture", () => {
    expect(readdirSync(new URL("hand/cgroup/", fixtures)).sort()).toEqual(
      Object.keys(expected).sort(),
    );
  });

  for (const [file, want] of Object.entries(expected)) {
    it(file, () => {
      const c = containerFromCgroup(read(`hand/cgroup/${file}`));
      if (want === null) {
        expect(c).toBeNull();
        return;
      }
      expect(c?.id).toBe(ID);
      expect(c?.runtime).toBe(want[0]);
      if (want[1] !== "") expect(c?.path).toBe(want[1]);
    });
  }

  it("takes the outer container of Docker-in-Docker: the one the host engine knows", () => {
    expect(containerFromCgroup(`12:pids:/docker/${ID}/docker/${"1".repeat(64)}`)?.id).toBe(ID);
  });

  it("returns null for empty, garbage and '/' input", () => {
    expect(containerFromCgroup("")).toBeNull();
    expect(containerFromCgroup("0::/")).toBeNull();
    expect(containerFromCgroup("\u0000\u001b[31m<script>")).toBeNull();
    expect(containerFromCgroup(ID)).toBeNull();
  });
});
