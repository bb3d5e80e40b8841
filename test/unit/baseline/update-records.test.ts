/**
 * Update records in drift: update.json in a bundle sealed by the real bundle writer, read and
 * verified by evidence/update-records.ts, then used by the diff. A record that does not verify,
 * is of another host, lies outside the window or can be written by others explains nothing and
 * is said so. (The lab test makes a record with a real `breachkit update` against a registry.)
 */
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createBundle } from "../../../src/evidence/bundle.js";
import { readUpdateRecords } from "../../../src/evidence/update-records.js";
import { diffBaseline, explainChange } from "../../../src/judge/baseline/diff.js";
import { BASELINE_KINDS, type BaselineItem } from "../../../src/model/baseline.js";
import { UPDATE_SCHEMA_VERSION } from "../../../src/model/schema-version.js";
import type { UpdateOutput } from "../../../src/model/update-output.js";
import { tagOfReference, type UpdateTransition } from "../../../src/model/update-records.js";

const OLD = `sha256:${"a".repeat(64)}`;
const NEW = `sha256:${"b".repeat(64)}`;
const BASE_AT = "2026-03-01T12:00:00.000Z";
const NOW_AT = "2026-03-03T12:00:00.000Z";

function record(o: {
  host?: string;
  at?: string;
  dryRun?: boolean;
  outcome?: "updated" | "rolled-back";
  from?: string;
  to?: string;
}): UpdateOutput {
  const at = o.at ?? "2026-03-02T03:00:00.000Z";
  const check = {
    checkedAt: at,
    durationMs: 10,
    engine: { version: "20.10.24", apiVersion: "1.41" },
    credentials: { configFile: null, problem: null },
    containers: [],
    counts: {},
  };
  return {
    schemaVersion: UPDATE_SCHEMA_VERSION,
    mode: "update",
    dryRun: o.dryRun ?? false,
    startedAt: at,
    endedAt: new Date(Date.parse(at) + 30_000).toISOString(),
    host: o.host ?? "web01",
    settleSeconds: 10,
    results: [
      {
        name: "web",
        image: "127.0.0.1:5000/shop/web",
        outcome: o.outcome ?? "updated",
        reason: "updated",
        method: "engine-api",
        before: { containerId: "c1".repeat(32), imageId: o.from ?? OLD, digest: null },
        after: { containerId: "c2".repeat(32), imageId: o.to ?? NEW, digest: null },
        health: null,
        actions: [],
      },
    ],
    composeTool: null,
    notes: [],
    check,
    bundle: null,
    manifestSha256: null,
  };
}

async function bundleWith(out: string, rec: UpdateOutput, seconds: number): Promise<string> {
  const b = await createBundle({
    outDir: out,
    host: rec.mode === "update" ? rec.host : "web01",
    command: "update web --yes",
    now: new Date(Date.parse("2026-03-02T03:00:00.000Z") + seconds * 1000),
  });
  await b.writeJson("update.json", rec, { source: "breachkit update" });
  await b.seal({ complete: true });
  return b.dir;
}

const read = (dirs: string[]) =>
  readUpdateRecords({ dirs, since: BASE_AT, until: NOW_AT, host: "web01" });

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-update-records-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("tagOfReference", () => {
  it("names a reference as the engine names its tags", () => {
    expect(tagOfReference("nginx")).toBe("nginx:latest");
    expect(tagOfReference("docker.io/library/nginx:1.25")).toBe("nginx:1.25");
    expect(tagOfReference("docker.io/grafana/grafana")).toBe("grafana/grafana:latest");
    expect(tagOfReference("127.0.0.1:5000/app")).toBe("127.0.0.1:5000/app:latest");
    expect(tagOfReference("127.0.0.1:5000/app:2")).toBe("127.0.0.1:5000/app:2");
    expect(tagOfReference(`app@sha256:${"c".repeat(64)}`)).toBeNull();
  });
});

describe("reading update records", () => {
  it("a sealed record within the window is used; tampered, resealed-wrong, foreign, open or out-of-window ones are not", async () => {
    const out = join(dir, "a");
    const good = await bundleWith(out, record({}), 0);
    const tampered = await bundleWith(out, record({}), 1);
    const text = await readFile(join(tampered, "update.json"), "utf8");
    await writeFile(join(tampered, "update.json"), text.replace(OLD, `sha256:${"d".repeat(64)}`));
    const badSeal = await bundleWith(out, record({}), 2);
    await writeFile(join(badSeal, "SEAL"), `${"0".repeat(64)}\n`);
    const foreign = await bundleWith(out, record({ host: "db01" }), 3);
    const open = await bundleWith(out, record({}), 4);
    await chmod(open, 0o777);
    await bundleWith(out, record({ at: "2026-02-01T00:00:00.000Z" }), 5); // before the baseline
    await bundleWith(out, record({ dryRun: true }), 6);
    await bundleWith(out, record({ outcome: "rolled-back" }), 7);
    // A link to a good bundle is not followed; a stray file is not a bundle.
    await symlink(good, join(out, "breachkit-link"));
    await writeFile(join(out, "notes.txt"), "x");

    const r = await read([out, join(dir, "does-not-exist")]);
    expect(r.used.map((t) => [t.bundle, t.container, t.ref, t.fromImageId, t.toImageId])).toEqual([
      [good, "web", "127.0.0.1:5000/shop/web:latest", OLD, NEW],
    ]);
    expect(r.used[0]?.manifestSha256).toMatch(/^[0-9a-f]{64}$/);
    const why = Object.fromEntries(r.rejected.map((x) => [x.bundle, x.reason]));
    expect(Object.keys(why).sort()).toEqual([tampered, badSeal, foreign, open].sort());
    expect(why[tampered]).toMatch(/does not verify \(update\.json: (content|size) differs\)/);
    expect(why[badSeal]).toMatch(/does not verify \(SEAL mismatch\)/);
    expect(why[foreign]).toMatch(/another host \(db01\)/);
    expect(why[open]).toMatch(/written by group or others/);
    expect(r.rejected.every((x) => x.containers.includes("web"))).toBe(true);
  });

  it("a bundle directory given itself is read; not JSON or not an update record is rejected with why", async () => {
    const out = join(dir, "b");
    const good = await bundleWith(out, record({}), 0);
    expect((await read([good])).used).toHaveLength(1);
    const junk = join(out, "breachkit-junk");
    await mkdir(junk, { mode: 0o700 });
    await writeFile(join(junk, "update.json"), "{not json", { mode: 0o600 });
    const r = await read([out]);
    expect(r.used).toHaveLength(1);
    expect(r.rejected).toEqual([
      { bundle: junk, reason: "update.json is not JSON", containers: [], refs: [] },
    ]);
  });
});

const container = (imageId: string): BaselineItem => ({
  kind: "container",
  place: "web",
  key: "web",
  value: imageId,
  facts: { id: "c1", image: "127.0.0.1:5000/shop/web", privileged: "false" },
});
const tag = (imageId: string): BaselineItem => ({
  kind: "image",
  place: "host",
  key: "127.0.0.1:5000/shop/web:latest",
  value: imageId,
  facts: {},
});
const state = (items: BaselineItem[]) => ({
  kinds: [...BASELINE_KINDS],
  placesRead: ["host", "web"],
  items,
});

describe("drift with update records", () => {
  it("an image change a verified record explains is info naming the record; the same change without one is high", async () => {
    const out = join(dir, "c");
    const good = await bundleWith(out, record({}), 0);
    const updates = await read([out]);
    const base = state([container(OLD), tag(OLD)]);
    const now = state([container(NEW), tag(NEW)]);

    const explained = diffBaseline(base, now, { updates }).findings;
    expect(explained.map((f) => `${f.severity} ${f.rule}`).sort()).toEqual([
      "info drift.container-updated",
      "info drift.image-updated",
    ]);
    for (const f of explained) {
      expect(f.title).toContain(good);
      expect(f.evidence[0]?.facts?.updateRecord).toBe(good);
    }

    const bare = diffBaseline(base, now).findings;
    expect(bare.map((f) => `${f.severity} ${f.rule}`).sort()).toEqual([
      "high drift.container-changed",
      "high drift.image-changed",
    ]);
    // A record of another change (to a third image) explains nothing.
    const third = `sha256:${"e".repeat(64)}`;
    const other = diffBaseline(base, state([container(third), tag(third)]), { updates });
    expect(other.findings.map((f) => f.severity)).toEqual(["high", "high"]);
  });

  it("a record that does not verify is named, and the change stays high", async () => {
    const out = join(dir, "d");
    const b = await bundleWith(out, record({}), 0);
    await writeFile(join(b, "SEAL"), `${"0".repeat(64)}\n`);
    const updates = await read([out]);
    const d = diffBaseline(state([container(OLD), tag(OLD)]), state([container(NEW), tag(NEW)]), {
      updates,
    });
    expect(d.findings.map((f) => `${f.severity} ${f.rule}`).sort()).toEqual([
      "high drift.container-changed",
      "high drift.image-changed",
    ]);
    const c = d.findings.find((f) => f.rule === "drift.container-changed");
    expect(c?.title).toMatch(
      /without a verified update record \(.*does not verify \(SEAL mismatch\)\)/,
    );
    expect(c?.evidence[0]?.facts?.change).toBe("image changed without a verified update record");
    const t = d.findings.find((f) => f.rule === "drift.image-changed");
    expect(t?.evidence[0]?.facts?.updateRecordRejected).toContain(b);
  });

  it("a chain of updates since the baseline explains the change; a gap in it does not", () => {
    const mk = (from: string, to: string, at: string): UpdateTransition => ({
      container: "web",
      ref: null,
      fromImageId: from,
      toImageId: to,
      at,
      bundle: `/b/${at}`,
      manifestSha256: null,
    });
    const ts = [mk("B", "C", "2"), mk("A", "B", "1"), mk("X", "Y", "3")];
    expect(explainChange(ts, "A", "C")?.map((t) => t.at)).toEqual(["1", "2"]);
    expect(explainChange(ts, "A", "Y")).toBeNull();
    expect(explainChange(ts, "C", "A")).toBeNull();
  });
});
