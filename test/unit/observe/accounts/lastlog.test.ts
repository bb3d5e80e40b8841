import { describe, expect, it } from "vitest";
import { LASTLOG_RECORD_SIZE, parseLastlog } from "../../../../src/observe/accounts/lastlog.js";
import { readAccountsFixture } from "../../../helpers/accounts-fixtures.js";

/** Rows of `lastlog` output that have a login: [user, port, from, date]. */
function parseLastlogOutput(out: string): Array<[string, string, string, string]> {
  return out
    .split("\n")
    .slice(1)
    .filter((l) => l.trim() !== "" && !l.includes("**Never logged in**"))
    .map((l) => {
      const [user, port, from, ...date] = l.trim().split(/\s+/);
      return [user!, port!, from!, date.join(" ")];
    });
}

function lastlogDate(iso: string): string {
  // `lastlog` prints "Wed Nov 25 02:49:37 +0000 2026" under TZ=UTC.
  const d = new Date(iso);
  const [wd, day, mon, year] = d.toUTCString().replace(",", "").split(" ");
  return `${wd} ${mon} ${day} ${d.toISOString().slice(11, 19)} +0000 ${year}`;
}

describe("parseLastlog", () => {
  it("reads the sparse file written by lastlog -S and agrees with lastlog's output", async () => {
    const bytes = await readAccountsFixture("lastlog", "lastlog");
    const p = parseLastlog(bytes);
    expect(p.skipped).toBe(0);
    expect(p.records.map((r) => r.uid)).toEqual([0, 101, 1000]);
    const byUid = new Map([
      [0, "root"],
      [101, "postgres"],
      [1000, "cloudsdk"],
    ]);
    const out = parseLastlogOutput(
      (await readAccountsFixture("lastlog", "lastlog-u.out")).toString(),
    );
    const mine = p.records.map((r) => [byUid.get(r.uid), r.tty, r.host, lastlogDate(r.time)]);
    expect(mine.sort()).toEqual(out.sort());
    expect(p.records[0]).toEqual({
      uid: 0,
      time: "2026-11-25T02:49:37.000Z",
      tty: "lastlog",
      host: "localhost",
    });
  });

  it("numbers entries from the slice's first uid", async () => {
    const bytes = await readAccountsFixture("lastlog", "lastlog");
    const slice = bytes.subarray(1000 * LASTLOG_RECORD_SIZE, 1001 * LASTLOG_RECORD_SIZE);
    expect(parseLastlog(slice, 1000).records.map((r) => r.uid)).toEqual([1000]);
  });

  it("ignores a cut trailing entry and never-used (zero) entries", async () => {
    const bytes = await readAccountsFixture("lastlog", "lastlog");
    const cut = bytes.subarray(0, 101 * LASTLOG_RECORD_SIZE + 200);
    expect(parseLastlog(cut).records.map((r) => r.uid)).toEqual([0]);
    expect(parseLastlog(new Uint8Array(LASTLOG_RECORD_SIZE * 3)).records).toEqual([]);
  });

  it("skips entries with an impossible time and keeps hostile strings as data", () => {
    const buf = Buffer.alloc(LASTLOG_RECORD_SIZE * 3);
    buf.writeUInt32LE(1, 0); // 1970: before the plausible window
    buf.writeUInt32LE(1_700_000_000, LASTLOG_RECORD_SIZE);
    buf.write("pts/0\n\u001b[2J", LASTLOG_RECORD_SIZE + 4);
    buf.write("<img src=x onerror=alert(1)>", LASTLOG_RECORD_SIZE + 36);
    buf.writeUInt32LE(2_000_000_000, LASTLOG_RECORD_SIZE * 2);
    const p = parseLastlog(buf, 0, { maxTime: new Date("2030-01-01T00:00:00Z") });
    expect(p.skipped).toBe(2);
    expect(p.records).toEqual([
      {
        uid: 1,
        time: "2023-11-14T22:13:20.000Z",
        tty: "pts/0\n\u001b[2J",
        host: "<img src=x onerror=alert(1)>",
      },
    ]);
  });
});
