import { describe, expect, it } from "vitest";
import { parseSince, parseSize } from "../../../src/cli/commands/collect.js";
import { collectRefusePaths } from "../../../src/evidence/collect.js";
import {
  containerDir,
  rotatedLogFiles,
  volumeArchiveName,
} from "../../../src/evidence/collect-container.js";
import {
  changedWithin,
  homeDirs,
  hostRel,
  isForbiddenHostPath,
  isHistoryName,
  isHostLogName,
} from "../../../src/evidence/collect-host.js";
import { checkRelPath } from "../../../src/evidence/paths.js";
import { suspiciousPids, suspiciousReason } from "../../../src/evidence/suspicious.js";
import { shippedLists } from "../../../src/judge/rule-set.js";

const STAGING = shippedLists().stagingDirs;

import { makeUser, SnapshotBuilder } from "../../helpers/snapshot-builder.js";

const ID = "3f2a9c1e".repeat(8);

describe("suspiciousPids", () => {
  const snap = new SnapshotBuilder()
    .container({ name: "bk-lab-gitlab" })
    .process({ pid: 10, comm: "nginx", exe: { path: "/usr/sbin/nginx" } })
    .process({ pid: 11, comm: "wate", exe: { path: "/tmp/wate", deleted: true } }, "bk-lab-gitlab")
    .process({ pid: 12, comm: "x", exe: { path: "/memfd:x", memfd: true, deleted: true } })
    .process({ pid: 13, comm: "kdev", exe: { path: "/var/tmp/.k/kdev" } })
    .process({ pid: 14, comm: "shm", exe: { path: "/dev/shm/a" } })
    .process({ pid: 15, comm: "apt", exe: { path: "/usr/bin/apt", deleted: true } })
    .process({ pid: 2, comm: "kthreadd", kernelThread: true, exe: { path: null, error: "kernel" } })
    .process({ pid: 16, comm: "tmpfoo", exe: { path: "/tmpfoo/bin" } })
    .build();

  it("picks deleted, memfd and scratch-dir executables, sorted, not kernel threads", () => {
    expect(suspiciousPids(snap, STAGING)).toEqual([11, 12, 13, 14, 15]);
  });

  it("says why", () => {
    const by = new Map(snap.processes.map((p) => [p.pid, suspiciousReason(p, STAGING)]));
    expect(by.get(11)).toBe("deleted");
    expect(by.get(12)).toBe("memfd");
    expect(by.get(13)).toBe("scratch-dir");
    expect(by.get(10)).toBeNull();
    expect(by.get(16)).toBeNull();
  });

  it("preserves from every staging dir the judge knows: one list (rules/staging-dirs.json)", () => {
    const more = new SnapshotBuilder()
      .process({ pid: 20, comm: "q", exe: { path: "/dev/mqueue/q" } })
      .process({ pid: 21, comm: "r", exe: { path: "/run/shm/r" } })
      .process({ pid: 22, comm: "s", exe: { path: "/scratch/s" } })
      .build();
    expect(suspiciousPids(more, STAGING)).toEqual([20, 21]);
    // A --rules directory's list, as triage and contain pass it down.
    expect(suspiciousPids(more, ["/scratch/"])).toEqual([22]);
    expect(suspiciousReason(more.processes[2]!, ["/scratch/"])).toBe("scratch-dir");
  });
});

describe("rotatedLogFiles", () => {
  const base = `${ID}-json.log`;
  it("lists the current file, then rotations in numeric order, compressed ones too", () => {
    const names = [
      `${base}.10`,
      `${base}.2.gz`,
      "config.v2.json",
      base,
      `${base}.1`,
      "hostconfig.json",
      `${base}.tmp`,
      `${base}.1.bak`,
      `x${base}.3`,
    ];
    expect(rotatedLogFiles(base, names)).toEqual([base, `${base}.1`, `${base}.2.gz`, `${base}.10`]);
  });

  it("keeps rotations when the current file is gone", () => {
    expect(rotatedLogFiles(base, [`${base}.1`])).toEqual([`${base}.1`]);
  });
});

describe("bundle names from host-supplied strings", () => {
  it("keeps a plain container name, neutralises a hostile one", () => {
    expect(containerDir({ name: "bk-lab-gitlab", id: ID })).toBe("containers/bk-lab-gitlab");
    expect(containerDir({ name: "", id: ID })).toBe("containers/3f2a9c1e3f2a");
    const hostile = containerDir({ name: "../../etc\n\u001b[31m", id: ID });
    expect(checkRelPath(hostile).ok).toBe(true);
    expect(hostile.split("/")).toHaveLength(2);
  });

  it("flattens a mount destination into one archive name", () => {
    expect(volumeArchiveName("/var/lib/mysql")).toBe("var_lib_mysql.tar");
    expect(volumeArchiveName("/")).toBe("root.tar");
    expect(checkRelPath(`v/${volumeArchiveName("/../../x\u0000y")}`).ok).toBe(true);
  });

  it("mirrors host paths under host/ with every component safe", () => {
    expect(hostRel("/etc/passwd")).toBe("host/etc/passwd");
    const hist = hostRel("/root/.bash_history");
    expect(hist.startsWith("host/root/_bash_history")).toBe(true);
    expect(checkRelPath(hostRel("/home/a\nb/.ssh/authorized_keys")).ok).toBe(true);
  });
});

describe("host file selection", () => {
  it("matches auth, system and login logs with their rotations, nothing else", () => {
    for (const n of [
      "auth.log",
      "auth.log.1",
      "auth.log.2.gz",
      "syslog",
      "messages",
      "secure-20240101",
      "kern.log",
      "daemon.log",
      "docker.log",
      "wtmp",
      "btmp.1",
      "lastlog",
    ]) {
      expect(isHostLogName(n), n).toBe(true);
    }
    for (const n of ["dpkg.log", "auth.log.bak", "alternatives.log", "syslog.old", "mail.log"]) {
      expect(isHostLogName(n), n).toBe(false);
    }
  });

  it("matches shell histories", () => {
    expect(isHistoryName(".bash_history")).toBe(true);
    expect(isHistoryName(".zsh_history")).toBe(true);
    expect(isHistoryName(".python_history")).toBe(true);
    expect(isHistoryName(".bashrc")).toBe(false);
    expect(isHistoryName("history")).toBe(false);
  });

  it("never copies shadow files or private host keys", () => {
    for (const p of ["/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/gshadow-"]) {
      expect(isForbiddenHostPath(p)).toBe(true);
    }
    expect(isForbiddenHostPath("/etc/ssh/ssh_host_ed25519_key")).toBe(true);
    expect(isForbiddenHostPath("/etc/ssh/ssh_host_ed25519_key.pub")).toBe(false);
    expect(isForbiddenHostPath("/etc/passwd")).toBe(false);
  });

  it("takes a unit as recent by mtime or by ctime (touch cannot set ctime back)", () => {
    const now = new Date("2026-03-01T00:00:00Z");
    const old = new Date("2025-01-01T00:00:00Z").getTime();
    const recent = new Date("2026-02-20T00:00:00Z").getTime();
    expect(changedWithin({ mtimeMs: old, ctimeMs: old }, now, 30)).toBe(false);
    expect(changedWithin({ mtimeMs: old, ctimeMs: recent }, now, 30)).toBe(true);
    expect(changedWithin({ mtimeMs: recent, ctimeMs: old }, now, 30)).toBe(true);
  });

  it("looks in /root, /home/* and every passwd home, not / or control characters", () => {
    const snap = new SnapshotBuilder()
      .accounts({
        users: [
          makeUser({ name: "postgres", home: "/var/lib/postgresql/" }),
          makeUser({ name: "nobody", home: "/" }),
          makeUser({ name: "evil", home: "/tmp/a\nb" }),
          makeUser({ name: "alice", home: "/home/alice" }),
        ],
      })
      .build();
    expect(homeDirs(snap, ["alice", "bob"]).sort()).toEqual(
      ["/home/alice", "/home/bob", "/root", "/var/lib/postgresql"].sort(),
    );
  });

  it("refuses the bundle inside the docker root and the host paths read", () => {
    const paths = collectRefusePaths("/srv/docker");
    expect(paths).toContain("/srv/docker");
    expect(paths).toContain("/var/log");
    expect(paths).toContain("/etc");
    expect(collectRefusePaths(null)).toContain("/var/lib/docker");
  });
});

describe("collect options", () => {
  it("parses sizes in binary units", () => {
    expect(parseSize("1048576")).toBe(1048576);
    expect(parseSize("512k")).toBe(512 * 1024);
    expect(parseSize("100M")).toBe(100 * 1024 ** 2);
    expect(parseSize("1.5GiB")).toBe(1.5 * 1024 ** 3);
    for (const bad of ["", "0", "-1", "10X", "M", "1e9"]) expect(() => parseSize(bad)).toThrow();
  });

  it("parses --since as a duration before now or as a date", () => {
    const now = new Date("2026-03-01T12:00:00Z");
    expect(parseSince("2h", now).toISOString()).toBe("2026-03-01T10:00:00.000Z");
    expect(parseSince("7d", now).toISOString()).toBe("2026-02-22T12:00:00.000Z");
    expect(parseSince("2026-01-31T12:00:00Z", now).toISOString()).toBe("2026-01-31T12:00:00.000Z");
    for (const bad of ["yesterday", "2h30", "2026-13-45", "; rm -rf /"]) {
      expect(() => parseSince(bad, now)).toThrow(/--since/);
    }
  });
});
