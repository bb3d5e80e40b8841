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
 * 2. With --run: `breachkit schedule run --jobs triage,audit` (built CLI, no notify config, a
 *    temporary runs directory) against `breachkit triage` alone; with --lab the lab is brought
 *    up first (take the docker lock: flock /tmp/bk-docker.lock npx tsx bench/baseline.ts --run --lab).
 *    Issue bar: < 5 s. A job this breachkit lacks (audit, before it is merged) is skipped.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
  if (process.argv.includes("--lab")) {
    const { labUp } = await import("../lab/lab-core.js");
    await labUp({ scenario: "contained", trojanSeconds: 120 });
  }
  const tmp = mkdtempSync(join(tmpdir(), "bk-bench-run-"));
  const time = (args: string[]) => {
    const t0 = performance.now();
    const r = spawnSync("node", [bin, ...args], {
      encoding: "utf8",
      maxBuffer: 1 << 28,
      env: { ...process.env, NO_COLOR: "1" },
    });
    return { ms: performance.now() - t0, code: r.status, out: r.stdout };
  };
  const tri = time(["triage", "--json", "--out", join(tmp, "t")]);
  const run = time([
    "schedule",
    "run",
    "--jobs",
    "triage,audit",
    "--runs-dir",
    join(tmp, "runs"),
    "--state-dir",
    join(tmp, "state"),
    "--config",
    join(tmp, "none.json"),
    "--json",
  ]);
  let jobs = "";
  try {
    jobs = (
      JSON.parse(run.out) as { jobs: { name: string; status: string; durationMs: number }[] }
    ).jobs
      .map((j) => `${j.name} ${j.status} ${j.durationMs} ms`)
      .join(", ");
  } catch {
    jobs = `no JSON (exit ${run.code}): ${run.out.slice(0, 200)}`;
  }
  console.log(
    `schedule run triage+audit: ${run.ms.toFixed(0)} ms (${jobs}); triage alone ${tri.ms.toFixed(0)} ms; ratio ${(run.ms / tri.ms).toFixed(2)}x; bar < 5000 ms -> ${run.ms < 5000 ? "met" : "NOT met"}`,
  );
  if (process.argv.includes("--lab")) {
    const { labDown } = await import("../lab/lab-core.js");
    await labDown();
  }
  rmSync(tmp, { recursive: true, force: true });
}
