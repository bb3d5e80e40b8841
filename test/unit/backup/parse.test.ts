import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  explainResticError,
  parseBackupLine,
  parseForget,
  parseIndex,
  parseLs,
  parseSnapshots,
  parseTree,
  snapshotTags,
  tagOf,
  tagValue,
} from "../../../src/observe/restic/parse.js";

const fx = (name: string) =>
  readFileSync(new URL(`../../fixtures/restic/${name}`, import.meta.url), "utf8");

describe("restic 0.14.0 output parsers (recorded outputs)", () => {
  it("backup --json: status lines and the summary", () => {
    const lines = fx("restic-0.14.0-backup.jsonl").split("\n").map(parseBackupLine).filter(Boolean);
    const summary = lines.find((l) => l?.kind === "summary");
    expect(summary?.kind).toBe("summary");
    if (summary?.kind !== "summary") return;
    expect(summary.summary.snapshotId).toMatch(/^[0-9a-f]{8,64}$/);
    expect(summary.summary.totalFilesProcessed).toBe(3);
    expect(summary.summary.totalBytesProcessed).toBe(3_000_000 + 6 + 35_664);
    expect(lines.some((l) => l?.kind === "status")).toBe(true);
    const quiet = fx("restic-0.14.0-backup-quiet.jsonl").split("\n").map(parseBackupLine);
    expect(quiet.filter((l) => l?.kind === "summary")).toHaveLength(1);
  });

  it("backup --json: an error line and a non-JSON line", () => {
    const e = parseBackupLine(
      '{"message_type":"error","error":{"Op":"open","Path":"x","Err":13},"during":"archival","item":"/srv/x"}',
    );
    expect(e?.kind).toBe("error");
    expect(parseBackupLine("Fatal: something")).toEqual({
      kind: "other",
      text: "Fatal: something",
    });
    expect(parseBackupLine("   ")).toBeNull();
  });

  it("snapshots --json: ids, times, tags, sorted oldest first", () => {
    const r = parseSnapshots(fx("restic-0.14.0-snapshots.json"));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toHaveLength(2);
    expect(r.value[0]?.time).toBe("2026-01-10T10:00:00Z");
    expect(r.value[0]!.timeMs).toBeLessThan(r.value[1]!.timeMs);
    expect(tagOf(r.value[0]!.tags, "container")).toBe("web");
    expect(tagOf(r.value[0]!.tags, "image")).toBe("sha256:abc");
    expect(r.value[0]?.tree).toMatch(/^[0-9a-f]{64}$/);
    expect(parseSnapshots("null")).toEqual({ ok: true, value: [] });
    expect(parseSnapshots("[{").ok).toBe(false);
    expect(parseSnapshots('[{"time":"x","id":"nothex"}]').ok).toBe(false);
  });

  it("forget --json: keep and remove per group", () => {
    const r = parseForget(fx("restic-0.14.0-forget-dry-run.json"));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value).toHaveLength(1);
    // --keep-daily 1 over two snapshots on different days keeps the newer.
    expect(r.value[0]?.keep).toHaveLength(1);
    expect(r.value[0]?.remove).toHaveLength(1);
    expect(r.value[0]!.keep[0]!.timeMs).toBeGreaterThan(r.value[0]!.remove[0]!.timeMs);
  });

  it("trees and index: nodes, subtrees, data blob lengths", () => {
    const t = parseTree(fx("restic-0.14.0-tree-root.json"));
    expect(t.ok).toBe(true);
    if (!t.ok) return;
    expect(t.value[0]?.type).toBe("dir");
    expect(t.value[0]?.subtree).toMatch(/^[0-9a-f]{64}$/);
    const lengths = new Map<string, number>();
    const n = parseIndex(fx("restic-0.14.0-index.json"), lengths);
    expect(n.ok).toBe(true);
    // The plaintext lengths of big.bin's blobs and the two small files add up to their sizes.
    const total = [...lengths.values()].reduce((a, b) => a + b, 0);
    expect(total).toBe(3_000_000 + 6 + 35_664);
  });

  it("ls --json: every node with its path, type and size (the snapshot line skipped)", () => {
    const r = parseLs(fx("restic-0.14.0-ls.jsonl"));
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const files = r.value.filter((n) => n.type === "file");
    expect(files.map((f) => [f.path, f.size])).toEqual([
      ["/tmp/rf/data/a.txt", 6],
      ["/tmp/rf/data/big.bin", 3_000_000],
      ["/tmp/rf/data/sub/t", 35_664],
    ]);
    expect(parseLs("{oops").ok).toBe(false);
  });

  it("fatal errors in words, with what to do", () => {
    expect(explainResticError(fx("restic-0.14.0-wrong-password.stderr"), 1).reason).toMatch(
      /^wrong password/,
    );
    const missing = explainResticError(fx("restic-0.14.0-missing-repo.stderr"), 1);
    expect(missing.reason).toMatch(/^no restic repository/);
    expect(missing.hint).toMatch(/restic init/);
    const full = explainResticError(fx("restic-0.14.0-disk-full.stderr"), 1);
    expect(full.reason).toMatch(/^the repository's disk is full/);
    expect(explainResticError("", 7).reason).toBe("exit 7");
  });

  it("tags never carry a comma or a control character (restic splits --tag on commas)", () => {
    expect(tagValue("a,b\nc\u001b[31m")).toBe("a_b_c_[31m");
    expect(snapshotTags("web", "sha256:x", "h")).toEqual([
      "breachkit",
      "container=web",
      "image=sha256:x",
      "host=h",
    ]);
  });
});
