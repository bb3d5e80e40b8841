/**
 * One screen of `breachkit watch`, built as whole lines of exactly the terminal's width and
 * exactly its height: the command writes them in one go over the previous frame (cursor home,
 * each line, clear to end of line), so nothing flickers and nothing scrolls. Everything from
 * the host goes through `cell` (sanitised, cut to its column).
 */
import type {
  WatchAlarm,
  WatchProcessDetail,
  WatchRow,
  WatchSample,
} from "../../model/watch-sample.js";
import type { Colors } from "../../util/colors.js";
import { bytes, cell, fitCells, human } from "./text.js";
import { type SortKey, type ViewState, visibleRows } from "./view.js";

export interface LoggedAlarm {
  /** ISO time it was last raised. */
  time: string;
  alarm: WatchAlarm;
}

/** A process of the drilled-in place, with its CPU share over the last interval. */
export interface DetailRow extends WatchProcessDetail {
  cpuPercent: number;
}

export interface FrameInput {
  sample: WatchSample | null;
  state: ViewState;
  columns: number;
  rows: number;
  hostname: string;
  intervalSeconds: number;
  alarms: readonly LoggedAlarm[];
  /** Processes of the drilled-in place (when drilled in). */
  detail: readonly DetailRow[] | null;
  /** A problem to show on the second line (engine down, a read error). */
  banner: string | null;
  colors: Colors;
}

const SORT_LABEL: Record<SortKey, string> = {
  place: "place",
  cpu: "CPU%",
  memory: "memory",
  processes: "processes",
  packets: "packets/s",
  rxPackets: "RX packets/s",
  txPackets: "TX packets/s",
  rxBytes: "RX bytes/s",
  txBytes: "TX bytes/s",
};

interface Column {
  title: string;
  width: number;
  right: boolean;
  key?: SortKey;
  value: (r: WatchRow) => string;
}

function destText(d: WatchRow["destinations"]): string {
  return d
    .map(
      (x) =>
        `${x.address.includes(":") ? `[${x.address}]` : x.address}:${x.port}${x.count > 1 ? `×${x.count}` : ""}`,
    )
    .join(" ");
}

function listColumns(width: number): Column[] {
  const fixed: Column[] = [
    {
      title: "CPU%",
      width: 5,
      right: true,
      key: "cpu",
      value: (r) => r.cpuPercent.toFixed(r.cpuPercent < 100 ? 1 : 0),
    },
    { title: "MEM", width: 6, right: true, key: "memory", value: (r) => bytes(r.memoryBytes) },
    { title: "PROC", width: 5, right: true, key: "processes", value: (r) => String(r.processes) },
    {
      title: "RXpk/s",
      width: 7,
      right: true,
      key: "rxPackets",
      value: (r) => human(r.rxPacketsPerSec),
    },
    {
      title: "TXpk/s",
      width: 7,
      right: true,
      key: "txPackets",
      value: (r) => human(r.txPacketsPerSec),
    },
    {
      title: "RX B/s",
      width: 6,
      right: true,
      key: "rxBytes",
      value: (r) => bytes(r.rxBytesPerSec),
    },
    {
      title: "TX B/s",
      width: 6,
      right: true,
      key: "txBytes",
      value: (r) => bytes(r.txBytesPerSec),
    },
  ];
  // 1 cell for the selection mark, 1 space between columns
  const used = 1 + fixed.reduce((s, c) => s + c.width + 1, 0) + 1;
  const flex = Math.max(0, width - used);
  const placeW = Math.max(8, Math.min(32, Math.floor(flex / 2)));
  const destW = Math.max(0, flex - placeW);
  return [
    { title: "PLACE", width: placeW, right: false, key: "place", value: (r) => r.place },
    ...fixed,
    {
      title: "DESTINATIONS",
      width: destW,
      right: false,
      value: (r) => destText(r.destinations),
    },
  ];
}

function rowLine(cols: readonly Column[], r: WatchRow, mark: string): string {
  return `${mark}${cols.map((c) => cell(c.value(r), c.width, c.right)).join(" ")}`;
}

function headerLine(cols: readonly Column[], state: ViewState): string {
  return ` ${cols
    .map((c) => {
      const arrow =
        c.key === state.sort ||
        (c.key === "rxPackets" && state.sort === "packets") ||
        (c.key === "txPackets" && state.sort === "packets")
          ? state.descending
            ? "↓"
            : "↑"
          : "";
      return fitCells(`${c.title}${arrow}`, c.width, c.right);
    })
    .join(" ")}`;
}

function severityColor(colors: Colors, a: WatchAlarm): (s: string) => string {
  return a.severity === "critical" || a.severity === "high"
    ? colors.red
    : a.severity === "medium"
      ? colors.yellow
      : (s) => s;
}

/** The whole screen: `rows` lines of `columns` cells each (before colour codes). */
export function renderFrame(input: FrameInput): string[] {
  const { columns: W, rows: H, state, colors } = input;
  const lines: string[] = [];
  const time = input.sample ? input.sample.time.slice(11, 19) : "--:--:--";
  const flags = [
    state.paused ? "PAUSED" : "",
    state.filter !== "" || state.editingFilter
      ? `filter: ${state.filter}${state.editingFilter ? "_" : ""}`
      : "",
  ]
    .filter(Boolean)
    .join("  ");
  const title = `breachkit watch  ${safeHost(input.hostname)}  ${time} UTC  every ${input.intervalSeconds}s  sort: ${SORT_LABEL[state.sort]}${state.descending ? "↓" : "↑"}  ${flags}`;
  lines.push(colors.bold(fitCells(title, W)));
  const banner =
    input.banner ?? (input.sample === null ? "reading… (rates need two readings)" : "");
  lines.push(banner ? colors.yellow(cell(banner, W)) : fitCells("", W));

  const footerKeys =
    state.drill === null
      ? "↑↓ select  Enter drill in  s/S sort  r reverse  / filter  p pause  q quit"
      : "Esc/← back  / filter  p pause  q quit";
  const alarmLines = Math.min(6, Math.max(2, H - 12));
  const bodyH = Math.max(1, H - 2 - 1 - alarmLines);

  if (state.drill === null) {
    const cols = listColumns(W);
    lines.push(colors.inverse(fitCells(headerLine(cols, state), W)));
    const rows = visibleRows(input.sample?.rows ?? [], state);
    const capacity = bodyH - 1;
    const selected = Math.min(state.selected, Math.max(0, rows.length - 1));
    const first = Math.max(0, Math.min(selected - capacity + 1, rows.length - capacity));
    for (let i = 0; i < capacity; i++) {
      const r = rows[first + i];
      if (!r) {
        lines.push(
          fitCells(
            i === 0 && rows.length === 0 && input.sample ? " (no place matches the filter)" : "",
            W,
          ),
        );
        continue;
      }
      const isSel = first + i === selected;
      const text = fitCells(rowLine(cols, r, isSel ? ">" : " "), W);
      lines.push(isSel ? colors.inverse(text) : text);
    }
  } else {
    lines.push(...detailLines(input, bodyH));
  }

  // alarms, newest first
  lines.push(colors.bold(fitCells(`Alarms (${input.alarms.length})`, W)));
  const shown = input.alarms.slice(0, alarmLines - 1);
  for (let i = 0; i < alarmLines - 1; i++) {
    const a = shown[i];
    if (!a) {
      lines.push(fitCells(i === 0 ? " none" : "", W));
      continue;
    }
    // The rule before the place: a long name is cut, never the kind of alarm.
    const text = cell(
      ` ${a.time.slice(11, 19)} ${a.alarm.severity.toUpperCase()} ${a.alarm.rule}  ${a.alarm.place}: ${a.alarm.text}`,
      W,
    );
    lines.push(severityColor(colors, a.alarm)(text));
  }
  // The last line is one cell short: a character in the last cell of the last line makes some terminals scroll.
  lines.push(colors.dim(fitCells(footerKeys, Math.max(0, W - 1))));
  return lines.slice(0, H);
}

function safeHost(h: string): string {
  return cell(h, Math.min(40, h.length + 20)).trimEnd();
}

function detailLines(input: FrameInput, height: number): string[] {
  const { columns: W, state, colors } = input;
  const drill = state.drill!;
  const row = input.sample?.rows.find((r) => r.containerId === drill.containerId);
  const out: string[] = [];
  const summary = row
    ? `CPU ${row.cpuPercent.toFixed(1)}%  MEM ${bytes(row.memoryBytes)}  ${row.processes} processes  RX ${human(row.rxPacketsPerSec)} pk/s ${bytes(row.rxBytesPerSec)}/s  TX ${human(row.txPacketsPerSec)} pk/s ${bytes(row.txBytesPerSec)}/s${row.network && row.network !== "own" ? `  network: ${row.network}` : ""}`
    : "gone (stopped or removed)";
  const id = drill.containerId === null ? "" : ` ${drill.containerId.slice(0, 12)}`;
  out.push(colors.bold(cell(`◀ ${drill.place}${id}  ${summary}`, W)));
  const fixedW = 1 + 7 + 1 + 5 + 1 + 6 + 1 + 4 + 1 + 12 + 1;
  const flex = Math.max(0, W - fixedW);
  const exeW = Math.max(10, Math.ceil(flex * 0.6));
  const destW = Math.max(0, flex - exeW - 1);
  out.push(
    colors.inverse(
      fitCells(
        ` ${fitCells("PID", 7, true)} ${fitCells("CPU%↓", 5, true)} ${fitCells("RSS", 6, true)} ${fitCells("SOCK", 4, true)} ${fitCells("COMM", 12)} ${fitCells("EXE", exeW)} ${fitCells("DESTINATIONS", destW)}`,
        W,
      ),
    ),
  );
  const f = state.filter.toLowerCase();
  const procs = [...(input.detail ?? [])]
    .filter(
      (p) =>
        f === "" || p.comm.toLowerCase().includes(f) || (p.exePath ?? "").toLowerCase().includes(f),
    )
    .sort((a, b) => b.cpuPercent - a.cpuPercent || a.pid - b.pid);
  const listeners = [...new Set(procs.flatMap((p) => p.listening))];
  const capacity = height - 2 - 1;
  for (let i = 0; i < capacity; i++) {
    const p = procs[i];
    if (!p) {
      out.push(fitCells(i === 0 && input.detail !== null ? " (no processes)" : "", W));
      continue;
    }
    const exe =
      p.exePath === null
        ? "?"
        : p.memfd
          ? `${p.exePath} [memfd]`
          : p.deleted
            ? `${p.exePath} (deleted)`
            : p.exePath;
    const line = ` ${fitCells(String(p.pid), 7, true)} ${fitCells(p.cpuPercent.toFixed(1), 5, true)} ${fitCells(bytes(p.rssBytes), 6, true)} ${fitCells(String(p.sockets), 4, true)} ${cell(p.comm, 12)} ${cell(exe, exeW)} ${cell([...p.listening.map((l) => `LISTEN ${l}`), destText(p.destinations)].filter(Boolean).join(" "), destW)}`;
    const text = fitCells(line, W);
    out.push(p.deleted || p.memfd ? colors.red(text) : text);
  }
  out.push(cell(`listening: ${listeners.length === 0 ? "none" : listeners.join("  ")}`, W));
  return out;
}
