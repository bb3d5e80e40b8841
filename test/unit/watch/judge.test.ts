import { describe, expect, it } from "vitest";
import { shippedLists } from "../../../src/judge/rule-lists.js";
import { WatchJudge } from "../../../src/judge/watch/sample.js";
import { loadWatchThresholds } from "../../../src/judge/watch/thresholds.js";
import {
  type WatchPlaceReading,
  type WatchProcess,
  type WatchReading,
  WatchSampleSchema,
} from "../../../src/model/watch-sample.js";

const GITLAB = "a".repeat(64);
const WP = "b".repeat(64);

function thresholds() {
  const t = loadWatchThresholds();
  if (!t.ok) throw new Error(t.error.message);
  return t.value;
}

function place(p: Partial<WatchPlaceReading> & { name: string }): WatchPlaceReading {
  return {
    containerId: null,
    cpuNs: 0,
    memoryBytes: 0,
    tasks: null,
    processes: 1,
    network: "own",
    counters: { rxPackets: 0, txPackets: 0, rxBytes: 0, txBytes: 0 },
    destinations: [],
    listeners: [],
    busiestPort: null,
    ...p,
  };
}

function reading(
  places: WatchPlaceReading[],
  atS: number,
  extra: Partial<WatchReading> = {},
): WatchReading {
  return {
    atMs: 1_700_000_000_000 + atS * 1000,
    monoMs: atS * 1000,
    places,
    newProcesses: [],
    ancestors: [],
    engineError: null,
    gaps: [],
    first: atS === 0,
    ...extra,
  };
}

function proc(p: Partial<WatchProcess> & { pid: number }): WatchProcess {
  return {
    ppid: 1,
    comm: "x",
    starttime: 1,
    containerId: null,
    exePath: "/usr/bin/x",
    deleted: false,
    memfd: false,
    ...p,
  };
}

const counters = (tx: number, rx = 0) => ({
  rxPackets: rx,
  txPackets: tx,
  rxBytes: rx * 100,
  txBytes: tx * 100,
});

describe("watch judge: rates", () => {
  it("turns counters into per-second rates, and the host row is the machine less its containers", () => {
    const j = new WatchJudge(thresholds(), shippedLists());
    j.step(
      reading(
        [
          place({ name: "host", cpuNs: 10e9, memoryBytes: 1000e6, counters: counters(0) }),
          place({
            name: "gitlab",
            containerId: GITLAB,
            cpuNs: 1e9,
            memoryBytes: 200e6,
            counters: counters(0),
          }),
        ],
        0,
      ),
    );
    const s = j.step(
      reading(
        [
          // the machine was busy 1.5 cores over 2 s, the container 0.5 core
          place({ name: "host", cpuNs: 13e9, memoryBytes: 1000e6, counters: counters(200) }),
          place({
            name: "gitlab",
            containerId: GITLAB,
            cpuNs: 2e9,
            memoryBytes: 200e6,
            counters: counters(4000, 10),
          }),
        ],
        2,
      ),
    );
    expect(WatchSampleSchema.parse(s)).toBeTruthy();
    expect(s.intervalMs).toBe(2000);
    const host = s.rows.find((r) => r.place === "host")!;
    const gitlab = s.rows.find((r) => r.place === "gitlab")!;
    expect(gitlab.cpuPercent).toBe(50);
    expect(host.cpuPercent).toBe(100);
    expect(host.memoryBytes).toBe(800e6);
    expect(gitlab.txPacketsPerSec).toBe(2000);
    expect(gitlab.rxPacketsPerSec).toBe(5);
    expect(gitlab.txBytesPerSec).toBe(200000);
    expect(host.txPacketsPerSec).toBe(100);
  });

  it("gives zero, not a negative rate, for a counter that went back (a namespace recreated)", () => {
    const j = new WatchJudge(thresholds(), shippedLists());
    j.step(reading([place({ name: "c", containerId: GITLAB, counters: counters(5000) })], 0));
    const s = j.step(
      reading([place({ name: "c", containerId: GITLAB, counters: counters(10) })], 1),
    );
    expect(s.rows[0]!.txPacketsPerSec).toBe(0);
  });
});

describe("watch judge: alarms", () => {
  it("raises a flood for a place over the threshold, and none just under it", () => {
    const t = thresholds();
    const j = new WatchJudge(t, shippedLists());
    j.step(
      reading(
        [
          place({ name: "gitlab", containerId: GITLAB, counters: counters(0) }),
          place({ name: "wordpress", containerId: WP, counters: counters(0) }),
        ],
        0,
      ),
    );
    const s = j.step(
      reading(
        [
          place({ name: "gitlab", containerId: GITLAB, counters: counters(t.txPacketsPerSec + 1) }),
          place({ name: "wordpress", containerId: WP, counters: counters(t.txPacketsPerSec) }),
        ],
        1,
      ),
    );
    expect(s.alarms).toEqual([
      expect.objectContaining({ rule: "watch.flood", place: "gitlab", severity: "high" }),
    ]);
  });

  it("raises a fan-out for one remote port towards many addresses", () => {
    const t = thresholds();
    const j = new WatchJudge(t, shippedLists());
    const s = j.step(
      reading(
        [
          place({
            name: "a",
            containerId: GITLAB,
            busiestPort: { port: 80, addresses: t.destinationsPerPort },
          }),
          place({
            name: "b",
            containerId: WP,
            busiestPort: { port: 80, addresses: t.destinationsPerPort - 1 },
          }),
        ],
        0,
      ),
    );
    expect(s.alarms.map((a) => [a.rule, a.place])).toEqual([["watch.fan-out", "a"]]);
  });

  it("raises a new listener once, only against the place's previous reading", () => {
    const j = new WatchJudge(thresholds(), shippedLists());
    const first = j.step(reading([place({ name: "host", listeners: ["tcp 0.0.0.0:22"] })], 0));
    expect(first.alarms).toEqual([]);
    // not read at this tick: nothing changes
    expect(j.step(reading([place({ name: "host", listeners: null })], 1)).alarms).toEqual([]);
    const s = j.step(
      reading([place({ name: "host", listeners: ["tcp 0.0.0.0:22", "tcp 0.0.0.0:4444"] })], 2),
    );
    expect(s.alarms).toEqual([
      expect.objectContaining({
        rule: "watch.new-listener",
        text: "new listening socket tcp 0.0.0.0:4444",
      }),
    ]);
    expect(
      j.step(
        reading([place({ name: "host", listeners: ["tcp 0.0.0.0:22", "tcp 0.0.0.0:4444"] })], 3),
      ).alarms,
    ).toEqual([]);
  });

  it("judges new processes with triage's rules: deleted, temp dir, memfd", () => {
    const j = new WatchJudge(thresholds(), shippedLists());
    const s = j.step(
      reading([place({ name: "host" }), place({ name: "bk-lab-gitlab", containerId: GITLAB })], 1, {
        newProcesses: [
          proc({ pid: 10, comm: "wate", containerId: GITLAB, exePath: "/tmp/wate", deleted: true }),
          proc({ pid: 11, comm: "dropper", exePath: "/dev/shm/x" }),
          proc({ pid: 12, comm: "fileless", exePath: "/memfd:x", deleted: true, memfd: true }),
          proc({ pid: 13, comm: "ls", exePath: "/usr/bin/ls" }),
        ],
      }),
    );
    const got = s.alarms.map((a) => [a.rule, a.place, a.severity]);
    expect(got).toContainEqual(["process.deleted-exe", "bk-lab-gitlab", "critical"]);
    expect(got).toContainEqual(["process.exe-in-tmp", "host", "high"]);
    expect(got).toContainEqual(["process.memfd-exe", "host", "high"]);
    expect(s.alarms.some((a) => a.text.includes("ls"))).toBe(false);
  });

  it("does not alarm on a container runtime's memfd (runc under containerd-shim)", () => {
    const j = new WatchJudge(thresholds(), shippedLists());
    const s = j.step(
      reading([place({ name: "host" })], 1, {
        newProcesses: [
          proc({
            pid: 20,
            ppid: 19,
            comm: "runc:[2:INIT]",
            exePath: "/memfd:runc_cloned:/proc/self/exe",
            deleted: true,
            memfd: true,
          }),
        ],
        ancestors: [
          proc({ pid: 19, comm: "containerd-shim", exePath: "/usr/bin/containerd-shim-runc-v2" }),
        ],
      }),
    );
    expect(s.alarms).toEqual([]);
  });

  it("carries the engine's error into the sample", () => {
    const j = new WatchJudge(thresholds(), shippedLists());
    const s = j.step(
      reading([place({ name: "host" })], 0, { engineError: "connect ENOENT /var/run/docker.sock" }),
    );
    expect(s.engineError).toContain("ENOENT");
  });
});
