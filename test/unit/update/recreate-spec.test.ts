import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { configDifferences, recreateSpec } from "../../../src/act/update/recreate-spec.js";

// Recorded from Docker 20.10.24 (`docker create` with a user network, a static address, an
// alias, env, a bind mount, an image VOLUME, a published port, limits, caps, user, log options).
const dir = join(import.meta.dirname, "../../fixtures/update");
const inspect = JSON.parse(readFileSync(join(dir, "inspect-docker-20.10.json"), "utf8")) as Record<
  string,
  unknown
>;
const image = JSON.parse(readFileSync(join(dir, "image-docker-20.10.json"), "utf8")) as {
  Config: Record<string, unknown>;
};

describe("recreateSpec", () => {
  const spec = recreateSpec(inspect, image.Config, "bk-update-fixture:1");
  const body = spec.body as Record<string, unknown> & {
    HostConfig: Record<string, unknown>;
    NetworkingConfig: {
      EndpointsConfig: Record<
        string,
        { Aliases?: string[]; IPAMConfig?: { IPv4Address?: string } }
      >;
    };
  };

  it("keeps what the admin set", () => {
    expect(spec.name).toBe("bk-upd-fixture");
    expect(body.Image).toBe("bk-update-fixture:1");
    expect(body.Env).toEqual(["FOO=bar"]);
    expect(body.Cmd).toEqual(["/bin/sh", "-c", "sleep 1"]);
    expect(body.User).toBe("1000");
    expect(body.Labels).toEqual({ "org.example.role": "web" });
    expect(body.HostConfig.RestartPolicy).toEqual({ Name: "unless-stopped", MaximumRetryCount: 0 });
    expect(body.HostConfig.Memory).toBe(64 * 1024 * 1024);
    expect(body.HostConfig.CapAdd).toEqual(["CAP_NET_ADMIN"]);
    expect(body.HostConfig.PortBindings).toEqual({
      "80/tcp": [{ HostIp: "127.0.0.1", HostPort: "18080" }],
    });
    expect(body.HostConfig.LogConfig).toEqual({ Type: "json-file", Config: { "max-size": "1m" } });
    const ep = body.NetworkingConfig.EndpointsConfig["bk-upd-fixture-net"];
    expect(ep?.Aliases).toEqual(["web"]);
    expect(ep?.IPAMConfig?.IPv4Address).toBe("172.29.78.5");
    expect(spec.extraNetworks).toEqual([]);
  });

  it("lets the new image's defaults apply (env, labels, healthcheck, volumes, ports, hostname)", () => {
    expect(body.Healthcheck).toBeUndefined();
    expect(body.Volumes).toBeNull();
    expect(body.ExposedPorts).toBeNull();
    expect(body.Hostname).toBeUndefined();
    expect(JSON.stringify(body)).not.toContain("APP_VERSION");
  });

  it("a user-set value equal to nothing in the image stays, and a healthcheck of its own stays", () => {
    const own = structuredClone(inspect) as { Config: Record<string, unknown> };
    own.Config.Healthcheck = { Test: ["CMD", "/bin/false"] };
    const s = recreateSpec(own, image.Config, "x:1");
    expect(s.body.Healthcheck).toEqual({ Test: ["CMD", "/bin/false"] });
  });

  it("keeps an anonymous volume by name", () => {
    const withAnon = structuredClone(inspect) as { Mounts: unknown[] };
    withAnon.Mounts.push({ Type: "volume", Name: "f".repeat(64), Destination: "/data", RW: true });
    const s = recreateSpec(withAnon, image.Config, "x:1");
    expect((s.body.HostConfig as { Binds: string[] }).Binds).toContain(`${"f".repeat(64)}:/data`);
  });
});

describe("configDifferences", () => {
  it("is empty for the same inspect and names a changed field", () => {
    expect(configDifferences(inspect, structuredClone(inspect))).toEqual([]);
    const changed = structuredClone(inspect) as { HostConfig: Record<string, unknown> };
    changed.HostConfig.Memory = 1;
    expect(configDifferences(inspect, changed)).toEqual(["HostConfig.Memory"]);
  });
});
