import { mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InterfaceCounters, NetNamespace } from "../../../../src/model/snapshot.js";
import { NetNamespaceSchema, SocketSchema } from "../../../../src/model/snapshot.js";
import { readNetwork, trafficRates } from "../../../../src/observe/proc/network.js";
import { readProcesses } from "../../../../src/observe/proc/processes.js";
import { buildFakeProc, CT_NS, fakeStat, fakeStatus, HOST_NS } from "./fake-proc.js";

const real = (name: string) =>
  readFileSync(new URL(`../../../fixtures/proc/real/${name}`, import.meta.url), "utf8");
const CID = "bd980c775dcf5fd318e3ef57e089f61b614b6d068c762f856c3dcdd594f5bf94";
const netOf = (ns: "host" | "container") =>
  Object.fromEntries(
    ["tcp", "tcp6", "udp", "udp6", "raw", "raw6", "dev"].map((t) => [t, real(`net-${ns}-${t}`)]),
  );

const dir = mkdtempSync(join(tmpdir(), "bk-net-"));
const root = join(dir, "proc");

beforeAll(() => {
  // pid 1: the host namespace, holding the listening socket 1678 of the recorded table.
  buildFakeProc(root, {
    pid: 1,
    stat: fakeStat(1, "init", { starttime: 1 }),
    status: fakeStatus("init"),
    exe: "/sbin/init",
    fds: { "3": "socket:[1678]" },
    net: netOf("host"),
  });
  // Two processes of the container: the older one has no net dir any more (it is exiting),
  // so the reader must fall back to the next.
  const container = { cgroup: real("cgroup-v1-docker-cgroupfs"), ns: CT_NS, exe: "/bin/busybox" };
  buildFakeProc(root, {
    pid: 40,
    stat: fakeStat(40, "sh", { starttime: 500 }),
    status: fakeStatus("sh"),
    ...container,
  });
  buildFakeProc(root, {
    pid: 41,
    stat: fakeStat(41, "httpd", { starttime: 600 }),
    status: fakeStatus("httpd"),
    fds: { "3": "socket:[134913]" },
    net: netOf("container"),
    ...container,
  });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The fake tree's processes, as readNetwork takes them. */
const readFake = () => readProcesses({ procRoot: root, bootTimeMs: 0, clockTicks: 100 });

describe("readNetwork", () => {
  it("reads each namespace once and ties sockets to pids and containers", async () => {
    const { processes } = await readFake();
    const { sockets, netns, gaps } = await readNetwork(processes, { procRoot: root });
    expect(gaps).toEqual([]);
    expect(netns.map((n) => [n.inode, n.readerPid, n.host, n.containerIds])).toEqual([
      [HOST_NS.net, 1, true, []],
      [CT_NS.net, 41, false, [CID]],
    ]);
    for (const n of netns) expect(NetNamespaceSchema.safeParse(n).success).toBe(true);
    for (const s of sockets) expect(SocketSchema.safeParse(s).success).toBe(true);

    const listen = sockets.find((s) => s.inode === 134913);
    expect(listen).toMatchObject({
      proto: "tcp",
      netns: CT_NS.net,
      localAddress: "127.0.0.1",
      localPort: 8080,
      state: "LISTEN",
      pids: [41],
      containerId: CID,
    });
    expect(sockets.find((s) => s.inode === 1678)).toMatchObject({ pids: [1], containerId: null });
    // TIME_WAIT has inode 0: never matched to a process.
    expect(sockets.find((s) => s.state === "TIME_WAIT")?.pids).toEqual([]);
    // Every recorded host socket is there: 3 tcp, 3 tcp6, 2 udp, 1 udp6, 1 raw, 1 raw6.
    expect(sockets.filter((s) => s.netns === HOST_NS.net)).toHaveLength(11);
    expect(netns[1]?.interfaces.map((i) => i.name)).toEqual(["lo"]);
  });

  it("reports a namespace that no process lets it read", async () => {
    const { processes } = await readFake();
    const only40 = processes.filter((p) => p.pid !== 41);
    const { netns, gaps } = await readNetwork(only40, { procRoot: root });
    expect(netns.map((n) => n.inode)).toEqual([HOST_NS.net]);
    expect(gaps).toHaveLength(1);
    expect(gaps[0]?.message).toContain(`network namespace ${CT_NS.net} not read`);
  });
});

describe("readNetwork when a process leaves its namespace", () => {
  it("does not take another namespace's tables for the one it was read in", async () => {
    const { processes } = await readFake();
    // pid 1 joins another namespace (setns) after the processes were read.
    const link = join(root, "1", "ns", "net");
    rmSync(link);
    symlinkSync("net:[4026539999]", link);
    try {
      const { netns, gaps } = await readNetwork(processes, { procRoot: root });
      expect(netns.map((n) => n.inode)).toEqual([CT_NS.net]);
      expect(gaps.map((g) => g.message)).toEqual([
        `network namespace ${HOST_NS.net} not read: left the namespace`,
      ]);
    } finally {
      rmSync(link);
      symlinkSync(`net:[${HOST_NS.net}]`, link);
    }
  });
});

describe("trafficRates", () => {
  const iface = (name: string, rxPackets: number, txBytes: number): InterfaceCounters => ({
    name,
    rxBytes: rxPackets * 100,
    rxPackets,
    rxErrors: 0,
    rxDrops: 0,
    txBytes,
    txPackets: 0,
    txErrors: 0,
    txDrops: 0,
  });
  const ns = (inode: number, interfaces: InterfaceCounters[]): NetNamespace => ({
    inode,
    readerPid: 1,
    containerIds: [],
    host: false,
    interfaces,
    rates: [],
  });

  it("computes per-interface rates per namespace", () => {
    const out = trafficRates(
      [ns(1, [iface("lo", 1000, 0), iface("eth0", 10, 500)])],
      [ns(1, [iface("lo", 251_000, 0), iface("eth0", 30, 1500)])],
      2,
    );
    expect(out[0]?.rates).toEqual([
      {
        name: "lo",
        intervalSeconds: 2,
        rxPacketsPerSec: 125_000,
        txPacketsPerSec: 0,
        rxBytesPerSec: 12_500_000,
        txBytesPerSec: 0,
      },
      {
        name: "eth0",
        intervalSeconds: 2,
        rxPacketsPerSec: 10,
        txPacketsPerSec: 0,
        rxBytesPerSec: 1000,
        txBytesPerSec: 500,
      },
    ]);
  });

  it("treats a counter that went down as reset, and skips what was not seen twice", () => {
    const out = trafficRates(
      [ns(1, [iface("veth0", 900, 900)])],
      [ns(1, [iface("veth0", 40, 100), iface("veth1", 5, 5)]), ns(2, [iface("lo", 1, 1)])],
      1,
    );
    expect(out[0]?.rates).toHaveLength(1);
    expect(out[0]?.rates[0]).toMatchObject({ rxPacketsPerSec: 40, txBytesPerSec: 100 });
    expect(out[1]?.rates).toEqual([]);
  });

  it("rejects a zero interval", () => {
    expect(() => trafficRates([], [], 0)).toThrow(RangeError);
  });
});
