/**
 * Which snapshot a restore takes: the one named (--snapshot, an id or its prefix), the newest
 * strictly before a time (--before, --before-incident), or the newest.
 */
import type { SnapshotRef } from "../../model/backup-output.js";
import { err, ok, type Result } from "../../util/result.js";

type Dated = SnapshotRef & { timeMs: number };

export function selectSnapshot<S extends Dated>(
  snapshots: readonly S[],
  by: { snapshot?: string | undefined; before?: Date | undefined },
): Result<S, string> {
  if (snapshots.length === 0) return err("no snapshot of this container in the repository");
  if (by.snapshot !== undefined) {
    const q = by.snapshot.toLowerCase();
    if (!/^[0-9a-f]{4,64}$/.test(q)) return err(`--snapshot ${by.snapshot}: not a snapshot id`);
    const m = snapshots.filter((s) => s.id.startsWith(q));
    if (m.length === 1 && m[0]) return ok(m[0]);
    return err(
      m.length === 0
        ? `no snapshot ${by.snapshot} of this container`
        : `--snapshot ${by.snapshot} is ambiguous (${m.map((s) => s.shortId).join(", ")})`,
    );
  }
  const sorted = [...snapshots].sort((a, b) => b.timeMs - a.timeMs);
  if (by.before !== undefined) {
    const limit = by.before.getTime();
    const found = sorted.find((s) => s.timeMs < limit);
    if (!found)
      return err(
        `no snapshot before ${by.before.toISOString()} (the oldest is ${sorted[sorted.length - 1]?.time})`,
      );
    return ok(found);
  }
  return ok(sorted[0] as S);
}

/** --before: an ISO 8601 time, a date (UTC midnight), or a relative "3d"/"12h" ago. */
export function parseTime(value: string, now: Date): Date | null {
  const rel = /^(\d+)([smhdw])$/.exec(value.trim());
  if (rel) {
    const n = Number(rel[1]);
    const unit = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 }[rel[2] as "s"];
    return new Date(now.getTime() - n * unit * 1000);
  }
  const v = value.trim();
  if (!/^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/.test(v)) return null;
  const iso = /^\d{4}-\d\d-\d\d$/.test(v)
    ? `${v}T00:00:00Z`
    : /(Z|[+-]\d\d:?\d\d)$/.test(v)
      ? v.replace(" ", "T")
      : `${v.replace(" ", "T")}Z`;
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? null : new Date(ms);
}
