import pc from "picocolors";
import { describe, expect, it } from "vitest";
import { verdictOf } from "../../../src/judge/verdict.js";
import type { Finding } from "../../../src/model/finding.js";
import { renderFindings } from "../../../src/tell/findings.js";

const c = pc.createColors(false);

function finding(over: Partial<Finding>): Finding {
  return {
    rule: "process.deleted-exe",
    severity: "critical",
    confidence: "high",
    title: "deleted executable",
    where: "web",
    containerId: "a".repeat(64),
    evidence: [],
    next: "contain it",
    source: "triage",
    falsePositive: null,
    ...over,
  };
}

describe("verdictOf", () => {
  it("is clean with no findings, and counts nothing at the threshold", () => {
    const v = verdictOf([], "high");
    expect(v.level).toBe("clean");
    expect(v.atOrAboveThreshold).toBe(0);
  });
  it("is compromised on a critical finding and names the place", () => {
    const v = verdictOf([finding({})], "high");
    expect(v.level).toBe("compromised");
    expect(v.headline).toContain("container web");
    expect(v.atOrAboveThreshold).toBe(1);
  });
  it("is at risk, not compromised, for a risky configuration alone (high, but not an observed compromise)", () => {
    const v = verdictOf([finding({ rule: "container.privileged", severity: "high" })], "high");
    expect(v.level).toBe("at-risk");
    expect(v.headline).toMatch(/^AT RISK: /);
    expect(v.headline).not.toContain("COMPROMISED");
    expect(v.places[0]!.state).toBe("at-risk");
    expect(v.atOrAboveThreshold).toBe(1);
  });
  it("names the lab's mail container (Docker socket mounted) at risk beside the trojan's compromised container", () => {
    const fs = [
      finding({ where: "bk-lab-gitlab" }),
      finding({
        rule: "container.docker-socket",
        severity: "high",
        confidence: "high",
        where: "bk-lab-mail",
        containerId: "b".repeat(64),
      }),
    ];
    const v = verdictOf(fs, "high");
    expect(v.level).toBe("compromised");
    expect(v.headline).toMatch(/^COMPROMISED: container bk-lab-gitlab; AT RISK/);
    expect(v.headline.split("AT RISK")[0]).not.toContain("bk-lab-mail");
    expect(v.headline.split("AT RISK")[1]).toContain("container bk-lab-mail");
    expect(v.places.map((p) => [p.where, p.state])).toEqual([
      ["bk-lab-gitlab", "compromised"],
      ["bk-lab-mail", "at-risk"],
    ]);
    const text = renderFindings(fs, v, c);
    expect(text).toMatch(/container bk-lab-mail AT RISK/);
    expect(text).toMatch(/container bk-lab-gitlab COMPROMISED/);
  });
  it("stays suspicious when a misconfigured place also has a non-configuration hint", () => {
    const v = verdictOf(
      [
        finding({ rule: "container.privileged", severity: "high" }),
        finding({ rule: "process.exe-in-tmp", severity: "medium", confidence: "medium" }),
      ],
      "high",
    );
    expect(v.level).toBe("suspicious");
    expect(v.places[0]!.state).toBe("suspicious");
  });
  it("ignores findings marked as false positives", () => {
    const v = verdictOf([finding({ falsePositive: "allowlisted: runc" })], "high");
    expect(v.level).toBe("clean");
    expect(v.atOrAboveThreshold).toBe(0);
  });
  it("honours a lower threshold", () => {
    const f = finding({ severity: "medium", confidence: "medium" });
    expect(verdictOf([f], "high").atOrAboveThreshold).toBe(0);
    expect(verdictOf([f], "medium").atOrAboveThreshold).toBe(1);
  });
});

describe("renderFindings", () => {
  it("neutralises hostile strings from the host", () => {
    const f = finding({
      title: "bad \u001b[31mred\u001b[0m\nFAKE VERDICT",
      evidence: [{ pid: 7, text: "<script>alert(1)</script>\r\u0007" }],
    });
    const text = renderFindings([f], verdictOf([f]), c);
    expect(text).not.toContain("\u001b");
    expect(text).not.toContain("\u0007");
    expect(text).toContain("\\e[31m");
    expect(text.split("\n").some((l) => l.startsWith("FAKE VERDICT"))).toBe(false);
  });
  it("stays readable with hundreds of findings: counts the rest", () => {
    const many = Array.from({ length: 300 }, (_, i) =>
      finding({ severity: i < 20 ? "high" : "low", title: `f${i}`, where: "web" }),
    );
    const text = renderFindings(many, verdictOf(many), c);
    expect(text.split("\n").length).toBeLessThan(80);
    expect(text).toMatch(/more findings here/);
    expect(text).toMatch(/280 more findings below medium/);
    const all = renderFindings(many, verdictOf(many), c, { all: true });
    expect(all).toContain("f299");
  });
  it("leads with the verdict and groups the host apart from containers", () => {
    const fs = [finding({}), finding({ where: "host", containerId: null, title: "on host" })];
    const text = renderFindings(fs, verdictOf(fs), c);
    expect(text.split("\n")[0]).toMatch(/^COMPROMISED/);
    expect(text).toContain("host (outside all containers)");
    expect(text).toContain("container web");
  });
});
