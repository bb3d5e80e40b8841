import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ContainerSchema } from "../../../../src/model/snapshot.js";
import {
  dockerTime,
  isSensitiveHostPath,
  parseContainer,
  toContainer,
} from "../../../../src/observe/docker/container-model.js";

const inspect = (name: string): Record<string, unknown> =>
  JSON.parse(readFileSync(new URL(`../../../fixtures/docker/${name}`, import.meta.url), "utf8"));

describe("toContainer on inspects recorded from Engine 20.10", () => {
  it("maps a running container with ports, mounts, capabilities and a restart policy", () => {
    const c = toContainer(inspect("inspect-running.json"));
    expect(ContainerSchema.parse(c)).toEqual(c);
    expect(c.id).toBe("a63b819f9488b5e9e0963d1419f661378f43f762d8bd4db9714d44c97a897ff8");
    expect(c.name).toBe("bk-fx-running");
    expect(c.imageId).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(c.state).toBe("running");
    expect(c.running).toBe(true);
    expect(c.paused).toBe(false);
    expect(c.pid).toBe(10536);
    expect(c.createdAt).toBe("2026-11-25T02:49:22.117282505Z");
    expect(c.startedAt).toBe("2026-11-25T02:49:22.317610602Z");
    expect(c.finishedAt).toBeNull();
    expect(c.capAdd).toEqual(["CAP_NET_ADMIN"]);
    expect(c.restartPolicy).toBe("unless-stopped");
    expect(c.networkMode).toBe("default");
    expect(c.networks).toEqual(["bridge"]);
    expect(c.logDriver).toBe("json-file");
    expect(c.logPath).toMatch(/-json\.log$/);
    expect(c.upperDir).toMatch(/^\/var\/lib\/docker\/overlay2\/[0-9a-f]{64}\/diff$/);
    expect(c.labels).toEqual({
      "breachkit.test": "1",
      "com.example.api_token": "s3cr3t",
      "com.example.role": "web",
    });
    expect(c.traffic).toBeNull();
    // Live bindings: the UDP port is published on both address families.
    expect(c.ports).toEqual([
      { containerPort: 80, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 18080 },
      { containerPort: 81, protocol: "udp", hostIp: "0.0.0.0", hostPort: 18081 },
      { containerPort: 81, protocol: "udp", hostIp: "::", hostPort: 18081 },
    ]);
    const byDest = Object.fromEntries(c.mounts.map((m) => [m.destination, m]));
    expect(byDest["/var/run/docker.sock"]).toMatchObject({
      type: "bind",
      rw: false,
      dockerSocket: true,
      sensitive: true,
    });
    expect(byDest["/hostdata"]).toMatchObject({ rw: true, dockerSocket: false, sensitive: false });
    expect(byDest["/anonvol"]).toMatchObject({ type: "volume", sensitive: false });
  });

  it("maps an exited container: no pid, a finish time, no live ports", () => {
    const c = toContainer(inspect("inspect-exited.json"));
    expect(c.state).toBe("exited");
    expect(c.running).toBe(false);
    expect(c.pid).toBeNull();
    expect(c.finishedAt).toBe("2026-11-25T02:49:22.520588977Z");
    expect(c.ports).toEqual([]);
    expect(c.restartPolicy).toBe("no");
    expect(c.mounts).toEqual([]);
  });

  it("maps a paused container: running and paused, on no network", () => {
    const c = toContainer(inspect("inspect-paused.json"));
    expect(c).toMatchObject({ state: "paused", running: true, paused: true, networkMode: "none" });
    expect(c.pid).toBeGreaterThan(0);
    expect(c.networks).toEqual(["none"]);
  });
});

describe("toContainer on the hand-crafted Engine 29 / containerd-store variant", () => {
  const raw = inspect("inspect-handcrafted-containerd-store.json");
  const c = toContainer(raw);

  it("is a valid model Container despite the missing and null fields", () => {
    expect(ContainerSchema.parse(c)).toEqual(c);
  });

  it("has no upper dir (the containerd image store does not report one)", () => {
    expect(c.upperDir).toBeNull();
  });

  it("shows host network, host pid, privileged, journald without a log file", () => {
    expect(c).toMatchObject({
      networkMode: "host",
      pidMode: "host",
      privileged: true,
      capAdd: [],
      networks: ["host"],
      logDriver: "journald",
      logPath: null,
      restartPolicy: "on-failure:5",
      image: "watchtower:latest",
    });
  });

  it("flags the socket and the host root, not localtime, a tmpfs /run or a volume", () => {
    const flags = c.mounts.map((m) => [m.destination, m.dockerSocket, m.sensitive]);
    expect(flags).toEqual([
      ["/var/run/docker.sock", true, true],
      ["/host", false, true],
      ["/etc/localtime", false, false],
      ["/run", false, false],
      ["/data", false, false],
    ]);
  });

  it("keeps hostile label values as they are and drops non-string ones", () => {
    expect(c.labels["evil.ansi"]).toBe("\u001b[2J\u001b[31mpwned\u001b[0m");
    expect(c.labels["evil.html"]).toBe("<script>alert(1)</script>");
    expect(c.labels["evil.newline"]).toBe("a\nb");
    expect(c.labels).not.toHaveProperty("org.opencontainers.image.title");
  });
});

describe("parseContainer on truncated and corrupt documents", () => {
  it("refuses what is not an inspect document", () => {
    for (const bad of [null, "x", 42, [], {}, { Id: "" }, { Id: 7 }]) {
      const result = parseContainer(bad);
      expect(result.ok, JSON.stringify(bad)).toBe(false);
    }
    expect(() => toContainer({})).toThrow(/not a container inspect document/);
  });

  it("gives neutral values for a document that has only an Id", () => {
    const c = toContainer({ Id: "abc" });
    expect(ContainerSchema.parse(c)).toEqual(c);
    expect(c).toMatchObject({
      id: "abc",
      name: "",
      state: "unknown",
      pid: null,
      mounts: [],
      ports: [],
      restartPolicy: "no",
      networkMode: "default",
    });
  });

  it("treats fields of the wrong type as missing instead of losing the container", () => {
    const raw = inspect("inspect-running.json");
    const c = toContainer({
      ...raw,
      State: "running",
      Mounts: [null, { Source: 5 }, { Type: "bind", Source: "/etc", Destination: "/x" }],
      HostConfig: { ...(raw.HostConfig as object), CapAdd: "ALL", PortBindings: { bogus: 1 } },
      NetworkSettings: { Ports: { "80/tcp": null, "not-a-port": [] } },
    });
    expect(c.state).toBe("unknown");
    expect(c.capAdd).toEqual([]);
    expect(c.ports).toEqual([{ containerPort: 80, protocol: "tcp", hostIp: null, hostPort: null }]);
    expect(c.mounts.map((m) => [m.source, m.sensitive])).toEqual([
      ["", false],
      ["/etc", true],
    ]);
  });

  it("takes the configured bindings when nothing is published (stopped container)", () => {
    const c = toContainer({
      Id: "x",
      HostConfig: { PortBindings: { "53/udp": [{ HostIp: "", HostPort: "" }] } },
      NetworkSettings: { Ports: {} },
    });
    expect(c.ports).toEqual([{ containerPort: 53, protocol: "udp", hostIp: null, hostPort: null }]);
  });
});

describe("dockerTime", () => {
  it("keeps Docker's nanosecond UTC times and turns the zero time into null", () => {
    expect(dockerTime("2026-11-25T02:49:02.998496964Z")).toBe("2026-11-25T02:49:02.998496964Z");
    expect(dockerTime("0001-01-01T00:00:00Z")).toBeNull();
    expect(dockerTime("")).toBeNull();
    expect(dockerTime(undefined)).toBeNull();
    expect(dockerTime("yesterday")).toBeNull();
    expect(dockerTime("2026-05-07T21:09:36.000000000+02:00")).toBe("2026-05-07T19:09:36.000Z");
  });
});

describe("isSensitiveHostPath", () => {
  it.each([
    ["/", true],
    ["/etc", true],
    ["/etc/", true],
    ["/root/.ssh", true],
    ["/proc/1/root", true],
    ["/var/lib/docker/containers", true],
    ["/home/alice/.ssh/authorized_keys", true],
    ["/etc/shadow", true],
    ["/lib/modules", true],
    ["/etc/../etc/sudoers.d", true],
    ["/home", true],
    ["/home/alice/app", false],
    ["/var/log/nginx", false],
    ["/etc/localtime", false],
    ["/dev/log", false],
    ["/srv/data", false],
    ["/etcetera", false],
  ])("%s -> %s", (path, expected) => {
    expect(isSensitiveHostPath(path)).toBe(expected);
  });
});
