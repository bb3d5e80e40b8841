/**
 * breachkit's own reading of restic's retention policy (keep-daily, keep-weekly, keep-monthly),
 * as restic 0.14 applies it: newest first, a snapshot is kept when it is the newest of a day
 * (week, month) not yet covered and that rule still has count left. Used to show the plan
 * before `backup prune` and to check that restic kept what the policy says.
 * Days, ISO weeks and months are taken in UTC.
 */
import type { KeepPolicy } from "../../model/backup-config.js";

export interface Dated {
  id: string;
  time: string;
}

function isoWeek(d: Date): number {
  const t = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate()));
  const day = t.getUTCDay() || 7;
  t.setUTCDate(t.getUTCDate() + 4 - day);
  const yearStart = Date.UTC(t.getUTCFullYear(), 0, 1);
  const week = Math.ceil(((t.getTime() - yearStart) / 86_400_000 + 1) / 7);
  return t.getUTCFullYear() * 100 + week;
}

const BUCKETS: { key: keyof KeepPolicy; of: (d: Date) => number }[] = [
  {
    key: "daily",
    of: (d) => d.getUTCFullYear() * 10_000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate(),
  },
  { key: "weekly", of: isoWeek },
  { key: "monthly", of: (d) => d.getUTCFullYear() * 100 + d.getUTCMonth() + 1 },
];

/** The ids the policy keeps, newest first; every other snapshot of the group goes. */
export function retentionPlan(snapshots: readonly Dated[], policy: KeepPolicy): string[] {
  const sorted = [...snapshots].sort((a, b) => Date.parse(b.time) - Date.parse(a.time));
  const left: Record<keyof KeepPolicy, number> = { ...policy };
  const last: Partial<Record<keyof KeepPolicy, number>> = {};
  const keep: string[] = [];
  for (const s of sorted) {
    const d = new Date(s.time);
    let kept = false;
    for (const b of BUCKETS) {
      if (left[b.key] <= 0) continue;
      const v = b.of(d);
      if (last[b.key] !== v) {
        last[b.key] = v;
        left[b.key]--;
        kept = true;
      }
    }
    if (kept) keep.push(s.id);
  }
  return keep;
}
