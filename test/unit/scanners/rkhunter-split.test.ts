/**
 * rkhunter split over processes (observe/scanners/rkhunter.ts): which tests each process runs,
 * and how their logs become one answer. The real run of a split against a serial run on the
 * same tests is in test/integration/scan-tools.test.ts (never rkhunter's full check in a test).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  mergeRkhunterLogs,
  parseRkhunterLog,
  planRkhunterSplit,
  RKHUNTER_GROUPS,
  rkhunterArgs,
  rkhunterLeaves,
} from "../../../src/observe/scanners/rkhunter.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../fixtures/scanners/${name}`, import.meta.url), "utf8");

/** `rkhunter --list tests` as recorded from rkhunter 1.4.6 here. */
function listedTests(): { names: string[]; groups: Record<string, string[]> } {
  const text = fixture("rkhunter-1.4.6-list-tests.stdout");
  const [current, grouped] = text.split("Grouped test names:");
  const names = current!
    .replace("Current test names:", "")
    .split(/\s+/)
    .filter((n) => n && n !== "all" && n !== "none");
  const groups: Record<string, string[]> = {};
  for (const line of grouped!.split("\n")) {
    const m = /^\s*(\S+)\s*=>\s*(.*)$/.exec(line);
    if (m) groups[m[1]!] = m[2]!.trim().split(/\s+/);
  }
  return { names, groups };
}

const listed = listedTests();
const leaves = listed.names.filter((n) => !(n in listed.groups));

/** The tests a process runs under a full-check share, with the configuration's own lists. */
function runsIn(disable: readonly string[], test: string): boolean {
  if (disable.includes(test)) return false;
  // rkhunter enters a test only through its sections' gates (check_test GROUP).
  return Object.entries(listed.groups).every(
    ([g, ts]) => !ts.includes(test) || !disable.includes(g),
  );
}

describe("rkhunter's tests dealt out to processes", () => {
  it("knows rkhunter 1.4.6's groups exactly as `rkhunter --list tests` prints them", () => {
    expect(RKHUNTER_GROUPS).toEqual(listed.groups);
    expect(leaves.length).toBeGreaterThan(25);
  });

  it("full check: every test runs in exactly one process, none is lost to a section gate", () => {
    for (const n of [2, 3]) {
      const shares = planRkhunterSplit(n);
      expect(shares).toHaveLength(n);
      for (const t of leaves) {
        const count = shares.filter((s) => runsIn(s.disable ?? [], t)).length;
        expect(count, `${t} with ${n} processes`).toBe(1);
      }
      // A test this table does not know (a newer rkhunter) runs everywhere: never lost.
      expect(shares.every((s) => runsIn(s.disable ?? [], "some_new_test"))).toBe(true);
      expect(shares.every((s) => s.enable === undefined)).toBe(true);
    }
  });

  it("keeps the four file-properties tests in one process, away from known_rkts", () => {
    const shares = planRkhunterSplit(2);
    const props = shares.filter((s) => runsIn(s.disable ?? [], "hashes"));
    expect(props).toHaveLength(1);
    for (const t of ["attributes", "immutable", "scripts"]) {
      expect(runsIn(props[0]!.disable ?? [], t)).toBe(true);
    }
    expect(runsIn(props[0]!.disable ?? [], "known_rkts")).toBe(false);
    // The other process skips the whole file-properties section and its set-up.
    const other = shares.find((s) => s !== props[0])!;
    expect(other.disable).toContain("properties");
    expect(other.disable).toContain("system_commands");
  });

  it("a restricted run deals out the names asked, each once", () => {
    const tests = ["group_accounts", "system_configs_ssh", "filesystem"];
    const shares = planRkhunterSplit(2, tests);
    expect(shares).toHaveLength(2);
    expect(shares.flatMap((s) => s.enable ?? []).sort()).toEqual([...tests].sort());
    expect(shares.every((s) => s.disable === undefined)).toBe(true);
    expect(planRkhunterSplit(1, tests)).toEqual([{ enable: tests }]);
    expect(planRkhunterSplit(2, ["ports"])).toEqual([{ enable: ["ports"] }]);
    expect(planRkhunterSplit(1)).toEqual([{}]);
    expect(rkhunterLeaves("group_accounts")).toEqual(["group_changes", "passwd_changes"]);
    expect(rkhunterLeaves("ports")).toEqual(["ports"]);
  });

  it("puts a share into rkhunter's arguments, without verbose logging", () => {
    const args = rkhunterArgs("/t/l", "/t/db", "/t/tmp", [], { disable: ["a", "b"] });
    expect(args).toContain("--novl");
    expect(args).not.toContain("--nolog");
    expect(args.slice(-2)).toEqual(["--disable", "a,b"]);
    expect(rkhunterArgs("/t/l", "/t/db", "/t/tmp", [], { enable: ["x"] }).slice(-2)).toEqual([
      "--enable",
      "x",
    ]);
  });
});

describe("the logs of a split run merged", () => {
  const host = fixture("rkhunter-1.4.6-host.log");
  const shm = fixture("rkhunter-1.4.6-deleted-files-dev-shm.log");

  it("keeps every warning, counts lines in the joined log, adds up the summary", () => {
    const { text, log } = mergeRkhunterLogs([host, shm]);
    const a = parseRkhunterLog(host);
    const b = parseRkhunterLog(shm);
    expect(log.complete).toBe(true);
    expect(log.ends).toBe(2);
    const lines = text.split("\n");
    for (const w of log.warnings) {
      expect(lines[w.line - 1]).toMatch(/^\[\d\d:\d\d:\d\d\] Warning: /);
      expect(lines[w.line - 1]).toContain(w.text);
    }
    // The host log's "/etc/.java" warning is also in the second log: kept once.
    const java = (l: { warnings: { text: string }[] }) =>
      l.warnings.filter((w) => w.text.includes("/etc/.java")).length;
    expect(java(a)).toBe(1);
    expect(java(b)).toBe(1);
    expect(java(log)).toBe(1);
    expect(log.warnings.length).toBe(a.warnings.length + b.warnings.length - 1);
    for (const k of Object.keys(a.summary)) {
      expect(log.summary[k]).toBe((a.summary[k] ?? 0) + (b.summary[k] ?? 0));
    }
  });

  it("is incomplete when one process did not reach its end line", () => {
    const cut = host.slice(0, host.indexOf("Info: Starting test name 'rootkits'"));
    const { log } = mergeRkhunterLogs([shm, cut]);
    expect(log.complete).toBe(false);
    expect(log.ends).toBe(1);
    expect(mergeRkhunterLogs([]).log.complete).toBe(false);
    // A single log merges to itself.
    const one = mergeRkhunterLogs([host]);
    expect(one.text).toBe(host);
    expect(one.log.warnings).toEqual(parseRkhunterLog(host).warnings);
  });
});

describe("a real split run against a real serial run (rkhunter 1.4.6, --novl, recorded here)", () => {
  // group_accounts in one process, system_configs_ssh and filesystem in the other, and all
  // three in one serial process, run at the same time on this machine.
  const serial = parseRkhunterLog(fixture("rkhunter-1.4.6-novl-serial.log"));
  const split = mergeRkhunterLogs([
    fixture("rkhunter-1.4.6-novl-split-1.log"),
    fixture("rkhunter-1.4.6-novl-split-2.log"),
  ]).log;
  const shape = (l: { warnings: { text: string; lines: string[] }[] }) =>
    l.warnings.map((w) => [w.text, ...w.lines]);

  it("finds the same warnings, with the same detail lines, in the same order", () => {
    expect(serial.complete).toBe(true);
    expect(split.complete).toBe(true);
    expect(split.ends).toBe(2);
    expect(shape(split)).toEqual(shape(serial));
    expect(shape(serial)).toHaveLength(6);
  });

  it("keeps the second line of a multi-line warning (11 spaces, no stamp, in the log)", () => {
    const ssh = serial.warnings.find((w) => w.text.includes("PermitRootLogin"))!;
    expect(ssh.lines).toEqual(["The default value may be 'yes', to allow root access."]);
    // --rwo stdout says the same.
    const out = parseRkhunterLog(fixture("rkhunter-1.4.6-novl-serial.stdout"));
    expect(shape(out)).toEqual(shape(serial));
  });
});
