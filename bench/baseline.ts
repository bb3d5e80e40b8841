/**
 * Baseline diff speed, and a scheduled run end to end.
 *
 *   npx tsx bench/baseline.ts [--processes 20000] [--runs 5] [--run] [--lab]
 *
 * 1. Two snapshots of N processes (default 20,000: 2,000 distinct programs, 2,000 listening
 *    sockets, 50 containers with accounts), the second with ~1% drift. Timed: the items of both
 *    snapshots plus the diff (what `baseline diff` does after observing). Reference, side by
 *    side in the same run: `diff` of the two item lists dumped as sorted text (the dump and
 *    the sort not counted for diff, which is the reference's best case). Issue bar: < 1 s.
 * 2. With --run [--rounds 3]: `breachkit schedule run --jobs triage,audit` (built CLI, no
 *    notify config, temporary runs and state directories), without a baseline and with one
 *    (saved with --no-suid), and with --no-overlap (one job at a time), against the reference
 *    run side by side in the same rounds: the same two jobs by hand, `breachkit triage --json
 *    --out` then `breachkit audit --json --out`. Each round prints the load (1-minute average);
 *    the triage job's findings (severity, rule, place) are compared with those by hand.
 *    One untimed warm-up round, then rounds in alternating order; medians. With --lab the lab
 *    is brought up first and down after (take the docker lock:
 *    flock /tmp/bk-docker.lock npx tsx bench/baseline.ts --run --lab). Issue bar: < 5 s.
 *    triage and audit use no scan cache (clamav's, for `scan` jobs): "warm" here is the page
 *    cache and the engine after the warm-up round.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { diffBaseline } from "../src/judge/baseline/diff.js";
import { BASELINE_KINDS, type BaselineItem } from "../src/model/baseline.js";
import { itemsFromSnapshot } from "../src/model/baseline-items.js";
import type { Snapshot } from "../src/model/snapshot.js";
import { makeUser, SnapshotBuilder } from "../test/helpers/snapshot-builder.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}
const N = arg("--processes", 20_000);
const RUNS = arg("--runs", 5);

function build(drift: boolean): Snapshot {
  const b = new SnapshotBuilder();
  for (let c = 0; c < 50; c++) b.container({ name: `svc-${c}` });
  b.accounts({});
  for (let c = 0; c < 50; c++) b.accounts({}, `svc-${c}`);
  b.netns({});
  for (let i = 0; i < N; i++) {
    const changed = drift && i % 100 === 0;
    const prog = i % 2000;
    const path = changed ? `/tmp/.drop-${i}` : `/usr/bin/prog-${prog}`;
    b.process(
      { pid: 1000 + i, comm: `prog-${prog}`, exe: { path } },
      i % 3 === 0 ? `svc-${i % 50}` : undefined,
    );
  }
  for (let p = 0; p < 2000; p++) {
    const port = drift && p % 100 === 0 ? 40000 + p : 1000 + p;
    b.socket({ localAddress: "0.0.0.0", localPort: port, pids: [1000 + p] });
  }
  const s = b.build();
  if (drift) s.accounts[1]!.users.push(makeUser({ name: "toor", uid: 0 }));
  return s;
}

const dump = (items: BaselineItem[]) =>
  `${items
    .map((i) => `${i.kind}\t${i.place}\t${i.key}\t${i.value}`)
    .sort()
    .join("\n")}\n`;

const a = build(false);
const b = build(true);
console.log(
  `baseline diff: ${N} processes, ${a.sockets.length} sockets, ${a.containers.length} containers; best of ${RUNS}`,
);
let best = Number.POSITIVE_INFINITY;
let findings = 0;
let items = 0;
for (let r = 0; r < RUNS; r++) {
  const t0 = performance.now();
  const ia = itemsFromSnapshot(a);
  const ib = itemsFromSnapshot(b);
  const d = diffBaseline(
    { kinds: [...BASELINE_KINDS], placesRead: ia.placesRead, items: ia.items },
    { kinds: [...BASELINE_KINDS], placesRead: ib.placesRead, items: ib.items },
  );
  best = Math.min(best, performance.now() - t0);
  findings = d.findings.length;
  items = ia.items.length + ib.items.length;
}
const dir = mkdtempSync(join(tmpdir(), "bk-bench-baseline-"));
const fa = join(dir, "a.txt");
const fb = join(dir, "b.txt");
writeFileSync(fa, dump(itemsFromSnapshot(a).items));
writeFileSync(fb, dump(itemsFromSnapshot(b).items));
let ref = Number.POSITIVE_INFINITY;
let refLines = 0;
for (let r = 0; r < RUNS; r++) {
  const t0 = performance.now();
  const out = spawnSync("diff", [fa, fb], { encoding: "utf8", maxBuffer: 1 << 28 });
  ref = Math.min(ref, performance.now() - t0);
  refLines = out.stdout.split("\n").filter((l) => l.startsWith(">")).length;
}
rmSync(dir, { recursive: true, force: true });
console.log(
  `  breachkit items+diff  ${best.toFixed(1)} ms  (${items} items, ${findings} findings)`,
);
console.log(
  `  diff(1) sorted dumps  ${ref.toFixed(1)} ms  (${refLines} added lines; dump and sort not counted)`,
);
console.log(
  `  ratio breachkit/diff  ${(best / ref).toFixed(2)}x   bar: < 1000 ms -> ${best < 1000 ? "met" : "NOT met"}`,
);

if (process.argv.includes("--run")) {
  const bin = join(process.cwd(), "dist/cli/bin.cjs");
  const lab = process.argv.includes("--lab");
  const rounds = arg("--rounds", 3);
  if (lab) {
    const { labUp } = await import("../lab/lab-core.js");
    await labUp({ scenario: "contained", trojanSeconds: 600 });
  }
  const tmp = mkdtempSync(join(tmpdir(), "bk-bench-run-"));
  try {
    const time = (args: string[]) => {
      const t0 = performance.now();
      const r = spawnSync("node", [bin, ...args], {
        encoding: "utf8",
        maxBuffer: 1 << 28,
        env: { ...process.env, NO_COLOR: "1" },
      });
      return { ms: performance.now() - t0, code: r.status, out: r.stdout, err: r.stderr };
    };
    // The baseline a scheduled run compares with (saved once, without the SUID walk of / that a
    // full baseline has: that walk alone is ~16 s here, see the README).
    const base = join(tmp, "baseline.json");
    const saved = time(["baseline", "save", "--out", base, "--no-suid", "--json"]);
    if (saved.code !== 0) throw new Error(`baseline save failed: ${saved.err.slice(0, 300)}`);
    const conf = join(tmp, "config.json");
    writeFileSync(conf, "{}\n", { mode: 0o600 });
    const sched = (n: number, withBaseline: boolean, overlap = true) =>
      time([
        "schedule",
        "run",
        "--jobs",
        "triage,audit",
        "--runs-dir",
        join(tmp, `runs-${n}-${withBaseline}`),
        "--state-dir",
        join(tmp, "state"),
        "--config",
        conf, // no notify section: nothing is sent
        ...(withBaseline ? ["--baseline", base] : []),
        ...(overlap ? [] : ["--no-overlap"]),
        "--json",
      ]);
    // Reference, side by side: the same two jobs run by hand, one after the other.
    const byHand = (n: number) => {
      const a = time(["triage", "--json", "--out", join(tmp, `hand-${n}`)]);
      const b = time(["audit", "--json", "--out", join(tmp, `hand-${n}`)]);
      return {
        ms: a.ms + b.ms,
        triage: a.ms,
        audit: b.ms,
        codes: [a.code, b.code],
        findings: findingKeys(a.out),
      };
    };
    // What a triage found, as "severity rule place" lines (rates and pids left out).
    const findingKeys = (out: string): string[] => {
      try {
        const o = JSON.parse(out) as {
          findings: { severity: string; rule: string; where: string }[];
        };
        return o.findings.map((f) => `${f.severity} ${f.rule} ${f.where}`).sort();
      } catch {
        return ["(no JSON)"];
      }
    };
    const triageOfRun = (out: string): string[] => {
      try {
        const o = JSON.parse(out) as {
          dir: string;
          jobs: { name: string; bundle: string | null }[];
        };
        const b = o.jobs.find((j) => j.name === "triage")?.bundle;
        if (!b) return ["(no triage bundle)"];
        const f = JSON.parse(readFileSync(join(o.dir, b, "findings.json"), "utf8")) as {
          findings: { severity: string; rule: string; where: string }[];
        };
        return f.findings.map((x) => `${x.severity} ${x.rule} ${x.where}`).sort();
      } catch (e) {
        return [`(unreadable: ${String(e).slice(0, 100)})`];
      }
    };
    const load = () => loadavg()[0]!.toFixed(1);
    const jobsOf = (out: string, code: number | null) => {
      try {
        const o = JSON.parse(out) as {
          jobs: { name: string; status: string; durationMs: number }[];
          gaps: { source: string; message: string }[];
        };
        return o.jobs.map((j) => `${j.name} ${j.status} ${j.durationMs} ms`).join(", ");
      } catch {
        return `no JSON (exit ${code}): ${out.slice(0, 200)}`;
      }
    };
    if (existsSync("/var/lib/breachkit/baseline.json"))
      console.log(
        "  note: /var/lib/breachkit/baseline.json exists: the jobs-only runs compare with it",
      );
    // One untimed round first: page cache and the engine warm, as on the timer's second run.
    byHand(0);
    sched(0, false);
    type Kind = "hand" | "bare" | "serial" | "drift";
    const rows: Record<Kind, number>[] = [];
    const loads: number[] = [];
    let handFindings: string[] | null = null;
    const differ: string[] = [];
    for (let r = 1; r <= rounds; r++) {
      // Alternate the order so drift in the machine's load does not favour one side.
      const order: Kind[] =
        r % 2 === 1 ? ["hand", "bare", "serial", "drift"] : ["drift", "serial", "bare", "hand"];
      const row = { hand: 0, bare: 0, serial: 0, drift: 0 };
      for (const k of order) {
        loads.push(loadavg()[0]!);
        if (k === "hand") {
          const h = byHand(r);
          row.hand = h.ms;
          handFindings ??= h.findings;
          console.log(
            `  round ${r} by hand: triage ${h.triage.toFixed(0)} ms + audit ${h.audit.toFixed(0)} ms (exit ${h.codes.join(",")}; load ${load()})`,
          );
        } else {
          const x = sched(r, k === "drift", k !== "serial");
          // A run that could not run is no figure.
          if (x.code === 2 || !x.out.trim().startsWith("{") || x.out.includes('"error"'))
            throw new Error(
              `schedule run failed (exit ${x.code}): ${x.out.slice(0, 400)} ${x.err.slice(-400)}`,
            );
          row[k] = x.ms;
          const found = triageOfRun(x.out);
          if (handFindings && found.join("\n") !== handFindings.join("\n"))
            differ.push(
              `round ${r} ${k}: by hand only [${handFindings.filter((f) => !found.includes(f)).join("; ")}], scheduled only [${found.filter((f) => !handFindings?.includes(f)).join("; ")}]`,
            );
          console.log(
            `  round ${r} schedule run${k === "drift" ? " + baseline diff" : k === "serial" ? " --no-overlap" : ""}: ${x.ms.toFixed(0)} ms (exit ${x.code}; ${jobsOf(x.out, x.code)}; load ${load()})`,
          );
        }
      }
      rows.push(row);
    }
    const med = (xs: number[]) => {
      const a = [...xs].sort((p, q) => p - q);
      return a[Math.floor(a.length / 2)] as number;
    };
    const hand = med(rows.map((r) => r.hand));
    const bare = med(rows.map((r) => r.bare));
    const drift = med(rows.map((r) => r.drift));
    const serial = med(rows.map((r) => r.serial));
    console.log(
      `scheduled run, triage+audit${lab ? " on the lab" : ""}, median of ${rounds} rounds:`,
    );
    console.log(
      `  schedule run (jobs only)            ${bare.toFixed(0)} ms   ratio to by-hand ${(bare / hand).toFixed(2)}x   bar < 5000 ms -> ${bare < 5000 ? "met" : "NOT met"}`,
    );
    console.log(
      `  schedule run + baseline diff        ${drift.toFixed(0)} ms   ratio to by-hand ${(drift / hand).toFixed(2)}x   bar < 5000 ms -> ${drift < 5000 ? "met" : "NOT met"}`,
    );
    console.log(
      `  schedule run --no-overlap           ${serial.toFixed(0)} ms   ratio to by-hand ${(serial / hand).toFixed(2)}x`,
    );
    console.log(`  reference: triage then audit by hand ${hand.toFixed(0)} ms`);
    console.log(
      `  load (1-minute average) during the rounds: ${Math.min(...loads).toFixed(1)} to ${Math.max(...loads).toFixed(1)} on ${availableParallelism()} cores`,
    );
    console.log(
      differ.length === 0
        ? `  triage's findings (severity, rule, place) in every scheduled run: the same as by hand (${handFindings?.length ?? 0})`
        : `  triage's findings differ from those by hand:\n    ${differ.join("\n    ")}`,
    );
  } finally {
    rmSync(tmp, { recursive: true, force: true });
    if (lab) {
      const { labDown } = await import("../lab/lab-core.js");
      await labDown();
    }
  }
}
