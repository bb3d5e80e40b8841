import { describe, expect, it } from "vitest";
import { judge, type RuleContext } from "../../../src/judge/index.js";
import { iocFromArgs } from "../../../src/judge/ioc/ioc-set.js";
import { shippedLists } from "../../../src/judge/rule-set.js";
import { containerConfigRule } from "../../../src/judge/rules/container-config.js";
import { iocMatchRule } from "../../../src/judge/rules/ioc-matches.js";
import { severityRank } from "../../../src/model/finding.js";
import { makeMount, SnapshotBuilder, traffic } from "../../helpers/snapshot-builder.js";

const ctx: RuleContext = { now: new Date("2026-03-01T12:00:00Z"), lists: shippedLists() };

/** The lab's "contained" state: wate dropped, deleted and flooding in gitlab; wordpress clean. */
function labContained() {
  return new SnapshotBuilder()
    .dockerRuntime()
    .container({ name: "bk-lab-gitlab", networkMode: "none", networks: [], traffic: traffic(5000) })
    .container({
      name: "bk-lab-wordpress",
      image: "breachkit-lab:wordpress",
      ports: [{ containerPort: 80, protocol: "tcp", hostIp: "127.0.0.1", hostPort: 8081 }],
      traffic: traffic(2),
    })
    .process(
      {
        pid: 900,
        ppid: 800,
        comm: "sh",
        argv: ["/bin/sh", "-c", "sleep 3600"],
        exe: { path: "/bin/busybox" },
      },
      "bk-lab-gitlab",
    )
    .process(
      {
        pid: 4242,
        ppid: 900,
        comm: "wate",
        argv: ["/tmp/wate", "900"],
        cpuPercent: 60,
        exe: { path: "/tmp/wate", deleted: true, upperLayer: true },
      },
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
    .process(
      {
        pid: 950,
        ppid: 800,
        comm: "httpd",
        argv: ["httpd", "-f", "-p", "80", "-h", "/www"],
        exe: { path: "/bin/busybox" },
      },
      "bk-lab-wordpress",
    )
    .socket({ localAddress: "0.0.0.0", localPort: 80, pids: [950] }, "bk-lab-wordpress")
    .accounts()
    .build();
}

describe("judge", () => {
  it("finds wate in bk-lab-gitlab: deleted executable, dropped binary and flood, all critical", () => {
    const fs = judge(labContained(), ctx);
    const critical = fs
      .filter((f) => f.severity === "critical" && f.where === "bk-lab-gitlab")
      .map((f) => f.rule);
    expect(critical).toEqual(
      expect.arrayContaining(["process.deleted-exe", "process.dropped-binary", "traffic.flood"]),
    );
  });
  it("has nothing at medium or above for the clean busybox httpd wordpress container", () => {
    const fs = judge(labContained(), ctx).filter((f) => f.where === "bk-lab-wordpress");
    expect(fs.filter((f) => severityRank(f.severity) >= severityRank("medium"))).toEqual([]);
  });
  it("ranks by severity, then place", () => {
    const fs = judge(labContained(), ctx);
    const ranks = fs.map((f) => severityRank(f.severity));
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
  });
  it("gives nothing at high or above for a clean host with a runc memfd", () => {
    const snap = new SnapshotBuilder()
      .dockerRuntime()
      .container({ name: "web" })
      .process({
        pid: 901,
        ppid: 800,
        comm: "runc:[2:INIT]",
        exe: { path: "/memfd:runc_cloned:/proc/self/exe" },
      })
      .process({ comm: "nginx", exe: { path: "/usr/sbin/nginx" } }, "web")
      .accounts()
      .build();
    expect(
      judge(snap, ctx).filter((f) => severityRank(f.severity) >= severityRank("high")),
    ).toEqual([]);
  });
  it("marks allowlisted processes (by parent or hash) and lowers them to info, keeping them", () => {
    const snap = new SnapshotBuilder()
      .process({ pid: 20, comm: "agent", exe: { path: "/opt/agent/bin/agent" } })
      .process({ pid: 21, ppid: 20, comm: "memfd:sealed", exe: { path: "/memfd:sealed-91" } })
      .build();
    expect(judge(snap, ctx).map((f) => f.severity)).toEqual(["high"]);
    const allowlist = {
      entries: [
        { parent: "agent", rule: "process.memfd-exe", reason: "the monitoring agent's sandbox" },
      ],
    };
    const [f] = judge(snap, { ...ctx, allowlist });
    expect(f).toMatchObject({
      severity: "info",
      falsePositive: "allowlisted: the monitoring agent's sandbox",
    });
    const byHash = { entries: [{ sha256: snap.processes[1]!.exe.sha256!, reason: "known" }] };
    expect(judge(snap, { ...ctx, allowlist: byHash })[0]!.severity).toBe("info");
  });
});

describe("container configuration", () => {
  it("flags privileged, socket, host network and pid, sensitive rw mounts, caps; stopped ones lower", () => {
    const snap = new SnapshotBuilder()
      .container({
        name: "bad",
        privileged: true,
        networkMode: "host",
        pidMode: "host",
        capAdd: ["CAP_SYS_ADMIN", "NET_ADMIN"],
        mounts: [
          makeMount({ source: "/var/run/docker.sock", dockerSocket: true, sensitive: true }),
          makeMount({ source: "/etc", destination: "/host-etc", sensitive: true }),
          makeMount({ source: "/srv/data", destination: "/data" }),
        ],
      })
      .container({ name: "old", privileged: true, running: false })
      .build();
    const got = containerConfigRule(snap, ctx).map((f) => `${f.where}:${f.rule}:${f.severity}`);
    expect(got).toEqual([
      "bad:container.privileged:high",
      "bad:container.docker-socket:high",
      "bad:container.host-network:medium",
      "bad:container.host-pid:medium",
      "bad:container.sensitive-mount:high",
      "bad:container.dangerous-caps:high",
      "bad:container.can-recreate:medium",
      "old:container.privileged:medium",
    ]);
  });
  it("advises pausing Watchtower before collecting", () => {
    const snap = new SnapshotBuilder()
      .container({ name: "wt", image: "containrrr/watchtower:latest" })
      .build();
    const [f] = containerConfigRule(snap, ctx);
    expect(f).toMatchObject({ rule: "container.can-recreate", severity: "medium" });
    expect(f!.next).toContain("docker pause wt");
  });
  it("is quiet for a plain container with a read-only sensitive mount", () => {
    const snap = new SnapshotBuilder()
      .container({
        name: "ok",
        mounts: [makeMount({ source: "/etc/localtime", rw: false, sensitive: true })],
      })
      .build();
    expect(containerConfigRule(snap, ctx)).toEqual([]);
  });
});

describe("ioc.process / ioc.address", () => {
  it("matches processes and connections, with the IOC cited", () => {
    const iocs = iocFromArgs(["/tmp/wate", "203.0.113.0/24"]);
    if (!iocs.ok) throw new Error(iocs.error.message);
    const snap = new SnapshotBuilder()
      .container({ name: "c" })
      .process({ pid: 3, comm: "wate", exe: { path: "/tmp/wate" } }, "c")
      .socket(
        {
          state: "ESTABLISHED",
          localPort: 40000,
          remoteAddress: "203.0.113.9",
          remotePort: 443,
          pids: [3],
        },
        "c",
      )
      .build();
    const fs = iocMatchRule(snap, { ...ctx, iocs: iocs.value });
    expect(fs.map((f) => `${f.rule}:${f.severity}:${f.confidence}:${f.source}`)).toEqual([
      "ioc.process:critical:high:ioc",
      "ioc.address:high:high:ioc",
    ]);
    expect(fs[0]!.evidence[0]!.facts?.ioc).toContain("path:/tmp/wate (--ioc)");
  });
  it("does nothing without IOCs", () => {
    expect(iocMatchRule(new SnapshotBuilder().process({ comm: "wate" }).build(), ctx)).toEqual([]);
  });
});
