/**
 * What a restore learns from an incident's evidence bundle (--before-incident DIR): the earliest
 * evidence time (the bundle's start, or earlier: the start of a process a finding names), and
 * the SHA-256 of every file a finding names (the trojan's executable among them).
 */
import { promises as fs } from "node:fs";
import { join } from "node:path";
import { BreachkitError } from "../../util/errors.js";
import { safeText } from "../../util/sanitize.js";
import { z } from "../../util/zod.js";

const MAX_JSON = 256 * 1024 * 1024;

const Manifest = z.looseObject({
  format: z.literal("breachkit-bundle"),
  startedAt: z.string(),
  files: z.array(z.looseObject({ path: z.string() })),
});
const Findings = z.array(
  z.looseObject({
    rule: z.string(),
    severity: z.string(),
    where: z.string().optional(),
    evidence: z
      .array(z.looseObject({ pid: z.number().optional(), sha256: z.string().optional() }))
      .optional(),
  }),
);
const Snap = z.looseObject({
  processes: z
    .array(z.looseObject({ pid: z.number(), startTime: z.string().nullish() }))
    .optional(),
});

export interface Incident {
  earliest: Date;
  /** sha256 -> where it came from, e.g. "findings.json: process.deleted-exe on bk-lab-gitlab". */
  hashes: Map<string, string>;
}

async function readJson(path: string): Promise<unknown> {
  const st = await fs.lstat(path);
  if (!st.isFile() || st.size > MAX_JSON) throw new Error("not a regular file of a sane size");
  return JSON.parse(await fs.readFile(path, "utf8"));
}

export async function readIncident(dir: string): Promise<Incident> {
  let manifest: z.infer<typeof Manifest>;
  try {
    manifest = Manifest.parse(await readJson(join(dir, "manifest.json")));
  } catch (e) {
    throw new BreachkitError(
      "BAD_INPUT",
      `--before-incident ${safeText(dir, 300)}: not a breachkit bundle (${safeText((e as Error).message, 300)})`,
      "give the directory of a bundle made by triage, collect or contain (run breachkit verify on it first)",
    );
  }
  let earliest = Date.parse(manifest.startedAt);
  if (Number.isNaN(earliest))
    throw new BreachkitError("BAD_INPUT", `${safeText(dir, 300)}: manifest.json has no start time`);
  const hashes = new Map<string, string>();
  const pids = new Set<number>();
  const snapshots: string[] = [];
  for (const f of manifest.files) {
    // Only the bundle's own files, as named in its manifest; no path may leave the bundle.
    if (f.path.includes("..") || f.path.startsWith("/")) continue;
    if (f.path.endsWith("snapshot.json")) snapshots.push(f.path);
    if (!f.path.endsWith("findings.json")) continue;
    const parsed = Findings.safeParse(await readJson(join(dir, f.path)).catch(() => null));
    if (!parsed.success) continue;
    for (const finding of parsed.data) {
      if (finding.severity === "info" || finding.severity === "low") continue;
      for (const ev of finding.evidence ?? []) {
        if (ev.sha256 && /^[0-9a-f]{64}$/i.test(ev.sha256) && !hashes.has(ev.sha256.toLowerCase()))
          hashes.set(
            ev.sha256.toLowerCase(),
            `${f.path}: ${finding.rule}${finding.where ? ` on ${finding.where}` : ""}`,
          );
        if (ev.pid !== undefined) pids.add(ev.pid);
      }
    }
  }
  for (const s of snapshots) {
    const parsed = Snap.safeParse(await readJson(join(dir, s)).catch(() => null));
    if (!parsed.success) continue;
    for (const p of parsed.data.processes ?? []) {
      if (!pids.has(p.pid) || !p.startTime) continue;
      const t = Date.parse(p.startTime);
      if (!Number.isNaN(t) && t < earliest) earliest = t;
    }
  }
  return { earliest: new Date(earliest), hashes };
}
