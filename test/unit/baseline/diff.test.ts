import { describe, expect, it } from "vitest";
import { diffBaseline, driftKey, driftOfSnapshot } from "../../../src/judge/baseline/diff.js";
import type { BaselineItem, BaselineState } from "../../../src/model/baseline.js";
import { BASELINE_KINDS } from "../../../src/model/baseline.js";
import { itemsFromSnapshot, SNAPSHOT_KINDS } from "../../../src/model/baseline-items.js";
import {
  makeAuthorizedKeys,
  makeSudoRule,
  makeUser,
  SnapshotBuilder,
} from "../../helpers/snapshot-builder.js";

function stateOf(b: SnapshotBuilder, extra: BaselineItem[] = []): BaselineState {
  const { items, placesRead } = itemsFromSnapshot(b.build());
  return {
    takenAt: "2026-03-01T12:00:00.000Z",
    host: "testhost",
    root: "/",
    kinds: [...BASELINE_KINDS],
    placesRead,
    items: [...items, ...extra],
    gaps: [],
  };
}

const KEY = {
  type: "ssh-ed25519",
  fingerprint: "SHA256:aaaa",
  comment: "ops",
  options: "",
  line: 1,
};

/** A host and one running container, as on a known-good day. */
function goodDay(): SnapshotBuilder {
  return new SnapshotBuilder()
    .container({ name: "web", privileged: false })
    .accounts({
      sudo: [makeSudoRule({ text: "%sudo ALL=(ALL:ALL) ALL" })],
      authorizedKeys: [makeAuthorizedKeys({ user: "root", keys: [KEY] })],
    })
    .accounts({}, "web")
    .netns({})
    .netns({}, "web")
    .socket({ localAddress: "0.0.0.0", localPort: 22 })
    .socket({ localAddress: "0.0.0.0", localPort: 80 }, "web")
    .process({ pid: 100, comm: "sshd", exe: { path: "/usr/sbin/sshd" } })
    .process({ pid: 200, comm: "httpd", exe: { path: "/usr/sbin/httpd" } }, "web");
}

const hostFiles = (): BaselineItem[] => [
  { kind: "suid", place: "host", key: "/usr/bin/passwd", value: "4755 0:0 aa", facts: {} },
  {
    kind: "cron",
    place: "host",
    key: "/etc/crontab: 17 * * * * root run-parts /etc/cron.hourly",
    value: "",
    facts: {},
  },
  {
    kind: "unit",
    place: "host",
    key: "/usr/lib/systemd/system/ssh.service",
    value: "bb",
    facts: {},
  },
  { kind: "module", place: "host", key: "overlay", value: "", facts: {} },
  { kind: "image", place: "host", key: "web:1", value: "sha256:img1", facts: {} },
];

describe("baseline diff", () => {
  it("finds nothing when nothing changed", () => {
    const base = stateOf(goodDay(), hostFiles());
    const now = stateOf(goodDay(), hostFiles());
    const d = diffBaseline(base, now);
    expect(d.findings).toEqual([]);
    expect(d.compared).toEqual([...BASELINE_KINDS]);
  });

  it("reports each change once, with its severity", () => {
    const base = stateOf(goodDay(), hostFiles());
    const changed = goodDay()
      .container({ name: "newbie" })
      .accounts({}, "newbie")
      .process({ pid: 300, comm: "sh", exe: { path: "/bin/sh" } }, "newbie");
    const snap = changed.build();
    // A second UID 0 account in the container, a new key on the host, a new sudo rule.
    const web = snap.accounts.find((a) => a.scope === "web")!;
    web.users.push(makeUser({ name: "toor", uid: 0, shell: "/bin/sh" }));
    const host = snap.accounts.find((a) => a.scope === "host")!;
    host.authorizedKeys[0]!.keys.push({ ...KEY, fingerprint: "SHA256:bbbb", line: 2 });
    host.sudo.push(makeSudoRule({ text: "bob ALL=(ALL) NOPASSWD: ALL", line: 30 }));
    // privileged turned on and image changed on web; a new listener on the host's loopback.
    const w = snap.containers.find((c) => c.name === "web")!;
    w.privileged = true;
    w.imageId = "sha256:other";
    const { items, placesRead } = itemsFromSnapshot(snap);
    items.push(
      {
        kind: "listen",
        place: "host",
        key: "tcp 127.0.0.1:9999",
        value: "",
        facts: { address: "127.0.0.1" },
      },
      {
        kind: "listen",
        place: "host",
        key: "tcp 0.0.0.0:4444",
        value: "",
        facts: { address: "0.0.0.0" },
      },
      ...hostFiles().map((i) => (i.kind === "image" ? { ...i, value: "sha256:swapped" } : i)),
      { kind: "suid", place: "web", key: "/tmp/.x", value: "4755 0:0 cc", facts: {} },
      {
        kind: "cron",
        place: "host",
        key: "/etc/cron.d/x: * * * * * root /tmp/.x",
        value: "",
        facts: {},
      },
      {
        kind: "unit",
        place: "host",
        key: "/etc/systemd/system/evil.service",
        value: "dd",
        facts: {},
      },
      { kind: "module", place: "host", key: "diamorphine", value: "", facts: {} },
    );
    const d = diffBaseline(base, { kinds: [...BASELINE_KINDS], placesRead, items });
    const got = d.findings.map(
      (f) => `${f.severity} ${f.rule} ${f.where} ${f.evidence[0]?.facts?.item}`,
    );
    expect(got.sort()).toEqual(
      [
        "critical drift.uid0-new web toor",
        "high drift.key-new host root SHA256:bbbb",
        "high drift.sudo-new host /etc/sudoers: bob ALL=(ALL) NOPASSWD: ALL",
        "critical drift.container-changed web web",
        "high drift.container-changed web web",
        "low drift.listen-new host tcp 127.0.0.1:9999",
        "high drift.listen-new host tcp 0.0.0.0:4444",
        "high drift.image-changed host web:1",
        "high drift.suid-new web /tmp/.x",
        "high drift.cron-new host /etc/cron.d/x: * * * * * root /tmp/.x",
        "high drift.unit-new host /etc/systemd/system/evil.service",
        "high drift.module-new host diamorphine",
        // The new container is one finding: its root account, shell and files come with it.
        "medium drift.container-new newbie newbie",
      ].sort(),
    );
    const changedWeb = d.findings.filter((f) => f.rule === "drift.container-changed");
    expect(changedWeb.map((f) => f.evidence[0]?.facts?.change).sort()).toEqual([
      "image changed without an update record",
      "privileged turned on",
    ]);
    const newbie = d.findings.find((f) => f.rule === "drift.container-new")!;
    expect(newbie.evidence[0]?.facts?.uid0Count).toBe("1");
    expect(newbie.evidence[0]?.facts?.exeCount).toBe("1");
  });

  it("an image change that breachkit update recorded is info, not drift", () => {
    const base = stateOf(goodDay());
    const snap = goodDay().build();
    snap.containers[0]!.imageId = "sha256:updated";
    const { items, placesRead } = itemsFromSnapshot(snap);
    const d = diffBaseline(
      base,
      { kinds: [...BASELINE_KINDS], placesRead, items },
      {
        updatedContainers: new Set(["web"]),
      },
    );
    expect(d.findings.map((f) => f.severity)).toEqual(["info"]);
  });

  it("compares only the kinds observed both times, and counts what went away", () => {
    const base = stateOf(goodDay(), hostFiles());
    const d = driftOfSnapshot(base, new SnapshotBuilder().container({ name: "web" }).build());
    expect(d.compared).toEqual([...SNAPSHOT_KINDS]);
    expect(d.findings).toEqual([]); // no SUID, cron, unit or module findings from a snapshot
    expect(d.removed.key).toBe(1);
    expect(d.removed.suid).toBeUndefined();
  });

  it("a container not running at the baseline is summed up as info", () => {
    const b = new SnapshotBuilder().container({
      name: "db",
      running: false,
      state: "exited",
      pid: null,
    });
    const base = stateOf(b);
    const now = new SnapshotBuilder()
      .container({ name: "db" })
      .accounts({}, "db")
      .process({ pid: 9, comm: "pg", exe: { path: "/usr/bin/pg" } }, "db")
      .build();
    const { items, placesRead } = itemsFromSnapshot(now);
    const d = diffBaseline(base, { kinds: [...BASELINE_KINDS], placesRead, items });
    expect(d.findings.map((f) => `${f.severity} ${f.rule}`)).toEqual([
      "info drift.container-unread",
    ]);
  });

  it("a replaced program (same path, new hash) is drift; the same one twice is not", () => {
    const base = stateOf(goodDay());
    const snap = goodDay()
      .process({ pid: 201, comm: "httpd", exe: { path: "/usr/sbin/httpd" } }, "web")
      .build();
    snap.processes.find((p) => p.pid === 200)!.exe.sha256 = "f".repeat(64);
    const { items, placesRead } = itemsFromSnapshot(snap);
    const d = diffBaseline(base, { kinds: [...BASELINE_KINDS], placesRead, items });
    // pid 201 runs the baseline's bytes; pid 200 runs other bytes at the same path.
    expect(d.findings.map((f) => `${f.severity} ${f.rule} ${f.where}`)).toEqual([
      "high drift.exe-changed web",
    ]);
  });

  it("gives the same key to the same drift in two runs", () => {
    const base = stateOf(goodDay());
    const mk = () => {
      const s = goodDay().build();
      s.accounts[0]!.users.push(makeUser({ name: "toor", uid: 0 }));
      const { items, placesRead } = itemsFromSnapshot(s);
      return diffBaseline(base, { kinds: [...BASELINE_KINDS], placesRead, items }).findings;
    };
    expect(mk().map(driftKey)).toEqual(mk().map(driftKey));
  });
});
