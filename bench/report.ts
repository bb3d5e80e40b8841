/**
 * Benchmark: `breachkit report` on a synthetic bundle with 100,000 timeline events (20,000
 * processes in snapshot.json, 40,000 docker diff changes, 40,000 collection log lines, written
 * with the real bundle writer and sealed), and Debian's Chromium opening the HTML.
 *
 *   npm run build && npx tsx bench/report.ts [--events 100000] [--runs 3]
 *
 * Prints, with the issue's bars: the report's wall time (median of RUNS; bar < 5 s), the
 * HTML's size (bar < 20 MB), and Chromium's first screen (navigation to the first timeline
 * rows drawn, median of RUNS, a fresh page each time; bar < 2 s). Side by side in the same
 * run, as references: `breachkit verify` of the same bundle (report verifies first: the part
 * of its time that is not its own) and `jq -c .` over the timeline.jsonl it wrote (reading
 * the same events once). The machine is shared and has 2 cores: figures are noisy.
 *
 * Writes only under a temporary directory, removed at the end; the browser it starts is
 * closed by its handle.
 */
import { spawnSync } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createBundle, safePathComponent } from "../src/evidence/bundle.js";
import { fakeSha256, SnapshotBuilder, traffic } from "../test/helpers/snapshot-builder.js";
import { launchChromium } from "../test/unit/report/chromium.js";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(name);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const EVENTS = arg("--events", 100_000);
const RUNS = arg("--runs", 3);
const BIN = fileURLToPath(new URL("../dist/cli/bin.cjs", import.meta.url));

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function timed(cmd: string, args: string[]): { ms: number; status: number | null; stderr: string } {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    maxBuffer: 1024 ** 3,
    stdio: ["ignore", "ignore", "pipe"],
  });
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, status: r.status, stderr: r.stderr };
}

async function makeBundle(dir: string): Promise<string> {
  const procs = Math.round(EVENTS * 0.2);
  const changes = Math.round(EVENTS * 0.4);
  const logs = EVENTS - procs - changes;
  const b = new SnapshotBuilder({ takenAt: "2026-03-01T12:00:00.000Z", intervalSeconds: 1 })
    .container({ name: "web", traffic: traffic(120_000) })
    .container({ name: "db", traffic: traffic(40) });
  for (let i = 0; i < procs; i++) {
    b.process(
      {
        pid: 10_000 + i,
        comm: `worker-${i % 97}`,
        argv: [`/usr/bin/worker-${i % 97}`, "--serve", `--id=${i}`],
        startTime: new Date(Date.parse("2026-03-01T06:00:00.000Z") + i * 1000).toISOString(),
        exe: { path: `/usr/bin/worker-${i % 97}`, sha256: fakeSha256(`w${i % 97}`) },
      },
      i % 3 === 0 ? undefined : i % 3 === 1 ? "web" : "db",
    );
  }
  const bundle = await createBundle({
    outDir: dir,
    host: "bench01",
    command: "triage --out bench",
  });
  await bundle.writeJson("snapshot.json", b.build(), { source: "breachkit" });
  const list = Array.from({ length: changes }, (_, i) => ({
    path: `/var/www/uploads/${Math.floor(i / 100)}/file-${i}.php`,
    kind: i % 5 === 0 ? "added" : "modified",
  }));
  await bundle.writeJson(`containers/${safePathComponent("web")}/changes.json`, list, {
    source: "docker:/containers/web/changes",
  });
  for (let i = 0; i < logs - 3; i++) {
    bundle.log({
      step: "collect",
      action: `copy /var/log/app/part-${i}.log`,
      result: i % 50 === 0 ? "error" : "ok",
      durationMs: 1,
    });
  }
  await bundle.writeJson("findings.json", { findings: [] }, { source: "breachkit triage" });
  await bundle.seal({ complete: true });
  return bundle.dir;
}

async function main() {
  const dir = await mkdtemp(join(tmpdir(), "bk-bench-report-"));
  try {
    process.stdout.write(`making a bundle with about ${EVENTS} timeline events…\n`);
    const bundle = await makeBundle(dir);
    const reports: number[] = [];
    const verifies: number[] = [];
    const jqs: number[] = [];
    let last = "";
    let events = 0;
    for (let r = 0; r < RUNS; r++) {
      const out = join(dir, `report-${r}`);
      const rep = timed("node", [BIN, "report", bundle, "--out", out]);
      if (rep.status !== 0) throw new Error(`report failed (${rep.status}): ${rep.stderr}`);
      reports.push(rep.ms);
      verifies.push(timed("node", [BIN, "verify", bundle]).ms);
      jqs.push(timed("jq", ["-c", ".", join(out, "timeline.jsonl")]).ms);
      last = out;
    }
    const lines = spawnSync("wc", ["-l", join(last, "timeline.jsonl")], {
      encoding: "utf8",
    }).stdout;
    events = Number.parseInt(lines, 10);
    const htmlBytes = (await stat(join(last, "report.html"))).size;

    const own = await launchChromium();
    const screens: number[] = [];
    const paints: number[] = [];
    try {
      const url = pathToFileURL(join(last, "report.html")).href;
      for (let r = 0; r < RUNS; r++) {
        const page = await own.context.newPage();
        const t0 = Date.now();
        await page.goto(url, { waitUntil: "domcontentloaded", timeout: 300_000 });
        await page.locator("#tl-body tr").first().waitFor({ state: "attached" });
        await page.locator("#verdict").waitFor({ state: "visible" });
        screens.push(Date.now() - t0);
        // First contentful paint: when the top of the page (verdict, summary) is on screen.
        const fcp = (await page.evaluate(
          "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? -1",
        )) as number;
        paints.push(fcp);
        await page.close();
      }
    } finally {
      await own.close();
    }
    const rep = median(reports);
    const ver = median(verifies);
    const jq = median(jqs);
    const scr = median(screens);
    const fcp = median(paints);
    const mb = htmlBytes / 1e6;
    process.stdout.write(
      `${[
        `timeline events: ${events}`,
        `report (all five formats): median ${(rep / 1000).toFixed(2)} s of ${RUNS} [${reports.map((x) => (x / 1000).toFixed(2)).join(", ")}]  bar < 5 s: ${rep < 5000 ? "MET" : "NOT MET"}`,
        `  reference verify of the same bundle: ${(ver / 1000).toFixed(2)} s (report/verify ${(rep / ver).toFixed(2)}x)`,
        `  reference jq -c . over its timeline.jsonl: ${(jq / 1000).toFixed(2)} s (report/jq ${(rep / jq).toFixed(2)}x)`,
        `report.html: ${mb.toFixed(1)} MB  bar < 20 MB: ${mb < 20 ? "MET" : "NOT MET"}`,
        `Chromium first contentful paint (the verdict and summary on screen): median ${(fcp / 1000).toFixed(2)} s [${paints.map((x) => (x / 1000).toFixed(2)).join(", ")}]  bar < 2 s: ${fcp >= 0 && fcp < 2000 ? "MET" : "NOT MET"}`,
        `Chromium timeline ready (navigation to the first timeline rows drawn, all 100,000 parsed): median ${(scr / 1000).toFixed(2)} s [${screens.map((x) => (x / 1000).toFixed(2)).join(", ")}]  bar < 2 s: ${scr < 2000 ? "MET" : "NOT MET"}`,
        "(2 cores, shared with other helpers' runs: figures are noisy)",
      ].join("\n")}\n`,
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv.includes("--make-only")) {
  const d = process.argv[process.argv.indexOf("--make-only") + 1]!;
  process.stdout.write(`${await makeBundle(d)}\n`);
} else await main();
