/**
 * The end-to-end case of issue 14: the lab's escaped scenario (the trojan floods from
 * bk-lab-gitlab and a renamed copy runs on the host) run through triage and contain for real,
 * then `report` on both bundles: the five formats pass their checks, every Timesketch line has
 * message, datetime and timestamp_desc, the HTML holds in Chromium (no request, no dialog, its
 * script runs), and the mail container (Docker socket mounted) is at risk, not compromised.
 * One lab run for everything.
 */
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import { IncidentRecordSchema, ReportOutputSchema } from "../../src/model/report-model.js";
import type { TriageOutput } from "../../src/model/triage-output.js";
import { type LabInfo, labDown, labUp } from "../helpers/lab.js";
import { memoryIo } from "../helpers/memory-io.js";
import { launchChromium } from "../unit/report/chromium.js";

let out: string;
let lab: LabInfo;
let triage: TriageOutput;
let triageBundle: string;
let containBundle: string;
let report: ReturnType<typeof ReportOutputSchema.parse>;
let reportDir: string;

async function cli(args: string[]) {
  const m = memoryIo({ env: process.env, cwd: out });
  const code = await runCli(args, m.io);
  return { code, stdout: m.stdout(), stderr: m.stderr() };
}

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), "bk-report-it-"));
  lab = await labUp({ scenario: "escaped", trojanSeconds: 300 });
  const t = await cli(["triage", "--json", "--out", out, "--interval", "1"]);
  expect(t.stdout.startsWith("{"), t.stderr).toBe(true);
  triage = JSON.parse(t.stdout) as TriageOutput;
  triageBundle = triage.bundle.path;
  const before = new Set(await readdir(out));
  const c = await cli([
    "contain",
    "bk-lab-gitlab",
    "--yes",
    "--json",
    "--interval",
    "1",
    "--out",
    out,
  ]);
  expect(c.code, c.stderr).toBe(1); // escaped: the host copy still runs
  containBundle = join(
    out,
    (await readdir(out)).find((d) => !before.has(d) && d.startsWith("breachkit-"))!,
  );
  reportDir = join(out, "report");
  const r = await cli(["report", triageBundle, containBundle, "--out", reportDir, "--json"]);
  expect(r.code, r.stderr).toBe(0);
  report = ReportOutputSchema.parse(JSON.parse(r.stdout));
}, 300_000);

afterAll(async () => {
  await labDown();
  await rm(out, { recursive: true, force: true });
});

const read = (name: string) => readFile(join(reportDir, name), "utf8");
const trojan = (where: "container" | "host") => lab.trojans.find((t) => t.where === where)!;

describe("triage's verdict on the escaped lab", () => {
  it("names bk-lab-gitlab and the host COMPROMISED and bk-lab-mail (Docker socket) AT RISK only", () => {
    const places = Object.fromEntries(triage.verdict.places.map((p) => [p.where, p.state]));
    expect(places["bk-lab-gitlab"]).toBe("compromised");
    expect(places.host).toBe("compromised");
    expect(places["bk-lab-mail"]).toBe("at-risk");
    const [compromised, atRisk] = triage.verdict.headline.split("AT RISK");
    expect(compromised).toContain("bk-lab-gitlab");
    expect(compromised).not.toContain("bk-lab-mail");
    expect(atRisk).toContain("bk-lab-mail");
  });
});

describe("report on the escaped lab (triage + contain bundles)", () => {
  it("verified both bundles and wrote the five formats", async () => {
    expect(report.verified).toBe(true);
    expect(report.bundles.map((b) => b.kind)).toEqual(["triage", "contain"]);
    expect((await readdir(reportDir)).sort()).toEqual(
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
    expect(report.level).toBe("compromised");
  });

  it("timeline.jsonl: message, datetime (ISO 8601 with offset) and timestamp_desc on every line, sorted", async () => {
    const lines = (await read("timeline.jsonl")).trimEnd().split("\n");
    expect(lines.length).toBe(report.events);
    expect(lines.length).toBeGreaterThan(50);
    let prev = "";
    for (const l of lines) {
      const e = JSON.parse(l) as Record<string, unknown>;
      expect(typeof e.message === "string" && e.message.length > 0, l).toBe(true);
      expect(e.datetime, l).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$/);
      expect(typeof e.timestamp_desc === "string" && e.timestamp_desc.length > 0, l).toBe(true);
      expect((e.datetime as string) >= prev).toBe(true);
      prev = e.datetime as string;
    }
    const events = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    const exploit = events.find(
      (e) => e.source === "log" && String(e.message).includes("CVE-2021-22205"),
    );
    expect(exploit?.bundle_file).toMatch(/^containers\/bk-lab-gitlab\//);
    expect(exploit?.bundle_line).toBeGreaterThan(0);
    const wate = events.find(
      (e) => e.source === "process" && e.pid === trojan("container").hostPid,
    );
    expect(wate?.sha256).toBe(trojan("container").sha256);
    expect(
      events.some(
        (e) =>
          e.timestamp_desc === "breachkit changed the host" && String(e.message).includes("pause"),
      ),
    ).toBe(true);
    const csv = (await read("timeline.csv")).trimEnd().split("\r\n");
    expect(csv.length).toBe(lines.length + 1);
  });

  it("statement: traffic seen, rate, the process and its hash, NOT contained with the host copy named, SEALs", async () => {
    const s = await read("statement.txt");
    expect(s).toMatch(/First seen: \d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2} UTC\. Last seen: /);
    // Both copies of the trojan flood (the container's and the escaped host copy): whichever
    // the sample measured faster is named, and it is one of them.
    expect(s).toMatch(
      /Highest rate measured: [\d,]+ packets per second from (bk-lab-gitlab|host) /,
    );
    expect(s).toContain(trojan("container").sha256);
    expect(s).toContain("NOT contained yet: bk-lab-gitlab by pause (NOT CONTAINED)");
    expect(s).toContain(`pid ${trojan("host").hostPid}`);
    expect(s).toMatch(/Entry point: .*uploads\/user/);
    for (const b of report.bundles) expect(s).toContain(`SEAL ${b.seal}`);
  });

  it("record: open, not contained, with indicators, actions, chain of custody", async () => {
    const rec = IncidentRecordSchema.parse(JSON.parse(await read("record.json")));
    expect(rec.status.state).toBe("open: not contained");
    expect(rec.indicators.some((i) => i.value === trojan("container").sha256)).toBe(true);
    expect(rec.actions.some((a) => a.result === "changed the host")).toBe(true);
    expect(rec.chainOfCustody.map((c) => c.verified)).toEqual([true, true]);
    expect(rec.impact.some((i) => i.startsWith("bk-lab-mail: at-risk"))).toBe(true);
  });

  it("Markdown: every section, mail at risk", async () => {
    const md = await read("report.md");
    for (const h of [
      "## Summary",
      "## Containment proof",
      "## Findings by place",
      "## Traffic",
      "## Timeline",
      "## Integrity",
    ])
      expect(md).toContain(h);
    expect(md).toMatch(/container bk-lab-mail: AT RISK/);
    expect(md).toContain("NOT CONTAINED");
  });

  it("HTML in Chromium: its script runs, no request leaves, no dialog, the plot is drawn", async () => {
    const own = await launchChromium();
    try {
      const page = await own.context.newPage();
      const url = pathToFileURL(join(reportDir, "report.html")).href;
      const requests: string[] = [];
      const dialogs: string[] = [];
      const errors: string[] = [];
      await page.route("**", async (r) => {
        if (r.request().url() === url) return r.continue();
        requests.push(r.request().url());
        return r.abort();
      });
      page.on("dialog", async (d) => {
        dialogs.push(d.message());
        await d.dismiss();
      });
      page.on("console", (m) => {
        if (m.type() === "error") errors.push(m.text());
      });
      await page.goto(url, { waitUntil: "load" });
      expect(await page.locator("#tl-body tr").count()).toBeGreaterThan(50);
      expect(await page.locator("#traffic svg.plot").count()).toBe(1);
      expect(await page.locator("#verdict").textContent()).toContain("COMPROMISED");
      expect(requests).toEqual([]);
      expect(dialogs).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await own.close();
    }
  });
});
