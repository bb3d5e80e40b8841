import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBundle } from "../../../src/evidence/bundle.js";
import { readIncident } from "../../../src/observe/restic/incident.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-incident-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const TROJAN = "ab".repeat(32);

describe("--before-incident: what a bundle tells a restore", () => {
  it("the earliest evidence time (a named process started before the bundle) and the findings' hashes", async () => {
    const bundle = await createBundle({
      outDir: dir,
      host: "web01",
      command: "triage",
      now: new Date("2026-11-30T10:00:00Z"),
    });
    await bundle.writeJson(
      "findings.json",
      [
        {
          rule: "process.deleted-exe",
          severity: "high",
          confidence: "high",
          title: "wate runs from a deleted file",
          where: "gitlab",
          containerId: "c",
          evidence: [{ pid: 4242, sha256: TROJAN.toUpperCase() }],
          next: "",
          source: "triage",
          falsePositive: null,
        },
        {
          rule: "config.low",
          severity: "low",
          confidence: "low",
          title: "low",
          where: "host",
          containerId: null,
          evidence: [{ pid: 1, sha256: "cd".repeat(32) }],
          next: "",
          source: "triage",
          falsePositive: null,
        },
      ],
      { source: "breachkit" },
    );
    await bundle.writeJson(
      "snapshot.json",
      {
        processes: [
          { pid: 4242, startTime: "2026-11-29T22:15:00.000Z" },
          { pid: 1, startTime: "2026-01-01T00:00:00.000Z" },
        ],
      },
      { source: "breachkit" },
    );
    await bundle.seal({ complete: true });
    const incident = await readIncident(bundle.dir);
    // pid 1 is cited only by a low finding: not evidence of the compromise.
    expect(incident.earliest.toISOString()).toBe("2026-11-29T22:15:00.000Z");
    expect([...incident.hashes.keys()]).toEqual([TROJAN]);
    expect(incident.hashes.get(TROJAN)).toBe("findings.json: process.deleted-exe on gitlab");
  });

  it("a directory that is not a bundle is refused with what to give", async () => {
    await writeFile(join(dir, "manifest.json"), "{}");
    await expect(readIncident(dir)).rejects.toThrow(/not a breachkit bundle/);
  });
});
