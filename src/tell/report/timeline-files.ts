/**
 * The timeline for tools: Timesketch JSONL (message, datetime ISO 8601 with offset,
 * timestamp_desc, and the event's place, pid, sha256, bundle, file and line) and CSV (RFC 4180,
 * the same fields). Sorted by time; every event points back to its file in the bundle.
 * Strings are written as read (JSON and CSV quoting make them data); control characters are
 * made visible so no line of either file can be split or hidden.
 */
import type { TimelineEvent } from "../../model/report-model.js";
import { show } from "./text.js";

/** "2026-12-02T09:00:05.123Z" -> "2026-12-02T09:00:05.123+00:00" (Timesketch's form). */
export function withOffset(iso: string): string {
  return iso.endsWith("Z") ? `${iso.slice(0, -1)}+00:00` : iso;
}

export interface TimesketchLine {
  message: string;
  datetime: string;
  timestamp_desc: string;
  timestamp: number;
  place: string;
  pid: number | null;
  sha256: string | null;
  severity: string;
  source: string;
  bundle: string;
  bundle_file: string | null;
  bundle_line: number | null;
}

export function timesketchLine(e: TimelineEvent): TimesketchLine {
  return {
    message: show(e.message, 8000),
    datetime: withOffset(e.time),
    timestamp_desc: show(e.timestampDesc, 200),
    // Timesketch's own field: microseconds since the epoch.
    timestamp: Date.parse(e.time) * 1000,
    place: show(e.place, 300),
    pid: e.pid,
    sha256: e.sha256,
    severity: e.severity,
    source: e.source,
    bundle: show(e.bundle, 300),
    bundle_file: e.file === null ? null : show(e.file, 1000),
    bundle_line: e.line,
  };
}

/** Lines per chunk: the file is written a chunk at a time, never built whole in memory. */
const CHUNK = 2000;

export function* timesketchChunks(events: readonly TimelineEvent[]): Generator<string> {
  for (let i = 0; i < events.length; i += CHUNK) {
    let s = "";
    for (const e of events.slice(i, i + CHUNK)) s += `${JSON.stringify(timesketchLine(e))}\n`;
    yield s;
  }
}

export function renderTimesketch(events: readonly TimelineEvent[]): string {
  return [...timesketchChunks(events)].join("");
}

const CSV_HEAD = [
  "datetime",
  "timestamp_desc",
  "message",
  "severity",
  "source",
  "place",
  "pid",
  "sha256",
  "bundle",
  "bundle_file",
  "bundle_line",
];

function csvCell(v: string | number | null): string {
  if (v === null) return "";
  const s = String(v);
  // A cell starting with = + - @ is a formula to a spreadsheet: quote it as text.
  const guarded = /^[=+\-@\t\r]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(guarded) || guarded !== s ? `"${guarded.replace(/"/g, '""')}"` : guarded;
}

function csvRow(e: TimelineEvent): string {
  const t = timesketchLine(e);
  return [
    t.datetime,
    t.timestamp_desc,
    t.message,
    t.severity,
    t.source,
    t.place,
    t.pid,
    t.sha256,
    t.bundle,
    t.bundle_file,
    t.bundle_line,
  ]
    .map(csvCell)
    .join(",");
}

export function* csvChunks(events: readonly TimelineEvent[]): Generator<string> {
  yield `${CSV_HEAD.join(",")}\r\n`;
  for (let i = 0; i < events.length; i += CHUNK) {
    let s = "";
    for (const e of events.slice(i, i + CHUNK)) s += `${csvRow(e)}\r\n`;
    yield s;
  }
}

export function renderCsv(events: readonly TimelineEvent[]): string {
  return [...csvChunks(events)].join("");
}
