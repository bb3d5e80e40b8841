/**
 * The state of the watch screen and what each key does to it: pure, so the keys are tested
 * without a terminal. The command feeds it the keys read from the terminal.
 */
import type { WatchRow } from "../../model/watch-sample.js";

export const SORT_KEYS = [
  "place",
  "cpu",
  "memory",
  "processes",
  "packets",
  "rxPackets",
  "txPackets",
  "rxBytes",
  "txBytes",
] as const;
export type SortKey = (typeof SORT_KEYS)[number];

export interface ViewState {
  sort: SortKey;
  descending: boolean;
  filter: string;
  editingFilter: boolean;
  paused: boolean;
  /** Index of the selected row among the visible ones. */
  selected: number;
  /** The place drilled into: its container id (null: the host) and name. */
  drill: { containerId: string | null; place: string } | null;
  quit: boolean;
}

export const INITIAL_VIEW: ViewState = {
  sort: "packets",
  descending: true,
  filter: "",
  editingFilter: false,
  paused: false,
  selected: 0,
  drill: null,
  quit: false,
};

const MAX_FILTER = 64;

/** The value a row is sorted by. */
export function sortValue(r: WatchRow, key: SortKey): number | string {
  switch (key) {
    case "place":
      return r.place;
    case "cpu":
      return r.cpuPercent;
    case "memory":
      return r.memoryBytes;
    case "processes":
      return r.processes;
    case "packets":
      return r.rxPacketsPerSec + r.txPacketsPerSec;
    case "rxPackets":
      return r.rxPacketsPerSec;
    case "txPackets":
      return r.txPacketsPerSec;
    case "rxBytes":
      return r.rxBytesPerSec;
    case "txBytes":
      return r.txBytesPerSec;
  }
}

/** The rows shown, filtered and sorted as the state says (ties by name: a stable order). */
export function visibleRows(rows: readonly WatchRow[], state: ViewState): WatchRow[] {
  const f = state.filter.toLowerCase();
  const shown = f === "" ? [...rows] : rows.filter((r) => r.place.toLowerCase().includes(f));
  const dir = state.descending ? -1 : 1;
  return shown.sort((a, b) => {
    const x = sortValue(a, state.sort);
    const y = sortValue(b, state.sort);
    const c =
      typeof x === "string" || typeof y === "string"
        ? String(x).localeCompare(String(y))
        : x === y
          ? 0
          : x < y
            ? -1
            : 1;
    return c !== 0 ? c * dir : a.place.localeCompare(b.place);
  });
}

/** Split what the terminal sent into keys: escape sequences whole, everything else by character. */
export function splitKeys(data: string): string[] {
  const keys: string[] = [];
  for (let i = 0; i < data.length; ) {
    if (data[i] === "\u001b" && (data[i + 1] === "[" || data[i + 1] === "O")) {
      let j = i + 2;
      while (j < data.length && /[0-9;]/.test(data[j]!)) j++;
      keys.push(data.slice(i, j + 1));
      i = j + 1;
      continue;
    }
    const cp = data.codePointAt(i) ?? 0;
    const ch = String.fromCodePoint(cp);
    keys.push(ch);
    i += ch.length;
  }
  return keys;
}

const UP = new Set(["\u001b[A", "\u001bOA", "k"]);
const DOWN = new Set(["\u001b[B", "\u001bOB", "j"]);
const BACK = new Set(["\u001b", "\u001b[D", "\u001bOD", "\u007f", "\b", "h"]);
const ENTER = new Set(["\r", "\n", "\u001b[C", "\u001bOC", "l"]);

/** One key applied to the state; `rows` are the rows visible before the key. */
export function onKey(state: ViewState, key: string, rows: readonly WatchRow[]): ViewState {
  if (key === "\u0003") return { ...state, quit: true }; // Ctrl-C, in raw mode
  if (state.editingFilter) {
    if (key === "\r" || key === "\n") return { ...state, editingFilter: false };
    if (key === "\u001b") return { ...state, editingFilter: false, filter: "", selected: 0 };
    if (key === "\u007f" || key === "\b")
      return { ...state, filter: [...state.filter].slice(0, -1).join(""), selected: 0 };
    // Printable text only: a pasted escape sequence is not part of a filter.
    if (
      key.length <= 2 &&
      !/[\u0000-\u001f\u007f-\u009f]/.test(key) &&
      state.filter.length < MAX_FILTER
    )
      return { ...state, filter: state.filter + key, selected: 0 };
    return state;
  }
  if (key === "q" || key === "Q") return { ...state, quit: true };
  if (key === "p" || key === " ") return { ...state, paused: !state.paused };
  if (key === "/") return { ...state, editingFilter: true };
  if (state.drill !== null) {
    if (BACK.has(key)) return { ...state, drill: null };
    return state;
  }
  if (UP.has(key)) return { ...state, selected: Math.max(0, state.selected - 1) };
  if (DOWN.has(key))
    return { ...state, selected: Math.min(Math.max(0, rows.length - 1), state.selected + 1) };
  if (ENTER.has(key)) {
    const r = rows[Math.min(state.selected, rows.length - 1)];
    return r ? { ...state, drill: { containerId: r.containerId, place: r.place } } : state;
  }
  if (key === "s" || key === "S" || key === ">" || key === "<") {
    const i = SORT_KEYS.indexOf(state.sort);
    const step = key === "s" || key === ">" ? 1 : -1;
    const sort = SORT_KEYS[(i + step + SORT_KEYS.length) % SORT_KEYS.length]!;
    return { ...state, sort, descending: sort !== "place" };
  }
  if (key === "r") return { ...state, descending: !state.descending };
  const direct: Record<string, SortKey> = {
    c: "cpu",
    m: "memory",
    n: "place",
    P: "processes",
    x: "packets",
  };
  const d = direct[key];
  if (d !== undefined) return { ...state, sort: d, descending: d !== "place" };
  return state;
}
