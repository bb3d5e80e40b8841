import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { PF_KTHREAD, parseStat, parseStatus } from "../../../../src/observe/proc/stat.js";

const real = (name: string) =>
  readFileSync(new URL(`../../../fixtures/proc/real/${name}`, import.meta.url), "utf8");

describe("parseStat", () => {
  it("reads a recorded process in a container", () => {
    const s = parseStat(real("stat-container-httpd"));
    expect(s).toMatchObject({ comm: "busybox", state: "S", kernelThread: false, numThreads: 1 });
    expect(s?.pid).toBeGreaterThan(1);
    expect(s?.starttime).toBeGreaterThan(0);
    expect(s?.rssPages).toBeGreaterThan(0);
  });

  it("recognises kernel threads by PF_KTHREAD", () => {
    const s = parseStat(real("stat-kthreadd"));
    expect(s).toMatchObject({ pid: 2, comm: "kthreadd", ppid: 0, kernelThread: true });
    expect((s?.flags ?? 0) & PF_KTHREAD).not.toBe(0);
    expect(parseStat(real("stat-init"))).toMatchObject({ pid: 1, kernelThread: false });
  });

  it("splits a hostile comm (parentheses, fake fields, newline, ANSI) at the last ')'", () => {
    // Recorded: a process that renamed itself with prctl(PR_SET_NAME, "a) R 1 (<b>\n\e[3").
    const s = parseStat(real("stat-hostile-comm"));
    expect(s?.comm).toBe("a) R 1 (<b>\n\u001b[3");
    // Split at the first ')', the fake " R 1 (" would give state R.
    expect(s).toMatchObject({ pid: 15583, state: "S", ppid: 1, flags: 4194560, numThreads: 1 });
  });

  it("reads a zombie", () => {
    expect(parseStat(real("stat-zombie"))).toMatchObject({ state: "Z", comm: "python3" });
  });

  it("computes the fields at their documented positions", () => {
    // Fields 1..24 numbered by value: utime=14, stime=15, num_threads=20, starttime=22, rss=24.
    const text = "42 (x y) R 7 5 6 0 -1 4194560 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25";
    expect(parseStat(text)).toEqual({
      pid: 42,
      comm: "x y",
      state: "R",
      ppid: 7,
      flags: 4194560,
      utime: 14,
      stime: 15,
      numThreads: 20,
      starttime: 22,
      rssPages: 24,
      kernelThread: false,
    });
  });

  it("returns null for truncated or garbage text", () => {
    const full = real("stat-container-httpd");
    expect(parseStat(full.slice(0, 40))).toBeNull();
    expect(parseStat(full.slice(0, full.indexOf(")")))).toBeNull();
    expect(parseStat("")).toBeNull();
    expect(parseStat("<html>hello (world)</html>")).toBeNull();
    expect(parseStat(full.replace(/^\d+/, "x"))).toBeNull();
  });
});

describe("parseStatus", () => {
  it("reads ids, threads, RSS and NSpid of a recorded container process", () => {
    const s = parseStatus(real("status-container-httpd"));
    expect(s).toMatchObject({ name: "busybox", uid: { real: 0, effective: 0 }, threads: 1 });
    expect(s?.vmRssBytes).toBeGreaterThan(0);
    // In its own pid namespace the container's init is pid 1; the host pid comes first.
    expect(s?.nspid).toHaveLength(2);
    expect(s?.nspid[1]).toBe(1);
  });

  it("unescapes the name and is not fooled by it", () => {
    const s = parseStatus(real("status-hostile-comm"));
    expect(s?.name).toBe("a) R 1 (<b>\n\u001b[3");
    expect(s?.uid.effective).toBe(0);
  });

  it("has no RSS for kernel threads and zombies", () => {
    expect(parseStatus(real("status-kthreadd"))?.vmRssBytes).toBeNull();
    expect(parseStatus(real("status-zombie"))?.vmRssBytes).toBeNull();
  });

  it("separates real from effective ids", () => {
    const s = parseStatus(
      "Name:\tsu\nPPid:\t1\nUid:\t1000\t0\t0\t0\nGid:\t1000\t1000\t1000\t1000\n",
    );
    expect(s?.uid).toEqual({ real: 1000, effective: 0 });
    expect(s?.ppid).toBe(1);
  });

  it("returns null when truncated before Uid or Gid", () => {
    const full = real("status-container-httpd");
    expect(parseStatus(full.slice(0, full.indexOf("Uid:")))).toBeNull();
    expect(parseStatus(full.slice(0, full.indexOf("Gid:") + 6))).toBeNull();
    expect(parseStatus("garbage\n\u0000\u001b[2J")).toBeNull();
  });
});
