/**
 * rkhunter, chkrootkit and Lynis for real on this machine, once each (about 3 minutes in all):
 * the results are shared by the tests of this file.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { runScan } from "../../src/cli/run-scan.js";
import { loadFalsePositives } from "../../src/judge/scanners/false-positives.js";
import type { ScanResult } from "../../src/judge/scanners/index.js";
import { silentProgress } from "../../src/util/progress.js";
import { CLAMAV_TEST_DB, hashTree } from "../helpers/scanners.js";

let result: ScanResult;
let rkdbBefore: Record<string, string>;
let aptBefore: Record<string, string>;

beforeAll(async () => {
  rkdbBefore = await hashTree("/var/lib/rkhunter/db");
  aptBefore = await hashTree("/var/lib/apt/lists");
  result = await runScan({
    env: process.env,
    targets: [{ kind: "host", paths: [] }],
    tools: ["rkhunter", "chkrootkit", "lynis"],
    clamavDb: CLAMAV_TEST_DB,
    progress: silentProgress,
    cache: null,
    falsePositives: loadFalsePositives(),
    timeoutMs: { rkhunter: 600_000, chkrootkit: 300_000, lynis: 300_000 },
  });
}, 1_200_000);

const report = (tool: string) => result.reports.find((r) => r.tool === tool)!;

describe("real scanner runs", () => {
  it("rkhunter ran to the end and its warnings came back parsed, with the log kept", () => {
    const r = report("rkhunter");
    expect(r.status).toBe("ok");
    const parsed = r.parsed as {
      complete: boolean;
      summary: Record<string, number>;
      argv: string[];
    };
    expect(parsed.complete).toBe(true);
    expect(parsed.summary["Rootkits checked"]).toBeGreaterThan(100);
    expect(parsed.argv).toContain("--sk");
    expect(String(r.raw["rkhunter.log"])).toMatch(/^\[\d\d:\d\d:\d\d\] /);
    expect(r.findings.length).toBeGreaterThan(0);
    expect(r.findings.every((f) => f.source === "rkhunter" && f.where === "host")).toBe(true);
  });

  it("left the host's rkhunter database and apt lists byte for byte unchanged", async () => {
    expect(await hashTree("/var/lib/rkhunter/db")).toEqual(rkdbBefore);
    expect(await hashTree("/var/lib/apt/lists")).toEqual(aptBefore);
  });

  it("chkrootkit ran on the host and its text was parsed", () => {
    const r = report("chkrootkit");
    expect(r.status).toBe("ok");
    expect(Object.keys(r.raw)).toContain("host.stdout.txt");
    expect(r.findings.every((f) => f.source === "chkrootkit")).toBe(true);
  });

  it("Lynis ran from / with our profile and its report was parsed", () => {
    const r = report("lynis");
    expect(r.status).toBe("ok");
    const parsed = r.parsed as { hardeningIndex: number | null; argv: string[]; complete: boolean };
    expect(parsed.complete).toBe(true);
    expect(parsed.hardeningIndex).toBeGreaterThan(0);
    expect(parsed.argv.slice(1, 4)).toEqual(["audit", "system", "--cronjob"]);
    expect(r.findings.some((f) => f.rule === "lynis.suggestion")).toBe(true);
  });
});
