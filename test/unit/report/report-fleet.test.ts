/**
 * `breachkit report CASE_DIR` on a fleet case: two hosts' real triage bundles (the real bundle
 * writer and judge, the same trojan on both, and the same bundle directory name on both), a
 * host that gave no bundle, a case.json entry with a hostile name and one whose bundle path
 * leads out of the case. One report, a section per host, the hosts' places told apart, the
 * fleet rule computed again from the verified bundles only.
 */
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/main.js";
import { type FleetOutput, FleetOutputSchema } from "../../../src/model/fleet-output.js";
import { ReportOutputSchema } from "../../../src/model/report-model.js";
import { memoryIo } from "../../helpers/memory-io.js";
import { makeTriageBundle, TROJAN_SHA } from "./fixture.js";

const HOSTILE = "<img src=y onerror=alert(2)>\u001b[31m";
let dir: string;
let caseDir: string;
const bundles: Record<string, string> = {};

async function report(args: string[]) {
  const m = memoryIo({ env: {}, cwd: dir });
  const code = await runCli(["report", ...args], m.io);
  return { code, stdout: m.stdout(), stderr: m.stderr() };
}

const host = (
  name: string,
  state: FleetOutput["hosts"][number]["state"],
  bundle: string | null,
) => ({
  name,
  address: "192.0.2.1",
  port: 22,
  user: "root",
  groups: ["web"],
  state,
  reason: state === "ok" ? null : `${state}: ${HOSTILE}`,
  exitCode: state === "ok" ? 1 : null,
  stderrTail: [],
  remoteSha256: null,
  copy: null,
  bundle:
    bundle === null
      ? null
      : {
          path: bundle,
          manifestSha256: "0".repeat(64),
          seal: "ok" as const,
          intact: true,
          complete: true,
          host: "web01",
        },
  findings: 0,
  durationMs: 1000,
  steps: [],
});

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-report-fleet-"));
  caseDir = join(dir, "case");
  for (const name of ["web01", "web02"]) {
    const root = join(caseDir, "hosts", name, "bundle");
    await mkdir(root, { recursive: true });
    bundles[name] = relative(caseDir, await makeTriageBundle(root));
  }
  // The same directory name on both hosts (the same machine name and second).
  expect(basename(bundles.web01!)).toBe(basename(bundles.web02!));
  const manifest: FleetOutput = {
    schemaVersion: 1,
    format: "breachkit-case",
    tool: { name: "breachkit", version: "0.0.0-test" },
    inventory: join(dir, "inventory.ini"),
    command: "triage",
    args: [],
    case: caseDir,
    startedAt: "2026-03-01T12:00:00.000Z",
    endedAt: "2026-03-01T12:01:00.000Z",
    exeSha256: "1".repeat(64),
    hosts: [
      host("web01", "ok", bundles.web01!),
      host("web02", "ok", bundles.web02!),
      host("db01", "unreachable", null),
      host(HOSTILE, "command-failed", null),
      host("sneaky", "ok", "../../../etc"),
    ],
    counts: { ok: 3, unreachable: 1, "command-failed": 1 },
    findings: [],
  };
  await writeFile(
    join(caseDir, "case.json"),
    JSON.stringify(FleetOutputSchema.parse(manifest), null, 2),
  );
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("report CASE_DIR", () => {
  it("reads every host's bundle, verified, into one report with a section per host", async () => {
    const r = await report([caseDir, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const json = ReportOutputSchema.parse(JSON.parse(r.stdout));
    // Written inside the case by default.
    expect(relative(caseDir, json.outDir)).toMatch(/^report-\d{8}T\d{6}Z$/);
    expect(json.bundles.map((b) => [b.name, b.verified])).toEqual([
      [bundles.web01, true],
      [bundles.web02, true],
    ]);
    const hosts = json.fleet!.hosts;
    expect(hosts.map((h) => [h.name, h.state, h.bundle, h.verified])).toEqual([
      ["web01", "ok", bundles.web01, true],
      ["web02", "ok", bundles.web02, true],
      ["db01", "unreachable", null, null],
      [HOSTILE, "command-failed", null, null],
      ["sneaky", "ok", null, null],
    ]);
    // Each host keeps its own findings (the same finding on two hosts is two findings).
    expect(hosts[0]!.findings).toBeGreaterThan(0);
    expect(hosts[1]!.findings).toBe(hosts[0]!.findings);
    expect(hosts[0]!.worst).toBe("critical");
    expect(json.gaps.some((g) => g.includes("sneaky") && g.includes("leads out of the case"))).toBe(
      true,
    );

    const mdText = await readFile(join(json.outDir, "report.md"), "utf8");
    expect(mdText).toContain("## Hosts");
    expect(mdText).toMatch(/### web01: container web: COMPROMISED/);
    expect(mdText).toMatch(/### web02: container web: COMPROMISED/);
    // The fleet rule, computed again from the two verified bundles.
    expect(mdText).toMatch(/### the fleet \(across hosts\)/);
    expect(mdText).toContain(`sha256 ${TROJAN_SHA}`);
    expect(mdText).not.toContain(HOSTILE);
    const html = await readFile(join(json.outDir, "report.html"), "utf8");
    expect(html).toContain('<section id="hosts">');
    expect(html).not.toContain("<img src=y");
    const hostsSection = html.slice(html.indexOf('<section id="hosts">'));
    expect(hostsSection.slice(0, hostsSection.indexOf("</section>"))).toContain(
      "&#60;img src=y onerror=alert(2)&#62;\\e[31m",
    );
    const record = JSON.parse(await readFile(join(json.outDir, "record.json"), "utf8"));
    expect(record.chainOfCustody.map((c: { bundle: string }) => c.bundle)).toEqual([
      bundles.web01,
      bundles.web02,
    ]);
  });

  it("marks a host whose bundle was changed, and leaves it out of the fleet rule", async () => {
    const web02 = join(caseDir, bundles.web02!);
    await appendFile(join(web02, "snapshot.json"), " ");
    const r = await report([caseDir, "--json", "--out", join(dir, "after-tamper")]);
    expect(r.code).toBe(1);
    const json = ReportOutputSchema.parse(JSON.parse(r.stdout));
    expect(json.fleet!.hosts.find((h) => h.name === "web02")!.verified).toBe(false);
    const mdText = await readFile(join(json.outDir, "report.md"), "utf8");
    expect(mdText).toMatch(/web02.*\*\*DOES NOT VERIFY\*\*/);
    expect(mdText).not.toMatch(/### the fleet \(across hosts\)/);
    expect((await readdir(json.outDir)).length).toBe(7);
  });

  it("refuses a case given with other bundles", async () => {
    const r = await report([caseDir, join(caseDir, bundles.web01!)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("report reads one case at a time, alone");
  });
});
