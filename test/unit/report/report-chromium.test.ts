/**
 * The HTML report in real Chromium (Debian's, driven by playwright-core), with hostile content
 * in the bundles: no dialog fires, no request leaves the page (every request is intercepted),
 * the page's own script runs under its CSP (no violation), the filters hide and show rows when
 * used, the hostile strings show as text, the page fits a phone, and a screenshot of each
 * section is kept under test-artifacts/.
 */
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/main.js";
import { memoryIo } from "../../helpers/memory-io.js";
import { launchChromium, type OwnBrowser } from "./chromium.js";
import { EVIL_LABEL, EVIL_LOG, EVIL_NAME, makeHostileCase } from "./fixture.js";

const ARTIFACTS = join(process.cwd(), "test-artifacts", "report");
const SECTIONS = [
  "summary",
  "containment",
  "findings",
  "traffic",
  "accounts",
  "timeline",
  "audit",
  "integrity",
];

let dir: string;
let url: string;
let own: OwnBrowser;
let page: Page;
const requests: string[] = [];
const dialogs: string[] = [];
const consoleErrors: string[] = [];
const pageErrors: string[] = [];

async function watchPage(p: Page, docUrl: string) {
  await p.route("**", async (route) => {
    const u = route.request().url();
    if (u === docUrl) return route.continue();
    requests.push(u);
    return route.abort();
  });
  p.on("request", (r) => {
    if (r.url() !== docUrl) requests.push(r.url());
  });
  p.on("dialog", async (d) => {
    dialogs.push(d.message());
    await d.dismiss();
  });
  p.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text());
  });
  p.on("pageerror", (e) => pageErrors.push(String(e)));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-report-chromium-"));
  await mkdir(ARTIFACTS, { recursive: true });
  const c = await makeHostileCase(dir);
  const m = memoryIo({ env: {}, cwd: dir });
  const out = join(dir, "out");
  const code = await runCli(
    ["report", c.triage, c.contain, c.audit, "--watch", c.watch, "--out", out, "--format", "html"],
    m.io,
  );
  expect(code, m.stderr()).toBe(0);
  url = pathToFileURL(join(out, "report.html")).href;
  own = await launchChromium();
  page = await own.context.newPage();
  await watchPage(page, url);
  await page.goto(url, { waitUntil: "load" });
}, 120_000);

afterAll(async () => {
  await own?.close();
  await rm(dir, { recursive: true, force: true });
});

const visibleRows = (sel: string) =>
  page.$$eval(
    sel,
    (rows) =>
      rows.filter((r) => (r as unknown as { offsetParent: unknown }).offsetParent !== null).length,
  );

// Chromium is slow on a loaded 2-core machine (a screenshot took seconds while the whole
// unit project ran beside it): generous timeouts, never a timed assertion.
describe("report.html in Chromium", { timeout: 120_000 }, () => {
  it("runs its own script under its CSP: the timeline is drawn, no CSP violation, no page error", async () => {
    expect(await page.locator("#tl-body tr").count()).toBeGreaterThan(10);
    expect(consoleErrors, consoleErrors.join("\n")).toEqual([]);
    expect(pageErrors).toEqual([]);
  });

  it("shows the hostile strings as text: no element, script, link or handler comes from them", async () => {
    // What a reader sees (rendered text), not the source.
    // biome-ignore lint/performance/useDomNodeTextContent: the rendered text is the point
    const text = await page.locator("body").innerText();
    expect(text).toContain(EVIL_LOG);
    expect(text).toContain(EVIL_NAME);
    expect(text).toContain(EVIL_LABEL);
    // The ANSI escape and the right-to-left override are shown, not obeyed.
    expect(text).toContain("\\e[31mRED");
    expect(text).toContain("\\u202egnp.exe");
    expect(text).not.toContain("\u202e");
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.locator("script").count()).toBe(3);
    expect(await page.locator("a[href]:not([href^='#'])").count()).toBe(0);
    const handlers = await page.$$eval("*", (els) =>
      els.flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => a.name)),
    );
    expect(handlers).toEqual([]);
  });

  it("filters the timeline and the findings by place, severity and source when used", async () => {
    const all = await visibleRows("#tl-body tr");
    const findingsAll = await visibleRows(".finding");
    expect(findingsAll).toBeGreaterThan(3);

    await page.selectOption("#f-place", "mail");
    const mail = await visibleRows("#tl-body tr");
    expect(mail).toBeGreaterThan(0);
    expect(mail).toBeLessThan(all);
    expect(
      await page.$$eval("#tl-body tr", (rs) => [
        ...new Set(rs.map((r) => r.getAttribute("data-place"))),
      ]),
    ).toEqual(["mail"]);
    expect(await visibleRows('.finding[data-place="web"]')).toBe(0);
    expect(await visibleRows('.finding[data-place="mail"]')).toBeGreaterThan(0);

    await page.selectOption("#f-place", "");
    await page.selectOption("#f-sev", "4");
    const crit = await page.$$eval("#tl-body tr", (rs) => [
      ...new Set(rs.map((r) => r.getAttribute("data-sev"))),
    ]);
    expect(crit).toEqual(["critical"]);
    expect(await visibleRows('.finding[data-sev="high"]')).toBe(0);
    expect(await visibleRows('.finding[data-sev="critical"]')).toBeGreaterThan(0);

    await page.selectOption("#f-sev", "0");
    await page.selectOption("#f-src", "log");
    const logs = await page.$$eval("#tl-body tr", (rs) => rs.map((r) => r.textContent ?? ""));
    expect(logs.length).toBeGreaterThan(0);
    expect(logs.every((t) => t.includes("ExifTool"))).toBe(true);

    await page.selectOption("#f-src", "");
    expect(await visibleRows("#tl-body tr")).toBe(all);
    expect(await visibleRows(".finding")).toBe(findingsAll);
  });

  it("draws the traffic plot as SVG from the data", async () => {
    const svg = page.locator("#traffic svg.plot");
    expect(await svg.count()).toBe(1);
    expect(await page.locator("#traffic svg polyline").count()).toBeGreaterThan(0);
    expect(await page.locator("#traffic svg").innerHTML()).toContain("web");
  });

  it("keeps a screenshot of each section", async () => {
    for (const id of SECTIONS) {
      const buf = await page.locator(`#${id}`).screenshot({ path: join(ARTIFACTS, `${id}.png`) });
      expect(buf.length, id).toBeGreaterThan(1000);
    }
  });

  it("fits a phone's width and prints", async () => {
    const phone = await own.context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await watchPage(phone, url);
    await phone.goto(url, { waitUntil: "load" });
    const overflow = (await phone.evaluate(
      "document.documentElement.scrollWidth - window.innerWidth",
    )) as number;
    expect(overflow).toBeLessThanOrEqual(1);
    await phone.screenshot({ path: join(ARTIFACTS, "phone-first-screen.png") });
    await phone.emulateMedia({ media: "print" });
    expect(await phone.locator("nav").isVisible()).toBe(false);
    const pdf = await phone.pdf({ path: join(ARTIFACTS, "report.pdf") });
    expect(pdf.subarray(0, 4).toString()).toBe("%PDF");
    await phone.close();
  });

  it("sent no request and fired no dialog", () => {
    expect(requests).toEqual([]);
    expect(dialogs).toEqual([]);
  });
});
