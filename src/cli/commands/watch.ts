import { hostname } from "node:os";
import { resolve } from "node:path";
import type { Command } from "commander";
import { RotatingRecord } from "../../evidence/watch-record.js";
import { loadLists, ruleSetError } from "../../judge/rule-lists.js";
import { WatchJudge } from "../../judge/watch/sample.js";
import { loadWatchThresholds } from "../../judge/watch/thresholds.js";
import type { WatchProcessDetail, WatchSample } from "../../model/watch-sample.js";
import { DockerEngine } from "../../observe/docker/engine.js";
import { readClockTicks } from "../../observe/proc/host-facts.js";
import { WatchReader } from "../../observe/watch/reader.js";
import { type DetailRow, type LoggedAlarm, renderFrame } from "../../tell/watch/frame.js";
import {
  INITIAL_VIEW,
  onKey,
  splitKeys,
  type ViewState,
  visibleRows,
} from "../../tell/watch/view.js";
import { colorsFor } from "../../util/colors.js";
import { BreachkitError } from "../../util/errors.js";
import { errorMessage } from "../../util/result.js";
import { safeText } from "../../util/sanitize.js";
import { type CommandContext, helpFooter } from "../command.js";
import type { FullScreen } from "../io.js";
import {
  custom,
  defineOptions,
  flag,
  parsePositive,
  rulesOption,
  text,
  withOptions,
} from "../options.js";

const MIN_INTERVAL = 0.1;

export const WATCH_OPTIONS = defineOptions({
  interval: custom(
    "--interval <seconds>",
    `time between two readings (default 1; at least ${MIN_INTERVAL})`,
    (raw) => {
      const n = parsePositive("--interval")(raw);
      return Math.max(MIN_INTERVAL, n);
    },
  ),
  json: flag(
    "--json",
    "no screen: one sample per line on stdout, NDJSON (schema: breachkit schema watch)",
    false,
  ),
  once: flag("--once", "take one sample (two readings one interval apart), print it and exit"),
  count: custom("--count <n>", "stop after N samples (with --json or --record)", (raw) => {
    const n = parsePositive("--count")(raw);
    return Math.ceil(n);
  }),
  record: text(
    "--record <file>",
    "also append every sample to FILE (NDJSON, mode 0600), for breachkit report; past --record-max it moves to FILE.1",
  ),
  recordMax: custom(
    "--record-max <MiB>",
    "size at which --record rotates (default 16 MiB)",
    parsePositive("--record-max"),
  ),
  rules: rulesOption(),
});

/** One drilled-in process list, with CPU shares from the previous one. */
class DetailRates {
  private prev = new Map<number, number>();
  private prevMono = 0;
  constructor(private readonly clockTicks: number) {}
  rows(list: readonly WatchProcessDetail[], monoMs: number): DetailRow[] {
    const seconds = (monoMs - this.prevMono) / 1000;
    const out = list.map((p) => {
      const before = this.prev.get(p.pid);
      const cpuPercent =
        before === undefined || seconds <= 0
          ? 0
          : Math.max(0, ((p.cpuTicks - before) / this.clockTicks / seconds) * 100);
      return { ...p, cpuPercent };
    });
    this.prev = new Map(list.map((p) => [p.pid, p.cpuTicks]));
    this.prevMono = monoMs;
    return out;
  }
  reset(): void {
    this.prev.clear();
  }
}

/** The alarms shown on screen: newest first, one line per rule and place for floods. */
class AlarmLog {
  private readonly entries = new Map<string, LoggedAlarm>();
  add(sample: WatchSample): void {
    for (const alarm of sample.alarms) {
      const sticky = alarm.rule === "watch.flood" || alarm.rule === "watch.fan-out";
      const key = `${alarm.rule}\0${alarm.place}\0${sticky ? "" : alarm.text}`;
      this.entries.delete(key);
      this.entries.set(key, { time: sample.time, alarm });
      if (this.entries.size > 200) this.entries.delete(this.entries.keys().next().value!);
    }
  }
  list(): LoggedAlarm[] {
    return [...this.entries.values()].reverse();
  }
}

function engineBanner(error: string | null | undefined): string | null {
  return error
    ? `Docker engine not answering (${error}): container names may be stale; readings go on from the kernel`
    : null;
}

export function registerWatch(program: Command, ctx: CommandContext): void {
  const cmd = program
    .command("watch")
    .description(
      "live per-container CPU, memory, processes, packets/s and destinations, with flood and new-process alarms (htop and a traffic monitor in one)",
    )
    .addHelpText(
      "after",
      `
Keys: ↑/↓ select, Enter drill into a container (its processes, exe, sockets), Esc back,
s/S next/previous sort column (c CPU, m memory, P processes, x packets/s, n name), r reverse,
/ filter, p pause the display, q or Ctrl-C quit.

Readings come straight from the kernel: cgroup files (v1 and v2) for CPU, memory and tasks,
/proc/<pid>/net/dev and the socket tables of each network namespace for traffic, conntrack
where readable. Alarm thresholds: rules/watch.json (override with --rules DIR/watch.json).

Paths written: only with --record FILE, FILE and FILE.1. Nothing else.
${helpFooter(
  [
    "breachkit watch                          # the live view (a terminal, 80x24 or more)",
    "breachkit watch --interval 2             # read every 2 s",
    "breachkit watch --json | jq -c .alarms   # NDJSON samples for a script or a dashboard",
    "breachkit watch --once                   # one sample as a table, then exit",
    "breachkit watch --record /root/watch.ndjson   # keep the samples for breachkit report",
    "NO_COLOR=1 breachkit watch               # no colour",
  ],
  "  0  ended (q, Ctrl-C, --count, --once) with no alarm of high severity\n  1  an alarm of high or critical severity was raised\n  2  could not watch (usage, no terminal for the screen, unreadable rules)",
)}`,
    );
  withOptions(cmd, WATCH_OPTIONS, async ({ options: flags }) => {
    const { io } = ctx;
    const intervalS = flags.interval ?? 1;
    const rulesDir = flags.rules && resolve(io.cwd, flags.rules);
    const lists = loadLists(rulesDir);
    if (!lists.ok) throw ruleSetError(lists.error, rulesDir);
    const thresholds = loadWatchThresholds(rulesDir);
    if (!thresholds.ok) throw ruleSetError(thresholds.error, rulesDir);
    const screen = !flags.json && !flags.once ? (io.terminal ?? null) : null;
    if (!flags.json && !flags.once && screen === null) {
      throw new BreachkitError(
        "USAGE",
        "the live view needs a terminal (stdin and stdout)",
        "run it in a terminal, or use --json (NDJSON samples) or --once (one table)",
      );
    }
    let engine: DockerEngine | null = null;
    let engineSetupError: string | null = null;
    try {
      engine = DockerEngine.fromEnv(io.env, { timeoutMs: 3000, maxConcurrent: 1 });
    } catch (e) {
      engineSetupError = errorMessage(e);
    }
    const clockTicks = await readClockTicks();
    const reader = new WatchReader({
      engine: engine === null ? null : { listContainers: () => engine!.listContainers() },
      selfPid: io.pid,
      clockTicks,
    });
    const judge = new WatchJudge(thresholds.value, lists.value.lists);
    let record: RotatingRecord | null = null;
    if (flags.record !== undefined) {
      const path = resolve(io.cwd, flags.record);
      try {
        record = new RotatingRecord(
          path,
          flags.recordMax === undefined ? undefined : Math.round(flags.recordMax * 1024 * 1024),
        );
      } catch (e) {
        throw new BreachkitError(
          "IO",
          `cannot write --record ${safeText(path, 300)}: ${safeText(errorMessage(e), 300)}`,
          "name a file in a writable directory",
        );
      }
    }
    let stopped = false;
    let wake: (() => void) | null = null;
    const stop = () => {
      stopped = true;
      wake?.();
    };
    const offInterrupt = io.onInterrupt(stop);
    let highAlarm = false;
    const take = async () => {
      const sample = judge.step(await reader.tick());
      if (engineSetupError !== null && !sample.engineError) sample.engineError = engineSetupError;
      if (sample.alarms.some((a) => a.severity === "high" || a.severity === "critical"))
        highAlarm = true;
      return sample;
    };
    const sleepUntil = async (deadline: number) => {
      const ms = deadline - performance.now();
      if (ms <= 0 || stopped) return;
      await new Promise<void>((r) => {
        const t = setTimeout(r, ms);
        wake = () => {
          clearTimeout(t);
          r();
        };
      });
      wake = null;
    };
    // The first reading only sets the counters: rates need two. The first rates come after
    // half a second at most (the interval is measured and given with each sample), so the
    // view has something to show at once; --once waits the whole interval it was given.
    const firstGap = (flags.once ? intervalS : Math.min(intervalS, 0.5)) * 1000;
    try {
      if (screen !== null) {
        await liveView({
          screen,
          take,
          reader,
          intervalS,
          firstGap,
          clockTicks,
          record,
          count: flags.count,
          color: io.color,
          isStopped: () => stopped,
          stop,
          sleepUntil,
        });
      } else {
        await stream();
      }
    } finally {
      offInterrupt();
      record?.close();
    }
    ctx.setExitCode(highAlarm ? 1 : 0);

    async function stream(): Promise<void> {
      await take();
      let next = performance.now() + firstGap;
      if (flags.once) {
        await sleepUntil(next);
        const sample = await take();
        record?.append(JSON.stringify(sample));
        if (flags.json) io.write(`${JSON.stringify(sample)}\n`);
        else io.write(onceTable(sample, intervalS, io.color));
      } else {
        let n = 0;
        while (!stopped) {
          await sleepUntil(next);
          if (stopped) break;
          next += intervalS * 1000;
          const sample = await take();
          const line = JSON.stringify(sample);
          record?.append(line);
          io.write(`${line}\n`);
          if (flags.count !== undefined && ++n >= flags.count) break;
          // Late (a slow engine, a loaded machine): the next reading is due now, not in a burst.
          if (next < performance.now()) next = performance.now() + intervalS * 1000;
        }
      }
    }
  });
}

function onceTable(sample: WatchSample, intervalS: number, color: boolean): string {
  const lines = renderFrame({
    sample,
    state: INITIAL_VIEW,
    columns: 100,
    rows: Math.max(12, sample.rows.length + 4 + Math.min(5, sample.alarms.length) + 2),
    hostname: hostname(),
    intervalSeconds: intervalS,
    alarms: sample.alarms.map((alarm) => ({ time: sample.time, alarm })),
    detail: null,
    banner: engineBanner(sample.engineError),
    colors: colorsFor({ color }),
  });
  // No key help off the live view, and no trailing padding.
  return `${lines
    .slice(0, -1)
    .map((l) => l.trimEnd())
    .join("\n")}\n`;
}

interface LiveOptions {
  screen: FullScreen;
  take: () => Promise<WatchSample>;
  reader: WatchReader;
  intervalS: number;
  clockTicks: number;
  record: RotatingRecord | null;
  count: number | undefined;
  color: boolean;
  isStopped: () => boolean;
  stop: () => void;
  sleepUntil: (deadline: number) => Promise<void>;
  /** ms from the first reading to the second. */
  firstGap: number;
}

async function liveView(o: LiveOptions): Promise<void> {
  const { screen } = o;
  const colors = colorsFor({ color: o.color });
  const host = hostname();
  const log = new AlarmLog();
  const detailRates = new DetailRates(o.clockTicks);
  let state: ViewState = INITIAL_VIEW;
  let latest: WatchSample | null = null;
  let shown: WatchSample | null = null;
  let detail: DetailRow[] | null = null;
  let shownDetail: DetailRow[] | null = null;
  const draw = () => {
    const { columns, rows } = screen.size();
    const lines = renderFrame({
      sample: shown,
      state,
      columns: Math.max(20, columns),
      rows: Math.max(8, rows),
      hostname: host,
      intervalSeconds: o.intervalS,
      alarms: log.list(),
      detail: state.drill === null ? null : shownDetail,
      banner: engineBanner(latest?.engineError),
      colors,
    });
    // One write per frame: home, every line cleared to its end, the rest of the screen cleared.
    screen.draw(`\u001b[H${lines.join("\u001b[K\r\n")}\u001b[K\u001b[J`);
  };
  const readDetail = () => {
    if (state.drill === null) {
      detail = null;
      return;
    }
    detail = detailRates.rows(o.reader.detail(state.drill.containerId), performance.now());
  };
  const offKey = screen.onKey((data) => {
    const wasDrill = state.drill;
    for (const key of splitKeys(data)) {
      const rows = visibleRows(shown?.rows ?? [], state);
      state = onKey(state, key, rows);
    }
    if (state.quit) {
      o.stop();
      return;
    }
    if (state.drill !== wasDrill) {
      detailRates.reset();
      readDetail();
      shownDetail = detail;
    }
    if (!state.paused) {
      shown = latest;
      shownDetail = detail;
    }
    draw();
  });
  const offResize = screen.onResize(draw);
  screen.enter();
  try {
    // A frame at once ("reading…"), then the first reading: the counters the rates start from.
    draw();
    latest = await o.take();
    let next = performance.now() + o.firstGap;
    let n = 0;
    while (!o.isStopped()) {
      await o.sleepUntil(next);
      if (o.isStopped()) break;
      next += o.intervalS * 1000;
      latest = await o.take();
      log.add(latest);
      o.record?.append(JSON.stringify(latest));
      readDetail();
      if (!state.paused) {
        shown = latest;
        shownDetail = detail;
      }
      draw();
      if (o.count !== undefined && ++n >= o.count) break;
      if (next < performance.now()) next = performance.now() + o.intervalS * 1000;
    }
  } finally {
    offKey();
    offResize();
    screen.leave();
  }
}
