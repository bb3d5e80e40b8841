import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  parseKnownPathRecord,
  parseRecord,
  parseSessionRecord,
  parseVerdict,
  splitRecords,
} from "../../../src/observe/scanners/clamd-client.js";
import {
  ownClamdConfig,
  parseClamdConf,
  parseClamdSize,
  parseMemAvailable,
} from "../../../src/observe/scanners/clamd-daemon.js";

describe("clamd reply parsing", () => {
  it("splits NUL-terminated records and keeps the unterminated tail", () => {
    const { records, rest } = splitRecords(Buffer.from("1: /a: OK\u00002: /b: X FOUND\u00003: /c"));
    expect(records.map(String)).toEqual(["1: /a: OK", "2: /b: X FOUND"]);
    expect(rest.toString()).toBe("3: /c");
  });

  it("takes the path greedily: names with ': ', ' FOUND' and newlines", () => {
    expect(parseRecord("/t/a: b FOUND: Eicar.UNOFFICIAL FOUND")).toEqual({
      path: "/t/a: b FOUND",
      verdict: { kind: "found", signature: "Eicar.UNOFFICIAL" },
    });
    expect(parseRecord("/t/x\ny: OK FOUND: S FOUND")?.path).toBe("/t/x\ny: OK FOUND");
    expect(parseRecord("/t/d: OK")).toEqual({ path: "/t/d", verdict: { kind: "ok" } });
    expect(parseRecord("stream: INSTREAM size limit exceeded. ERROR")).toEqual({
      path: "stream",
      verdict: { kind: "error", message: "INSTREAM size limit exceeded." },
    });
    expect(parseRecord("garbage")).toBeNull();
  });

  it("strips exactly the known path, even one that looks like a reply", () => {
    const path = Buffer.from("/t/evil: X FOUND\n: OK");
    const rec = Buffer.concat([path, Buffer.from(": OK")]);
    expect(parseKnownPathRecord(rec, path)).toEqual({ kind: "ok" });
    const hit = Buffer.concat([path, Buffer.from(": Sig.UNOFFICIAL FOUND")]);
    expect(parseKnownPathRecord(hit, path)).toEqual({ kind: "found", signature: "Sig.UNOFFICIAL" });
    // Raw bytes that are not UTF-8 still match.
    const bin = Buffer.from([0x2f, 0xff, 0xfe]);
    expect(
      parseKnownPathRecord(
        Buffer.concat([bin, Buffer.from(": lstat() failed: No such file. ERROR")]),
        bin,
      ),
    ).toEqual({
      kind: "error",
      message: "lstat() failed: No such file.",
    });
  });

  it("reads session ids and plain verdicts", () => {
    expect(parseSessionRecord(Buffer.from("12: /a: OK"))).toEqual({
      id: 12,
      body: Buffer.from("/a: OK"),
    });
    expect(parseSessionRecord(Buffer.from("COMMAND READ TIMED OUT"))).toBeNull();
    expect(parseVerdict("OK\n")).toEqual({ kind: "ok" });
    expect(parseVerdict("weird")).toEqual({ kind: "error", message: "weird" });
  });
});

describe("clamd config", () => {
  it("parses the Debian config format and sizes", () => {
    const c = parseClamdConf(
      "# c\nLocalSocket /run/clamav/clamd.ctl\nFoo\nMaxThreads 12\nMaxThreads 3\n",
    );
    expect(c.get("LocalSocket")).toBe("/run/clamav/clamd.ctl");
    expect(c.get("MaxThreads")).toBe("3");
    expect(c.get("Foo")).toBe("yes");
    expect(parseClamdSize("100M", 0)).toBe(104857600);
    expect(parseClamdSize("25k", 0)).toBe(25600);
    expect(parseClamdSize("bad", 7)).toBe(7);
  });

  it("writes our own daemon's config in its temp dir, in the foreground", () => {
    const conf = parseClamdConf(ownClamdConfig("/tmp/x", "/db", 4));
    expect(conf.get("LocalSocket")).toBe("/tmp/x/clamd.sock");
    expect(conf.get("DatabaseDirectory")).toBe("/db");
    expect(conf.get("Foreground")).toBe("yes");
    expect(conf.get("MaxThreads")).toBe("4");
    expect(conf.get("PidFile")).toBe("/tmp/x/clamd.pid");
  });
});

describe("parseMemAvailable", () => {
  const meminfo = readFileSync("test/fixtures/scanners/proc-meminfo.txt", "utf8");

  it("reads MemAvailable in bytes from a recorded /proc/meminfo", () => {
    expect(parseMemAvailable(meminfo)).toBe(24165492 * 1024);
  });

  it("gives null when the line is missing, cut or not a number", () => {
    expect(parseMemAvailable("")).toBeNull();
    expect(parseMemAvailable(meminfo.replace(/^MemAvailable:.*$/m, ""))).toBeNull();
    expect(parseMemAvailable("MemTotal:       24684140 kB\nMemAvailable:   241")).toBeNull();
    expect(parseMemAvailable("MemAvailable:   -5 kB\n")).toBeNull();
    // Not confused by a look-alike key (a kernel that adds one would not start with it).
    expect(parseMemAvailable("XMemAvailable:   5 kB\n")).toBeNull();
  });
});
