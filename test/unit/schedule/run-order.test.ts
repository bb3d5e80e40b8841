/**
 * When `schedule run` starts each job. The jobs are run by a small script instead of breachkit
 * (RunOptions.command): it logs when it starts and ends, and "triage" makes its bundle
 * directory part-way, as triage does once it has read the processes, then waits (up to 20 s)
 * for audit to start. What breachkit's own jobs
 * do in a scheduled run is tested for real in test/integration/schedule.test.ts.
 */
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runSchedule } from "../../../src/act/schedule/run.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-schedule-order-"));
  await writeFile(
    join(dir, "job.cjs"),
    `const fs = require("node:fs");
const path = require("node:path");
const args = process.argv.slice(2);
const job = args[0] === "update" ? "update-check" : args[0];
const log = (what) => fs.appendFileSync(process.env.ORDER_LOG, job + " " + what + " " + Date.now() + "\\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
log("start");
(async () => {
  let bundle = null;
  if (job === "triage" && process.env.TRIAGE_FAILS) {
    await sleep(100);
    log("end");
    process.stdout.write(JSON.stringify({ error: { message: "the snapshot failed" } }));
    process.exitCode = 2;
    return;
  }
  if (job === "triage") {
    await sleep(100);
    bundle = path.join(args[args.indexOf("--out") + 1], "breachkit-test");
    fs.mkdirSync(bundle, { recursive: true });
    log("read");
    // Until audit has started (bounded): it must start while triage still runs.
    for (let i = 0; i < 400 && !fs.readFileSync(process.env.ORDER_LOG, "utf8").includes("audit start"); i++)
      await sleep(50);
  } else await sleep(50);
  log("end");
  process.stdout.write(JSON.stringify({ findings: [], bundle: bundle && { path: bundle } }));
})();
`,
  );
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The stand-in job's log ("job what ms" lines) as "job what" -> ms. */
async function readOrder(logFile: string): Promise<Map<string, number>> {
  const at = new Map<string, number>();
  for (const line of (await readFile(logFile, "utf8")).trim().split("\n")) {
    const [job, what, ms] = line.split(" ");
    at.set(`${job} ${what}`, Number(ms));
  }
  return at;
}

describe("schedule run: when the jobs start", () => {
  it("audit once triage has read the processes, update-check after triage, scan last", async () => {
    const logFile = join(dir, "order.log");
    const out = await runSchedule({
      jobs: ["scan", "update-check", "audit", "triage"],
      runsDir: join(dir, "runs"),
      stateDir: join(dir, "state"),
      keep: 5,
      baseline: null,
      notify: null,
      threshold: "high",
      env: { ORDER_LOG: logFile },
      host: "test",
      jobTimeoutMs: 60_000,
      command: [process.execPath, join(dir, "job.cjs")],
    });
    const at = await readOrder(logFile);
    const t = (k: string) => {
      const v = at.get(k);
      expect(v, k).toBeTypeOf("number");
      return v as number;
    };
    // audit started after triage's bundle directory appeared, while triage still ran.
    expect(t("audit start")).toBeGreaterThanOrEqual(t("triage read"));
    expect(t("audit start")).toBeLessThan(t("triage end"));
    expect(t("update-check start")).toBeGreaterThanOrEqual(t("triage end"));
    expect(t("scan start")).toBeGreaterThanOrEqual(
      Math.max(t("audit end"), t("update-check end"), t("triage end")),
    );
    // The answer lists the jobs in the order asked, each ok.
    expect(out.jobs.map((j) => [j.name, j.status])).toEqual([
      ["scan", "ok"],
      ["update-check", "ok"],
      ["audit", "ok"],
      ["triage", "ok"],
    ]);
  }, 60_000);

  it("audit after triage ended, when triage made no bundle", async () => {
    const logFile = join(dir, "order-failed.log");
    const out = await runSchedule({
      jobs: ["triage", "audit"],
      runsDir: join(dir, "runs-failed"),
      stateDir: join(dir, "state"),
      keep: 5,
      baseline: null,
      notify: null,
      threshold: "high",
      env: { ORDER_LOG: logFile, TRIAGE_FAILS: "1" },
      host: "test",
      jobTimeoutMs: 60_000,
      command: [process.execPath, join(dir, "job.cjs")],
    });
    const at = await readOrder(logFile);
    expect(at.get("audit start")).toBeGreaterThanOrEqual(at.get("triage end") as number);
    expect(out.jobs.map((j) => [j.name, j.status])).toEqual([
      ["triage", "failed"],
      ["audit", "ok"],
    ]);
    expect(out.gaps.map((g) => g.source)).toContain("job:triage");
  }, 60_000);
});
