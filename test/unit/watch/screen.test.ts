import { describe, expect, it } from "vitest";
import {
  WATCH_SCHEMA_VERSION,
  type WatchRow,
  type WatchSample,
} from "../../../src/model/watch-sample.js";
import { type DetailRow, renderFrame } from "../../../src/tell/watch/frame.js";
import { bytes, cell, fitCells, human, textWidth } from "../../../src/tell/watch/text.js";
import {
  INITIAL_VIEW,
  onKey,
  splitKeys,
  type ViewState,
  visibleRows,
} from "../../../src/tell/watch/view.js";
import { colorsFor } from "../../../src/util/colors.js";

const ESC = "\u001b";

function row(p: Partial<WatchRow> & { place: string }): WatchRow {
  return {
    containerId: p.place === "host" ? null : p.place.padEnd(64, "0").slice(0, 64),
    cpuPercent: 0,
    memoryBytes: 0,
    processes: 1,
    rxPacketsPerSec: 0,
    txPacketsPerSec: 0,
    rxBytesPerSec: 0,
    txBytesPerSec: 0,
    destinations: [],
    ...p,
  };
}

const HOSTILE = [
  `evil${ESC}[2J${ESC}]0;pwned\u0007name`,
  "two\nlines\r\nand\ttab",
  "x".repeat(1024 * 1024),
  "宽字符宽字符宽字符宽字符宽字符宽字符",
  "rtl\u202egnp.exe",
];

function sample(rows: WatchRow[]): WatchSample {
  return {
    schemaVersion: WATCH_SCHEMA_VERSION,
    time: "2026-12-02T10:00:00.000Z",
    intervalMs: 1000,
    rows,
    alarms: [
      {
        rule: "watch.flood",
        severity: "high",
        place: HOSTILE[0]!,
        text: "sends 125,000 packets/s",
      },
    ],
    engineError: null,
  };
}

function frame(
  state: ViewState,
  s: WatchSample | null,
  opts: {
    color?: boolean;
    detail?: DetailRow[];
    banner?: string;
    columns?: number;
    rows?: number;
  } = {},
) {
  return renderFrame({
    sample: s,
    state,
    columns: opts.columns ?? 80,
    rows: opts.rows ?? 24,
    hostname: "vm",
    intervalSeconds: 1,
    alarms: (s?.alarms ?? []).map((alarm) => ({ time: s!.time, alarm })),
    detail: opts.detail ?? null,
    banner: opts.banner ?? null,
    colors: colorsFor({ color: opts.color ?? false }),
  });
}

const strip = (s: string) => s.replace(/\u001b\[[0-9;]*m/g, "");

describe("the watch screen", () => {
  const rows = [
    row({ place: "host", cpuPercent: 12, processes: 150 }),
    row({
      place: "bk-lab-gitlab",
      txPacketsPerSec: 125_000,
      rxPacketsPerSec: 125_000,
      destinations: [{ address: "127.0.0.1", port: 9, count: 1 }],
    }),
    row({ place: "bk-lab-wordpress", cpuPercent: 1 }),
    ...HOSTILE.map((h, i) =>
      row({ place: h, containerId: String(i).repeat(64), cpuPercent: 50 + i }),
    ),
  ];

  it("is exactly 24 lines of 80 cells, hostile names neutralised and cut to their column", () => {
    const lines = frame(INITIAL_VIEW, sample(rows));
    expect(lines).toHaveLength(24);
    for (const l of lines) {
      expect(textWidth(l)).toBeLessThanOrEqual(80);
      // nothing from the host can move the cursor, ring, retitle or break a line
      expect(l).not.toMatch(/[\u0000-\u001f\u007f\u202e]/);
    }
    expect(lines.join("\n")).toContain("\\e[2J");
  });

  it("puts the flooding container first by packets/s and shows its flood alarm", () => {
    const lines = frame(INITIAL_VIEW, sample(rows));
    expect(lines[3]).toMatch(/^>bk-lab-gitlab\s/);
    expect(lines[3]).toContain("125k");
    expect(lines.some((l) => l.includes("HIGH") && l.includes("sends 125,000 packets/s"))).toBe(
      true,
    );
  });

  it("has no escape codes at all without colour (NO_COLOR), and colour codes only with it", () => {
    expect(frame(INITIAL_VIEW, sample(rows)).join("")).not.toContain(ESC);
    const colored = frame(INITIAL_VIEW, sample(rows), { color: true });
    expect(colored.join("")).toContain(`${ESC}[`);
    expect(colored.map(strip)).toEqual(frame(INITIAL_VIEW, sample(rows)));
  });

  it("fits other sizes too (a wide terminal, a tiny one)", () => {
    for (const [c, r] of [
      [200, 50],
      [40, 10],
    ] as const) {
      const lines = frame(INITIAL_VIEW, sample(rows), { columns: c, rows: r });
      expect(lines).toHaveLength(r);
      for (const l of lines) expect(textWidth(l)).toBeLessThanOrEqual(c);
    }
  });

  it("shows the engine's trouble as a banner", () => {
    const lines = frame(INITIAL_VIEW, sample(rows), {
      banner: "Docker engine not answering (ECONNREFUSED)",
    });
    expect(lines[1]).toContain("Docker engine not answering");
  });

  it("drilled in: the processes with their exe, deleted marked, and the sockets", () => {
    const state: ViewState = {
      ...INITIAL_VIEW,
      drill: { containerId: rows[1]!.containerId, place: "bk-lab-gitlab" },
    };
    const detail: DetailRow[] = [
      {
        pid: 4242,
        ppid: 1,
        comm: "wate",
        exePath: "/tmp/wate",
        deleted: true,
        memfd: false,
        cpuTicks: 0,
        rssBytes: 1 << 20,
        destinations: [{ address: "127.0.0.1", port: 9, count: 1 }],
        listening: [],
        sockets: 1,
        cpuPercent: 99,
      },
      {
        pid: 7,
        ppid: 1,
        comm: HOSTILE[1]!,
        exePath: HOSTILE[2]!,
        deleted: false,
        memfd: false,
        cpuTicks: 0,
        rssBytes: 0,
        destinations: [],
        listening: ["tcp 0.0.0.0:80"],
        sockets: 1,
        cpuPercent: 0,
      },
    ];
    const lines = frame(state, sample(rows), { detail });
    expect(lines).toHaveLength(24);
    for (const l of lines) expect(textWidth(l)).toBeLessThanOrEqual(80);
    const wate = lines.find((l) => l.includes(" wate "));
    expect(wate).toContain("/tmp/wate (deleted)");
    expect(wate).toContain("127.0.0.1:9");
    expect(lines.join("\n")).toContain("listening: tcp 0.0.0.0:80");
  });
});

describe("the watch keys", () => {
  const rows = [
    row({ place: "host", cpuPercent: 5 }),
    row({ place: "a", txPacketsPerSec: 9 }),
    row({ place: "b", cpuPercent: 50 }),
  ];

  it("splits escape sequences whole", () => {
    expect(splitKeys(`j${ESC}[Aq${ESC}OB/`)).toEqual(["j", `${ESC}[A`, "q", `${ESC}OB`, "/"]);
  });

  it("sorts by any column, reverses, and selects", () => {
    let s = INITIAL_VIEW;
    expect(visibleRows(rows, s)[0]!.place).toBe("a");
    s = onKey(s, "c", rows);
    expect(visibleRows(rows, s).map((r) => r.place)).toEqual(["b", "host", "a"]);
    s = onKey(s, "r", rows);
    expect(visibleRows(rows, s)[0]!.place).toBe("a");
    s = onKey(s, "s", rows);
    expect(s.sort).toBe("memory");
    s = onKey(s, `${ESC}[B`, rows);
    s = onKey(s, `${ESC}[B`, rows);
    s = onKey(s, `${ESC}[B`, rows);
    expect(s.selected).toBe(2);
  });

  it("drills in with Enter and back with Esc", () => {
    const vis = visibleRows(rows, INITIAL_VIEW);
    let s = onKey(INITIAL_VIEW, "\r", vis);
    expect(s.drill).toEqual({ containerId: vis[0]!.containerId, place: vis[0]!.place });
    s = onKey(s, ESC, vis);
    expect(s.drill).toBeNull();
  });

  it("filters with /, typed text, Backspace and Enter; Esc clears", () => {
    let s = onKey(INITIAL_VIEW, "/", rows);
    for (const k of ["h", "o", "x", "\u007f", "\r"]) s = onKey(s, k, rows);
    expect(s).toMatchObject({ filter: "ho", editingFilter: false });
    expect(visibleRows(rows, s).map((r) => r.place)).toEqual(["host"]);
    // a pasted escape sequence is not filter text
    s = onKey(onKey(s, "/", rows), `${ESC}[2J`, rows);
    expect(s.filter).toBe("ho");
    s = onKey(s, ESC, rows);
    expect(s.filter).toBe("");
  });

  it("pauses with p, quits with q and with Ctrl-C (raw mode), even while filtering", () => {
    expect(onKey(INITIAL_VIEW, "p", rows).paused).toBe(true);
    expect(onKey(onKey(INITIAL_VIEW, "p", rows), "p", rows).paused).toBe(false);
    expect(onKey(INITIAL_VIEW, "q", rows).quit).toBe(true);
    expect(onKey({ ...INITIAL_VIEW, editingFilter: true }, "\u0003", rows).quit).toBe(true);
    expect(onKey({ ...INITIAL_VIEW, editingFilter: true }, "q", rows).quit).toBe(false);
  });
});

describe("cells", () => {
  it("cuts and pads to exact widths, wide characters counted twice", () => {
    expect(fitCells("abc", 5)).toBe("abc  ");
    expect(fitCells("abc", 5, true)).toBe("  abc");
    expect(fitCells("abcdef", 4)).toBe("abc…");
    expect(textWidth(fitCells("宽字符宽字符", 5))).toBe(5);
    expect(textWidth(cell("x".repeat(1024 * 1024), 30))).toBe(30);
  });
  it("formats figures short", () => {
    expect(human(125_000)).toBe("125k");
    expect(human(12_345)).toBe("12.3k");
    expect(human(3.5)).toBe("3.5");
    expect(bytes(1536)).toBe("1.5K");
    expect(bytes(3 * 1024 ** 3)).toBe("3.0G");
  });
});
