/**
 * Read `breachkit update`'s records (update.json in its sealed bundles) for drift: an image
 * change that a verified record explains is not drift. A record is trusted only when
 *
 * - its bundle verifies (SEAL matches the manifest, every file matches its hash: `verify`),
 *   and the update.json bytes read here are the ones the manifest lists;
 * - neither the bundle directory nor update.json can be written by group or others (anybody
 *   who can write there could plant a record that explains a swapped image);
 * - it is an update run (not --check, not --dry-run) of this host, within the window
 *   (ended after the baseline was taken, started before now).
 *
 * A record that fails any of these is returned as rejected, with why. Bundles are found as the
 * directories directly under the directories given that hold an update.json (or a directory
 * given that is a bundle itself); symlinks are not followed. Archives (.tar.gz) are not read.
 */
import { createHash } from "node:crypto";
import { constants } from "node:fs";
import { lstat, open, readdir } from "node:fs/promises";
import { basename, join, resolve } from "node:path";
import { type UpdateOutput, UpdateOutputSchema } from "../model/update-output.js";
import {
  type RejectedUpdate,
  tagOfReference,
  type UpdateRecords,
  type UpdateTransition,
} from "../model/update-records.js";
import { errorMessage } from "../util/result.js";
import { MANIFEST_FILE } from "./bundle.js";
import { parseManifest, verifyBundle } from "./verify.js";

/** `update` writes update.json under this name (act/update/run-update.ts UPDATE_FILE). */
export const UPDATE_RECORD_FILE = "update.json";

/**
 * Where update bundles are looked for by default: `breachkit update --out /var/lib/breachkit/updates`
 * is the documented place; /var/lib/breachkit too (where the schedule's examples keep bundles).
 */
export const DEFAULT_UPDATE_DIRS: readonly string[] = [
  "/var/lib/breachkit/updates",
  "/var/lib/breachkit",
];

/** Bounds: a directory of many bundles is read newest-first up to this many candidates. */
const MAX_CANDIDATES = 500;
const MAX_RECORD_BYTES = 16 * 1024 * 1024;

export interface ReadUpdateRecordsOptions {
  dirs: readonly string[];
  /** The window: records of update runs that ended before `since` or started after `until` are not used. */
  since: string;
  until: string;
  /** This host's name (manifest and update.json `host`); a record of another host is rejected. */
  host: string | null;
  onStep?: (s: string) => void;
}

const ms = (iso: string) => {
  const t = Date.parse(iso);
  return Number.isNaN(t) ? null : t;
};

/** Bundle directories under `dir` (or `dir` itself), newest first by name; never follows links. */
async function candidates(dir: string): Promise<string[]> {
  const abs = resolve(dir);
  try {
    const self = await lstat(join(abs, UPDATE_RECORD_FILE));
    if (self.isFile()) return [abs];
  } catch {}
  let names: string[];
  try {
    names = await readdir(abs);
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const n of names.sort().reverse()) {
    if (out.length >= MAX_CANDIDATES) break;
    const d = join(abs, n);
    try {
      if (!(await lstat(d)).isDirectory()) continue;
      if ((await lstat(join(d, UPDATE_RECORD_FILE))).isFile()) out.push(d);
    } catch {}
  }
  return out;
}

/** A file's bytes, read once, without following a link; bounded. */
async function readRecordBytes(path: string, max = MAX_RECORD_BYTES): Promise<Buffer> {
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error(`${basename(path)} is not a regular file`);
    if (st.size > max) throw new Error(`${basename(path)} is larger than ${max} bytes`);
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

function writableByOthers(mode: number): boolean {
  return (mode & 0o022) !== 0;
}

type Run = Extract<UpdateOutput, { mode: "update" }>;

/** Parse a record; what it says, or why it is not an update record. */
function parseRecord(bytes: Buffer): { run: Run } | { why: string } {
  let data: unknown;
  try {
    data = JSON.parse(bytes.toString("utf8"));
  } catch {
    return { why: "update.json is not JSON" };
  }
  const parsed = UpdateOutputSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      why: `update.json does not match the update schema (${[...(issue?.path ?? [])].join(".")}: ${issue?.message ?? ""})`,
    };
  }
  if (parsed.data.mode !== "update") return { why: "a --check answer, not an update record" };
  return { run: parsed.data };
}

export async function readUpdateRecords(o: ReadUpdateRecordsOptions): Promise<UpdateRecords> {
  const searched = o.dirs.map((d) => resolve(d));
  const used: UpdateTransition[] = [];
  const rejected: RejectedUpdate[] = [];
  const since = ms(o.since) ?? 0;
  const until = ms(o.until) ?? Number.POSITIVE_INFINITY;
  const seen = new Set<string>();
  for (const dir of searched) {
    for (const bundle of await candidates(dir)) {
      if (seen.has(bundle)) continue;
      seen.add(bundle);
      let refs: string[] = [];
      const reject = (reason: string, containers: string[] = []) =>
        rejected.push({ bundle, reason, containers, refs });
      let bytes: Buffer;
      try {
        bytes = await readRecordBytes(join(bundle, UPDATE_RECORD_FILE));
      } catch (e) {
        reject(`cannot read update.json: ${errorMessage(e)}`);
        continue;
      }
      const rec = parseRecord(bytes);
      if ("why" in rec) {
        reject(rec.why);
        continue;
      }
      const run = rec.run;
      const updated = run.results.filter(
        (r) => r.outcome === "updated" && r.after !== null && r.after.imageId !== r.before.imageId,
      );
      // Out of the window, a dry run or nothing updated: not a candidate, not worth hashing.
      if (run.dryRun || updated.length === 0) continue;
      const started = ms(run.startedAt);
      const ended = ms(run.endedAt);
      if (started === null || ended === null || ended < since || started > until) continue;
      const names = updated.map((r) => r.name);
      refs = [...new Set(updated.map((r) => tagOfReference(r.image)).filter((t) => t !== null))];
      if (o.host !== null && run.host !== o.host) {
        reject(`a record of another host (${run.host})`, names);
        continue;
      }
      try {
        const [d, f] = await Promise.all([lstat(bundle), lstat(join(bundle, UPDATE_RECORD_FILE))]);
        if (writableByOthers(d.mode) || writableByOthers(f.mode)) {
          reject(
            "the bundle or its update.json can be written by group or others: anybody could have planted it",
            names,
          );
          continue;
        }
      } catch (e) {
        reject(`cannot stat the bundle: ${errorMessage(e)}`, names);
        continue;
      }
      o.onStep?.(`verifying ${bundle}`);
      let report: Awaited<ReturnType<typeof verifyBundle>>;
      try {
        report = await verifyBundle(bundle);
      } catch (e) {
        reject(`does not verify: ${errorMessage(e)}`, names);
        continue;
      }
      if (!report.intact) {
        const what = [
          report.seal !== "ok" ? `SEAL ${report.seal}` : "",
          ...report.changed.slice(0, 3).map((c) => `${c.path}: ${c.problem}`),
          ...report.missing.slice(0, 3).map((p) => `${p}: missing`),
          ...report.added.slice(0, 3).map((p) => `${p}: added`),
        ].filter((s) => s !== "");
        reject(`does not verify (${what.join("; ")})`, names);
        continue;
      }
      // The bytes parsed above must be the bytes the (sealed) manifest lists: read the manifest
      // again and compare, so a record swapped between the read and the verification is caught.
      try {
        const mbytes = await readRecordBytes(join(bundle, MANIFEST_FILE), 64 * MAX_RECORD_BYTES);
        const msha = createHash("sha256").update(mbytes).digest("hex");
        const entry = parseManifest(mbytes).files.find((x) => x.path === UPDATE_RECORD_FILE);
        const sha = createHash("sha256").update(bytes).digest("hex");
        if (msha !== report.manifestSha256 || !entry || entry.sha256 !== sha) {
          reject("update.json changed while it was being verified", names);
          continue;
        }
      } catch (e) {
        reject(`cannot read the manifest again: ${errorMessage(e)}`, names);
        continue;
      }
      for (const r of updated) {
        used.push({
          container: r.name,
          ref: tagOfReference(r.image),
          fromImageId: r.before.imageId,
          toImageId: (r.after as NonNullable<typeof r.after>).imageId,
          at: run.endedAt,
          bundle,
          manifestSha256: report.manifestSha256,
        });
      }
    }
  }
  used.sort((a, b) => a.at.localeCompare(b.at));
  return { searched, used, rejected };
}
