/**
 * The scan on the breach lab: the mail container's EICAR messages and lab signature, the
 * deleted trojan found through its process, a clean WordPress container.
 */
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB_CONTAINER_NAMES } from "../../lab/lab-content.js";
import { type LabInfo, labDown, labUp } from "../../lab/lab-core.js";
import { runScan } from "../../src/cli/run-scan.js";
import { loadFalsePositives } from "../../src/judge/scanners/false-positives.js";
import type { ScanResult } from "../../src/judge/scanners/index.js";
import { severityRank } from "../../src/model/finding.js";
import { discoverTargets } from "../../src/observe/scanners/discover.js";
import type { ScanTarget } from "../../src/observe/scanners/types.js";
import { silentProgress } from "../../src/util/progress.js";
import { CLAMAV_TEST_DB } from "../helpers/scanners.js";

/** chkrootkit's checks that read busybox applets as INFECTED (issue 22), plus ls and ps. */
const BUSYBOX_CHECKS = [
  "basename",
  "date",
  "dirname",
  "echo",
  "env",
  "login",
  "netstat",
  "passwd",
  "traceroute",
  "ls",
  "ps",
];

let lab: LabInfo;
let targets: ScanTarget[];
let result: ScanResult;

beforeAll(async () => {
  lab = await labUp({ scenario: "contained", trojanSeconds: 300 });
  const d = await discoverTargets({
    selfPid: process.pid,
    env: process.env,
    hostPaths: [],
    containers: Object.values(LAB_CONTAINER_NAMES),
    host: false,
  });
  targets = d.targets;
  result = await runScan({
    env: process.env,
    targets,
    tools: ["clamav", "chkrootkit"],
    clamavDb: CLAMAV_TEST_DB,
    progress: silentProgress,
    cache: null,
    falsePositives: loadFalsePositives(),
    clamav: { useSystemClamd: false },
    // A few quick checks per container root: the test is about running -r on each root, not
    // about chkrootkit's full run (about a minute a root here). The busybox applets that
    // chkrootkit misreads are among them.
    tests: { chkrootkit: BUSYBOX_CHECKS },
  });
});

afterAll(async () => {
  await labDown();
});

describe("scan on the lab", () => {
  it("scans each lab container through /proc/<pid>/root and no host path", () => {
    const names = targets.flatMap((t) => (t.kind === "container" ? [t.name] : []));
    expect(names.sort()).toEqual(Object.values(LAB_CONTAINER_NAMES).sort());
    expect(targets.some((t) => t.kind === "host")).toBe(false);
    expect(targets.every((t) => t.kind !== "container" || /^\/proc\/\d+\/root$/.test(t.root))).toBe(
      true,
    );
  });

  it("finds the EICAR mail in bk-lab-mail, grouped per mailbox at low severity", () => {
    const mail = result.findings.filter((f) => f.rule === "clamav.mail");
    expect(mail.length).toBeGreaterThan(0);
    expect(mail.every((f) => f.where === LAB_CONTAINER_NAMES.mail && f.severity === "low")).toBe(
      true,
    );
    const flagged = mail.flatMap((f) => f.evidence.map((e) => e.path));
    expect(flagged).toContain(lab.signatures.eicarPath);
    for (const p of lab.signatures.eicarPaths) expect(flagged).toContain(p);
    expect(mail.some((f) => f.title.includes("/var/mail/alice"))).toBe(true);
  });

  it("finds the lab signature file, attributed to bk-lab-mail with the path inside it", () => {
    const f = result.findings.find((x) => x.evidence[0]?.path === lab.signatures.labSignaturePath);
    expect(f?.where).toBe(LAB_CONTAINER_NAMES.mail);
    expect(f?.containerId).toBe(lab.containers.mail.id);
    expect(f?.rule).toBe("clamav.hit");
  });

  it("finds the deleted wate executable through its process", () => {
    const trojan = lab.trojans.find((t) => t.where === "container")!;
    const f = result.findings.find(
      (x) => x.rule === "clamav.process-exe" && x.evidence[0]?.pid === trojan.hostPid,
    );
    expect(f?.where).toBe(LAB_CONTAINER_NAMES.gitlab);
    expect(f?.severity).toBe("critical");
    expect(f?.evidence[0]?.path).toMatch(/wate \(deleted\)$/);
    expect(f?.evidence[0]?.sha256).toBe(trojan.sha256);
  });

  it("finds nothing in bk-lab-wordpress", () => {
    expect(
      result.findings.filter(
        (f) => f.source === "clamav" && f.where === LAB_CONTAINER_NAMES.wordpress,
      ),
    ).toEqual([]);
    const clamav = result.reports.find((r) => r.tool === "clamav")!;
    expect(clamav.status).toBe("ok");
  });

  it("ran chkrootkit -r against each running container root", () => {
    const r = result.reports.find((x) => x.tool === "chkrootkit")!;
    expect(
      Object.keys(r.raw)
        .filter((k) => k.endsWith(".stdout.txt"))
        .sort(),
    ).toEqual(
      Object.values(LAB_CONTAINER_NAMES)
        .map((n) => `container-${n}.stdout.txt`)
        .sort(),
    );
  });

  it("scans bk-lab-wordpress clean with chkrootkit at medium and above: busybox applets excused by inode or hash", () => {
    const wp = result.findings.filter(
      (f) => f.source === "chkrootkit" && f.where === LAB_CONTAINER_NAMES.wordpress,
    );
    // chkrootkit itself still says INFECTED for the applets: marked, never hidden.
    const excused = wp.filter((f) => f.falsePositive?.startsWith("busybox applet"));
    expect(excused.length).toBeGreaterThanOrEqual(5);
    expect(excused.map((f) => f.title)).toContainEqual(expect.stringMatching(/basename: INFECTED/));
    expect(
      wp.filter(
        (f) => f.falsePositive === null && severityRank(f.severity) >= severityRank("medium"),
      ),
    ).toEqual([]);
  });

  it("still reports the applets when busybox was replaced in a container's writable layer", async () => {
    const name = `bk-test-busybox-${process.pid}`;
    const id = (
      await execa(
        "docker",
        ["create", "--name", name, "--network", "none", lab.image.ref, "/bin/sleep", "120"],
        { stdin: "ignore" },
      )
    ).stdout.trim();
    try {
      // The same bytes, but put there after the image was built: not the image's own busybox.
      await execa("docker", ["cp", "/bin/busybox", `${id}:/bin/busybox`], { stdin: "ignore" });
      await execa("docker", ["start", id], { stdin: "ignore" });
      const d = await discoverTargets({
        selfPid: process.pid,
        env: process.env,
        hostPaths: [],
        containers: [name],
        host: false,
      });
      const r = await runScan({
        env: process.env,
        targets: d.targets.filter((t) => t.kind === "container"),
        tools: ["chkrootkit"],
        clamavDb: CLAMAV_TEST_DB,
        progress: silentProgress,
        cache: null,
        falsePositives: loadFalsePositives(),
        tests: { chkrootkit: ["basename", "date"] },
      });
      const infected = r.findings.filter(
        (f) => f.rule === "chkrootkit.infected" && f.where === name,
      );
      expect(infected.length).toBeGreaterThan(0);
      for (const f of infected) {
        expect(f.falsePositive).toBeNull();
        expect(f.severity).toBe("high");
        expect(f.evidence[0]?.facts?.writableLayer).toBe("yes");
      }
    } finally {
      await execa("docker", ["rm", "--force", id], { reject: false, stdin: "ignore" });
    }
  });
});
