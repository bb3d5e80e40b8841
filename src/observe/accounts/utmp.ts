/**
 * utmp, wtmp and btmp records in glibc's x86_64 layout (`struct utmp`, 384 bytes, little
 * endian). The time is two int32s even on 64-bit (__WORDSIZE_TIME64_COMPAT32), so the files
 * are the same on 32- and 64-bit hosts; it is read as unsigned, which is what lets the format
 * run to 2106.
 *
 *   0 ut_type  int16 (+2 pad)      4 ut_pid int32        8 ut_line[32]   40 ut_id[4]
 *  44 ut_user[32]                 76 ut_host[256]      332 ut_exit (2 x int16)
 * 336 ut_session int32           340 ut_tv.tv_sec      344 ut_tv.tv_usec
 * 348 ut_addr_v6 int32[4] (network byte order)         364 unused[20]
 *
 * These files are a favourite target of log wipers (zeroed or cut records), so the parser
 * keeps going: records are read at fixed offsets, as last(1) does, and a record with a type
 * outside 0..9, microseconds over 999999 or a time outside the plausible window is skipped
 * and counted; a cut trailing record is counted in `trailingBytes`. Strings end at the first
 * NUL (or fill the field) and are decoded as UTF-8 with replacement: they stay data.
 */
import type { LoginRecord } from "../../model/snapshot.js";
import { decodeUtf8 } from "../../util/sanitize.js";

export const UTMP_RECORD_SIZE = 384;

export const UTMP_TYPES = [
  "EMPTY",
  "RUN_LVL",
  "BOOT_TIME",
  "NEW_TIME",
  "OLD_TIME",
  "INIT_PROCESS",
  "LOGIN_PROCESS",
  "USER_PROCESS",
  "DEAD_PROCESS",
  "ACCOUNTING",
] as const;

export type UtmpOptions = {
  /** "wtmp", "btmp" or "utmp": copied into each record. */
  source: string;
  /** Records before this are skipped as corrupt (default 1980-01-01). */
  minTime?: Date;
  /** Records after this are skipped as corrupt (default: none). */
  maxTime?: Date;
};

export type UtmpParse = {
  records: LoginRecord[];
  /** Whole records skipped as corrupt (bad type, time or microseconds). */
  skipped: number;
  /** Of those, records that are all zero bytes: the mark of a wiped entry. */
  zeroed: number;
  /** Bytes after the last whole record (a file cut mid-record). */
  trailingBytes: number;
};

const DEFAULT_MIN_TIME = Date.UTC(1980, 0, 1);

/** A fixed-size C string field: up to the first NUL, as UTF-8 with replacement. */
export function cString(bytes: Uint8Array, start: number, length: number): string {
  const field = bytes.subarray(start, start + length);
  const nul = field.indexOf(0);
  return decodeUtf8(nul < 0 ? field : field.subarray(0, nul));
}

/**
 * ut_addr_v6 as text: IPv4 when only the first word is set, IPv6 otherwise, null when zero.
 * Like last(1), this reads an IPv6 address whose last 96 bits are zero as IPv4: the format
 * cannot tell them apart.
 */
export function formatUtmpAddress(addr: Uint8Array): string | null {
  if (addr.length !== 16 || addr.every((b) => b === 0)) return null;
  if (addr.subarray(4).every((b) => b === 0)) return Array.from(addr.subarray(0, 4)).join(".");
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((addr[i]! << 8) | addr[i + 1]!);
  // RFC 5952: the longest run (first if tied) of two or more zero words becomes "::".
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

export function parseUtmp(bytes: Uint8Array, opts: UtmpOptions): UtmpParse {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const minMs = opts.minTime?.getTime() ?? DEFAULT_MIN_TIME;
  const maxMs = opts.maxTime?.getTime() ?? Number.POSITIVE_INFINITY;
  const count = Math.floor(bytes.length / UTMP_RECORD_SIZE);
  const out: UtmpParse = {
    records: [],
    skipped: 0,
    zeroed: 0,
    trailingBytes: bytes.length - count * UTMP_RECORD_SIZE,
  };
  for (let r = 0; r < count; r++) {
    const o = r * UTMP_RECORD_SIZE;
    const type = view.getInt16(o, true);
    const sec = view.getUint32(o + 340, true);
    const usec = view.getUint32(o + 344, true);
    const ms = sec * 1000 + Math.floor(usec / 1000);
    const name = UTMP_TYPES[type];
    if (name === undefined || usec > 999_999 || ms < minMs || ms > maxMs) {
      out.skipped++;
      if (bytes.subarray(o, o + UTMP_RECORD_SIZE).every((b) => b === 0)) out.zeroed++;
      continue;
    }
    out.records.push({
      source: opts.source,
      type: name,
      user: cString(bytes, o + 44, 32),
      tty: cString(bytes, o + 8, 32),
      host: cString(bytes, o + 76, 256),
      address: formatUtmpAddress(bytes.subarray(o + 348, o + 364)),
      pid: view.getInt32(o + 4, true),
      time: new Date(ms).toISOString(),
    });
  }
  return out;
}
