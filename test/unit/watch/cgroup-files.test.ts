import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  cgroupFiles,
  cgroupPaths,
  parseCgroupMounts,
  parseCgroupValue,
  parseConntrack,
  parseMemUsed,
  parseProcStatBusy,
} from "../../../src/observe/watch/cgroup-files.js";

const PROC = join(process.cwd(), "test/fixtures/proc");
const WATCH = join(process.cwd(), "test/fixtures/watch");
const read = (p: string) => readFileSync(p, "utf8");
const ID = "bd980c775dcf5fd318e3ef57e089f61b614b6d068c762f856c3dcdd594f5bf94";
const HAND_ID = "4f6e0b8c2a1d9e7f3b5c6a8d0e2f4a6b8c0d2e4f6a8b0c2d4e6f8a0b2c4d6e8f";

describe("cgroup mounts and files", () => {
  it("finds the v1 controllers and the unified mount of this machine (hybrid, recorded)", () => {
    const m = parseCgroupMounts(read(join(PROC, "real/mountinfo-host")));
    expect(m.v1.get("cpuacct")).toBe("/sys/fs/cgroup/cpuacct");
    expect(m.v1.get("memory")).toBe("/sys/fs/cgroup/memory");
    expect(m.v1.get("pids")).toBe("/sys/fs/cgroup/pids");
    expect(m.v2).toBe("/sys/fs/cgroup/unified");
  });

  it("reads a Docker container's v1 files under /docker/<id> (recorded cgroup)", () => {
    const m = parseCgroupMounts(read(join(PROC, "real/mountinfo-host")));
    const f = cgroupFiles(m, read(join(PROC, "real/cgroup-v1-docker-cgroupfs")));
    expect(f.cpu).toEqual({
      path: `/sys/fs/cgroup/cpuacct/docker/${ID}/cpuacct.usage`,
      kind: "cpuacct.usage",
    });
    expect(f.memory?.path).toBe(`/sys/fs/cgroup/memory/docker/${ID}/memory.usage_in_bytes`);
    expect(f.tasks?.path).toBe(`/sys/fs/cgroup/pids/docker/${ID}/pids.current`);
  });

  it("reads a v2 systemd scope and a kubepods scope from the one cgroup2 mount", () => {
    const m = parseCgroupMounts(read(join(WATCH, "mountinfo-v2-systemd")));
    expect(m.v1.size).toBe(0);
    expect(m.v2).toBe("/sys/fs/cgroup");
    const f = cgroupFiles(m, read(join(PROC, "hand/cgroup/v2-systemd-docker.txt")));
    expect(f.cpu).toEqual({
      path: `/sys/fs/cgroup/system.slice/docker-${HAND_ID}.scope/cpu.stat`,
      kind: "cpu.stat",
    });
    expect(f.memory?.path).toBe(
      `/sys/fs/cgroup/system.slice/docker-${HAND_ID}.scope/memory.current`,
    );
    const k = cgroupFiles(m, read(join(PROC, "hand/cgroup/v2-kubepods-containerd.txt")));
    expect(k.tasks?.path).toMatch(/cri-containerd-[0-9a-f]{64}\.scope\/pids\.current$/);
  });

  it("refuses a path that climbs out of the hierarchy", () => {
    expect(cgroupPaths("4:memory:/docker/../../etc\n0::/a/../b").size).toBe(0);
  });

  it("parses the values: cpuacct ns, cpu.stat usec, bytes; garbage is null", () => {
    expect(parseCgroupValue("123456789\n", "cpuacct.usage")).toBe(123456789);
    expect(parseCgroupValue(read(join(WATCH, "cpu.stat-v2")), "cpu.stat")).toBe(84512334000);
    expect(parseCgroupValue("max\n", "count")).toBeNull();
    expect(parseCgroupValue("", "bytes")).toBeNull();
  });

  it("reads the machine's busy CPU ticks and used memory (recorded /proc/stat, meminfo)", () => {
    // cpu  7350 0 15360 122962 252 0 62 21: user+nice+system+irq+softirq+steal
    expect(parseProcStatBusy(read(join(PROC, "real/stat")))).toBe(7350 + 0 + 15360 + 0 + 62 + 21);
    expect(parseMemUsed(read(join(PROC, "real/meminfo")))).toBe((24684084 - 24231864) * 1024);
    expect(parseProcStatBusy("nonsense")).toBeNull();
  });

  it("parses conntrack's original direction and skips garbage", () => {
    const flows = parseConntrack(read(join(WATCH, "nf_conntrack")));
    expect(flows).toHaveLength(4);
    expect(flows[0]).toEqual({ src: "172.17.0.2", dst: "192.0.2.10", dport: 443, proto: "tcp" });
    expect(flows[1]).toMatchObject({ src: "172.17.0.3", dport: 53, proto: "udp" });
  });
});
