/**
 * lastlog (shadow-utils, x86_64): one 292-byte `struct lastlog` per uid at offset uid * 292,
 * `int32 ll_time; char ll_line[32]; char ll_host[256]`. The file is sparse, so its size says
 * only how high the largest uid that ever logged in is (a uid of 4294967294 makes a 1.2 TB
 * "file"): readers take slices of it, and a slice's first uid is passed in.
 */
import { cString } from "./utmp.js";

export const LASTLOG_RECORD_SIZE = 292;

export type LastlogRecord = { uid: number; time: string; tty: string; host: string };

export type LastlogParse = {
  records: LastlogRecord[];
  /** Non-empty entries with a time outside the plausible window. */
  skipped: number;
};

const DEFAULT_MIN_TIME = Date.UTC(1980, 0, 1);

/** Entries with a time set in `bytes`, a slice of the file starting at `firstUid`'s entry. */
export function parseLastlog(
  bytes: Uint8Array,
  firstUid = 0,
  opts: { minTime?: Date; maxTime?: Date } = {},
): LastlogParse {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const minMs = opts.minTime?.getTime() ?? DEFAULT_MIN_TIME;
  const maxMs = opts.maxTime?.getTime() ?? Number.POSITIVE_INFINITY;
  const out: LastlogParse = { records: [], skipped: 0 };
  const count = Math.floor(bytes.length / LASTLOG_RECORD_SIZE);
  for (let i = 0; i < count; i++) {
    const o = i * LASTLOG_RECORD_SIZE;
    const sec = view.getUint32(o, true);
    // Never-logged-in users are holes of zeros: not entries.
    if (sec === 0) continue;
    const ms = sec * 1000;
    if (ms < minMs || ms > maxMs) {
      out.skipped++;
      continue;
    }
    out.records.push({
      uid: firstUid + i,
      time: new Date(ms).toISOString(),
      tty: cString(bytes, o + 4, 32),
      host: cString(bytes, o + 36, 256),
    });
  }
  return out;
}
