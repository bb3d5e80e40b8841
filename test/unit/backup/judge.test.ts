import { describe, expect, it } from "vitest";
import { judgeRestore } from "../../../src/judge/backup/restore-safety.js";
import { retentionPlan } from "../../../src/judge/backup/retention.js";
import { parseTime, selectSnapshot } from "../../../src/judge/backup/select.js";

const DAY = 86_400_000;
const BASE = Date.parse("2026-11-30T12:00:00Z"); // a Monday, ISO week 49

/** 19 snapshots over 100 days (days back from BASE), two on the newest day. */
const RETENTION_DAYS = [0, 1, 2, 3, 5, 6, 9, 13, 20, 27, 34, 41, 50, 60, 70, 80, 90, 99];

function snapshots() {
  const list = RETENTION_DAYS.map((d) => ({
    id: `d${d}`,
    time: new Date(BASE - d * DAY).toISOString(),
  }));
  list.push({ id: "d0-early", time: new Date(BASE - 4 * 3600_000).toISOString() });
  return list;
}

describe("retention plan (keep daily 7, weekly 4, monthly 6, as restic applies it)", () => {
  it("keeps the newest per day for 7 days, then per ISO week, then per month", () => {
    const keep = retentionPlan(snapshots(), { daily: 7, weekly: 4, monthly: 6 });
    // Worked out by hand: days 0,1,2,3,5,6,9 (daily); 9 also opens week 47, day 20 is week 46
    // (the 4th week: 49, 48, 47, 46); months: Nov (day 0), Oct (day 34 = Oct 27),
    // Sep (day 70 = Sep 21), Aug (day 99 = Aug 23). The earlier snapshot of day 0 goes.
    expect(keep.sort()).toEqual(
      ["d0", "d1", "d2", "d3", "d5", "d6", "d9", "d20", "d34", "d70", "d99"].sort(),
    );
  });

  it("a zero policy keeps nothing; a daily-only policy keeps the newest per day", () => {
    expect(retentionPlan(snapshots(), { daily: 0, weekly: 0, monthly: 0 })).toEqual([]);
    expect(retentionPlan(snapshots(), { daily: 2, weekly: 0, monthly: 0 })).toEqual(["d0", "d1"]);
  });
});

describe("snapshot selection", () => {
  const list = [
    {
      id: "a".repeat(64),
      shortId: "aaaaaaaa",
      time: "2026-01-01T00:00:00Z",
      timeMs: Date.parse("2026-01-01T00:00:00Z"),
      hostname: "h",
      paths: [],
      tags: [],
    },
    {
      id: "b".repeat(64),
      shortId: "bbbbbbbb",
      time: "2026-01-02T00:00:00Z",
      timeMs: Date.parse("2026-01-02T00:00:00Z"),
      hostname: "h",
      paths: [],
      tags: [],
    },
    {
      id: "c".repeat(64),
      shortId: "cccccccc",
      time: "2026-01-03T00:00:00Z",
      timeMs: Date.parse("2026-01-03T00:00:00Z"),
      hostname: "h",
      paths: [],
      tags: [],
    },
  ];
  it("--before takes the newest strictly before the time", () => {
    const r = selectSnapshot(list, { before: new Date("2026-01-02T12:00:00Z") });
    expect(r.ok && r.value.shortId).toBe("bbbbbbbb");
    const exact = selectSnapshot(list, { before: new Date("2026-01-02T00:00:00Z") });
    expect(exact.ok && exact.value.shortId).toBe("aaaaaaaa");
    expect(selectSnapshot(list, { before: new Date("2025-12-31T00:00:00Z") }).ok).toBe(false);
  });
  it("latest by default; --snapshot by prefix, ambiguous or unknown refused", () => {
    const latest = selectSnapshot(list, {});
    expect(latest.ok && latest.value.shortId).toBe("cccccccc");
    const byId = selectSnapshot(list, { snapshot: "bbbb" });
    expect(byId.ok && byId.value.shortId).toBe("bbbbbbbb");
    expect(selectSnapshot(list, { snapshot: "dddd" }).ok).toBe(false);
    expect(selectSnapshot(list, { snapshot: "x; rm" }).ok).toBe(false);
    expect(selectSnapshot([], {}).ok).toBe(false);
  });
  it("parses ISO times, dates (UTC) and relative ages", () => {
    const now = new Date("2026-01-10T00:00:00Z");
    expect(parseTime("2026-01-02", now)?.toISOString()).toBe("2026-01-02T00:00:00.000Z");
    expect(parseTime("2026-01-02T08:30:00+02:00", now)?.toISOString()).toBe(
      "2026-01-02T06:30:00.000Z",
    );
    expect(parseTime("2026-01-02 08:30", now)?.toISOString()).toBe("2026-01-02T08:30:00.000Z");
    expect(parseTime("3d", now)?.toISOString()).toBe("2026-01-07T00:00:00.000Z");
    expect(parseTime("yesterday", now)).toBeNull();
  });
});

describe("restore safety", () => {
  const trojan = "f".repeat(64);
  const files = [
    { path: "srv/app/index.php", sha256: "1".repeat(64), executable: false },
    { path: "srv/app/.cache/wate", sha256: trojan, executable: true },
  ];
  it("an IOC hash in the restored files makes it unsafe, named", () => {
    const v = judgeRestore({
      files,
      iocs: new Map([[trojan, "findings.json: process.deleted-exe on gitlab"]]),
      clamav: { status: "clean", hits: [], error: null },
      unreadable: [],
    });
    expect(v.safe).toBe(false);
    expect(v.iocHits).toEqual([
      {
        path: "srv/app/.cache/wate",
        sha256: trojan,
        origin: "findings.json: process.deleted-exe on gitlab",
      },
    ]);
  });
  it("clean files with ClamAV clean are safe; a ClamAV hit or error is not", () => {
    const base = { files, iocs: new Map<string, string>(), unreadable: [] };
    expect(judgeRestore({ ...base, clamav: { status: "clean", hits: [], error: null } }).safe).toBe(
      true,
    );
    expect(
      judgeRestore({
        ...base,
        clamav: { status: "hits", hits: [{ path: "x", signature: "Eicar" }], error: null },
      }).safe,
    ).toBe(false);
    expect(
      judgeRestore({ ...base, clamav: { status: "error", hits: [], error: "no db" } }).safe,
    ).toBe(false);
    expect(
      judgeRestore({
        ...base,
        unreadable: ["y"],
        clamav: { status: "clean", hits: [], error: null },
      }).safe,
    ).toBe(false);
  });
});
