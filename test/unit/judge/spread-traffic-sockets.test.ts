import { describe, expect, it } from "vitest";
import type { RuleContext } from "../../../src/judge/context.js";
import { iocFromArgs } from "../../../src/judge/ioc/ioc-set.js";
import { shippedLists } from "../../../src/judge/rule-set.js";
import {
  miningPortRule,
  rawSocketRule,
  unpublishedListenerRule,
} from "../../../src/judge/rules/sockets.js";
import { spreadRule } from "../../../src/judge/rules/spread.js";
import { destinationsPerPortRule, fmt, trafficRateRule } from "../../../src/judge/rules/traffic.js";
import { rate, SnapshotBuilder, traffic } from "../../helpers/snapshot-builder.js";

const ctx: RuleContext = { now: new Date("2026-03-01T12:00:00Z"), lists: shippedLists() };
const WATE = "a".repeat(64);

describe("spread.same-executable", () => {
  it("is critical when the trojan's hash runs in a container and on the host", () => {
    const snap = new SnapshotBuilder()
      .container({ name: "bk-lab-gitlab" })
      .process(
        {
          pid: 4242,
          comm: "wate",
          exe: { path: "/tmp/wate", deleted: true, upperLayer: true, sha256: WATE },
        },
        "bk-lab-gitlab",
      )
      .process({ pid: 5151, comm: "wate", exe: { path: "/usr/local/bin/wate", sha256: WATE } })
      .build();
    const [f, ...rest] = spreadRule(snap, ctx);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      rule: "spread.same-executable",
      severity: "critical",
      where: "host",
    });
    expect(f!.title).toContain("on the host (pid 5151)");
    expect(f!.title).toContain("in bk-lab-gitlab (pid 4242)");
    expect(f!.next).toContain("breachkit contain bk-lab-gitlab");
  });
  it("is critical across several containers", () => {
    const b = new SnapshotBuilder().container({ name: "a" }).container({ name: "b" });
    b.process({ pid: 1, comm: "x", exe: { path: "/tmp/x", sha256: WATE } }, "a");
    b.process({ pid: 2, comm: "x", exe: { path: "/tmp/x", sha256: WATE } }, "b");
    expect(spreadRule(b.build(), ctx)).toMatchObject([{ severity: "critical", where: "a" }]);
  });
  it("does not fire for a common binary shared by replicas and the host", () => {
    const b = new SnapshotBuilder().container({ name: "a" }).container({ name: "b" });
    const node = { comm: "node", exe: { path: "/usr/local/bin/node", sha256: WATE } };
    b.process({ ...node }, "a")
      .process({ ...node }, "b")
      .process({ ...node });
    expect(spreadRule(b.build(), ctx)).toEqual([]);
  });
  it("does not count an ordinary system binary that shares the hash of a copy in /tmp", () => {
    const snap = new SnapshotBuilder()
      .container({ name: "a" })
      .process({ comm: ".x", exe: { path: "/tmp/.x", sha256: WATE } }, "a")
      .process({ comm: "bash", exe: { path: "/usr/bin/bash", sha256: WATE } })
      .build();
    expect(spreadRule(snap, ctx)).toEqual([]);
  });
  it("follows an IOC name across places even when the hashes differ", () => {
    const iocs = iocFromArgs(["wate"]);
    if (!iocs.ok) throw new Error("iocs");
    const snap = new SnapshotBuilder()
      .container({ name: "bk-lab-gitlab" })
      .process(
        { pid: 1, comm: "wate", exe: { path: "/usr/bin/wate", sha256: "b".repeat(64) } },
        "bk-lab-gitlab",
      )
      .process({ pid: 2, comm: "wate", exe: { path: "/usr/bin/wate", sha256: "c".repeat(64) } })
      .build();
    expect(spreadRule(snap, { ...ctx, iocs: iocs.value })).toMatchObject([
      { severity: "critical", confidence: "medium" },
    ]);
  });
});

describe("traffic.flood / outlier", () => {
  it("writes rates as toLocaleString('en-US') does, without loading ICU", () => {
    for (const n of [
      0,
      0.4,
      7,
      999.5,
      1000,
      12_345.6,
      125_000,
      1_234_567,
      2 ** 53 - 1,
      -1234,
      -0.2,
      1e22,
      Number.NaN,
    ])
      expect(fmt(n)).toBe(Math.round(n).toLocaleString("en-US"));
  });
  const flooding = () =>
    new SnapshotBuilder()
      .container({ name: "bk-lab-gitlab", traffic: traffic(5000) })
      .container({ name: "bk-lab-wordpress", traffic: traffic(3) });
  it("is critical when a suspicious process lives in the flooding container, and cites its UDP socket", () => {
    const snap = flooding()
      .process(
        { pid: 4242, comm: "wate", exe: { path: "/tmp/wate", deleted: true, upperLayer: true } },
        "bk-lab-gitlab",
      )
      .socket(
        {
          proto: "udp",
          state: "ESTABLISHED",
          localAddress: "127.0.0.1",
          localPort: 40000,
          remoteAddress: "127.0.0.1",
          remotePort: 9,
          pids: [4242],
        },
        "bk-lab-gitlab",
      )
      .build();
    const fs = trafficRateRule(snap, ctx);
    expect(fs).toHaveLength(1);
    expect(fs[0]).toMatchObject({
      rule: "traffic.flood",
      severity: "critical",
      where: "bk-lab-gitlab",
    });
    expect(fs[0]!.title).toContain("a UDP flood from wate (pid 4242)");
    expect(JSON.stringify(fs[0]!.evidence)).toContain("127.0.0.1:9");
  });
  it("is high without a suspicious process, and quiet for the calm container", () => {
    expect(trafficRateRule(flooding().build(), ctx)).toMatchObject([
      { severity: "high", where: "bk-lab-gitlab" },
    ]);
  });
  it("reads container rates from its namespace (loopback included) when Container.traffic is missing", () => {
    const snap = new SnapshotBuilder()
      .container({ name: "c" })
      .netns({ rates: [rate("lo", 125_000)] }, "c")
      .build();
    expect(trafficRateRule(snap, ctx)).toMatchObject([{ where: "c", severity: "high" }]);
  });
  it("rates the host's loopback-only chatter medium", () => {
    const snap = new SnapshotBuilder()
      .netns({ rates: [rate("lo", 4000), rate("eth0", 50)] })
      .build();
    expect(trafficRateRule(snap, ctx)).toMatchObject([{ where: "host", severity: "medium" }]);
  });
  it("does not blame a suspicious process that holds no socket (host loopback chatter stays medium)", () => {
    const snap = new SnapshotBuilder()
      .netns({ rates: [rate("lo", 4000), rate("eth0", 50)] })
      .process({
        pid: 1018,
        comm: "memfd:sealed-91",
        exe: { path: "/memfd:sealed-91", memfd: true, deleted: true },
      })
      .process({ pid: 300, comm: "postgres", exe: { path: "/usr/lib/postgresql/15/bin/postgres" } })
      .socket({
        proto: "tcp",
        state: "ESTABLISHED",
        localAddress: "127.0.0.1",
        localPort: 5432,
        remoteAddress: "127.0.0.1",
        remotePort: 40000,
        pids: [300],
      })
      .build();
    const fs = trafficRateRule(snap, ctx);
    expect(fs).toMatchObject([{ where: "host", severity: "medium" }]);
    expect(fs[0]!.title).not.toContain("memfd");
  });
  it("names the suspicious process that holds the sending socket, not others beside it", () => {
    const snap = new SnapshotBuilder()
      .netns({ rates: [rate("lo", 9000)] })
      .process({
        pid: 1018,
        comm: "memfd:sealed-91",
        exe: { path: "/memfd:sealed-91", memfd: true, deleted: true },
      })
      .process({
        pid: 25299,
        comm: "kdevtmpfsd",
        exe: { path: "/tmp/x/kdevtmpfsd", deleted: true },
      })
      .socket({
        proto: "udp",
        state: "CLOSE",
        localAddress: "0.0.0.0",
        localPort: 56504,
        remoteAddress: "0.0.0.0",
        remotePort: 0,
        pids: [25299],
      })
      .build();
    const fs = trafficRateRule(snap, ctx);
    expect(fs).toMatchObject([{ where: "host", severity: "critical" }]);
    expect(fs[0]!.title).toContain("a UDP flood from kdevtmpfsd (pid 25299)");
    expect(fs[0]!.title).not.toContain("memfd");
  });
  it("calls out a place far above its peers below the threshold", () => {
    const snap = new SnapshotBuilder()
      .container({ name: "a", traffic: traffic(900) })
      .container({ name: "b", traffic: traffic(10) })
      .container({ name: "c", traffic: traffic(12) })
      .build();
    expect(trafficRateRule(snap, ctx)).toMatchObject([{ rule: "traffic.outlier", where: "a" }]);
  });
  it("is silent for busy peers alike", () => {
    const snap = new SnapshotBuilder()
      .container({ name: "a", traffic: traffic(400) })
      .container({ name: "b", traffic: traffic(380) })
      .container({ name: "c", traffic: traffic(420) })
      .build();
    expect(trafficRateRule(snap, ctx)).toEqual([]);
  });
});

describe("traffic.many-destinations", () => {
  it("flags many half-open connections to one port as a SYN flood or scan", () => {
    const b = new SnapshotBuilder().container({ name: "c" });
    for (let i = 1; i <= 60; i++)
      b.socket(
        {
          state: "SYN_SENT",
          remoteAddress: `198.51.100.${i}`,
          remotePort: 22,
          localPort: 40000 + i,
          pids: [9],
        },
        "c",
      );
    expect(destinationsPerPortRule(b.build(), ctx)).toMatchObject([
      { severity: "high", where: "c" },
    ]);
  });
  it("does not count clients connecting to a local server", () => {
    const b = new SnapshotBuilder().container({ name: "web" });
    for (let i = 1; i <= 60; i++)
      b.socket(
        {
          state: "ESTABLISHED",
          localPort: 443,
          remoteAddress: `198.51.100.${i}`,
          remotePort: 50000 + i,
        },
        "web",
      );
    expect(destinationsPerPortRule(b.build(), ctx)).toEqual([]);
  });
});

describe("socket rules", () => {
  it("flags raw sockets in a container, not on the host", () => {
    const snap = new SnapshotBuilder()
      .container({ name: "c" })
      .socket({ proto: "raw", state: "CLOSE", localPort: 255, pids: [3] }, "c")
      .socket({ proto: "raw", state: "CLOSE", localPort: 1 })
      .build();
    expect(rawSocketRule(snap, ctx)).toMatchObject([
      { rule: "socket.raw-in-container", where: "c", severity: "medium" },
    ]);
  });
  it("flags an unpublished wildcard listener, not a published, exposed or loopback one", () => {
    const snap = new SnapshotBuilder()
      .container({
        name: "web",
        ports: [
          { containerPort: 80, protocol: "tcp", hostIp: "0.0.0.0", hostPort: 8080 },
          { containerPort: 9000, protocol: "tcp", hostIp: null, hostPort: null },
        ],
      })
      .socket({ localAddress: "0.0.0.0", localPort: 80 }, "web")
      .socket({ localAddress: "::", localPort: 80, proto: "tcp6" }, "web")
      .socket({ localAddress: "0.0.0.0", localPort: 9000 }, "web")
      .socket({ localAddress: "127.0.0.1", localPort: 6379 }, "web")
      .socket({ localAddress: "0.0.0.0", localPort: 31337, pids: [66] }, "web")
      .build();
    const fs = unpublishedListenerRule(snap, ctx);
    expect(fs).toHaveLength(1);
    expect(fs[0]!.title).toContain("31337/tcp");
    expect(fs[0]!.severity).toBe("low");
  });
  it("is high when the listener belongs to a suspicious process (a bind shell)", () => {
    const snap = new SnapshotBuilder()
      .container({ name: "web" })
      .process({ pid: 66, comm: "x", exe: { path: "/tmp/x" } }, "web")
      .socket({ localAddress: "0.0.0.0", localPort: 31337, pids: [66] }, "web")
      .build();
    expect(unpublishedListenerRule(snap, ctx)[0]!.severity).toBe("high");
  });
  it("flags connections to mining-pool ports, not listeners or loopback", () => {
    const snap = new SnapshotBuilder()
      .container({ name: "c" })
      .socket(
        {
          state: "ESTABLISHED",
          localPort: 40000,
          remoteAddress: "203.0.113.9",
          remotePort: 14444,
          pids: [3],
        },
        "c",
      )
      .socket({ state: "LISTEN", localPort: 3333 }, "c")
      .socket(
        { state: "ESTABLISHED", localPort: 40001, remoteAddress: "127.0.0.1", remotePort: 3333 },
        "c",
      )
      .build();
    const fs = miningPortRule(snap, ctx);
    expect(fs).toHaveLength(1);
    expect(fs[0]!.title).toContain("203.0.113.9:14444");
  });
});
