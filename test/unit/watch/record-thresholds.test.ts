import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { RotatingRecord } from "../../../src/evidence/watch-record.js";
import { loadLists } from "../../../src/judge/rule-lists.js";
import { loadWatchThresholds } from "../../../src/judge/watch/thresholds.js";

const dir = mkdtempSync(join(tmpdir(), "bk-watch-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("--record FILE", () => {
  it("appends lines, mode 0600, and rotates to FILE.1 past the bound, never over twice it", () => {
    const path = join(dir, "rec.ndjson");
    const r = new RotatingRecord(path, 1000);
    const line = JSON.stringify({ n: 0, pad: "x".repeat(80) });
    for (let i = 0; i < 25; i++) r.append(line.replace('"n":0', `"n":${i}`));
    r.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).size).toBeLessThanOrEqual(1000);
    expect(statSync(`${path}.1`).size).toBeLessThanOrEqual(1000);
    expect(r.rotations).toBeGreaterThanOrEqual(2);
    const last = readFileSync(path, "utf8").trim().split("\n");
    // the newest sample is in FILE, whole lines only
    expect(JSON.parse(last[last.length - 1]!).n).toBe(24);
    for (const l of [...last, ...readFileSync(`${path}.1`, "utf8").trim().split("\n")])
      expect(() => JSON.parse(l)).not.toThrow();
  });

  it("appends to a file that exists, counting its size", () => {
    const path = join(dir, "old.ndjson");
    writeFileSync(path, `${"y".repeat(900)}\n`);
    const r = new RotatingRecord(path, 1000);
    r.append("z".repeat(200));
    r.close();
    expect(readFileSync(`${path}.1`, "utf8")).toContain("yyy");
    expect(readFileSync(path, "utf8")).toBe(`${"z".repeat(200)}\n`);
  });
});

describe("rules/watch.json", () => {
  it("loads the shipped thresholds", () => {
    const t = loadWatchThresholds();
    expect(t.ok && t.value).toMatchObject({
      txPacketsPerSec: 1000,
      destinationsPerPort: 50,
      minSeverity: "medium",
    });
  });

  it("takes a user's override of some values, and the --rules directory still loads its lists", () => {
    const user = join(dir, "rules-ok");
    rmSync(user, { recursive: true, force: true });
    mkdirSync(user);
    writeFileSync(
      join(user, "watch.json"),
      JSON.stringify({ version: 1, description: "ours", thresholds: { txPacketsPerSec: 50000 } }),
    );
    const t = loadWatchThresholds(user);
    expect(t.ok && t.value).toMatchObject({ txPacketsPerSec: 50000, rxPacketsPerSec: 20000 });
    expect(loadLists(user).ok).toBe(true);
  });

  it("names the file and line of a wrong value", () => {
    const user = join(dir, "rules-bad");
    rmSync(user, { recursive: true, force: true });
    mkdirSync(user);
    writeFileSync(
      join(user, "watch.json"),
      '{\n  "version": 1,\n  "description": "x",\n  "thresholds": {\n    "txPacketsPerSec": -5\n  }\n}\n',
    );
    const t = loadWatchThresholds(user);
    expect(t.ok).toBe(false);
    if (!t.ok) expect(t.error.message).toMatch(/watch\.json:5: thresholds\.txPacketsPerSec/);
    writeFileSync(
      join(user, "watch.json"),
      '{"version": 1, "description": "x", "thresholds": {"floodPps": 5}}',
    );
    const u = loadWatchThresholds(user);
    expect(!u.ok && u.error.message).toMatch(/floodPps/);
    // Not JSON at all: the line of the syntax error.
    writeFileSync(join(user, "watch.json"), '{\n  "version": 1,\n  "thresholds": {,}\n}\n');
    const v = loadWatchThresholds(user);
    expect(!v.ok && v.error.message).toMatch(/watch\.json:3: not valid JSON: /);
  });
});
