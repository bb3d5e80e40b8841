/**
 * `breachkit report` on a hostile incident (real bundles, judged by the real judge): the five
 * formats, verification first, compromised vs at risk, Timesketch fields on every line, the
 * statement in English and Italian, the record's NIST sections, and refusals that lose nothing.
 */
import { appendFile, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/main.js";
import { IncidentRecordSchema, ReportOutputSchema } from "../../../src/model/report-model.js";
import { memoryIo } from "../../helpers/memory-io.js";
import {
  ANSI,
  EVIL_LOG,
  EVIL_NAME,
  type HostileCase,
  makeHostileCase,
  RTL,
  TROJAN_SHA,
} from "./fixture.js";

let dir: string;
let c: HostileCase;
let out: string;
let json: ReturnType<typeof ReportOutputSchema.parse>;

async function report(args: string[]) {
  const m = memoryIo({ env: {}, cwd: dir });
  const code = await runCli(["report", ...args], m.io);
  return { code, stdout: m.stdout(), stderr: m.stderr() };
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-report-"));
  c = await makeHostileCase(dir);
  out = join(dir, "out");
  const r = await report([
    c.triage,
    c.contain,
    c.audit,
    "--watch",
    c.watch,
    "--out",
    out,
    "--json",
  ]);
  expect(r.code, r.stderr).toBe(0);
  json = ReportOutputSchema.parse(JSON.parse(r.stdout));
}, 60_000);

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const read = (name: string) => readFile(join(out, name), "utf8");

describe("report on a hostile incident", () => {
  it("verifies every bundle first and writes the five formats", async () => {
    expect(json.verified).toBe(true);
    expect(json.bundles.map((b) => b.verified)).toEqual([true, true, true]);
    // Every file was in the format its writer uses (the fixture mirrors contain's and collect's).
    expect(json.gaps.filter((g) => !g.includes("watch.ndjson"))).toEqual([]);
    expect(json.gaps).toEqual(["watch.ndjson: 1 line(s) are not watch samples, left out"]);
    expect(json.bundles.every((b) => /^[0-9a-f]{64}$/.test(b.seal ?? ""))).toBe(true);
    expect((await readdir(out)).sort()).toEqual(
      [
        "record.json",
        "record.md",
        "report.html",
        "report.md",
        "statement.txt",
        "timeline.csv",
        "timeline.jsonl",
      ].sort(),
    );
  });

  it("names web COMPROMISED and mail (Docker socket) AT RISK, not compromised", () => {
    expect(json.level).toBe("compromised");
    const [comp, risk] = json.verdict.split("AT RISK");
    expect(comp).toContain("web");
    expect(comp).not.toContain("mail");
    expect(risk).toContain("mail");
  });

  it("writes Timesketch JSONL: message, datetime with offset and timestamp_desc on every line, sorted, pointing into the bundle", async () => {
    const lines = (await read("timeline.jsonl")).trimEnd().split("\n");
    expect(lines.length).toBe(json.events);
    let prev = "";
    const bundles = new Set(json.bundles.map((b) => b.name));
    for (const l of lines) {
      const e = JSON.parse(l) as Record<string, unknown>;
      expect(typeof e.message).toBe("string");
      expect((e.message as string).length).toBeGreaterThan(0);
      expect(e.datetime).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?[+-]\d{2}:\d{2}$/);
      expect(typeof e.timestamp_desc).toBe("string");
      expect((e.datetime as string) >= prev).toBe(true);
      prev = e.datetime as string;
      expect(bundles.has(e.bundle as string) || e.bundle === "watch.ndjson").toBe(true);
      expect(l).not.toContain("\u001b");
      expect(l).not.toContain("\u202e");
    }
    const all = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const exploit = all.find((e) => e.source === "log");
    expect(exploit?.bundle_file).toMatch(/^containers\/web\/[0-9a-f]+-json\.log$/);
    expect(exploit?.bundle_line).toBe(2);
    expect(exploit?.datetime).toBe("2026-03-01T11:50:00.000+00:00");
    const start = all.find((e) => e.source === "process" && e.pid === 4242);
    expect(start?.sha256).toBe(TROJAN_SHA);
    expect(start?.bundle_file).toBe("snapshot.json");
    // The line number points at the process's entry in snapshot.json.
    const snap = (await readFile(join(c.triage, "snapshot.json"), "utf8")).split("\n");
    expect(snap[(start?.bundle_line as number) - 1]).toBe('      "pid": 4242,');
    for (const src of [
      "process",
      "container",
      "filesystem",
      "log",
      "breachkit",
      "watch",
      "finding",
    ]) {
      expect(
        all.some((e) => e.source === src),
        src,
      ).toBe(true);
    }
    const pause = all.find((e) => e.timestamp_desc === "breachkit changed the host");
    expect(pause?.bundle_file).toBe("collection.log.jsonl");
    expect(pause?.bundle_line).toBeGreaterThan(1);
  });

  it("writes the same timeline as CSV, formula-safe", async () => {
    const csv = await read("timeline.csv");
    const rows = csv.trimEnd().split("\r\n");
    expect(rows[0]).toBe(
      "datetime,timestamp_desc,message,severity,source,place,pid,sha256,bundle,bundle_file,bundle_line",
    );
    expect(rows.length).toBe(json.events + 1);
    expect(csv).not.toMatch(/(^|,)[=+@-]/m);
  });

  it("writes the abuse statement with first/last seen, rate, destinations, process and hash, containment and proof, SEALs", async () => {
    const s = await read("statement.txt");
    expect(s).toContain("First seen: 2026-03-01 12:00:00 UTC");
    expect(s).toContain("Last seen: 2026-03-01 12:05:00 UTC");
    expect(s).toMatch(/Highest rate measured: 120,000 packets per second from web/);
    expect(s).toContain("127.0.0.1:9");
    expect(s).toContain("203.0.113.50:80");
    expect(s).toContain(TROJAN_SHA);
    expect(s).toContain("Contained at 2026-03-01 12:05:04 UTC: web by pause (CONTAINED)");
    expect(s).toMatch(
      /before, 1 matching process\(es\) and 118,000 packets\/s sent; after, 1 matching process\(es\) and 0\.0 packets\/s/,
    );
    expect(s).toContain("PasswordAuthentication no");
    for (const b of json.bundles) expect(s).toContain(`SEAL ${b.seal}`);
    expect(s).toContain("exiftool command failed");
    expect(s).not.toContain("\u001b");
    expect(s).not.toContain("\u202e");
    expect(s).toContain("\\u202e");
  });

  it("writes the statement in Italian with --lang it, from its message file", async () => {
    const itOut = join(dir, "it");
    const r = await report([
      c.triage,
      c.contain,
      "--format",
      "statement",
      "--lang",
      "it",
      "--out",
      itOut,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const s = await readFile(join(itOut, "statement.txt"), "utf8");
    expect(s).toContain("Gentile abuse desk,");
    expect(s).toContain("Visto per la prima volta: 2026-03-01 12:00:00 UTC");
    expect(s).toContain("Contenuto alle 2026-03-01 12:05:04 UTC");
    expect(s).toContain(TROJAN_SHA);
    expect(s).not.toContain("First seen");
    expect(await readdir(itOut)).toEqual(["statement.txt"]);
  });

  it("writes the incident record with the NIST SP 800-61 sections", async () => {
    const rec = IncidentRecordSchema.parse(JSON.parse(await read("record.json")));
    expect(rec.status.state).toBe("contained");
    expect(rec.indicators.some((i) => i.kind === "sha256" && i.value === TROJAN_SHA)).toBe(true);
    expect(
      rec.actions.some((a) => a.result === "changed the host" && a.what.includes("docker pause")),
    ).toBe(true);
    expect(rec.chainOfCustody.map((c) => c.seal)).toEqual(json.bundles.map((b) => b.seal));
    expect(rec.impact.some((i) => i.startsWith("web: compromised"))).toBe(true);
    expect(rec.impact.some((i) => i.startsWith("mail: at-risk"))).toBe(true);
    expect(rec.nextSteps.length).toBeGreaterThan(0);
    const md = await read("record.md");
    for (const h of [
      "## Status",
      "## Summary",
      "## Indicators",
      "## Actions",
      "## Chain of custody",
      "## Impact",
      "## Evidence",
      "## Next steps",
    ])
      expect(md).toContain(h);
  });

  it("writes Markdown with every section and no raw HTML or control character from the host", async () => {
    const md = await read("report.md");
    for (const h of [
      "## Summary",
      "## Containment proof",
      "## Findings by place",
      "## Traffic",
      "## Accounts and logins",
      "## Timeline",
      "## Audit",
      "## Integrity",
    ])
      expect(md).toContain(h);
    expect(md).not.toContain(EVIL_LOG);
    expect(md).not.toContain("<script>");
    expect(md).not.toContain(ANSI);
    expect(md).not.toContain(RTL);
    expect(md).toContain("&lt;img src=x onerror=alert\\(1\\)&gt;");
    expect(md).toContain("mail");
    expect(md).toMatch(/container mail: AT RISK/);
  });

  it("writes HTML with a CSP that forbids every external load, and no host string as markup", async () => {
    const html = await read("report.html");
    const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? "";
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain("unsafe-inline");
    expect(csp).not.toMatch(/https?:/);
    expect(html).not.toContain(EVIL_LOG);
    expect(html).not.toContain(EVIL_NAME);
    // No event handler attribute in any tag (a host "<" is escaped, so every tag is ours).
    expect(html).not.toMatch(/<[^>]*\son[a-z]+\s*=/i);
    expect(html).not.toMatch(/href="(?!#)/);
    expect(html).not.toContain("\u001b");
    expect(html).not.toContain("\u202e");
    // Exactly three script elements: the two data blocks (never run) and the page's own.
    expect(html.match(/<script/g)?.length).toBe(3);
    expect(html.match(/<\/script>/g)?.length).toBe(3);
  });
});

describe("report: bad input loses nothing", () => {
  it("marks a bundle that does not verify in every output and exits 1", async () => {
    const copy = join(dir, "tampered");
    const { cp } = await import("node:fs/promises");
    await cp(c.triage, copy, { recursive: true });
    await appendFile(join(copy, "findings.json"), " ");
    const o = join(dir, "out-tampered");
    const r = await report([copy, "--out", o]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain("DOES NOT VERIFY");
    expect(await readFile(join(o, "report.html"), "utf8")).toContain("DO NOT VERIFY");
    expect(await readFile(join(o, "report.md"), "utf8")).toContain("DO NOT VERIFY");
    expect(await readFile(join(o, "statement.txt"), "utf8")).toContain("do not verify");
    const rec = IncidentRecordSchema.parse(
      JSON.parse(await readFile(join(o, "record.json"), "utf8")),
    );
    expect(rec.status.verified).toBe(false);
    expect(rec.chainOfCustody[0]!.problem).toContain("findings.json");
  });

  it("never overwrites an earlier report, and refuses to write inside a bundle", async () => {
    const before = await readFile(join(out, "report.html"), "utf8");
    const r = await report([c.triage, "--out", out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("already exists");
    expect(await readFile(join(out, "report.html"), "utf8")).toBe(before);
    const inside = await report([c.triage, "--out", join(c.triage, "rep")]);
    expect(inside.code).toBe(2);
    expect(inside.stderr).toContain("inside the bundle");
  });

  it("says what to do with a path that is not a bundle, a bad --format and an unreadable recording", async () => {
    const none = await report([join(dir, "nope"), "--out", join(dir, "x1")]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/bundle directory/);
    const fmt = await report([c.triage, "--format", "pdf"]);
    expect(fmt.code).toBe(2);
    expect(fmt.stderr).toContain("--format takes");
    const bad = join(dir, "bad.ndjson");
    await writeFile(bad, "garbage\n{}\n");
    const w = await report([c.triage, "--watch", bad, "--out", join(dir, "x2")]);
    expect(w.code).toBe(2);
    expect(w.stderr).toContain("watch --record");
  });
});
