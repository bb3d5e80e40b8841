/**
 * `triage --bundle DIR --baseline RECORD --updates DIR` end to end through the CLI: the
 * container's image change is info naming the update record when that record's bundle
 * verifies, and high without one. Bundles are made by the real bundle writer.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/main.js";
import { createBundle } from "../../../src/evidence/bundle.js";
import { BASELINE_KINDS, makeRecord } from "../../../src/model/baseline.js";
import { itemsFromSnapshot } from "../../../src/model/baseline-items.js";
import type { Finding } from "../../../src/model/finding.js";
import { UPDATE_SCHEMA_VERSION } from "../../../src/model/schema-version.js";
import { TOOL } from "../../../src/version.js";
import { memoryIo } from "../../helpers/memory-io.js";
import { SnapshotBuilder } from "../../helpers/snapshot-builder.js";

const OLD = `sha256:${"a".repeat(64)}`;
const NEW = `sha256:${"b".repeat(64)}`;
const BASE_AT = "2026-03-01T00:00:00.000Z";
const UPDATED_AT = "2026-03-01T06:00:00.000Z";
const NOW_AT = "2026-03-01T12:00:00.000Z"; // the builder's snapshot time

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-triage-updates-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function triage(args: string[]): Promise<{ code: number; findings: Finding[] }> {
  const m = memoryIo({ cwd: dir, env: { ...process.env, NO_COLOR: "1" } });
  const code = await runCli(["triage", "--json", ...args], m.io);
  return { code, findings: (JSON.parse(m.stdout()) as { findings: Finding[] }).findings };
}

describe("triage --baseline with update records", () => {
  it("explains a recorded image change (info, naming the record); without the record it is high", async () => {
    const snap = (imageId: string) =>
      new SnapshotBuilder().container({ name: "web", image: "shop/web:1", imageId }).build();
    const now = snap(NEW);
    expect(now.takenAt).toBe(NOW_AT);
    const host = now.host.hostname;

    // The baseline: the same host with the old image.
    const base = itemsFromSnapshot(snap(OLD));
    const rec = join(dir, "baseline.json");
    await writeFile(
      rec,
      JSON.stringify(
        makeRecord(
          {
            takenAt: BASE_AT,
            host,
            root: "/",
            kinds: [...BASELINE_KINDS],
            placesRead: base.placesRead,
            items: base.items,
            gaps: [],
          },
          TOOL,
        ),
      ),
      { mode: 0o600 },
    );

    // Today's snapshot, as a bundle triage --bundle judges offline.
    const sb = await createBundle({ outDir: join(dir, "snap"), host, command: "snapshot" });
    await sb.writeJson("snapshot.json", now, { source: "breachkit snapshot" });
    await sb.seal({ complete: true });

    // The update record, sealed.
    const ub = await createBundle({
      outDir: join(dir, "updates"),
      host,
      command: "update web --yes",
      now: new Date(UPDATED_AT),
    });
    await ub.writeJson(
      "update.json",
      {
        schemaVersion: UPDATE_SCHEMA_VERSION,
        mode: "update",
        dryRun: false,
        startedAt: UPDATED_AT,
        endedAt: UPDATED_AT,
        host,
        settleSeconds: 10,
        results: [
          {
            name: "web",
            image: "shop/web:1",
            outcome: "updated",
            reason: "updated",
            method: "engine-api",
            before: { containerId: "1".repeat(64), imageId: OLD, digest: null },
            after: { containerId: "2".repeat(64), imageId: NEW, digest: null },
            health: null,
            actions: [],
          },
        ],
        composeTool: null,
        notes: [],
        check: {
          checkedAt: UPDATED_AT,
          durationMs: 1,
          engine: { version: null, apiVersion: null },
          credentials: { configFile: null, problem: null },
          containers: [],
          counts: {},
        },
        bundle: null,
        manifestSha256: null,
      },
      { source: "breachkit update" },
    );
    await ub.seal({ complete: true });

    const drift = (fs: Finding[]) =>
      fs.filter((f) => f.source === "baseline").map((f) => `${f.severity} ${f.rule} ${f.where}`);
    const explained = await triage([
      "--bundle",
      sb.dir,
      "--baseline",
      rec,
      "--updates",
      join(dir, "updates"),
    ]);
    expect(drift(explained.findings)).toEqual(["info drift.container-updated web"]);
    const f = explained.findings.find((x) => x.rule === "drift.container-updated");
    expect(f?.evidence[0]?.facts?.updateRecord).toBe(ub.dir);

    const bare = await triage([
      "--bundle",
      sb.dir,
      "--baseline",
      rec,
      "--updates",
      join(dir, "none"),
    ]);
    expect(drift(bare.findings)).toEqual(["high drift.container-changed web"]);
  });
});
