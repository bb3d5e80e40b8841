import { describe, expect, it } from "vitest";
import type { RuleContext } from "../../../src/judge/context.js";
import { judge } from "../../../src/judge/index.js";
import { shippedLists } from "../../../src/judge/rule-set.js";
import { SnapshotBuilder } from "../../helpers/snapshot-builder.js";

const ctx: RuleContext = { now: new Date("2026-03-01T12:00:00Z"), lists: shippedLists() };

describe("breachkit's own process", () => {
  it("is not judged: the single executable run from /tmp under Node 24's thread name", () => {
    const snap = new SnapshotBuilder()
      .process({ pid: 700, comm: "MainThread", exe: { path: "/tmp/bk.x/breachkit" } })
      .process({ pid: 701, comm: "MainThread", exe: { path: "/tmp/bk.y/breachkit" } })
      .build();
    snap.processes[0]!.self = true;
    const findings = judge(snap, ctx);
    const pids = findings.flatMap((f) => f.evidence.map((e) => e.pid));
    // The same binary as another process, not marked self, is judged as any other.
    expect(pids).toContain(701);
    expect(pids).not.toContain(700);
    expect(findings.map((f) => f.rule)).toContain("process.exe-in-tmp");
  });
});
