/**
 * triage writes its quick bundle while the traffic/CPU sample still runs (collectEvidence's
 * `final`): the bundle must hold exactly what it holds when the sample is done first.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createBundle } from "../../../src/evidence/bundle.js";
import { collectEvidence } from "../../../src/evidence/collect.js";
import { shippedLists } from "../../../src/judge/rule-set.js";
import type { Snapshot } from "../../../src/model/snapshot.js";
import type { SnapshotResult } from "../../../src/observe/snapshot.js";
import { SnapshotBuilder } from "../../helpers/snapshot-builder.js";

const work = mkdtempSync(join(tmpdir(), "bk-collect-rates-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Every file of a bundle but those that record times, with its content. */
function contents(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const path = join(d, e.name);
      if (e.isDirectory()) walk(path);
      else out.set(relative(dir, path), readFileSync(path, "utf8"));
    }
  };
  walk(dir);
  // When each step ran and the manifest's times differ between two runs by nature.
  out.delete("collection.log.jsonl");
  out.delete("manifest.json");
  return out;
}

async function bundleOf(name: string, snap: SnapshotResult, final?: Promise<SnapshotResult>) {
  const bundle = await createBundle({
    outDir: join(work, name),
    host: "web01",
    command: "triage",
    now: new Date("2026-03-01T12:00:00Z"),
  });
  const summary = await collectEvidence({
    bundle,
    snap,
    ...(final === undefined ? {} : { final }),
    engine: null,
    lists: shippedLists(),
    host: false,
  });
  return { dir: bundle.dir, summary };
}

describe("collectEvidence while the rate sample runs", () => {
  it("writes the same files, with the rated snapshot, as after the sample", async () => {
    const dockerRoot = join(work, "docker-root");
    const base = new SnapshotBuilder({
      engine: {
        available: true,
        endpoint: "unix:///nonexistent.sock",
        version: "20.10.24",
        apiVersion: "1.41",
        storageDriver: "overlay2",
        dockerRootDir: dockerRoot,
        error: null,
      },
      intervalSeconds: 1,
    })
      .container({ name: "bk-lab-gitlab" })
      .process(
        { pid: 4242, comm: "wate", exe: { path: "/tmp/wate", deleted: true } },
        "bk-lab-gitlab",
      )
      .process({ pid: 1, comm: "init" })
      .build();
    const rated: Snapshot = {
      ...base,
      processes: base.processes.map((p) => ({ ...p, cpuPercent: p.pid === 4242 ? 97.5 : 0.1 })),
    };
    const first: Snapshot = {
      ...base,
      processes: base.processes.map((p) => ({ ...p, cpuPercent: 3 })),
    };
    const inspects = new Map<string, unknown>();
    let sampleDone: (r: SnapshotResult) => void = () => {};
    const final = new Promise<SnapshotResult>((resolve) => {
      sampleDone = resolve;
    });
    const overlapped = bundleOf("overlapped", { snapshot: first, inspects }, final);
    // The sample ends while the bundle is being written.
    setTimeout(() => sampleDone({ snapshot: rated, inspects }), 20);
    const a = await overlapped;
    const b = await bundleOf("after", { snapshot: rated, inspects });

    const left = contents(a.dir);
    const right = contents(b.dir);
    expect([...left.keys()].sort()).toEqual([...right.keys()].sort());
    for (const [path, text] of right) expect(left.get(path), path).toBe(text);
    const written = JSON.parse(left.get("snapshot.json") ?? "{}") as Snapshot;
    expect(written.processes.find((p) => p.pid === 4242)?.cpuPercent).toBe(97.5);
    const ps = JSON.parse(left.get("containers/bk-lab-gitlab/processes.json") ?? "[]");
    expect(ps.map((p: { cpuPercent: number }) => p.cpuPercent)).toEqual([97.5]);
    expect(a.summary.files).toBe(b.summary.files);
    expect(a.summary.errors.map((e) => e.action)).toEqual(b.summary.errors.map((e) => e.action));
  });
});
