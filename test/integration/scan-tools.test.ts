/**
 * rkhunter, chkrootkit and Lynis for real on this machine, once each, each bounded to a few of
 * its tests (a full rkhunter check took 850 s here; full runs belong in bench/scan-tools.ts):
 * the results are shared by the tests of this file. The tools run side by side, each through
 * the scan's own runScan, with the serial rkhunter run beside them. In one scan they ran one
 * after the other: Lynis (its binary scan of ~3,000 files, the same whatever the groups: most
 * of its time) waited for the rkhunter processes (most of theirs: reading the configuration).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { runScan } from "../../src/cli/run-scan.js";
import { loadFalsePositives } from "../../src/judge/scanners/false-positives.js";
import type { ScanResult } from "../../src/judge/scanners/index.js";
import { runRkhunter } from "../../src/observe/scanners/rkhunter.js";
import type { ToolReport } from "../../src/observe/scanners/types.js";
import { silentProgress } from "../../src/util/progress.js";
import { CLAMAV_TEST_DB, hashTree } from "../helpers/scanners.js";

/** A few quick groups per tool: enough to run, log and parse each for real. */
const SUITE_TESTS = {
  rkhunter: ["group_accounts", "system_configs_ssh"],
  chkrootkit: ["ls", "ps", "login", "sshd"],
  lynis: ["authentication", "ssh"],
};

let reports: ScanResult["reports"];
/** The same rkhunter tests in one serial process, run beside the scan's split run. */
let serial: ToolReport;
let rkdbBefore: Record<string, string>;
let aptBefore: Record<string, string>;

beforeAll(async () => {
  rkdbBefore = await hashTree("/var/lib/rkhunter/db");
  aptBefore = await hashTree("/var/lib/apt/lists");
  const scan = (tool: "rkhunter" | "chkrootkit" | "lynis") =>
    runScan({
      env: process.env,
      targets: [{ kind: "host", paths: [] }],
      tools: [tool],
      clamavDb: CLAMAV_TEST_DB,
      progress: silentProgress,
      cache: null,
      falsePositives: loadFalsePositives(),
      // Lynis ran past 300 s once (side by side with rkhunter, load 12 on 2 cores): bounded, not tight.
      timeoutMs: { rkhunter: 600_000, chkrootkit: 600_000, lynis: 600_000 },
      tests: SUITE_TESTS,
    });
  let scans: ScanResult[];
  [serial, ...scans] = await Promise.all([
    runRkhunter({
      timeoutMs: 600_000,
      env: process.env,
      tests: SUITE_TESTS.rkhunter,
      processes: 1,
    }),
    scan("lynis"),
    scan("rkhunter"),
    scan("chkrootkit"),
  ]);
  reports = scans.flatMap((r) => r.reports);
}, 900_000);

const report = (tool: string) => {
  const found = reports.filter((r) => r.tool === tool);
  // Each scan ran its one tool: no implicit extra (packages) and no tool twice.
  expect(found).toHaveLength(1);
  return found[0]!;
};

describe("real scanner runs", () => {
  it("rkhunter ran its chosen groups to the end, parsed whole, with the log kept", () => {
    const r = report("rkhunter");
    expect(r.status).toBe("ok");
    const parsed = r.parsed as {
      complete: boolean;
      incomplete: boolean;
      truncated: boolean;
      argv: string[];
      argvs: string[][];
      processes: number;
    };
    expect(parsed.complete).toBe(true);
    expect(parsed.incomplete).toBe(false);
    expect(parsed.truncated).toBe(false);
    expect(r.incomplete).toBe(false);
    expect(parsed.argv).toContain("--sk");
    // Split over two processes, one test group each, each with its own database copy.
    expect(parsed.processes).toBe(2);
    expect(parsed.argvs.map((a) => a.slice(-2))).toEqual([
      ["--enable", "group_accounts"],
      ["--enable", "system_configs_ssh"],
    ]);
    const dbdirs = parsed.argvs.map((a) => a[a.indexOf("--dbdir") + 1]);
    expect(new Set(dbdirs).size).toBe(2);
    expect(dbdirs).not.toContain("/var/lib/rkhunter/db");
    const log = String(r.raw["rkhunter.log"]);
    expect(log).toMatch(/^\[\d\d:\d\d:\d\d\] /);
    expect(log).toMatch(/Info: Enabled tests are: .*group_accounts/);
    expect(log).toMatch(/Starting test name 'group_accounts'/);
    expect(r.findings.every((f) => f.source === "rkhunter" && f.where === "host")).toBe(true);
  });

  it("rkhunter split over two processes found what one serial run of the same tests found", () => {
    const shape = (said: ToolReport["said"]) =>
      said?.tool === "rkhunter"
        ? said.log.warnings.map((w) => [w.text, ...w.lines].join("\n")).sort()
        : null;
    expect(serial.status).toBe("ok");
    expect(serial.incomplete).toBe(false);
    const split = report("rkhunter");
    expect(shape(split.said)).not.toBeNull();
    expect(shape(split.said)).toEqual(shape(serial.said));
  });

  it("left the host's rkhunter database and apt lists byte for byte unchanged", async () => {
    expect(await hashTree("/var/lib/rkhunter/db")).toEqual(rkdbBefore);
    expect(await hashTree("/var/lib/apt/lists")).toEqual(aptBefore);
  });

  it("chkrootkit ran on the host and its text was parsed", () => {
    const r = report("chkrootkit");
    expect(r.status).toBe("ok");
    expect(Object.keys(r.raw)).toContain("host.stdout.txt");
    const host = (r.parsed as Record<string, { argv: string[]; incomplete: boolean }>).host!;
    expect(host.argv.slice(1)).toEqual(["-q", "ls", "ps", "login", "sshd"]);
    expect(host.incomplete).toBe(false);
    expect(r.findings.every((f) => f.source === "chkrootkit")).toBe(true);
  });

  it("Lynis ran from / with our profile and its report was parsed", () => {
    const r = report("lynis");
    expect(r.status).toBe("ok");
    const parsed = r.parsed as { hardeningIndex: number | null; argv: string[]; complete: boolean };
    expect(parsed.complete).toBe(true);
    expect(parsed.hardeningIndex).toBeGreaterThan(0);
    expect(parsed.argv.slice(1, 4)).toEqual(["audit", "system", "--cronjob"]);
    expect(parsed.argv.slice(-2)).toEqual(["--tests-from-group", "authentication ssh"]);
    expect(r.findings.some((f) => f.rule === "lynis.suggestion")).toBe(true);
  });
});
