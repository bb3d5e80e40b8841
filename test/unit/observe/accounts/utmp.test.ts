import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LoginRecord } from "../../../../src/model/snapshot.js";
import {
  formatUtmpAddress,
  parseUtmp,
  UTMP_RECORD_SIZE,
} from "../../../../src/observe/accounts/utmp.js";
import {
  accountsFixture,
  readAccountsFixture,
  setUtmpString,
  UTMP_FIELDS,
} from "../../../helpers/accounts-fixtures.js";

/** One session line of `last -w -a` or `last -w -i` (ISO times, TZ=UTC). */
type LastLine = { user: string; tty: string; time: string; last: string; beforeTime: string };

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$/;

function parseLast(out: string, withAddress: boolean): LastLine[] {
  const lines: LastLine[] = [];
  for (const line of out.split("\n")) {
    const t = line.trim().split(/\s+/);
    const at = t.findIndex((x) => ISO.test(x));
    if (at < 2 || t[1] === "begins") continue;
    lines.push({
      user: t[0]!,
      // With -i the address sits between the tty and the time.
      tty: t.slice(1, withAddress ? at - 1 : at).join(" "),
      time: t[at]!,
      last: t[t.length - 1]!,
      beforeTime: t[at - 1]!,
    });
  }
  return lines;
}

/** What last(1) shows for a record, or null for records it does not list. */
function asLast(r: LoginRecord, btmp = false): Omit<LastLine, "last" | "beforeTime"> | null {
  const time = `${r.time.slice(0, 19)}+00:00`;
  if (btmp || r.type === "USER_PROCESS") return { user: r.user, tty: r.tty, time };
  if (r.type === "BOOT_TIME") return { user: "reboot", tty: "system boot", time };
  if (r.type === "RUN_LVL" && r.user === "shutdown")
    return { user: "shutdown", tty: "system down", time };
  if (r.type === "RUN_LVL") {
    // last prints the runlevel character that init stores in ut_pid.
    return { user: "runlevel", tty: `(to lvl ${String.fromCharCode(r.pid % 256)})`, time };
  }
  return null;
}

function sortKey(x: { time: string; user: string; tty: string }): string {
  return `${x.time} ${x.user} ${x.tty}`;
}

/** Compare parsed records with last's -a (host) and -i (address) outputs. */
function expectSameAsLast(records: LoginRecord[], outA: string, outI: string, btmp = false) {
  const mine = records
    .map((r) => ({ r, l: asLast(r, btmp) }))
    .filter((x): x is { r: LoginRecord; l: NonNullable<ReturnType<typeof asLast>> } => x.l !== null)
    .sort((a, b) => sortKey(a.l).localeCompare(sortKey(b.l)));
  const byA = parseLast(outA, false).sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
  const byI = parseLast(outI, true).sort((a, b) => sortKey(a).localeCompare(sortKey(b)));
  expect(mine.length).toBeGreaterThan(0);
  expect(byA.map(sortKey)).toEqual(mine.map((m) => sortKey(m.l)));
  expect(byI.map(sortKey)).toEqual(mine.map((m) => sortKey(m.l)));
  mine.forEach((m, i) => {
    // With -a the host is the last column (empty hosts print nothing, so skip those).
    if (m.r.host !== "") expect(byA[i]!.last).toBe(m.r.host);
    expect(byI[i]!.beforeTime).toBe(m.r.address ?? "0.0.0.0");
  });
}

describe("parseUtmp on wtmp written by utmpdump -r", () => {
  it("decodes every field of the recorded records", async () => {
    const bytes = await readAccountsFixture("utmp", "wtmp");
    const p = parseUtmp(bytes, { source: "wtmp" });
    expect(p).toMatchObject({ skipped: 0, zeroed: 0, trailingBytes: 0 });
    expect(p.records).toHaveLength(13);
    expect(p.records[0]).toEqual({
      source: "wtmp",
      type: "BOOT_TIME",
      user: "reboot",
      tty: "~",
      host: "6.1.0-18-amd64",
      address: null,
      pid: 0,
      time: "2024-01-15T08:00:00.000Z",
    });
    expect(p.records[4]).toEqual({
      source: "wtmp",
      type: "USER_PROCESS",
      user: "root",
      tty: "pts/0",
      host: "192.168.1.5",
      address: "192.168.1.5",
      pid: 12345,
      time: "2024-01-15T10:20:30.123Z",
    });
    expect(p.records.map((r) => r.type)).toEqual([
      "BOOT_TIME",
      "RUN_LVL",
      "INIT_PROCESS",
      "LOGIN_PROCESS",
      "USER_PROCESS",
      "DEAD_PROCESS",
      "USER_PROCESS",
      "USER_PROCESS",
      "DEAD_PROCESS",
      "USER_PROCESS",
      "USER_PROCESS",
      "RUN_LVL",
      "BOOT_TIME",
    ]);
    expect(p.records[6]!.address).toBe("2001:db8::1");
    expect(p.records[10]!.address).toBe("fe80::1:2:3:4");
    // A user name that fills its 32 bytes has no NUL: the field ends at the field's end.
    expect(p.records[10]!.user).toBe("a-very-long-user-name-of-32-char");
  });

  it("agrees with the recorded output of util-linux last", async () => {
    const p = parseUtmp(await readAccountsFixture("utmp", "wtmp"), { source: "wtmp" });
    const outA = (await readAccountsFixture("utmp", "last-a.out")).toString();
    const outI = (await readAccountsFixture("utmp", "last-i.out")).toString();
    expectSameAsLast(p.records, outA, outI);
  });

  it("agrees with the recorded output of lastb on btmp", async () => {
    const p = parseUtmp(await readAccountsFixture("utmp", "btmp"), { source: "btmp" });
    expect(p.records.map((r) => [r.user, r.address])).toEqual([
      ["admin", "198.51.100.23"],
      ["oracle", "198.51.100.23"],
      ["root", "2001:db8:ffff::42"],
      ["ubnt", "198.51.100.24"],
    ]);
    const outA = (await readAccountsFixture("utmp", "lastb-a.out")).toString();
    const outI = (await readAccountsFixture("utmp", "lastb-i.out")).toString();
    expectSameAsLast(p.records, outA, outI, true);
  });
});

describe("parseUtmp on damaged files", () => {
  it("keeps the whole records of a file cut mid-record", async () => {
    const whole = await readAccountsFixture("utmp", "wtmp");
    const cut = whole.subarray(0, UTMP_RECORD_SIZE * 5 + 100);
    const p = parseUtmp(cut, { source: "wtmp" });
    expect(p.records).toHaveLength(5);
    expect(p.trailingBytes).toBe(100);
    expect(p.skipped).toBe(0);
    expect(p.records[4]!.user).toBe("root");
  });

  it("survives a file shorter than one record and an empty file", () => {
    expect(parseUtmp(new Uint8Array(383), { source: "wtmp" })).toEqual({
      records: [],
      skipped: 0,
      zeroed: 0,
      trailingBytes: 383,
    });
    expect(parseUtmp(new Uint8Array(0), { source: "wtmp" }).records).toEqual([]);
  });

  it("skips records with a bad type, time or microseconds and counts wiped ones", async () => {
    const buf = Buffer.from(await readAccountsFixture("utmp", "wtmp"));
    buf.writeInt16LE(77, 1 * UTMP_RECORD_SIZE + UTMP_FIELDS.type); // runlevel: bad type
    buf.writeInt16LE(-1, 2 * UTMP_RECORD_SIZE + UTMP_FIELDS.type); // init: negative type
    buf.writeUInt32LE(0, 3 * UTMP_RECORD_SIZE + UTMP_FIELDS.tvSec); // LOGIN: time 0
    buf.fill(0, 5 * UTMP_RECORD_SIZE, 6 * UTMP_RECORD_SIZE); // DEAD: wiped
    buf.writeUInt32LE(5_000_000, 8 * UTMP_RECORD_SIZE + UTMP_FIELDS.tvUsec); // DEAD: usec
    const p = parseUtmp(buf, { source: "wtmp" });
    expect(p.skipped).toBe(5);
    expect(p.zeroed).toBe(1);
    expect(p.records.map((r) => r.user)).toEqual([
      "reboot",
      "root",
      "alice",
      "deploy",
      "www-data",
      "a-very-long-user-name-of-32-char",
      "shutdown",
      "reboot",
    ]);
  });

  it("skips records later than maxTime or earlier than minTime", async () => {
    const bytes = await readAccountsFixture("utmp", "wtmp");
    const p = parseUtmp(bytes, {
      source: "wtmp",
      minTime: new Date("2024-01-15T09:00:00Z"),
      maxTime: new Date("2024-01-17T00:00:00Z"),
    });
    expect(p.records.map((r) => r.time.slice(0, 10))).toEqual([
      "2024-01-15",
      "2024-01-15",
      "2024-01-16",
      "2024-01-16",
      "2024-01-16",
    ]);
    expect(p.skipped).toBe(8);
  });

  it("reads only garbage as skipped records, never throwing", () => {
    const junk = Buffer.alloc(1000, 0x41);
    const p = parseUtmp(junk, { source: "btmp" });
    expect(p).toEqual({ records: [], skipped: 2, zeroed: 0, trailingBytes: 1000 - 768 });
  });

  it("reads a record in the middle of a larger buffer (subarray offsets)", async () => {
    const whole = await readAccountsFixture("utmp", "btmp");
    const shifted = Buffer.concat([Buffer.alloc(7, 0xee), whole]).subarray(7);
    expect(parseUtmp(shifted, { source: "btmp" }).records[2]!.user).toBe("root");
  });
});

describe("hostile strings stay data", () => {
  it("returns ANSI escapes, HTML and non-ASCII exactly as written by utmpdump", async () => {
    const p = parseUtmp(await readAccountsFixture("utmp", "hostile"), { source: "wtmp" });
    expect(p.records[0]).toMatchObject({
      user: "\u001b[31mred<b>&amp;",
      host: "<script>x</script>",
      address: "10.0.0.9",
    });
    expect(p.records[1]!.user).toBe("ü€名前");
  });

  it("keeps newlines and replaces invalid UTF-8 without losing the record", async () => {
    const buf = Buffer.from(await readAccountsFixture("utmp", "hostile"));
    setUtmpString(buf, 0, "user", Buffer.from("root\nFAKE LOGIN\r"));
    setUtmpString(buf, 1, "host", Buffer.from([0x68, 0xff, 0xfe, 0x0a, 0x1b, 0x5d, 0x30, 0x3b]));
    setUtmpString(buf, 1, "line", Buffer.alloc(40, 0x7a));
    const p = parseUtmp(buf, { source: "wtmp" });
    expect(p.records[0]!.user).toBe("root\nFAKE LOGIN\r");
    expect(p.records[1]!.host).toBe("h\ufffd\ufffd\n\u001b]0;");
    expect(p.records[1]!.tty).toBe("z".repeat(32));
    expect(p.records[1]!.user).toBe("ü€名前");
  });
});

describe("formatUtmpAddress", () => {
  const addr = (...bytes: number[]) =>
    Uint8Array.from([...bytes, ...new Array(16 - bytes.length).fill(0)]);
  it("formats IPv4, IPv6 and nothing", () => {
    expect(formatUtmpAddress(addr())).toBeNull();
    expect(formatUtmpAddress(addr(203, 0, 113, 7))).toBe("203.0.113.7");
    expect(formatUtmpAddress(addr(0, 0, 0, 1))).toBe("0.0.0.1");
    expect(formatUtmpAddress(Uint8Array.from([...new Array(15).fill(0), 1]))).toBe("::1");
    expect(
      formatUtmpAddress(Uint8Array.from([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1])),
    ).toBe("2001:db8::1:0:0:1");
    // A single zero word is not compressed (RFC 5952).
    expect(
      formatUtmpAddress(Uint8Array.from([0x20, 1, 0xd, 0xb8, 0, 0, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1])),
    ).toBe("2001:db8:0:1:1:1:1:1");
    expect(formatUtmpAddress(new Uint8Array(4))).toBeNull();
  });
});

const haveLast = existsSync("/usr/bin/last") && existsSync("/usr/bin/utmpdump");

describe.skipIf(!haveLast)("against util-linux last on this machine", () => {
  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "bk-utmp-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function last(file: string, flag: "-a" | "-i", cmd = "last") {
    const argv = ["-f", file, "-w", "-x", flag, "--time-format", "iso"];
    const r = await execa(cmd, argv, { env: { TZ: "UTC", LC_ALL: "C" } });
    return r.stdout;
  }

  it("utmpdump -r of the text records gives the same bytes as the fixture", async () => {
    const out = path.join(dir, "wtmp");
    await execa("utmpdump", ["-r", "-o", out, accountsFixture("utmp", "wtmp.txt")]);
    const made = parseUtmp(await readAccountsFixture("utmp", "wtmp"), { source: "wtmp" });
    const again = parseUtmp(await readFile(out), { source: "wtmp" });
    expect(again.records).toEqual(made.records);
  });

  it("matches last on the records of a cut wtmp and on one with corrupt records", async () => {
    const whole = await readAccountsFixture("utmp", "wtmp");
    const pc = parseUtmp(whole.subarray(0, UTMP_RECORD_SIZE * 8 + 50), { source: "wtmp" });
    expect(pc.trailingBytes).toBe(50);
    // last 2.38 reads backwards from the end, so a cut record misaligns every record and it
    // lists nothing at all; the parser keeps the whole records, which last lists once the
    // cut tail is gone.
    const whole8 = path.join(dir, "whole8");
    await writeFile(whole8, whole.subarray(0, UTMP_RECORD_SIZE * 8));
    expect(pc.records).toHaveLength(8);
    expectSameAsLast(pc.records, await last(whole8, "-a"), await last(whole8, "-i"));

    const bad = Buffer.from(whole);
    // last guesses USER_PROCESS for a record of unknown type that has a user and a tty (and
    // prints records with any time), where the parser skips and counts it; so the damage here
    // is to a logout record, which last does not list, and a wiped login, which both drop.
    bad.writeInt16LE(77, 5 * UTMP_RECORD_SIZE + UTMP_FIELDS.type);
    bad.fill(0, 7 * UTMP_RECORD_SIZE, 8 * UTMP_RECORD_SIZE);
    const badFile = path.join(dir, "bad");
    await writeFile(badFile, bad);
    const pb = parseUtmp(bad, { source: "wtmp" });
    expect(pb.skipped).toBe(2);
    expectSameAsLast(pb.records, await last(badFile, "-a"), await last(badFile, "-i"));
  });

  it("matches lastb on the recorded btmp", async () => {
    const file = accountsFixture("utmp", "btmp");
    const p = parseUtmp(await readAccountsFixture("utmp", "btmp"), { source: "btmp" });
    expectSameAsLast(
      p.records,
      await last(file, "-a", "lastb"),
      await last(file, "-i", "lastb"),
      true,
    );
  });
});
