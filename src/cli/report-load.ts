/**
 * Read what `report` needs from bundles and watch recordings. Each bundle is verified first
 * (the same check as `breachkit verify`); its files are then read (only those its manifest
 * lists, never through a symlink, each bounded in size) and validated. A file that cannot be
 * read or does not parse is a gap in the report, never a crash, never silently dropped.
 */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { open, realpath, stat } from "node:fs/promises";
import { basename, join, relative, resolve, sep } from "node:path";
import { type VerifyReport, verifyBundle } from "../evidence/verify.js";
import type {
  BundleInput,
  BundleManifestFacts,
  CommandOutput,
  ContainerChanges,
  FindingsFile,
  FleetCaseInput,
  LogLine,
  WatchInput,
  WatchSample,
} from "../judge/report/input.js";
import { ContainReportSchema } from "../model/contain-output.js";
import { type Finding, FindingSchema } from "../model/finding.js";
import { parseSnapshot, type Snapshot } from "../model/snapshot.js";
import { BreachkitError } from "../util/errors.js";
import { errorMessage } from "../util/result.js";
import { safeText } from "../util/sanitize.js";
import { z } from "../util/zod.js";

const MAX_JSON_BYTES = 512 * 1024 * 1024;
const MAX_WATCH_BYTES = 1024 * 1024 * 1024;

/** Read a regular file (no symlink, no FIFO), bounded. */
async function readBounded(path: string, max: number): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error("not a regular file");
    if (st.size > max) throw new Error(`larger than ${Math.round(max / 1024 ** 2)} MiB`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

function problemOf(r: VerifyReport): string | null {
  if (r.intact) return null;
  const parts: string[] = [];
  if (r.seal !== "ok") parts.push(`SEAL ${r.seal}`);
  const list = (what: string, paths: string[]) => {
    if (paths.length === 0) return;
    parts.push(
      `${what}: ${paths.slice(0, 3).join(", ")}${paths.length > 3 ? ` and ${paths.length - 3} more` : ""}`,
    );
  };
  list(
    "changed",
    r.changed.map((c) => c.path),
  );
  list("missing", r.missing);
  list("added", r.added);
  return parts.join("; ") || "the bundle does not verify";
}

const ManifestFactsSchema = z.object({
  command: z.string(),
  host: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  complete: z.boolean(),
  incompleteReason: z.string().nullable(),
  files: z.array(
    z
      .object({
        path: z.string(),
        sha256: z.string(),
        size: z.number(),
        collectedAt: z.string(),
        source: z.string(),
      })
      .loose(),
  ),
});

const LogEntrySchema = z
  .object({
    time: z.string(),
    step: z.string(),
    action: z.string(),
    result: z.string(),
    error: z.string().optional(),
    changedHost: z.boolean().optional(),
  })
  .loose();

const KIND = ["modified", "added", "deleted"] as const;

/** changes.json: as the bundle writes it ({path, kind}), or docker diff's raw {Path, Kind}. */
const ChangesSchema = z.array(
  z.union([
    z.object({ path: z.string(), kind: z.string() }),
    z
      .object({ Path: z.string(), Kind: z.number() })
      .transform((c) => ({ path: c.Path, kind: KIND[c.Kind] ?? "modified" })),
  ]),
);

/** containment.json as contain writes it (its --json adds schemaVersion, bundle and seal). */
const ContainmentFileSchema = ContainReportSchema.omit({
  schemaVersion: true,
  bundle: true,
  manifestSha256: true,
});

/** Findings as one file holds them: an array, or {findings: [...]} (triage, audit, scan). */
function findingsIn(data: unknown, file: string, gaps: string[]): Finding[] | null {
  const list = Array.isArray(data)
    ? data
    : typeof data === "object" &&
        data !== null &&
        Array.isArray((data as { findings?: unknown }).findings)
      ? (data as { findings: unknown[] }).findings
      : null;
  if (list === null) return null;
  const out: Finding[] = [];
  let bad = 0;
  for (const item of list) {
    const p = FindingSchema.safeParse(item);
    if (p.success) out.push(p.data);
    else bad++;
  }
  if (bad > 0) gaps.push(`${file}: ${bad} finding(s) not in the finding format, left out`);
  return out;
}

/** pid -> line of `"pid": N` in snapshot.json's processes (written with 2-space indent). */
export function snapshotPidLines(text: string): Map<number, number> {
  const out = new Map<number, number>();
  const start = text.indexOf('\n  "processes": [');
  if (start < 0) return out;
  const end = text.indexOf("\n  ]", start);
  const stop = end < 0 ? text.length : end;
  const needle = '\n      "pid": ';
  let line = 1;
  let counted = 0;
  for (
    let at = text.indexOf(needle, start);
    at >= 0 && at < stop;
    at = text.indexOf(needle, at + 1)
  ) {
    // Lines up to this one, counted incrementally.
    for (let i = text.indexOf("\n", counted); i >= 0 && i <= at; i = text.indexOf("\n", i + 1)) {
      line++;
      counted = i + 1;
    }
    const pid = Number.parseInt(text.slice(at + needle.length, at + needle.length + 12), 10);
    if (Number.isFinite(pid) && !out.has(pid)) out.set(pid, line);
  }
  return out;
}

/** Verify and read one bundle directory. */
export async function loadBundle(path: string, cwd: string): Promise<BundleInput> {
  const dir = resolve(cwd, path);
  const verify = await verifyBundle(dir);
  if (verify.kind === "archive") {
    throw new BreachkitError(
      "BAD_INPUT",
      `${safeText(path, 300)} is an archive (verified: ${verify.intact ? "intact" : "NOT intact"}); report reads bundle directories`,
      `unpack it first (mkdir case && tar -xzf ${safeText(path, 300)} -C case) and give the directory`,
    );
  }
  const gaps: string[] = [];
  const name = basename(dir);
  const listed = new Map<string, { size: number; collectedAt: string }>();
  let manifest: BundleManifestFacts | null = null;
  const readText = async (rel: string, max = MAX_JSON_BYTES): Promise<string | null> => {
    try {
      return (await readBounded(join(dir, rel), max)).toString("utf8");
    } catch (e) {
      gaps.push(`${rel}: cannot read (${safeText(errorMessage(e), 200)})`);
      return null;
    }
  };
  const readJson = async (rel: string): Promise<unknown> => {
    const t = await readText(rel);
    if (t === null) return undefined;
    try {
      return JSON.parse(t) as unknown;
    } catch {
      gaps.push(`${rel}: not JSON, left out`);
      return undefined;
    }
  };
  const m = ManifestFactsSchema.safeParse(await readJson("manifest.json"));
  if (m.success) {
    manifest = m.data;
    for (const f of m.data.files) listed.set(f.path, { size: f.size, collectedAt: f.collectedAt });
  } else gaps.push("manifest.json: not a breachkit manifest; only verify's result is used");

  let snapshot: Snapshot | null = null;
  let pidLines = new Map<number, number>();
  if (listed.has("snapshot.json")) {
    const t = await readText("snapshot.json");
    if (t !== null) {
      try {
        snapshot = parseSnapshot(t);
        pidLines = snapshotPidLines(t);
      } catch (e) {
        gaps.push(`snapshot.json: not a valid snapshot (${safeText(errorMessage(e), 200)})`);
      }
    }
  }

  const findings: FindingsFile[] = [];
  const outputs: CommandOutput[] = [];
  let containment: BundleInput["containment"] = null;
  const changes: ContainerChanges[] = [];
  const byDir = new Map<string, { place: string; containerId: string | null }>();
  for (const c of snapshot?.containers ?? []) {
    byDir.set(c.name, { place: c.name, containerId: c.id });
    byDir.set(c.id.slice(0, 12), { place: c.name, containerId: c.id });
  }
  for (const rel of [...listed.keys()].sort()) {
    if (rel === "findings.json" || /^scans\/[^/]+\/findings\.json$/.test(rel)) {
      const list = findingsIn(await readJson(rel), rel, gaps);
      if (list) findings.push({ file: rel, findings: list, kind: "incident" });
      else gaps.push(`${rel}: holds no findings list`);
    } else if (rel === "containment.json") {
      const p = ContainmentFileSchema.safeParse(await readJson(rel));
      if (p.success) containment = p.data;
      else {
        const issue = p.error.issues[0];
        gaps.push(
          `containment.json: not in contain's format (${issue ? `${issue.path.join(".")}: ${issue.message}` : "invalid"}), left out`,
        );
      }
    } else if (
      /^[a-z][a-z0-9-]*\.json$/.test(rel) &&
      rel !== "snapshot.json" &&
      rel !== "manifest.json"
    ) {
      // Another command's --json saved in the bundle: audit.json, update.json, backup.json ...
      const data = await readJson(rel);
      if (data === undefined) continue;
      const command = rel.slice(0, -".json".length);
      outputs.push({ file: rel, command, data });
      const list = findingsIn(data, rel, gaps);
      if (list)
        findings.push({
          file: rel,
          findings: list,
          kind: command === "audit" ? "audit" : "incident",
        });
    } else if (/^containers\/[^/]+\/changes\.json$/.test(rel)) {
      const t = await readText(rel);
      if (t === null) continue;
      let parsed: z.infer<typeof ChangesSchema>;
      try {
        parsed = ChangesSchema.parse(JSON.parse(t));
      } catch {
        gaps.push(`${rel}: not docker diff's format, left out`);
        continue;
      }
      const pathLines: number[] = [];
      t.split("\n").forEach((l, i) => {
        if (l.startsWith('    "Path": ') || l.startsWith('    "path": ')) pathLines.push(i + 1);
      });
      const cdir = rel.split("/")[1]!;
      const owner = byDir.get(cdir) ?? { place: cdir, containerId: null };
      changes.push({
        ...owner,
        file: rel,
        collectedAt: listed.get(rel)?.collectedAt ?? manifest?.endedAt ?? "",
        changes: parsed.map((c, i) => ({
          path: c.path,
          kind: c.kind,
          line: pathLines.length === parsed.length ? (pathLines[i] ?? null) : null,
        })),
      });
    }
  }

  const log: LogLine[] = [];
  const logText = await readText("collection.log.jsonl");
  if (logText !== null) {
    let bad = 0;
    logText.split("\n").forEach((l, i) => {
      if (l.trim() === "") return;
      let e: z.infer<typeof LogEntrySchema>;
      try {
        e = LogEntrySchema.parse(JSON.parse(l));
      } catch {
        bad++;
        return;
      }
      log.push({
        line: i + 1,
        time: e.time,
        step: e.step,
        action: e.action,
        result: e.result,
        error: e.error ?? null,
        changedHost: e.changedHost === true,
      });
    });
    if (bad > 0) gaps.push(`collection.log.jsonl: ${bad} line(s) not readable, left out`);
  }

  return {
    name,
    path: dir,
    verification: {
      verified: verify.intact,
      problem: problemOf(verify),
      seal: verify.sealedSha256,
      manifestSha256: verify.manifestSha256,
      files: verify.files,
      bytes: verify.bytes,
    },
    manifest,
    snapshot,
    snapshotPidLines: pidLines,
    findings,
    containment,
    log,
    changes,
    outputs,
    gaps,
  };
}

const num = z.number().finite();
const WatchSampleSchema = z
  .object({
    time: z.string(),
    intervalMs: num,
    rows: z.array(
      z
        .object({
          place: z.string(),
          containerId: z.string().nullable(),
          cpuPercent: num,
          memoryBytes: num,
          processes: num,
          rxPacketsPerSec: num,
          txPacketsPerSec: num,
          rxBytesPerSec: num,
          txBytesPerSec: num,
          destinations: z.array(
            z.object({ address: z.string(), port: z.number().int(), count: num }).loose(),
          ),
        })
        .loose(),
    ),
    alarms: z.array(
      z
        .object({ rule: z.string(), severity: z.string(), place: z.string(), text: z.string() })
        .loose(),
    ),
  })
  .loose();

/** Read a watch recording (NDJSON, one sample a line); bad lines are counted, not fatal. */
export async function loadWatch(path: string, cwd: string): Promise<WatchInput> {
  let bytes: Buffer;
  try {
    bytes = await readBounded(resolve(cwd, path), MAX_WATCH_BYTES);
  } catch (e) {
    throw new BreachkitError(
      "BAD_INPUT",
      `cannot read the watch recording ${safeText(path, 300)}: ${safeText(errorMessage(e), 200)}`,
      "give a file written by breachkit watch --record FILE",
    );
  }
  const samples: WatchSample[] = [];
  let bad = 0;
  bytes
    .toString("utf8")
    .split("\n")
    .forEach((l, i) => {
      if (l.trim() === "") return;
      try {
        const s = WatchSampleSchema.parse(JSON.parse(l));
        if (Number.isNaN(Date.parse(s.time))) throw new Error("bad time");
        samples.push({
          time: s.time,
          intervalMs: s.intervalMs,
          rows: s.rows.map((r) => ({
            place: r.place,
            containerId: r.containerId,
            cpuPercent: r.cpuPercent,
            memoryBytes: r.memoryBytes,
            processes: r.processes,
            rxPacketsPerSec: r.rxPacketsPerSec,
            txPacketsPerSec: r.txPacketsPerSec,
            rxBytesPerSec: r.rxBytesPerSec,
            txBytesPerSec: r.txBytesPerSec,
            destinations: r.destinations.map((d) => ({
              address: d.address,
              port: d.port,
              count: d.count,
            })),
          })),
          alarms: s.alarms.map((a) => ({
            rule: a.rule,
            severity: a.severity,
            place: a.place,
            text: a.text,
          })),
          line: i + 1,
        });
      } catch {
        bad++;
      }
    });
  const gaps = bad > 0 ? [`${basename(path)}: ${bad} line(s) are not watch samples, left out`] : [];
  if (samples.length === 0 && bad > 0) {
    throw new BreachkitError(
      "BAD_INPUT",
      `${safeText(path, 300)} holds no watch sample (${bad} unreadable line(s))`,
      "give a file written by breachkit watch --record FILE (NDJSON, one sample a line)",
    );
  }
  return {
    file: basename(path),
    sha256: createHash("sha256").update(bytes).digest("hex"),
    samples,
    gaps,
  };
}

const MAX_CASE_BYTES = 64 * 1024 * 1024;

const SHA256 = z.string().regex(/^[0-9a-f]{64}$/);

const CaseFileSchema = z
  .object({
    format: z.literal("breachkit-case"),
    command: z.string(),
    exeSha256: SHA256.optional(),
    hosts: z.array(
      z
        .object({
          name: z.string(),
          state: z.string(),
          reason: z.string().nullable(),
          bundle: z.object({ path: z.string() }).loose().nullable(),
          user: z.string().nullable().optional(),
          // --keep-exe's record (a case made before it has none)
          keep: z
            .object({
              found: z.string(),
              foundSha256: SHA256.nullable(),
              setAside: z.string().nullable(),
            })
            .loose()
            .nullable()
            .optional(),
        })
        .loose(),
    ),
  })
  .loose();

/**
 * A fleet case directory (`breachkit fleet --out`): its case.json, and each host's bundle
 * inside it (a bundle path that leads out of the case, or is not there, is a gap). null when
 * `path` is not a directory holding a case.json. Each bundle is then read with loadBundle,
 * verified like any other.
 */
export async function loadCase(
  path: string,
  cwd: string,
): Promise<{
  fleet: FleetCaseInput;
  bundles: { host: string; path: string; name: string }[];
} | null> {
  const dir = resolve(cwd, path);
  const isDir = await stat(dir).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!isDir) return null;
  let text: string;
  try {
    text = (await readBounded(join(dir, "case.json"), MAX_CASE_BYTES)).toString("utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new BreachkitError(
      "BAD_INPUT",
      `cannot read ${safeText(join(path, "case.json"), 300)}: ${safeText(errorMessage(e), 200)}`,
      "give the directory breachkit fleet --out made, or the bundles in it one by one",
    );
  }
  let parsed: z.infer<typeof CaseFileSchema>;
  try {
    parsed = CaseFileSchema.parse(JSON.parse(text));
  } catch {
    throw new BreachkitError(
      "BAD_INPUT",
      `${safeText(join(path, "case.json"), 300)} is not a breachkit fleet case manifest`,
      "give the directory breachkit fleet --out made, or the bundles in it (CASE/hosts/*/bundle/breachkit-*) one by one",
    );
  }
  const root = await realpath(dir);
  const gaps: string[] = [];
  const bundles: { host: string; path: string; name: string }[] = [];
  const hosts: FleetCaseInput["hosts"] = [];
  for (const h of parsed.hosts) {
    let bundle: string | null = null;
    if (h.bundle) {
      const real = await realpath(resolve(dir, h.bundle.path)).catch(() => null);
      if (real === null) {
        gaps.push(`host ${h.name}: its bundle ${h.bundle.path} is not in the case`);
      } else if (!real.startsWith(root + sep)) {
        gaps.push(
          `host ${h.name}: its bundle path ${h.bundle.path} leads out of the case; not read`,
        );
      } else {
        // Named by its place in the case: two hosts' bundles may have the same directory name.
        bundle = relative(root, real);
        bundles.push({ host: h.name, path: real, name: bundle });
      }
    }
    hosts.push({
      name: h.name,
      state: h.state,
      reason: h.reason,
      bundle,
      user: h.user ?? null,
      keep: h.keep ?? null,
    });
  }
  return {
    fleet: {
      case: path,
      command: parsed.command,
      exeSha256: parsed.exeSha256 ?? null,
      hosts,
      gaps,
    },
    bundles,
  };
}
