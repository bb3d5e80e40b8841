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
  it("is only suspicious for a risky configuration (high, but not an observed compromise)", () => {
    const v = verdictOf([finding({ rule: "container.privileged", severity: "high" })], "high");
    expect(v.level).toBe("suspicious");
    expect(v.atOrAboveThreshold).toBe(1);
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
