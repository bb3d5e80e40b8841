import pc from "picocolors";
import { describe, expect, it } from "vitest";
import {
  type ActionRecord,
  type ContainMode,
  deriveMatchSet,
  judgeContainment,
  type MatchedProcess,
  matchAll,
  matchProcesses,
  parseRestartPolicy,
  planContainment,
  undoCommands,
} from "../../../src/act/contain-plan.js";
import { judge } from "../../../src/judge/index.js";
import { EMPTY_IOCS, type IocSet, iocFromArgs } from "../../../src/judge/ioc/ioc-set.js";
import { shippedLists } from "../../../src/judge/rule-set.js";
import type { Finding } from "../../../src/model/finding.js";
import { formatPlan } from "../../../src/tell/format-plan.js";
import type { ContainerInput } from "../../helpers/snapshot-builder.js";
import {
  fakeContainerId,
  fakeSha256,
  type ProcessInput,
  rate,
  SnapshotBuilder,
  traffic,
} from "../../helpers/snapshot-builder.js";

const GITLAB = "bk-lab-gitlab";
const GITLAB_ID = fakeContainerId(GITLAB);
const WATE_SHA = fakeSha256("wate-binary");
const BUSYBOX_SHA = fakeSha256("busybox");
const NOW = new Date("2026-03-01T12:00:00.000Z");
const LISTS = shippedLists();

const lo = (txPackets: number) => ({
  name: "lo",
  rxBytes: 0,
  rxPackets: txPackets,
  rxErrors: 0,
  rxDrops: 0,
  txBytes: 0,
  txPackets,
  txErrors: 0,
  txDrops: 0,
});

interface LabOptions {
  gitlab?: Partial<ContainerInput>;
  /** tx packets/s measured in gitlab's namespace (lo), or null for no measurement. */
  tx?: number | null;
  /** Run the trojan in gitlab (default true). */
  wate?: boolean | ProcessInput;
  /** A renamed copy on the host. */
  hostCopy?: boolean;
  extra?: (b: SnapshotBuilder) => void;
}

/** The lab as a small snapshot: gitlab with sh, sleep and the deleted, dropped wate. */
function lab(o: LabOptions = {}) {
  const b = new SnapshotBuilder({ intervalSeconds: 2 })
    .dockerRuntime()
    .container({ name: GITLAB, networkMode: "none", networks: ["none"], pid: 900, ...o.gitlab })
    .container({ name: "bk-lab-wordpress", networkMode: "none", networks: ["none"], pid: 950 });
  const shell = { exe: { path: "/bin/busybox", sha256: BUSYBOX_SHA } };
  b.process(
    { pid: 900, ppid: 800, comm: "sh", argv: ["/bin/sh", "/lab/run.sh"], ...shell },
    GITLAB,
  );
  b.process({ pid: 902, ppid: 900, comm: "sleep", argv: ["sleep", "3600"], ...shell }, GITLAB);
  b.process(
    { pid: 950, ppid: 800, comm: "httpd", argv: ["httpd", "-f"], ...shell },
    "bk-lab-wordpress",
  );
  if (o.wate !== false) {
    b.process(
      {
        pid: 901,
        ppid: 900,
        comm: "wate",
        argv: ["/tmp/wate", "900"],
        startTime: "2026-03-01T11:00:00.000Z",
        exe: { path: "/tmp/wate", deleted: true, upperLayer: true, sha256: WATE_SHA },
        ...(typeof o.wate === "object" ? o.wate : {}),
      },
      GITLAB,
    );
  }
  if (o.hostCopy) {
    b.process({
      pid: 4242,
      comm: "kdevtmpfsd",
      argv: ["/tmp/bk-lab-x/kdevtmpfsd", "900"],
      exe: { path: "/tmp/bk-lab-x/kdevtmpfsd", deleted: true, sha256: WATE_SHA },
    });
  }
  const tx = o.tx === undefined ? 5000 : o.tx;
  if (tx !== null) {
    b.netns({ interfaces: [lo(100_000)], rates: [rate("lo", tx, tx)] }, GITLAB);
  }
  o.extra?.(b);
  return b.build();
}

function matchSetOf(snap = lab(), iocs: IocSet = EMPTY_IOCS) {
  const target = snap.containers.find((c) => c.id === GITLAB_ID)!;
  const ctx = { now: NOW, iocs, lists: LISTS };
  return deriveMatchSet(snap, target, judge(snap, ctx), ctx, iocs);
}

function iocs(...values: string[]): IocSet {
  const r = iocFromArgs(values);
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

describe("deriveMatchSet and matchProcesses", () => {
  it("takes the hash and name of the suspicious process triage finds, not the innocent ones", () => {
    const set = matchSetOf();
    const entries = set.iocs.entries.map((e) => `${e.kind}:${e.value}`);
    expect(entries).toContain(`sha256:${WATE_SHA}`);
    expect(entries).toContain("name:wate");
    expect(entries).not.toContain(`sha256:${BUSYBOX_SHA}`);
    expect(entries.some((e) => e === "name:sh" || e === "name:sleep")).toBe(false);
    expect(set.iocs.entries[0]?.origin).toMatch(
      /^triage process\.[a-z-]+, pid 901 in bk-lab-gitlab$/,
    );
  });

  it("finds a renamed copy on the host by its hash", () => {
    const snap = lab({ hostCopy: true });
    const matches = matchProcesses(snap, matchSetOf(snap));
    expect(matches.map((m) => [m.pid, m.where])).toEqual([
      [901, GITLAB],
      [4242, "host"],
    ]);
    const host = matches.find((m) => m.pid === 4242)!;
    expect(host.containerId).toBeNull();
    expect(host.sha256).toBe(WATE_SHA);
    expect(host.user).toBe("root");
    expect(host.commandLine).toBe("/tmp/bk-lab-x/kdevtmpfsd 900");
    expect(host.matchedBy).toHaveLength(1);
    expect(host.matchedBy[0]).toMatch(/^sha256 from triage/);
  });

  it("ignores findings about other containers, false positives and low severities", () => {
    const snap = lab();
    const target = snap.containers.find((c) => c.id === GITLAB_ID)!;
    const cite = (f: Partial<Finding>): Finding => ({
      rule: "test.rule",
      severity: "high",
      confidence: "high",
      title: "t",
      where: GITLAB,
      containerId: GITLAB_ID,
      evidence: [{ pid: 901 }],
      next: "",
      source: "triage",
      falsePositive: null,
      ...f,
    });
    const ctx = { now: NOW, lists: LISTS };
    const none = deriveMatchSet(
      snap,
      target,
      [
        cite({ containerId: fakeContainerId("bk-lab-wordpress") }),
        cite({ falsePositive: "known good" }),
        cite({ severity: "low" }),
      ],
      ctx,
      EMPTY_IOCS,
    );
    expect(none.iocs.entries).toEqual([]);
    const one = deriveMatchSet(snap, target, [cite({})], ctx, EMPTY_IOCS);
    expect(one.iocs.entries.map((e) => e.kind).sort()).toEqual(["name", "sha256"]);
  });

  it("notes a cited process that is not suspicious itself instead of matching every shell", () => {
    const snap = lab();
    const target = snap.containers.find((c) => c.id === GITLAB_ID)!;
    const finding: Finding = {
      rule: "traffic.flood",
      severity: "critical",
      confidence: "high",
      title: "flood",
      where: GITLAB,
      containerId: GITLAB_ID,
      evidence: [{ pid: 900 }],
      next: "",
      source: "triage",
      falsePositive: null,
    };
    const set = deriveMatchSet(snap, target, [finding], { now: NOW, lists: LISTS }, EMPTY_IOCS);
    expect(set.iocs.entries).toEqual([]);
    expect(set.notes).toEqual([
      "pid 900 (sh) is cited by traffic.flood but is not suspicious itself: not an indicator",
    ]);
  });

  it("matches a dropped copy of a generic program by hash only", () => {
    const snap = lab({
      wate: {
        comm: "sh",
        argv: ["/tmp/sh"],
        exe: { path: "/tmp/sh", deleted: true, upperLayer: true, sha256: WATE_SHA },
      },
    });
    const set = matchSetOf(snap);
    expect(set.iocs.entries.map((e) => e.kind)).toEqual(["sha256"]);
    expect(set.notes.some((n) => n.includes('name "sh"') && n.includes("too common"))).toBe(true);
    // The image's own sh (pid 900, busybox) is not caught by the name.
    expect(matchProcesses(snap, set).map((m) => m.pid)).toEqual([901]);
  });

  it("adds the admin's IOCs: a name, and an address a process talks to", () => {
    const snap = lab({
      wate: false,
      extra: (b) => {
        b.process({ pid: 5000, comm: "miner", socketInodes: [777] });
        b.socket({
          inode: 777,
          proto: "tcp",
          state: "ESTABLISHED",
          remoteAddress: "203.0.113.9",
          remotePort: 3333,
          pids: [5000],
        });
        b.process(
          { pid: 5001, comm: "wate", exe: { path: "/usr/local/bin/wate" } },
          "bk-lab-wordpress",
        );
      },
    });
    const set = matchSetOf(snap, iocs("203.0.113.9", "wate"));
    const matches = matchProcesses(snap, set);
    expect(matches.map((m) => m.pid)).toEqual([5001, 5000]);
    expect(matches[1]?.matchedBy[0]).toContain("address 203.0.113.9:3333 (tcp)");
    expect(matches[0]?.where).toBe("bk-lab-wordpress");
  });

  it("skips kernel threads and zombies", () => {
    const snap = lab({
      extra: (b) => {
        b.process({
          pid: 6000,
          comm: "wate",
          state: "Z",
          exe: { path: "/tmp/wate", sha256: WATE_SHA },
        });
        b.process({ pid: 6001, comm: "wate", kernelThread: true });
      },
    });
    expect(matchProcesses(snap, matchSetOf(snap)).map((m) => m.pid)).toEqual([901]);
  });

  it("keeps hostile command lines as data (neutralised only when shown)", () => {
    const snap = lab({ wate: { argv: ["/tmp/wate", "\u001b[2J<b>x</b>\nfake"] } });
    const m = matchProcesses(snap, matchSetOf(snap))[0]!;
    expect(m.commandLine).toBe("/tmp/wate \u001b[2J<b>x</b>\nfake");
  });
});

function target(input: Partial<ContainerInput> = {}) {
  return lab({ gitlab: input }).containers.find((c) => c.id === GITLAB_ID)!;
}

function matchesOf(snap = lab()) {
  return matchProcesses(snap, matchSetOf(snap));
}

describe("planContainment", () => {
  it("refuses a container that is not running, changing nothing", () => {
    const r = planContainment(target({ running: false, state: "exited", pid: null }), "pause", []);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe("not-running");
    expect(r.error.message).toContain("is exited");
    expect(r.error.message).toContain("nothing was changed");
  });

  it("pauses, with unpause as the undo", () => {
    const r = planContainment(target(), "pause", matchesOf());
    expect(r.ok && r.value.steps).toEqual([
      expect.objectContaining({
        kind: "pause",
        command: `docker pause ${GITLAB_ID}`,
        undo: `docker unpause ${GITLAB_ID}`,
      }),
    ]);
  });

  it("has nothing to do for an already paused container, but still plans the verdict", () => {
    const r = planContainment(target({ paused: true, state: "paused" }), "pause", matchesOf());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.steps).toEqual([]);
    expect(r.value.notes[0]).toContain("already paused");
  });

  it("refuses to isolate a container on the host network", () => {
    const r = planContainment(target({ networkMode: "host", networks: ["host"] }), "isolate", []);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe("refused");
    expect(r.error.message).toMatch(/^cannot isolate a container on the host network/);
  });

  it("refuses to isolate a container that borrows another's network", () => {
    const r = planContainment(
      target({ networkMode: `container:${"a".repeat(64)}` }),
      "isolate",
      [],
    );
    expect(!r.ok && r.error.kind).toBe("refused");
  });

  it("says a --network none container is already isolated", () => {
    const r = planContainment(target(), "isolate", matchesOf());
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.steps).toEqual([]);
    expect(r.value.notes[0]).toMatch(/already isolated.*"none"/);
  });

  it("disconnects every network, each with its reconnect", () => {
    const r = planContainment(
      target({ networkMode: "front", networks: ["back", "front"] }),
      "isolate",
      [],
    );
    expect(r.ok && r.value.steps.map((s) => [s.command, s.undo])).toEqual([
      [`docker network disconnect back ${GITLAB_ID}`, `docker network connect back ${GITLAB_ID}`],
      [`docker network disconnect front ${GITLAB_ID}`, `docker network connect front ${GITLAB_ID}`],
    ]);
  });

  it("quotes hostile network names in the printed commands; the terminal sees no escape", () => {
    // Docker 20.10 accepts both names (docker network create); the admin may paste the undo.
    const nets = ["a b;id", "x\u001b[31my'z"];
    const r = planContainment(target({ networkMode: "a b;id", networks: nets }), "isolate", []);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.steps.map((s) => [s.network, s.undo])).toEqual([
      ["a b;id", `docker network connect 'a b;id' ${GITLAB_ID}`],
      ["x\u001b[31my'z", `docker network connect 'x\u001b[31my'\\''z' ${GITLAB_ID}`],
    ]);
    const view = {
      takenAt: NOW.toISOString(),
      plan: r.value,
      indicators: [],
      notes: [],
      matches: [],
      spared: [],
      memoryPids: [],
    };
    const shown = formatPlan(view, pc.createColors(false), true);
    expect(shown).toContain(`docker network disconnect 'x\\e[31my'\\''z' ${GITLAB_ID}`);
    expect(shown).not.toContain("\u001b");
  });

  it("turns the restart policy off before stopping, and undoes both together", () => {
    const r = planContainment(target({ restartPolicy: "on-failure:5" }), "stop", []);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.steps.map((s) => s.kind)).toEqual(["restart-policy", "stop"]);
    expect(r.value.steps[0]?.restartPolicy).toEqual({ from: "on-failure:5", to: "no" });
    const done: ActionRecord[] = r.value.steps.map((s) => ({
      kind: s.kind,
      description: s.description,
      command: s.command,
      undo: s.undo,
      startedAt: "t",
      endedAt: "t",
      ok: true,
      error: null,
    }));
    expect(undoCommands(done)).toEqual([
      `docker update --restart=on-failure:5 ${GITLAB_ID} && docker start ${GITLAB_ID}`,
    ]);
  });

  it("stops without touching a restart policy that is already no", () => {
    const r = planContainment(target(), "stop", []);
    expect(r.ok && r.value.steps.map((s) => s.kind)).toEqual(["stop"]);
  });

  it("kills only the matching processes inside the target, never the host copy", () => {
    const snap = lab({ hostCopy: true });
    const r = planContainment(target(), "kill", matchesOf(snap));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.killPids).toEqual([901]);
    expect(r.value.steps).toEqual([
      expect.objectContaining({ kind: "kill", pid: 901, undo: null }),
    ]);
  });

  it("turns the restart policy off when kill ends the container's init", () => {
    const snap = lab({ wate: { pid: 900, ppid: 800 }, gitlab: { restartPolicy: "always" } });
    const t = snap.containers.find((c) => c.id === GITLAB_ID)!;
    const r = planContainment(
      t,
      "kill",
      matchesOf(snap).filter((m) => m.pid === 900),
    );
    expect(r.ok && r.value.steps.map((s) => s.kind)).toEqual(["restart-policy", "kill"]);
  });

  it("refuses kill when nothing matches in the target, or when it is paused", () => {
    const none = planContainment(target(), "kill", []);
    expect(!none.ok && none.error.message).toMatch(/^nothing to kill/);
    const paused = planContainment(target({ paused: true, state: "paused" }), "kill", matchesOf());
    expect(!paused.ok && paused.error.message).toContain("is paused");
  });

  it("parses restart policies as docker spells them", () => {
    expect(parseRestartPolicy("on-failure:5")).toEqual({ name: "on-failure", max: 5 });
    expect(parseRestartPolicy("always")).toEqual({ name: "always", max: 0 });
    expect(parseRestartPolicy("")).toEqual({ name: "no", max: 0 });
  });
});

function action(kind: ActionRecord["kind"], extra: Partial<ActionRecord> = {}): ActionRecord {
  return {
    kind,
    description: kind,
    command: `docker ${kind} ${GITLAB_ID}`,
    undo: null,
    startedAt: "2026-03-01T12:00:01.000Z",
    endedAt: "2026-03-01T12:00:01.010Z",
    ok: true,
    error: null,
    ...extra,
  };
}

function verdictOf(
  mode: ContainMode,
  before: ReturnType<typeof lab>,
  after: ReturnType<typeof lab>,
  opts: { actions?: ActionRecord[]; freezer?: "frozen" | "thawed" | null } = {},
) {
  const set = matchSetOf(before);
  return judgeContainment({
    mode,
    targetId: GITLAB_ID,
    before,
    after,
    beforeMatches: matchProcesses(before, set),
    afterMatches: matchProcesses(after, set),
    actions: opts.actions ?? [action(mode === "isolate" ? "disconnect" : mode)],
    targetFreezer: opts.freezer === undefined ? (mode === "pause" ? "frozen" : null) : opts.freezer,
  });
}

const pausedGitlab = { paused: true, state: "paused" } as const;

describe("judgeContainment", () => {
  it("pause: CONTAINED when the container is frozen, its traffic stopped and nothing runs elsewhere", () => {
    const v = verdictOf("pause", lab(), lab({ gitlab: pausedGitlab, tx: 0 }));
    expect(v.problems).toEqual([]);
    expect(v.verdict).toBe("CONTAINED");
    expect(v.reasons.join("\n")).toContain("cgroup freezer reads FROZEN");
    expect(v.reasons.join("\n")).toContain(
      "1 matching process(es) remain in bk-lab-gitlab, frozen",
    );
    expect(v.reasons.join("\n")).toMatch(
      /traffic stopped: 0 packets\/s over 2\.0 s \(before: 5,000 packets\/s\)/,
    );
    expect(v.traffic.before.txPacketsPerSec).toBe(5000);
    expect(v.traffic.after.txPacketsPerSec).toBe(0);
  });

  it("pause: NOT CONTAINED while a renamed copy runs on the host, naming its pid and what to do", () => {
    const v = verdictOf(
      "pause",
      lab({ hostCopy: true }),
      lab({ hostCopy: true, gitlab: pausedGitlab, tx: 0 }),
    );
    expect(v.verdict).toBe("NOT CONTAINED");
    expect(v.stillRunning.map((m) => m.pid)).toEqual([4242]);
    expect(v.problems[0]).toMatch(
      /^matching process still running: pid 4242 on the host \(user root\)/,
    );
    expect(v.next[0]).toContain("breachkit collect --pid 4242");
    expect(v.appeared).toEqual([]);
  });

  it("pause: NOT CONTAINED when the freezer says thawed, or traffic goes on", () => {
    const thawed = verdictOf("pause", lab(), lab({ gitlab: pausedGitlab, tx: 0 }), {
      freezer: "thawed",
    });
    expect(thawed.contained).toBe(false);
    expect(thawed.stillRunning.map((m) => m.pid)).toEqual([901]);
    const flowing = verdictOf("pause", lab(), lab({ gitlab: pausedGitlab, tx: 4000 }));
    expect(flowing.contained).toBe(false);
    expect(flowing.problems).toEqual([expect.stringContaining("still sends 4,000 packets/s")]);
  });

  it("flags a matching process that appeared between the snapshots", () => {
    const v = verdictOf("pause", lab(), lab({ hostCopy: true, gitlab: pausedGitlab, tx: 0 }));
    expect(v.contained).toBe(false);
    expect(v.appeared.map((m) => m.pid)).toEqual([4242]);
    expect(
      v.problems.some((p) => p.startsWith("appeared between the two snapshots: pid 4242")),
    ).toBe(true);
  });

  it("does not count a match frozen in another paused container as running", () => {
    const other = (paused: boolean) => (b: SnapshotBuilder) => {
      b.container({ name: "other", paused, state: paused ? "paused" : "running" });
      b.process(
        { pid: 7000, comm: "wate", exe: { path: "/tmp/wate", deleted: true, sha256: WATE_SHA } },
        "other",
      );
    };
    const v = verdictOf(
      "pause",
      lab({ extra: other(true) }),
      lab({ extra: other(true), gitlab: pausedGitlab, tx: 0 }),
    );
    expect(v.contained).toBe(true);
    const w = verdictOf(
      "pause",
      lab({ extra: other(false) }),
      lab({ extra: other(false), gitlab: pausedGitlab, tx: 0 }),
    );
    expect(w.stillRunning.map((m) => m.where)).toEqual(["other"]);
  });

  it("stop: CONTAINED when it exited; not while the restart policy can bring it back", () => {
    const exited = { running: false, state: "exited", pid: null } as const;
    const after = lab({ wate: false, tx: null, gitlab: exited });
    const ok = verdictOf("stop", lab(), after);
    expect(ok.verdict).toBe("CONTAINED");
    expect(ok.reasons.join("\n")).toContain("no network namespace any more");
    const back = verdictOf(
      "stop",
      lab(),
      lab({ wate: false, tx: null, gitlab: { ...exited, restartPolicy: "always" } }),
    );
    expect(back.problems).toEqual([expect.stringContaining('restart policy is "always"')]);
  });

  it("kill: CONTAINED when the killed pid is gone; NOT when it came back under a new pid", () => {
    const kill = [action("kill", { pid: 901, command: "kill -KILL 901" })];
    const gone = verdictOf("kill", lab(), lab({ wate: false, tx: 0 }), { actions: kill });
    expect(gone.verdict).toBe("CONTAINED");
    expect(gone.reasons.join("\n")).toContain("the 1 killed process(es) are gone");
    const respawned = verdictOf(
      "kill",
      lab(),
      lab({ wate: { pid: 903, startTime: "2026-03-01T12:00:02.000Z" }, tx: 0 }),
      {
        actions: kill,
      },
    );
    expect(respawned.contained).toBe(false);
    expect(respawned.stillRunning.map((m) => m.pid)).toEqual([903]);
  });

  it("isolate: loopback traffic inside a namespace with no other interface cannot leave", () => {
    const v = verdictOf("isolate", lab(), lab({ tx: 5000 }), { actions: [] });
    expect(v.verdict).toBe("CONTAINED");
    expect(v.reasons.join("\n")).toContain("no interface but loopback");
    expect(v.next[0]).toContain("still runs inside");
  });

  it("isolate: NOT CONTAINED while a network is still connected or traffic leaves", () => {
    const connected = verdictOf(
      "isolate",
      lab(),
      lab({ gitlab: { networkMode: "front", networks: ["front"] } }),
      {
        actions: [action("disconnect", { ok: false, error: "HTTP 500" })],
      },
    );
    expect(connected.contained).toBe(false);
    expect(connected.problems).toEqual(
      expect.arrayContaining([
        "action failed: disconnect: HTTP 500",
        "bk-lab-gitlab is still connected to: front",
      ]),
    );
    const eth = lab({
      tx: null,
      extra: (b) =>
        b.netns(
          {
            interfaces: [lo(10), { ...lo(10), name: "eth0" }],
            rates: [rate("lo", 0), rate("eth0", 300)],
          },
          GITLAB,
        ),
    });
    const leaking = verdictOf("isolate", lab(), eth);
    expect(leaking.problems).toEqual([
      expect.stringContaining("still sends 300 packets/s off its loopback"),
    ]);
  });

  it("kill: a service's own modest traffic is not a flood", () => {
    const after = lab({ wate: false, tx: 40 });
    const v = verdictOf("kill", lab(), after, { actions: [action("kill", { pid: 901 })] });
    expect(v.contained).toBe(true);
    expect(v.reasons.join("\n")).toContain("below the flood threshold");
  });

  it("cannot claim containment when the traffic was not measured and nothing is frozen", () => {
    const v = verdictOf("kill", lab(), lab({ wate: false, tx: null }), {
      actions: [action("kill", { pid: 901 })],
    });
    expect(v.contained).toBe(false);
    expect(v.problems).toEqual([expect.stringContaining("could not be measured")]);
  });

  it("with no indicators at all, judges state and traffic alone", () => {
    const v = verdictOf(
      "pause",
      lab({ wate: false }),
      lab({ wate: false, gitlab: pausedGitlab, tx: 0 }),
    );
    expect(v.contained).toBe(true);
    expect(v.reasons).toContain("no process matches the indicators anywhere");
  });

  it("reads the container traffic summary when no namespace rates exist", () => {
    const after = lab({ tx: null, gitlab: { ...pausedGitlab, traffic: traffic(0) } });
    const v = verdictOf("pause", lab(), after);
    expect(v.traffic.after.txPacketsPerSec).toBe(0);
    expect(v.contained).toBe(true);
  });
});

describe("MatchedProcess rows", () => {
  it("carry what the tables show", () => {
    const m: MatchedProcess = matchesOf()[0]!;
    expect(Object.keys(m).sort()).toEqual(
      [
        "commandLine",
        "comm",
        "containerId",
        "deleted",
        "exePath",
        "matchedBy",
        "pid",
        "ppid",
        "runsFrom",
        "sha256",
        "startTime",
        "state",
        "uid",
        "user",
        "where",
      ].sort(),
    );
  });
});

// issue 23, item 1: the trojan is a renamed copy of the image's own busybox
// (cp /bin/busybox /tmp/x; /tmp/x sleep 2000 &; rm /tmp/x): it shares its hash with the
// container's PID 1, with every busybox container, and with the host's busybox.
const WEB = "bk-lab-web";
const WEB_ID = fakeContainerId(WEB);
const OTHER = "bk-lab-other";

function busyboxLab(o: { trojan?: boolean; webPaused?: boolean; tx?: number } = {}) {
  const bb = { path: "/bin/busybox", sha256: BUSYBOX_SHA };
  const b = new SnapshotBuilder({ intervalSeconds: 2 })
    .dockerRuntime()
    .container({
      name: WEB,
      networkMode: "none",
      networks: ["none"],
      pid: 1000,
      restartPolicy: "always",
      ...(o.webPaused ? { paused: true, state: "paused" } : {}),
    })
    .container({ name: OTHER, networkMode: "none", networks: ["none"], pid: 2000 });
  b.process({ pid: 1000, ppid: 800, comm: "sleep", argv: ["sleep", "3600"], exe: bb }, WEB);
  b.process({ pid: 2000, ppid: 801, comm: "sleep", argv: ["sleep", "3600"], exe: bb }, OTHER);
  b.process({
    pid: 3000,
    comm: "busybox",
    argv: ["busybox", "httpd", "-f"],
    exe: { path: "/usr/bin/busybox", sha256: BUSYBOX_SHA },
  });
  if (o.trojan !== false) {
    b.process(
      {
        pid: 1010,
        ppid: 1000,
        comm: "x",
        argv: ["/tmp/x", "sleep", "2000"],
        startTime: "2026-03-01T11:00:00.000Z",
        exe: { path: "/tmp/x", deleted: true, upperLayer: true, sha256: BUSYBOX_SHA },
      },
      WEB,
    );
  }
  const tx = o.tx ?? 0;
  b.netns({ interfaces: [lo(100)], rates: [rate("lo", tx, tx)] }, WEB);
  return b.build();
}

function busyboxSet(snap = busyboxLab(), iocSet: IocSet = EMPTY_IOCS) {
  const web = snap.containers.find((c) => c.id === WEB_ID)!;
  const ctx = { now: NOW, iocs: iocSet, lists: LISTS };
  return deriveMatchSet(snap, web, judge(snap, ctx), ctx, iocSet);
}

describe("a trojan that is a renamed copy of the image's busybox", () => {
  it("matches only the dropped copy; the image's and the host's busybox are set aside, with why", () => {
    const snap = busyboxLab();
    const set = busyboxSet(snap);
    expect(set.iocs.entries.map((e) => `${e.kind}:${e.value}`)).toContain(`sha256:${BUSYBOX_SHA}`);
    const r = matchAll(snap, set);
    expect(r.matches.map((m) => m.pid)).toEqual([1010]);
    const trojan = r.matches[0]!;
    expect(trojan.matchedBy.join("; ")).toMatch(/^sha256 from triage /);
    expect(trojan.runsFrom).toBe("a deleted file /tmp/x in the container's writable layer");
    expect(r.spared.map((m) => m.pid)).toEqual([2000, 1000, 3000]);
    expect(r.spared.find((m) => m.pid === 1000)?.runsFrom).toBe(
      "/bin/busybox, the image's own file",
    );
    expect(r.spared.find((m) => m.pid === 3000)?.runsFrom).toBe(
      "/usr/bin/busybox, an installed file on the host",
    );
    expect(r.notes).toContain(
      "pid 1000 (sleep) in bk-lab-web shares the hash of an indicator but runs /bin/busybox, the image's own file: a program, not the intrusion; not matched, never killed (to include it, name it: --ioc path:/bin/busybox)",
    );
  });

  it("kill mode signals exactly the trojan, not PID 1, and says why in the plan", () => {
    const snap = busyboxLab();
    const web = snap.containers.find((c) => c.id === WEB_ID)!;
    const view = matchAll(snap, busyboxSet(snap));
    const plan = planContainment(web, "kill", view.matches);
    if (!plan.ok) throw new Error(plan.error.message);
    expect(plan.value.killPids).toEqual([1010]);
    // PID 1 is not killed, so the restart policy is left alone.
    expect(plan.value.steps.map((st) => st.kind)).toEqual(["kill"]);
    expect(plan.value.steps[0]?.description).toContain(
      "runs a deleted file /tmp/x in the container's writable layer; matched by sha256 from triage",
    );
    const shown = formatPlan(
      {
        takenAt: NOW.toISOString(),
        plan: plan.value,
        indicators: [],
        notes: view.notes,
        matches: view.matches,
        spared: view.spared,
        memoryPids: [],
      },
      pc.createColors(false),
      true,
    );
    expect(shown).toContain("Set aside: 3 process(es)");
    expect(shown).toContain("runs /bin/busybox, the image's own file");
  });

  it("kill: CONTAINED when only the trojan was killed; no step tells to contain other busybox containers", () => {
    const before = busyboxLab();
    const after = busyboxLab({ trojan: false });
    const set = busyboxSet(before);
    const b = matchAll(before, set);
    const a = matchAll(after, set);
    const v = judgeContainment({
      mode: "kill",
      targetId: WEB_ID,
      before,
      after,
      beforeMatches: b.matches,
      afterMatches: a.matches,
      afterSpared: a.spared,
      actions: [action("kill", { pid: 1010, command: "kill -KILL 1010" })],
      targetFreezer: null,
    });
    expect(v.problems).toEqual([]);
    expect(v.verdict).toBe("CONTAINED");
    expect(v.stillRunning).toEqual([]);
    expect(v.next).toEqual([]);
    expect(v.reasons.join("\n")).toContain(
      "3 process(es) share an indicator's hash or name but run a program's own file (bk-lab-other, bk-lab-web, host)",
    );
  });

  it("pause: CONTAINED with the trojan frozen while other busybox containers run on", () => {
    const before = busyboxLab();
    const after = busyboxLab({ webPaused: true });
    const set = busyboxSet(before);
    const a = matchAll(after, set);
    const v = judgeContainment({
      mode: "pause",
      targetId: WEB_ID,
      before,
      after,
      beforeMatches: matchAll(before, set).matches,
      afterMatches: a.matches,
      afterSpared: a.spared,
      actions: [action("pause")],
      targetFreezer: "frozen",
    });
    expect(v.problems).toEqual([]);
    expect(v.verdict).toBe("CONTAINED");
    expect(v.next.some((n) => n.includes(OTHER))).toBe(false);
  });

  it("matches the image's busybox only when the admin names it (path), never by a hash alone", () => {
    const snap = busyboxLab({ trojan: false });
    const byHash = matchAll(snap, busyboxSet(snap, iocs(BUSYBOX_SHA)));
    expect(byHash.matches).toEqual([]);
    expect(byHash.spared.map((m) => m.pid)).toEqual([2000, 1000, 3000]);
    const byPath = matchAll(snap, busyboxSet(snap, iocs("path:/bin/busybox")));
    expect(byPath.matches.map((m) => m.pid)).toEqual([2000, 1000]);
    expect(byPath.matches[1]?.matchedBy).toEqual(["path /bin/busybox (exe path) from --ioc"]);
  });
});
