import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Finding } from "../../src/model/finding.js";
import { takeSnapshot } from "../../src/observe/snapshot.js";
import { type LabInfo, labDown, labUp } from "../helpers/lab.js";

const BIN = join(process.cwd(), "dist/cli/bin.cjs");

interface TriageJson {
  verdict: { level: string; headline: string; atOrAboveThreshold: number };
  findings: Finding[];
  bundle: { path: string; manifestSha256: string | null; complete: boolean };
  logsHunted: string[];
}

async function triage(args: string[]) {
  const r = await execa("node", [BIN, "triage", "--json", ...args], {
    reject: false,
    env: { NO_COLOR: "1" },
  });
  let json: TriageJson | null = null;
  try {
    json = JSON.parse(r.stdout) as TriageJson;
  } catch {
    /* asserted below */
  }
  return { code: r.exitCode, json, stderr: r.stderr, stdout: r.stdout };
}

let out: string;
let allowlist: string;

beforeAll(async () => {
  await execa("npm", ["run", "build"]);
  out = await mkdtemp(join(tmpdir(), "bk-triage-"));
  // The admin's allowlist for this machine: it runs sandbox programs from a sealed memfd
  // (legitimate here, and flagged by design). Taken before the lab exists.
  await labDown();
  const { snapshot } = await takeSnapshot({ env: process.env, containerAccounts: false });
  const memfd = new Set(
    snapshot.processes.filter((p) => p.exe.memfd && p.exe.sha256).map((p) => p.exe.sha256!),
  );
  allowlist = join(out, "allow.json");
  await writeFile(
    allowlist,
    JSON.stringify({
      entries: [...memfd].map((sha256) => ({
        sha256,
        reason: "test machine's sandbox runs this from a sealed memfd",
      })),
    }),
  );
}, 300_000);

afterAll(async () => {
  await labDown();
  await rm(out, { recursive: true, force: true });
});

describe("triage on a clean host", () => {
  it("finds nothing at high or above and exits 0", async () => {
    const r = await triage(["--out", out, "--allowlist", allowlist]);
    expect(r.json, r.stderr).not.toBeNull();
    const high = r.json!.findings.filter(
      (f) => (f.severity === "high" || f.severity === "critical") && !f.falsePositive,
    );
    expect(high, JSON.stringify(high, null, 1)).toEqual([]);
    expect(r.code).toBe(0);
    expect(r.json!.bundle.complete).toBe(true);
  });
});

describe("triage on the lab, scenario contained", () => {
  let lab: LabInfo;
  let result: Awaited<ReturnType<typeof triage>>;
  beforeAll(async () => {
    lab = await labUp({ scenario: "contained" });
    result = await triage(["--out", out, "--allowlist", allowlist]);
  }, 300_000);

  it("exits 1 with a COMPROMISED verdict naming bk-lab-gitlab", () => {
    expect(result.code, result.stderr).toBe(1);
    expect(result.json!.verdict.level).toBe("compromised");
    expect(result.json!.verdict.headline).toContain("bk-lab-gitlab");
  });

  it("has critical findings for wate in bk-lab-gitlab: deleted executable, dropped binary, flood", () => {
    const gitlab = result.json!.findings.filter((f) => f.where === "bk-lab-gitlab");
    const pid = lab.trojans.find((t) => t.where === "container")!.hostPid;
    for (const rule of ["process.deleted-exe", "process.dropped-binary", "traffic.flood"]) {
      const f = gitlab.find((x) => x.rule === rule);
      expect(f, `${rule} in ${JSON.stringify(gitlab.map((x) => x.rule))}`).toBeDefined();
      expect(f!.severity).toBe("critical");
    }
    const deleted = gitlab.find((x) => x.rule === "process.deleted-exe")!;
    expect(deleted.evidence.some((e) => e.pid === pid)).toBe(true);
  });

  it("finds the CVE-2021-22205 exploit request in the gitlab log with file and line", () => {
    const f = result.json!.findings.find(
      (x) => x.rule === "hunt.gitlab-exiftool-cve-2021-22205" && x.where === "bk-lab-gitlab",
    );
    expect(f).toBeDefined();
    const ev = f!.evidence[0]!;
    expect(ev.file).toMatch(/^containers\/bk-lab-gitlab\//);
    expect(ev.line).toBeGreaterThan(0);
    expect(ev.text).toContain("/uploads/user");
  });

  it("has no finding of medium or above for bk-lab-wordpress", () => {
    const wp = result.json!.findings.filter(
      (f) => f.where === "bk-lab-wordpress" && ["medium", "high", "critical"].includes(f.severity),
    );
    expect(wp).toEqual([]);
  });

  it("gives the same findings offline from the saved bundle", async () => {
    const offline = await triage(["--bundle", result.json!.bundle.path, "--allowlist", allowlist]);
    const key = (f: Finding) => `${f.rule}|${f.where}|${f.severity}|${f.title}`;
    expect(offline.json!.findings.map(key).sort()).toEqual(result.json!.findings.map(key).sort());
    expect(offline.code).toBe(result.code);
  });

  it("leaves a bundle that verifies", async () => {
    const r = await execa("node", [BIN, "verify", result.json!.bundle.path], { reject: false });
    expect(r.exitCode, r.stdout).toBe(0);
  });
});

describe("triage on the lab, scenario escaped", () => {
  it("reports a critical spread finding naming the host process and the container", async () => {
    const lab = await labUp({ scenario: "escaped" });
    const r = await triage(["--out", out, "--allowlist", allowlist]);
    const hostPid = lab.trojans.find((t) => t.where === "host")!.hostPid;
    const spread = r.json!.findings.find((f) => f.rule === "spread.same-executable");
    expect(spread, JSON.stringify(r.json!.findings.map((f) => f.rule))).toBeDefined();
    expect(spread!.severity).toBe("critical");
    expect(spread!.evidence.some((e) => e.pid === hostPid)).toBe(true);
    expect(JSON.stringify(spread)).toContain("bk-lab-gitlab");
    expect(r.code).toBe(1);
  });
});

describe("triage usage errors", () => {
  it("rejects a bad --fail-on with exit 2", async () => {
    const r = await execa("node", [BIN, "triage", "--fail-on", "severe"], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("--fail-on");
  });
  it("rejects an IOC file with a bad line, naming the line", async () => {
    const bad = join(out, "bad-iocs.txt");
    await writeFile(bad, "name:wate\nsha256:xyz\n");
    const r = await execa("node", [BIN, "triage", "--ioc", bad, "--out", out], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/bad-iocs\.txt:2/);
  });
  it("refuses a --bundle that is not a bundle", async () => {
    const r = await execa("node", [BIN, "triage", "--bundle", tmpdir()], { reject: false });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain("snapshot.json");
  });
});
