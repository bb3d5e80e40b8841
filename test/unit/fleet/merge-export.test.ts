import { describe, expect, it } from "vitest";
import { mergeFleetFindings } from "../../../src/judge/fleet/merge.js";
import type { Finding } from "../../../src/model/finding.js";
import { toBulkNdjson } from "../../../src/tell/export/opensearch.js";
import { toTimesketchJsonl } from "../../../src/tell/export/timesketch.js";
import { fakeSha256, SnapshotBuilder } from "../../helpers/snapshot-builder.js";

const HOSTILE = '\u001b[2J<script>x</script>\n{"index":{}}';

function flagged(path: string, sha256: string, pid: number): Finding {
  return {
    rule: "process.exe-in-tmp",
    severity: "high",
    confidence: "medium",
    title: `${path} runs from a temp dir`,
    where: "host",
    containerId: null,
    evidence: [{ pid, path, sha256 }],
    next: "copy it",
    source: "triage",
    falsePositive: null,
  };
}

describe("fleet findings", () => {
  const snapA = new SnapshotBuilder()
    .process({ pid: 10, comm: "x", exe: { path: `/tmp/${HOSTILE}` } })
    .build();
  const sha = snapA.processes[0]!.exe.sha256!;
  const snapB = new SnapshotBuilder()
    .process({ pid: 20, comm: "y", exe: { path: "/var/tmp/y" } })
    .build();
  snapB.processes[0]!.exe.sha256 = sha; // the same bytes under another name
  const snapC = new SnapshotBuilder()
    .process({ pid: 30, comm: "z", exe: { path: "/usr/bin/z" } })
    .build();

  it("marks each finding with its host and adds fleet.same-exe for a flagged hash on several hosts", () => {
    const merged = mergeFleetFindings([
      { host: "a", findings: [flagged(`/tmp/${HOSTILE}`, sha, 10)], snapshot: snapA },
      { host: "b", findings: [], snapshot: snapB },
      { host: "c", findings: [], snapshot: snapC },
    ]);
    expect(merged.map((f) => `${f.host} ${f.rule}`)).toEqual([
      "fleet fleet.same-exe",
      "a process.exe-in-tmp",
    ]);
    const spread = merged[0]!;
    expect(spread.evidence.map((e) => [e.facts?.host, e.pid, e.path])).toEqual([
      ["a", 10, `/tmp/${HOSTILE}`],
      ["b", 20, "/var/tmp/y"],
    ]);
  });

  it("no fleet finding for a hash on one host only, or cited only below medium", () => {
    const low = { ...flagged("/tmp/q", fakeSha256("q"), 1), severity: "low" as const };
    const merged = mergeFleetFindings([
      { host: "a", findings: [flagged("/tmp/p", fakeSha256("p"), 1), low], snapshot: null },
      { host: "b", findings: [], snapshot: snapC },
    ]);
    expect(merged.filter((f) => f.rule === "fleet.same-exe")).toEqual([]);
  });

  it("exports: every _bulk line is one JSON object (a hostile newline cannot add one), ECS names", () => {
    const merged = mergeFleetFindings([
      { host: "a", findings: [flagged(`/tmp/${HOSTILE}`, sha, 10)], snapshot: snapA },
      { host: "b", findings: [], snapshot: snapB },
    ]);
    const at = "2026-03-01T12:00:00.000Z";
    const text = toBulkNdjson(merged, [{ host: "a", snapshot: snapA }], at);
    const lines = text.trimEnd().split("\n");
    // 2 findings + 1 process start, each an action line and a document.
    expect(lines.length).toBe(6);
    const docs = lines.map((l) => JSON.parse(l) as Record<string, any>);
    expect(docs[0]).toEqual({ index: { _index: "breachkit-findings" } });
    expect(docs[1]).toMatchObject({
      "@timestamp": at,
      event: { kind: "alert", module: "breachkit" },
      rule: { id: "fleet.same-exe" },
      host: { name: "fleet" },
      process: { hash: { sha256: sha } },
    });
    expect(docs[5]).toMatchObject({
      event: { type: ["start"] },
      process: { pid: 10, executable: `/tmp/${HOSTILE}` },
    });
    const ts = toTimesketchJsonl({ host: "a", snapshot: snapA }, merged, at).trimEnd().split("\n");
    expect(ts.map((l) => JSON.parse(l).timestamp_desc).sort()).toEqual([
      "Finding",
      "Process Start",
    ]);
  });
});
