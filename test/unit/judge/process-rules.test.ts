import { describe, expect, it } from "vitest";
import type { RuleContext } from "../../../src/judge/context.js";
import { shippedLists } from "../../../src/judge/rule-set.js";
import { deletedExecutableRule, memfdExecutionRule } from "../../../src/judge/rules/deleted-exe.js";
import { droppedBinaryRule } from "../../../src/judge/rules/dropped-binary.js";
import { executableLocationRule } from "../../../src/judge/rules/exe-location.js";
import {
  kernelThreadMasqueradeRule,
  nameMismatchRule,
} from "../../../src/judge/rules/masquerade.js";
import { minerRule } from "../../../src/judge/rules/miner.js";
import { SnapshotBuilder } from "../../helpers/snapshot-builder.js";

const ctx: RuleContext = { now: new Date("2026-03-01T12:00:00Z"), lists: shippedLists() };
const lab = () => new SnapshotBuilder().dockerRuntime().container({ name: "bk-lab-gitlab" });

describe("process.deleted-exe", () => {
  it("is critical for a deleted binary in a container's writable layer, citing pid, path and hash", () => {
    const snap = lab()
      .process(
        { pid: 4242, comm: "wate", exe: { path: "/tmp/wate", deleted: true, upperLayer: true } },
        "bk-lab-gitlab",
      )
      .build();
    const [f, ...rest] = deletedExecutableRule(snap, ctx);
    expect(rest).toEqual([]);
    expect(f).toMatchObject({
      rule: "process.deleted-exe",
      severity: "critical",
      confidence: "high",
      where: "bk-lab-gitlab",
    });
    expect(f!.evidence[0]).toMatchObject({
      pid: 4242,
      path: "/tmp/wate",
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    expect(f!.next).toContain("/proc/4242/exe");
    expect(f!.next).toContain("breachkit contain bk-lab-gitlab");
  });
  it("groups forked copies of one binary into one finding", () => {
    const b = lab();
    for (const pid of [10, 11, 12])
      b.process(
        { pid, comm: "wate", exe: { path: "/tmp/wate", deleted: true, upperLayer: true } },
        "bk-lab-gitlab",
      );
    const fs = deletedExecutableRule(b.build(), ctx);
    expect(fs).toHaveLength(1);
    expect(fs[0]!.evidence.map((e) => e.pid)).toEqual([10, 11, 12]);
  });
  it("is only low for a packaged host binary replaced by an upgrade", () => {
    const snap = new SnapshotBuilder()
      .process({ comm: "sshd", exe: { path: "/usr/sbin/sshd", deleted: true } })
      .build();
    expect(deletedExecutableRule(snap, ctx).map((f) => f.severity)).toEqual(["low"]);
  });
  it("is high for a deleted host binary outside system dirs", () => {
    const snap = new SnapshotBuilder()
      .process({ comm: "x", exe: { path: "/root/x", deleted: true } })
      .build();
    expect(deletedExecutableRule(snap, ctx).map((f) => f.severity)).toEqual(["high"]);
  });
  it("ignores memfd executables (their own rule) and kernel threads", () => {
    const snap = new SnapshotBuilder()
      .process({ comm: "x", exe: { path: "/memfd:x" } })
      .process({ comm: "kworker/0:1", kernelThread: true })
      .build();
    expect(deletedExecutableRule(snap, ctx)).toEqual([]);
  });
});

describe("process.memfd-exe", () => {
  it("is low and marked as a false positive for runc started by containerd-shim", () => {
    const snap = lab()
      .process({
        pid: 900,
        ppid: 800,
        comm: "runc:[2:INIT]",
        exe: { path: "/memfd:runc_cloned:/proc/self/exe" },
      })
      .build();
    const [f] = memfdExecutionRule(snap, ctx);
    expect(f).toMatchObject({
      severity: "low",
      falsePositive: expect.stringContaining("containerd-shim-runc-v2"),
    });
  });
  it("is high for a memfd whose parents are no runtime (even named like one)", () => {
    const snap = new SnapshotBuilder()
      .process({ pid: 50, comm: "runc", exe: { path: "/tmp/runc", deleted: true } })
      .process({
        pid: 51,
        ppid: 50,
        comm: "memfd:sealed",
        exe: { path: "/memfd:sealed-91 (deleted)" },
      })
      .build();
    const [f] = memfdExecutionRule(snap, ctx);
    expect(f).toMatchObject({ severity: "high", falsePositive: null });
    expect(f!.next).toMatch(/allowlist/);
  });
});

describe("process.exe-in-tmp / hidden dir", () => {
  it("flags /tmp, /var/tmp, /dev/shm and hidden dirs", () => {
    const snap = new SnapshotBuilder()
      .process({ comm: "a", exe: { path: "/dev/shm/a" } })
      .process({ comm: "b", exe: { path: "/var/tmp/b" } })
      .process({ comm: "c", exe: { path: "/usr/share/.cache2/c" } })
      .build();
    const fs = executableLocationRule(snap, ctx);
    expect(fs.map((f) => `${f.rule}:${f.severity}`).sort()).toEqual([
      "process.exe-in-hidden-dir:medium",
      "process.exe-in-tmp:high",
      "process.exe-in-tmp:high",
    ]);
  });
  it("leaves developer tools in known dot-dirs and /tmp-like names outside /tmp alone", () => {
    const snap = new SnapshotBuilder()
      .process({ comm: "node", exe: { path: "/root/.vscode-server/bin/abc/node" } })
      .process({ comm: "cargo", exe: { path: "/home/u/.cargo/bin/cargo" } })
      .process({ comm: "tmpreaper", exe: { path: "/usr/sbin/tmpreaper" } })
      .build();
    expect(executableLocationRule(snap, ctx)).toEqual([]);
  });
});

describe("process.dropped-binary", () => {
  it("is critical when the dropped binary also deleted itself, high otherwise", () => {
    const snap = lab()
      .process(
        { comm: "wate", exe: { path: "/tmp/wate", deleted: true, upperLayer: true } },
        "bk-lab-gitlab",
      )
      .process(
        { comm: "helper", exe: { path: "/usr/local/bin/helper", upperLayer: true } },
        "bk-lab-gitlab",
      )
      .process(
        { comm: "nginx", exe: { path: "/usr/sbin/nginx", upperLayer: false } },
        "bk-lab-gitlab",
      )
      .build();
    expect(
      droppedBinaryRule(snap, ctx)
        .map((f) => f.severity)
        .sort(),
    ).toEqual(["critical", "high"]);
  });
});

describe("process.kthread-masquerade", () => {
  it("flags a user-space process named like a kernel thread", () => {
    const snap = new SnapshotBuilder()
      .process({
        pid: 77,
        comm: "kworker/0:1",
        argv: ["[kworker/0:1]"],
        exe: { path: "/tmp/.x/kw" },
      })
      .process({ pid: 78, comm: "kdevtmpfsi", exe: { path: "/tmp/kdevtmpfsi" } })
      .build();
    const fs = kernelThreadMasqueradeRule(snap, ctx);
    expect(fs.map((f) => f.evidence[0]!.pid)).toEqual([77, 78]);
    expect(fs[0]).toMatchObject({ severity: "high", confidence: "high" });
    expect(fs[0]!.title).toContain("poses as kernel thread [kworker/0:1]");
  });
  it("names the kernel thread it poses as by comm when argv[0] is only its path", () => {
    const snap = new SnapshotBuilder()
      .process({
        pid: 25299,
        comm: "kdevtmpfsd",
        argv: ["/tmp/bk-lab-x/kdevtmpfsd", "900"],
        exe: { path: "/tmp/bk-lab-x/kdevtmpfsd" },
      })
      .build();
    const [f] = kernelThreadMasqueradeRule(snap, ctx);
    expect(f!.title).toBe("/tmp/bk-lab-x/kdevtmpfsd poses as kernel thread kdevtmpfsd (pid 25299)");
  });
  it("does not fire for real kernel threads or bracketed titles that are no thread names", () => {
    const snap = new SnapshotBuilder()
      .process({ comm: "kworker/0:1", kernelThread: true })
      .process({ comm: "ksoftirqd/0", kernelThread: true })
      .process({
        comm: "celery",
        argv: ["[celeryd: worker@host:MainProcess]"],
        exe: { path: "/usr/bin/python3.11" },
      })
      .build();
    expect(kernelThreadMasqueradeRule(snap, ctx)).toEqual([]);
  });
});

describe("process.name-mismatch", () => {
  it("flags a binary calling itself sshd from outside the system dirs", () => {
    const snap = new SnapshotBuilder()
      .process({ comm: "sshd", argv: ["sshd"], exe: { path: "/var/lib/.x/wate" } })
      .build();
    expect(nameMismatchRule(snap, ctx)).toMatchObject([
      { severity: "high", rule: "process.name-mismatch" },
    ]);
  });
  it.each([
    ["a python script", "myscript.py", "/usr/bin/python3.11"],
    ["node running an app", "npm start", "/usr/local/bin/node"],
    ["a busybox applet", "httpd", "/bin/busybox"],
    ["a comm cut to 15 bytes", "containerd-shim", "/usr/bin/containerd-shim-runc-v2"],
    ["a symlinked alternative", "awk", "/usr/bin/mawk"],
    ["vi -> vim.basic", "vi", "/usr/bin/vim.basic"],
    [
      "a packaged daemon's own title",
      "gitlab-workhors",
      "/opt/gitlab/embedded/bin/gitlab-workhorse",
    ],
    ["a shell script", "entrypoint.sh", "/bin/bash"],
    ["a java app", "java", "/usr/lib/jvm/java-17/bin/java"],
    [
      "a system binary with a process title",
      "postgres: check",
      "/usr/lib/postgresql/15/bin/postgres",
    ],
  ])("does not fire for %s", (_what, comm, path) => {
    const snap = new SnapshotBuilder().process({ comm, exe: { path } }).build();
    expect(nameMismatchRule(snap, ctx)).toEqual([]);
  });
});

describe("process.miner", () => {
  it("is critical for a miner's pool argument with high CPU", () => {
    const snap = new SnapshotBuilder()
      .process({
        pid: 5,
        comm: "sys",
        argv: ["/tmp/sys", "-o", "stratum+tcp://pool.example:3333"],
        cpuPercent: 190,
        exe: { path: "/tmp/sys" },
      })
      .build();
    expect(minerRule(snap, ctx)).toMatchObject([{ severity: "critical", confidence: "high" }]);
  });
  it("flags high CPU only together with another suspicious trait", () => {
    const snap = new SnapshotBuilder()
      .process({
        pid: 6,
        comm: "kthzabor",
        cpuPercent: 146,
        exe: { path: "/tmp/kthzabor", deleted: true },
      })
      .process({
        pid: 7,
        comm: "ruby",
        cpuPercent: 180,
        exe: { path: "/opt/gitlab/embedded/bin/ruby" },
      })
      .build();
    const fs = minerRule(snap, ctx);
    expect(fs.map((f) => f.evidence[0]!.pid)).toEqual([6]);
    expect(fs[0]!.severity).toBe("high");
  });
});
