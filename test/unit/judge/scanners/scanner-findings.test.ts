/**
 * The scanners' parsers (observe/scanners) on recorded output, and what the judge makes of
 * what they parsed (judge/scanners): severities and the known false positives.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { chkrootkitFindings } from "../../../../src/judge/scanners/chkrootkit.js";
import {
  loadFalsePositives,
  markFalsePositives,
} from "../../../../src/judge/scanners/false-positives.js";
import { judgeToolReport, scanResult } from "../../../../src/judge/scanners/index.js";
import { lynisFindings } from "../../../../src/judge/scanners/lynis.js";
import { rkhunterFindings } from "../../../../src/judge/scanners/rkhunter.js";
import { severityRank } from "../../../../src/model/finding.js";
import {
  chkrootkitFlagged,
  parseChkrootkit,
  statusKind,
} from "../../../../src/observe/scanners/chkrootkit.js";
import {
  LYNIS_PROFILE,
  lynisArgs,
  parseLynisReport,
} from "../../../../src/observe/scanners/lynis.js";
import { parseRkhunterLog, rkhunterArgs } from "../../../../src/observe/scanners/rkhunter.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/scanners/${name}`, import.meta.url), "utf8");
const rules = loadFalsePositives();

describe("rkhunter log parser (rkhunter 1.4.6, recorded here)", () => {
  it("reads the warnings and the summary of a full host check", () => {
    const log = parseRkhunterLog(fixture("rkhunter-1.4.6-host.log"));
    expect(log.complete).toBe(true);
    expect(log.warnings.map((w) => w.text)).toEqual([
      "The modules file '/proc/modules' is missing.",
      "The kernel modules directory '/lib/modules' is missing or empty.",
      "Unable to check for passwd file differences: no copy of the passwd file exists.",
      "Unable to check for group file differences: no copy of the group file exists.",
      "No running system logging daemon has been found.",
      "Hidden directory found: /etc/.java",
    ]);
    expect(log.warnings[0]!.time).toBe("02:49:20");
    expect(log.warnings[0]!.line).toBe(1731);
    expect(log.summary).toEqual({
      "Files checked": 127,
      "Suspect files": 0,
      "Rootkits checked": 475,
      "Possible rootkits": 0,
    });
  });

  it("keeps the 9-space continuation lines and splits list warnings per item", () => {
    const log = parseRkhunterLog(fixture("rkhunter-1.4.6-deleted-files-dev-shm.log"));
    const deleted = log.warnings.find((w) => w.text.includes("using deleted files"))!;
    expect(deleted.lines).toHaveLength(12);
    expect(deleted.lines[2]).toBe(
      "Process: /tmp/bkrec/bk-deleted-sleep    PID: 16351    File: /tmp/bkrec/bk-deleted-sleep",
    );
    const dev = log.warnings.find((w) => w.text.startsWith("Suspicious file types"))!;
    expect(dev.lines).toEqual([
      "/dev/shm/bk-test-script.sh: POSIX shell script, ASCII text executable",
      "/dev/shm/bk-test-data.txt: ASCII text",
    ]);
    const findings = markFalsePositives(
      rkhunterFindings(log, "scans/rkhunter/rkhunter.log"),
      rules,
    );
    const perProcess = findings.filter((f) => f.title.includes("using deleted files"));
    expect(perProcess).toHaveLength(12);
    // runc's memfd is a known false positive; the deleted sleep beside it is not.
    const memfd = perProcess.filter((f) => f.title.includes("/memfd:"));
    expect(memfd.length).toBeGreaterThan(0);
    expect(memfd.every((f) => f.falsePositive !== null)).toBe(true);
    const sleep = perProcess.find((f) => f.title.includes("bk-deleted-sleep"))!;
    expect(sleep.falsePositive).toBeNull();
    expect(findings.find((f) => f.title.includes("/etc/.java"))!.falsePositive).toMatch(/OpenJDK/);
  });

  it("reads --rwo stdout (no time stamps) the same way", () => {
    const log = parseRkhunterLog(fixture("rkhunter-1.4.6-deleted-files.stdout"));
    expect(log.warnings).toHaveLength(3);
    expect(log.warnings[1]!.lines).toHaveLength(2);
  });

  it("survives truncated and hostile logs", () => {
    const hostile =
      "[01:02:03] Warning: Hidden file found: /tmp/\u001b[31mred\n[01:02:03]          x\n[01:0";
    const log = parseRkhunterLog(hostile);
    expect(log.complete).toBe(false);
    expect(log.warnings[0]!.lines).toEqual(["x"]);
    expect(parseRkhunterLog("").warnings).toEqual([]);
  });

  it("is run so that it changes nothing on the host", () => {
    expect(rkhunterArgs("/t/l", "/t/db", "/t/tmp")).toEqual([
      "--check",
      "--sk",
      "--nocolors",
      "--rwo",
      "--nomow",
      "--novl",
      "--logfile",
      "/t/l",
      "--dbdir",
      "/t/db",
      "--tmpdir",
      "/t/tmp",
    ]);
  });
});

describe("chkrootkit parser (0.57, recorded here)", () => {
  it("parses -q output: warning blocks up to a blank line", () => {
    const items = parseChkrootkit(fixture("chkrootkit-0.57-host.stdout"));
    const warnings = items.filter((i) => i.kind === "warning");
    expect(warnings.map((w) => w.status)).toEqual([
      "WARNING: The following suspicious files and directories were found:",
      "WARNING: Output from ifpromisc:",
      "WARNING: chkutmp output: ",
    ]);
    expect(warnings[0]!.lines.length).toBeGreaterThan(50);
    expect(warnings[2]!.lines).toEqual(["WARNING: chkutmp output: ", "failed opening utmp !"]);
    const findings = markFalsePositives(chkrootkitFindings(items, "host", null, "x"), rules);
    expect(findings).toHaveLength(3);
    // Every item of each block is known noise on this machine: all three are marked, none hidden.
    expect(findings.every((f) => f.falsePositive !== null)).toBe(true);
  });

  it("parses verbose output: statuses, the check a WARNING belongs to", () => {
    const items = parseChkrootkit(fixture("chkrootkit-0.57-host-verbose.stdout"));
    expect(items.find((i) => i.check === "amd")?.kind).toBe("clean");
    expect(items.find((i) => i.check === "sebek LKM (Adore based)")?.kind).toBe("not-tested");
    const xor = items.find((i) => i.status.startsWith("WARNING: Possible Linux.Xor.DDoS"))!;
    expect(xor.check).toBe("Linux.Xor.DDoS");
    expect(xor.lines).toContain("/tmp/bkrec/restart.sh");
    const f = markFalsePositives(chkrootkitFindings(items, "host", null, "x"), rules);
    expect(f.find((x) => x.title.includes("Xor"))!.falsePositive).toMatch(
      /executable file under \/tmp/,
    );
  });

  it("recognises INFECTED, disabled and a real sniffer line", () => {
    const text = [
      "Checking `ls'...                                            INFECTED",
      "Checking `lkm'...                                           You have     2 process hidden for readdir command",
      "chkproc: Warning: Possible LKM Trojan installed",
      "Checking `bindshell'...                                     INFECTED (PORTS:  465)",
      "Checking `rpc.statd'...                                     Vulnerable but disabled",
      "Checking `x'...   INFECTED but disabled",
      "",
    ].join("\n");
    const items = parseChkrootkit(text);
    expect(items.map((i) => i.kind)).toEqual([
      "infected",
      "other",
      "infected",
      "disabled",
      "disabled",
    ]);
    expect(items[1]!.lines).toEqual(["chkproc: Warning: Possible LKM Trojan installed"]);
    const f = markFalsePositives(chkrootkitFindings(items, "web", "abc", "x"), rules);
    expect(f[0]!.severity).toBe("high");
    expect(f[0]!.where).toBe("web");
    expect(f.find((x) => x.title.includes("bindshell"))!.falsePositive).toMatch(/465/);
    expect(
      f.find((x) => x.title.includes("`ls'") || x.title.includes("ls:"))!.falsePositive,
    ).toBeNull();
    expect(statusKind("not promisc and no packet sniffer sockets")).toBe("clean");
  });

  it("counts as flagged (the summary's count) exactly the items the judge makes findings of", () => {
    for (const name of ["chkrootkit-0.57-host.stdout", "chkrootkit-0.57-host-verbose.stdout"]) {
      const items = parseChkrootkit(fixture(name));
      const flagged = items.filter(chkrootkitFlagged);
      expect(flagged.length, name).toBeGreaterThan(0);
      expect(chkrootkitFindings(items, "host", null, "x")).toHaveLength(flagged.length);
    }
  });
});

describe("Lynis report parser (3.0.8, recorded here)", () => {
  it("reads warnings, suggestions and the hardening index", () => {
    const r = parseLynisReport(fixture("lynis-3.0.8-report.dat"));
    expect(r.version).toBe("3.0.8");
    expect(r.hardeningIndex).toBe(59);
    expect(r.complete).toBe(true);
    expect(r.warnings.map((w) => w.id)).toContain("PKGS-7392");
    expect(r.warnings.find((w) => w.id === "LOGG-2138")!.text).toMatch(/klogd is not running/);
    expect(r.suggestions.length).toBeGreaterThan(30);
    const f = lynisFindings(r, "scans/lynis/lynis-report.dat");
    expect(f.filter((x) => x.rule === "lynis.warning")).toHaveLength(r.warnings.length);
    expect(f.find((x) => x.title.includes("MACF-6208"))!.evidence[0]!.text).toContain("aa-status");
  });

  it("handles a truncated report and junk", () => {
    const r = parseLynisReport("warning[]=X-1|text\nhardening_index=abc\n=\ngarbage");
    expect(r.warnings).toEqual([{ id: "X-1", text: "text", details: "", solution: "", line: 1 }]);
    expect(r.hardeningIndex).toBeNull();
    expect(r.complete).toBe(false);
  });

  it("keeps Lynis from refreshing package lists", () => {
    expect(LYNIS_PROFILE).toMatch(/^refresh-repositories=no$/m);
    expect(LYNIS_PROFILE).toMatch(/^skip-upgrade-test=yes$/m);
    expect(lynisArgs("/p", "/l", "/r")).toEqual([
      "audit",
      "system",
      "--cronjob",
      "--profile",
      "/p",
      "--log-file",
      "/l",
      "--report-file",
      "/r",
    ]);
  });
});

describe("a tool's report judged", () => {
  const base = {
    status: "ok" as const,
    summary: "",
    gaps: [],
    durationMs: 1,
    raw: {},
    parsed: null,
  };

  it("gives no finding for a tool that said nothing, and marks the known false positives", () => {
    expect(judgeToolReport({ ...base, tool: "rkhunter", said: null }, rules).findings).toEqual([]);
    const items = parseChkrootkit(fixture("chkrootkit-0.57-host.stdout"));
    const r = judgeToolReport(
      {
        ...base,
        tool: "chkrootkit",
        said: {
          tool: "chkrootkit",
          roots: [{ where: "host", containerId: null, outputFile: "scans/x", items }],
        },
      },
      rules,
    );
    expect(r.findings).toHaveLength(items.filter(chkrootkitFlagged).length);
    expect(r.findings.every((f) => f.falsePositive !== null)).toBe(true);
    expect(judgeToolReport({ ...r }, []).findings.every((f) => f.falsePositive === null)).toBe(
      true,
    );
  });

  it("ranks every tool's findings together, worst first, and keeps every gap", () => {
    const log = parseRkhunterLog(fixture("rkhunter-1.4.6-host.log"));
    const lynis = parseLynisReport(fixture("lynis-3.0.8-report.dat"));
    const result = scanResult([
      judgeToolReport(
        {
          ...base,
          tool: "lynis",
          said: { tool: "lynis", report: lynis, reportFile: "r" },
          gaps: [{ tool: "lynis", what: "a", reason: "b" }],
        },
        [],
      ),
      judgeToolReport(
        { ...base, tool: "rkhunter", said: { tool: "rkhunter", log, logFile: "l" } },
        [],
      ),
    ]);
    expect(result.findings.length).toBe(
      result.reports[0]!.findings.length + result.reports[1]!.findings.length,
    );
    const ranks = result.findings.map((f) => severityRank(f.severity));
    // Every finding here is on the host: one place, so worst first throughout.
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
    expect(new Set(result.findings.map((f) => f.source))).toEqual(new Set(["lynis", "rkhunter"]));
    expect(result.gaps).toEqual([{ tool: "lynis", what: "a", reason: "b" }]);
  });
});
