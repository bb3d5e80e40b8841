/**
 * YARA over the lab in its escaped scenario: the trojan runs in bk-lab-gitlab and on the host,
 * each having deleted its file; a rule written for it (test/fixtures/yara/lab.yar) finds both
 * through their processes, attributed to the container and to the host, with the rule's
 * metadata in the finding. A second rule finds the lab's signature file inside bk-lab-mail.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB_CONTAINER_NAMES } from "../../lab/lab-content.js";
import { type LabInfo, labDown, labUp } from "../../lab/lab-core.js";
import { runScan } from "../../src/cli/run-scan.js";
import { loadFalsePositives } from "../../src/judge/scanners/false-positives.js";
import type { ScanResult } from "../../src/judge/scanners/index.js";
import { discoverTargets } from "../../src/observe/scanners/discover.js";
import { silentProgress } from "../../src/util/progress.js";
import { CLAMAV_TEST_DB } from "../helpers/scanners.js";

const RULES = new URL("../fixtures/yara/lab.yar", import.meta.url).pathname;
let lab: LabInfo;
let result: ScanResult;

beforeAll(async () => {
  lab = await labUp({ scenario: "escaped", trojanSeconds: 300 });
  const d = await discoverTargets({
    selfPid: process.pid,
    env: process.env,
    hostPaths: [],
    containers: Object.values(LAB_CONTAINER_NAMES),
    host: true,
  });
  result = await runScan({
    env: process.env,
    targets: d.targets,
    tools: ["yara"],
    yaraRules: RULES,
    clamavDb: CLAMAV_TEST_DB,
    progress: silentProgress,
    cache: null,
    falsePositives: loadFalsePositives(),
  });
});

afterAll(async () => {
  await labDown();
});

describe("scan --yara on the lab (escaped)", () => {
  it("ran yara to the end", () => {
    const r = result.reports.find((x) => x.tool === "yara")!;
    expect(r.status).toBe("ok");
    expect(r.summary).toMatch(/match/);
  });

  it("finds the trojan in bk-lab-gitlab and on the host, each attributed, with the rule's metadata", () => {
    const inContainer = lab.trojans.find((t) => t.where === "container")!;
    const onHost = lab.trojans.find((t) => t.where === "host")!;
    const hits = result.findings.filter((f) => f.evidence[0]?.facts?.rule === "breachkit_lab_wate");
    const c = hits.find((f) => f.evidence[0]?.pid === inContainer.hostPid);
    const h = hits.find((f) => f.evidence[0]?.pid === onHost.hostPid);
    expect(c?.where).toBe(LAB_CONTAINER_NAMES.gitlab);
    expect(c?.containerId).toBe(lab.containers.gitlab.id);
    expect(h?.where).toBe("host");
    expect(h?.containerId).toBeNull();
    for (const f of [c!, h!]) {
      expect(f.severity).toBe("critical");
      expect(f.rule).toBe("yara.process-exe");
      expect(f.evidence[0]?.facts?.["meta.description"]).toMatch(/trojan stand-in/);
      expect(f.evidence[0]?.facts?.["meta.reference"]).toBe("lab/wate.c");
      expect(f.evidence[0]?.path).toMatch(/ \(deleted\)$/);
    }
  });

  it("finds the lab signature file inside bk-lab-mail by its path there", () => {
    const f = result.findings.find((x) => x.evidence[0]?.facts?.rule === "breachkit_lab_signature");
    expect(f?.where).toBe(LAB_CONTAINER_NAMES.mail);
    expect(f?.evidence[0]?.path).toBe(lab.signatures.labSignaturePath);
    expect(f?.severity).toBe("medium");
  });

  it("matches nothing in the clean bk-lab-wordpress", () => {
    expect(result.findings.filter((f) => f.where === LAB_CONTAINER_NAMES.wordpress)).toEqual([]);
  });
});
