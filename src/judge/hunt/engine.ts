/**
 * The log scanner. Speed matters (100 MiB of container logs within the first minute),
 * so it never runs a regex over every line: each literal is located with a native byte
 * search over big chunks (planned per file from a sample of its bytes, see plan()), then
 * only the line around a verified literal is decoded and tested against the rule's full
 * patterns. Line numbers come from counting newlines, natively too. Measured against
 * `grep -E -c` with the same patterns by bench/hunt-vs-grep.ts.
 *
 * Docker json-file lines (`{"log":"...\n","stream":"stdout","time":"..."}`) are decoded:
 * patterns run on the log message, and the hit shows the message, not the JSON. Docker
 * splits a message longer than 16 KiB into partial records (their `log` has no trailing
 * newline): they are joined back into one line before the hunt, so a `curl … | sh` across
 * the split is found. Lines are hunted whole up to `maxLineBytes`; a longer line is hunted
 * in pieces and reported as a gap (`onGap`), never skipped silently.
 */
import { open } from "node:fs/promises";
import type { CompiledRuleSet } from "./compile.js";

export interface Hit {
  /** As given to huntFile / huntBuffer (a host path or a bundle path). */
  file: string;
  /** 1-based. */
  line: number;
  /** The hunt rule's key (its id; for IOC rules, which share `ioc.log`, the indicator). */
  rule: string;
  /** The line (or the decoded Docker log message), cut to `maxLineChars`. Attacker-controlled. */
  text: string;
  /** The `key` group's value for keyed threshold rules (e.g. the client address). */
  key?: string;
  /** Docker json-file: the entry's time and stream. */
  time?: string;
  stream?: string;
  /**
   * Set on the last stored hit of a rule in a file when `maxHitsPerRule` was reached:
   * how many more lines matched and were counted but not kept.
   */
  more?: number;
}

export interface HuntOptions {
  /** Default 8 MiB. */
  chunkBytes?: number;
  /** Stored hits per rule and file; later ones are only counted (in `more`). Default 1000. */
  maxHitsPerRule?: number;
  /** Characters of a line kept in a hit. Default 500. */
  maxLineChars?: number;
  /** Stop reading after this many bytes (the rest of the file is not hunted; reported by `onGap`). */
  maxBytes?: number;
  /**
   * Lines (and joined Docker partial records) up to this size are hunted whole; the read
   * buffer grows to hold them. A longer line is hunted in pieces (reported by `onGap`).
   * Default 16 MiB: bounded memory, and well above any real log line.
   */
  maxLineBytes?: number;
  /** Told about every part of the file not hunted as whole lines. */
  onGap?: (gap: HuntGap) => void;
  signal?: AbortSignal;
}

/** A part of a file not hunted whole: a line too long, or bytes past `maxBytes`. */
export interface HuntGap {
  /** 1-based line where the gap starts. */
  line: number;
  message: string;
}

const NL = 0x0a;
const DEFAULT_MAX_LINE_BYTES = 16 * 1024 * 1024;
/**
 * Docker's log copier cuts a message into 16 KiB records: a record's line shorter than
 * this cannot be a partial one that a later record continues.
 */
const PARTIAL_MIN = 16 * 1024;
const STREAM_KEY = Buffer.from('","stream":"');
/** Keyed thresholds track at most this many distinct keys per rule and file. */
const MAX_KEYS = 10_000;
const SAMPLE_BYTES = 256 * 1024;
const JSON_PREFIX = Buffer.from('{"log":"');

function isJsonRecord(view: Buffer, ls: number, le: number): boolean {
  return (
    le - ls > JSON_PREFIX.length &&
    view.compare(JSON_PREFIX, 0, JSON_PREFIX.length, ls, ls + JSON_PREFIX.length) === 0
  );
}

/**
 * Where the `log` string of a json-file record [ls, le) ends (its closing quote), or -1.
 * Inside a JSON string every `"` is escaped, so the first raw `","stream":"` ends it.
 */
function logEnd(view: Buffer, ls: number, le: number): number {
  if (!isJsonRecord(view, ls, le)) return -1;
  const k = view.indexOf(STREAM_KEY, ls + JSON_PREFIX.length);
  return k === -1 || k >= le ? -1 : k;
}

/** A json-file record whose message Docker split: its `log` does not end with "\n". */
export function isPartialRecord(view: Buffer, ls: number, le: number): boolean {
  if (le - ls < PARTIAL_MIN) return false;
  const k = logEnd(view, ls, le);
  if (k === -1) return false;
  if (view[k - 1] !== 0x6e) return true;
  // "\n" is an escaped newline only after an odd run of backslashes ("\\n" is "\" then "n").
  let b = 0;
  for (let i = k - 2; i >= ls + JSON_PREFIX.length && view[i] === 0x5c; i--) b++;
  return b % 2 === 0;
}

/** Where the line ending at `nl` (a newline's index, or view.length) starts. */
function lineStart(view: Buffer, nl: number): number {
  return nl === 0 ? 0 : view.lastIndexOf(NL, nl - 1) + 1;
}

/**
 * The joined form of a chunk: each run of partial records and the record ending it become
 * one record (the first one's time and stream, the messages concatenated: JSON escapes never
 * straddle a split, Docker splits the message before encoding it). `extra` maps the index of
 * a joined line's newline in the new view to the lines it absorbed, for line numbers.
 */
function joinPartials(view: Buffer): { view: Buffer; extra: Map<number, number> } | null {
  const parts: Buffer[] = [];
  const extra = new Map<number, number>();
  let copied = 0;
  let outLen = 0;
  let ls = 0;
  while (ls < view.length) {
    let le = view.indexOf(NL, ls);
    if (le === -1) le = view.length;
    if (!isPartialRecord(view, ls, le)) {
      ls = le + 1;
      continue;
    }
    // A run: ls..le partial; take records while partial, then the one that ends it.
    const pieces: Buffer[] = [view.subarray(ls, logEnd(view, ls, le))];
    let absorbed = 0;
    let end = le;
    let tail: Buffer = view.subarray(logEnd(view, ls, le), le);
    let next = le + 1;
    while (next < view.length) {
      let ne = view.indexOf(NL, next);
      if (ne === -1) ne = view.length;
      const k = logEnd(view, next, ne);
      if (k === -1) break;
      pieces.push(view.subarray(next + JSON_PREFIX.length, k));
      tail = view.subarray(k, ne);
      absorbed++;
      end = ne;
      const partial = isPartialRecord(view, next, ne);
      next = ne + 1;
      if (!partial) break;
    }
    if (absorbed === 0) {
      ls = le + 1;
      continue;
    }
    parts.push(view.subarray(copied, ls));
    outLen += ls - copied;
    for (const p of pieces) {
      parts.push(p);
      outLen += p.length;
    }
    parts.push(tail);
    outLen += tail.length;
    if (end < view.length) {
      extra.set(outLen, absorbed);
      parts.push(view.subarray(end, end + 1));
      outLen += 1;
      copied = end + 1;
    } else {
      extra.set(outLen, absorbed);
      copied = view.length;
    }
    ls = copied;
  }
  if (!extra.size) return null;
  parts.push(view.subarray(copied));
  return { view: Buffer.concat(parts), extra };
}

interface Anchor {
  byte: number;
  /** Literal index, and the anchor byte's offset inside it. */
  entries: { lit: number; offset: number }[];
}

interface Needle {
  /** Up to 7 bytes of the literal: short needles take the native search's memchr loop. */
  bytes: Buffer;
  /** The needle's offset inside the literal. */
  offset: number;
  lit: number;
}

interface Plan {
  anchors: Anchor[];
  needles: Needle[];
}

const MAX_NEEDLE = 7;
const MIN_NEEDLE = 3;
/** A byte seen less often than this (per byte of sample) is rare enough to anchor on alone. */
const RARE = 1 / 4096;

/**
 * For each literal, the cheaper of two searches. A literal with a rare byte (`|`, `%`, `&`
 * in most logs) is anchored on that byte: one memchr pass serves every literal sharing it,
 * and the few occurrences are verified here. A literal made of common bytes would return to
 * JavaScript at every occurrence of its rarest byte; it is searched natively as a short
 * needle instead, starting at its rarest byte, so only real matches come back.
 */
function plan(set: CompiledRuleSet, sample: Buffer): Plan {
  const freq = new Uint32Array(256);
  for (let i = 0; i < sample.length; i++) freq[sample[i]!]!++;
  const byByte = new Map<number, Anchor>();
  const needles: Needle[] = [];
  set.literals.forEach((lit, li) => {
    const b = lit.bytes;
    let best = 0;
    for (let k = 1; k < b.length; k++) if (freq[b[k]!]! <= freq[b[best]!]!) best = k;
    if (freq[b[best]!]! <= sample.length * RARE) {
      let a = byByte.get(b[best]!);
      if (!a) {
        a = { byte: b[best]!, entries: [] };
        byByte.set(b[best]!, a);
      }
      a.entries.push({ lit: li, offset: best });
      return;
    }
    // The native search stops at every occurrence of the needle's first byte (cheap) and
    // returns at every occurrence of the needle (dear): weigh both, as seen in the sample.
    let start = 0;
    let bestCost = Number.POSITIVE_INFINITY;
    for (let k = 0; k <= Math.max(0, b.length - MIN_NEEDLE); k++) {
      const needle = b.subarray(k, k + MAX_NEEDLE);
      let hits = 0;
      for (
        let p = sample.indexOf(needle);
        p !== -1 && hits < 1000;
        p = sample.indexOf(needle, p + 1)
      )
        hits++;
      const cost = freq[b[k]!]! + hits * 20;
      if (cost < bestCost) {
        bestCost = cost;
        start = k;
      }
    }
    needles.push({ bytes: b.subarray(start, start + MAX_NEEDLE), offset: start, lit: li });
  });
  return { anchors: [...byByte.values()], needles };
}

interface RuleState {
  stored: number;
  lastStored: Hit | null;
  counts: Map<string, number>;
  pending: Map<string, Hit[]>;
}

/** One file's hunt, fed chunks of complete lines in order. */
class Hunt {
  readonly hits: Hit[] = [];
  private plan: Plan | null = null;
  private line = 1;
  private readonly states: RuleState[];
  private readonly maxHits: number;
  private readonly maxChars: number;
  private readonly decoder = new TextDecoder("utf-8", { fatal: false });

  constructor(
    private readonly set: CompiledRuleSet,
    private readonly file: string,
    opts: HuntOptions,
  ) {
    this.maxHits = opts.maxHitsPerRule ?? 1000;
    this.maxChars = opts.maxLineChars ?? 500;
    this.states = set.rules.map(() => ({
      stored: 0,
      lastStored: null,
      counts: new Map(),
      pending: new Map(),
    }));
  }

  /** The line the next chunk starts on. */
  get nextLine(): number {
    return this.line;
  }

  /**
   * `raw` holds whole lines (a last line without "\n" only at the end of the data, or a
   * piece of a line too long to hold), and whole runs of Docker partial records.
   */
  chunk(raw: Buffer): void {
    // Lines of this chunk, for the numbers of later ones.
    let lines = 0;
    // Only a chunk with a line of 16 KiB or more can hold partial records: look for them there.
    let long = false;
    let prev = -1;
    for (let p = raw.indexOf(NL); p !== -1; p = raw.indexOf(NL, p + 1)) {
      lines++;
      if (p - prev > PARTIAL_MIN) long = true;
      prev = p;
    }
    if (raw.length - prev > PARTIAL_MIN) long = true;
    if (this.set.literals.length) this.search(raw, long);
    this.line += lines;
  }

  private search(raw: Buffer, long: boolean): void {
    const joined = long ? joinPartials(raw) : null;
    const view = joined ? joined.view : raw;
    this.plan ??= plan(this.set, view.subarray(0, SAMPLE_BYTES));
    // Candidates as flat triples: line start, line end, rule index.
    const cands: number[] = [];
    const lits = this.set.literals;
    const lastLineForRule = new Int32Array(this.set.rules.length).fill(-1);
    const found = (li: number, s: number) => {
      const bytes = lits[li]!.bytes;
      if (s < 0 || s + bytes.length > view.length) return;
      let k = 0;
      while (k < bytes.length && view[s + k] === bytes[k]) k++;
      if (k !== bytes.length) return;
      const ls = view.lastIndexOf(NL, s) + 1;
      let le = view.indexOf(NL, s + bytes.length);
      if (le === -1) le = view.length;
      for (const r of lits[li]!.rules) {
        if (lastLineForRule[r] === ls) continue;
        lastLineForRule[r] = ls;
        cands.push(ls, le, r);
      }
    };
    for (const a of this.plan.anchors) {
      for (let p = view.indexOf(a.byte, 0); p !== -1; p = view.indexOf(a.byte, p + 1)) {
        for (const e of a.entries) found(e.lit, p - e.offset);
      }
    }
    for (const n of this.plan.needles) {
      for (let p = view.indexOf(n.bytes, 0); p !== -1; p = view.indexOf(n.bytes, p + 1)) {
        found(n.lit, p - n.offset);
      }
    }
    if (cands.length) this.evaluate(view, cands, joined?.extra);
  }

  private evaluate(view: Buffer, cands: number[], extra: Map<number, number> | undefined): void {
    const order = Array.from({ length: cands.length / 3 }, (_, i) => i);
    order.sort((x, y) => cands[x * 3]! - cands[y * 3]! || cands[x * 3 + 2]! - cands[y * 3 + 2]!);
    let cursor = 0;
    let lineNo = this.line;
    let prevStart = -1;
    let prevRule = -1;
    let decodedStart = -1;
    let decoded: { text: string; time?: string; stream?: string } = { text: "" };
    for (const i of order) {
      const ls = cands[i * 3]!;
      const le = cands[i * 3 + 1]!;
      const r = cands[i * 3 + 2]!;
      if (ls === prevStart && r === prevRule) continue;
      prevStart = ls;
      prevRule = r;
      while (cursor < ls) {
        const q = view.indexOf(NL, cursor);
        if (q === -1 || q >= ls) break;
        lineNo += 1 + (extra?.get(q) ?? 0);
        cursor = q + 1;
      }
      if (decodedStart !== ls) {
        decoded = this.decodeLine(view, ls, le);
        decodedStart = ls;
      }
      this.test(r, lineNo, decoded);
    }
  }

  private decodeLine(
    view: Buffer,
    ls: number,
    le: number,
  ): { text: string; time?: string; stream?: string } {
    let end = le;
    if (end > ls && view[end - 1] === 0x0d) end--;
    // Whole: a line is never longer than the read buffer, itself bounded by maxLineBytes.
    const bytes = view.subarray(ls, end);
    const text = this.decoder.decode(bytes);
    if (
      bytes.length > JSON_PREFIX.length &&
      bytes.subarray(0, JSON_PREFIX.length).equals(JSON_PREFIX)
    ) {
      try {
        const o = JSON.parse(text) as { log?: unknown; time?: unknown; stream?: unknown };
        if (typeof o.log === "string") {
          const out: { text: string; time?: string; stream?: string } = {
            text: o.log.replace(/\r?\n$/, ""),
          };
          if (typeof o.time === "string") out.time = o.time;
          if (typeof o.stream === "string") out.stream = o.stream;
          return out;
        }
      } catch {
        // A cut or corrupt JSON line is still hunted, as raw text.
      }
    }
    return { text };
  }

  private test(r: number, line: number, d: { text: string; time?: string; stream?: string }): void {
    const cr = this.set.rules[r]!;
    let key: string | undefined;
    let matched = false;
    for (const re of cr.regexes) {
      if (cr.keyed) {
        const m = re.exec(d.text);
        if (m) {
          matched = true;
          key = m.groups?.key;
          break;
        }
      } else if (re.test(d.text)) {
        matched = true;
        break;
      }
    }
    if (!matched || (cr.verify && !cr.verify(d.text))) return;
    const hit: Hit = {
      file: this.file,
      line,
      rule: cr.rule.key ?? cr.rule.id,
      text: d.text.length > this.maxChars ? `${d.text.slice(0, this.maxChars)}…` : d.text,
    };
    if (key !== undefined) hit.key = key;
    if (d.time !== undefined) hit.time = d.time;
    if (d.stream !== undefined) hit.stream = d.stream;
    this.record(r, hit, cr.rule.threshold);
  }

  private record(r: number, hit: Hit, threshold: number): void {
    const st = this.states[r]!;
    if (threshold <= 1) {
      this.store(st, hit);
      return;
    }
    const k = hit.key ?? "";
    const seen = st.counts.get(k);
    if (seen === undefined && st.counts.size >= MAX_KEYS) return;
    const n = (seen ?? 0) + 1;
    st.counts.set(k, n);
    if (n < threshold) {
      st.pending.set(k, [...(st.pending.get(k) ?? []), hit]);
      return;
    }
    const pend = st.pending.get(k);
    if (pend) {
      st.pending.delete(k);
      for (const h of pend) this.store(st, h);
    }
    this.store(st, hit);
  }

  private store(st: RuleState, hit: Hit): void {
    if (st.stored < this.maxHits) {
      st.stored++;
      st.lastStored = hit;
      this.hits.push(hit);
    } else if (st.lastStored) {
      st.lastStored.more = (st.lastStored.more ?? 0) + 1;
    }
  }

  /** Hits in file order (rules interleaved by line). */
  result(): Hit[] {
    return this.hits.sort((a, b) => a.line - b.line || a.rule.localeCompare(b.rule));
  }
}

/** Hunt a buffer held in memory (a whole small file, a test sample). */
export function huntBuffer(
  data: Uint8Array,
  set: CompiledRuleSet,
  file: string,
  opts: HuntOptions = {},
): Hit[] {
  const h = new Hunt(set, file, opts);
  const buf = Buffer.isBuffer(data)
    ? data
    : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const cut = opts.maxBytes !== undefined && buf.length > opts.maxBytes;
  h.chunk(cut ? buf.subarray(0, opts.maxBytes) : buf);
  if (cut) opts.onGap?.({ line: h.nextLine, message: notHuntedPast(opts.maxBytes ?? 0) });
  return h.result();
}

function notHuntedPast(maxBytes: number): string {
  return `only the first ${maxBytes} bytes were hunted (hunt limit); the rest of the file, its newest lines, was not`;
}

/**
 * Where to end a chunk of `buf[0, filled)`: after its last whole line, but before a trailing
 * run of Docker partial records (the next read holds the record that ends it). 0: no place.
 */
function chunkEnd(buf: Buffer, filled: number): number {
  const lastNl = buf.lastIndexOf(NL, filled - 1);
  if (lastNl === -1) return 0;
  let end = lastNl + 1;
  while (end > 0) {
    const ls = lineStart(buf, end - 1);
    if (!isPartialRecord(buf, ls, end - 1)) break;
    end = ls;
  }
  return end;
}

/**
 * Hunt a file, read in big chunks; lines never straddle two chunks. The buffer grows for a
 * long line up to maxLineBytes; past that the line is hunted in pieces, and said so.
 */
export async function huntFile(
  path: string,
  set: CompiledRuleSet,
  opts: HuntOptions = {},
): Promise<Hit[]> {
  const h = new Hunt(set, path, opts);
  const maxLine = Math.max(64 * 1024, opts.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES);
  const chunk = Math.min(maxLine, Math.max(64 * 1024, opts.chunkBytes ?? 8 * 1024 * 1024));
  const limit = opts.maxBytes ?? Number.POSITIVE_INFINITY;
  const fh = await open(path, "r");
  try {
    let buf = Buffer.allocUnsafe(chunk);
    let carry = 0;
    let pos = 0;
    /** Set while hunting the pieces of one line too long to hold: said once per line. */
    let inLongLine = false;
    for (;;) {
      opts.signal?.throwIfAborted();
      const want = Math.min(buf.length - carry, limit - pos);
      const { bytesRead } = want > 0 ? await fh.read(buf, carry, want, pos) : { bytesRead: 0 };
      pos += bytesRead;
      const filled = carry + bytesRead;
      if (bytesRead === 0) {
        if (filled) h.chunk(buf.subarray(0, filled));
        if (pos >= limit && (await fh.stat()).size > pos) {
          opts.onGap?.({ line: h.nextLine, message: notHuntedPast(limit) });
        }
        break;
      }
      const end = chunkEnd(buf, filled);
      if (end === 0 && filled < buf.length) {
        carry = filled;
        continue;
      }
      if (end === 0 && buf.length < maxLine) {
        // A line (or a run of partial records) longer than the buffer: grow to hold it.
        const bigger = Buffer.allocUnsafe(Math.min(maxLine, buf.length * 2));
        buf.copy(bigger, 0, 0, filled);
        buf = bigger;
        carry = filled;
        continue;
      }
      if (end === 0) {
        // Longer than maxLineBytes: hunt it in pieces rather than grow without bound.
        const lastNl = buf.lastIndexOf(NL, filled - 1);
        const cut = lastNl === -1 ? filled : lastNl + 1;
        if (!inLongLine) {
          opts.onGap?.({
            line: h.nextLine,
            message:
              lastNl === -1
                ? `a line longer than ${maxLine} bytes was hunted in pieces of that size; a match across two pieces would be missed`
                : `a Docker message split into partial records longer than ${maxLine} bytes in all was hunted record by record; a match across two records would be missed`,
          });
        }
        inLongLine = lastNl === -1;
        h.chunk(buf.subarray(0, cut));
        carry = filled - cut;
        if (carry) buf.copy(buf, 0, cut, filled);
        continue;
      }
      inLongLine = false;
      h.chunk(buf.subarray(0, end));
      carry = filled - end;
      // chunk() keeps no view into the buffer (hits hold decoded strings): reuse it.
      if (carry) buf.copy(buf, 0, end, filled);
    }
  } finally {
    await fh.close();
  }
  return h.result();
}
