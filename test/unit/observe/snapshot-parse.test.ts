import { describe, expect, it } from "vitest";
import {
  parseSnapshot,
  SNAPSHOT_SCHEMA_VERSION,
  type Snapshot,
} from "../../../src/model/snapshot.js";
import { fakeSha256, SnapshotBuilder } from "../../helpers/snapshot-builder.js";

// Names an attacker controls on a breached host: terminal escapes, newlines that fake a
// second line of output, HTML, NUL, a lone surrogate and right-to-left override.
const HOSTILE = [
  "\u001b[2J\u001b]0;pwned\u0007",
  "ok\nroot      1  0.0  0.0 /sbin/init",
  "<script>alert(1)</script>",
  "a\u0000b",
  "\ud800",
  "evil\u202egpj.exe",
];

function sample(): Snapshot {
  return new SnapshotBuilder()
    .container({ name: "bk-lab-gitlab", labels: { "com.example/x": HOSTILE[2] ?? "" } })
    .process(
      {
        pid: 4242,
        comm: "wate",
        argv: ["/tmp/wate", ...HOSTILE],
        exe: { path: "/tmp/wate", deleted: true, upperLayer: true, sha256: fakeSha256("wate") },
        cpuPercent: 97.5,
      },
      "bk-lab-gitlab",
    )
    .process({ pid: 1, comm: HOSTILE[0] ?? "", cwd: HOSTILE[1] ?? null })
    .socket(
      { proto: "udp", remoteAddress: "127.0.0.1", remotePort: 9, pids: [4242] },
      "bk-lab-gitlab",
    )
    .netns({}, "bk-lab-gitlab")
    .accounts({ users: [] })
    .set("gaps", [{ source: "procfs", message: HOSTILE.join(" | ") }])
    .build();
}

describe("parseSnapshot", () => {
  it("reads back exactly what was written, hostile strings included", () => {
    const snap = sample();
    const text = JSON.stringify(snap, null, 2);
    const back = parseSnapshot(text);
    expect(back).toEqual(snap);
    expect(back.processes[0]?.argv.slice(1)).toEqual(HOSTILE);
    // Stable: a second round trip gives the same bytes.
    expect(JSON.stringify(back, null, 2)).toBe(text);
  });

  it("refuses another schema version, saying which one it reads", () => {
    const data = { ...sample(), schemaVersion: SNAPSHOT_SCHEMA_VERSION + 1 };
    expect(() => parseSnapshot(JSON.stringify(data))).toThrow(
      `snapshot schema version ${SNAPSHOT_SCHEMA_VERSION + 1} is not supported (this breachkit reads ${SNAPSHOT_SCHEMA_VERSION})`,
    );
    const asString = { ...sample(), schemaVersion: String(SNAPSHOT_SCHEMA_VERSION) };
    expect(() => parseSnapshot(JSON.stringify(asString))).toThrow(/not supported/);
    const { schemaVersion: _, ...unversioned } = sample();
    expect(() => parseSnapshot(JSON.stringify(unversioned))).toThrow(/version undefined/);
  });

  it("refuses what is not a snapshot object at all", () => {
    for (const text of ["null", "[]", "1", '"snapshot"', "{}"]) {
      expect(() => parseSnapshot(text), text).toThrow(/not supported/);
    }
    expect(() => parseSnapshot("")).toThrow(SyntaxError);
    // A file cut off mid-write.
    const text = JSON.stringify(sample());
    expect(() => parseSnapshot(text.slice(0, text.length / 2))).toThrow(SyntaxError);
  });

  it("refuses a snapshot whose fields have the wrong shape", () => {
    const cases: [string, (s: Record<string, unknown> & Snapshot) => void][] = [
      ["pid as a string", (s) => Object.assign(s.processes[0] ?? {}, { pid: "4242" })],
      ["sha256 not hex", (s) => Object.assign(s.processes[0]?.exe ?? {}, { sha256: "$(id)" })],
      [
        "sha256 upper case",
        (s) => {
          const exe = s.processes[0]?.exe;
          if (exe) exe.sha256 = fakeSha256("wate").toUpperCase();
        },
      ],
      ["negative RSS", (s) => Object.assign(s.processes[0] ?? {}, { rssBytes: -1 })],
      ["fractional uid", (s) => Object.assign(s.processes[0] ?? {}, { uid: 0.5 })],
      ["argv not strings", (s) => Object.assign(s.processes[0] ?? {}, { argv: [1, 2] })],
      [
        "password as the hash",
        (s) => {
          s.accounts[0]?.users.push({
            name: "root",
            uid: 0,
            gid: 0,
            gecos: "",
            home: "/root",
            shell: "/bin/sh",
            loginShell: true,
            password: "$6$salt$hash" as "set",
            lastChange: null,
          });
        },
      ],
      [
        "label value not a string",
        (s) => Object.assign(s.containers[0] ?? {}, { labels: { a: 1 } }),
      ],
      ["processes not an array", (s) => Object.assign(s, { processes: {} })],
      ["missing host", (s) => Object.assign(s, { host: undefined })],
      [
        "zero-length interval rate",
        (s) => {
          const c = s.containers[0];
          if (c)
            c.traffic = {
              intervalSeconds: 0,
              rxPacketsPerSec: 0,
              txPacketsPerSec: 0,
              rxBytesPerSec: 0,
              txBytesPerSec: 0,
            };
        },
      ],
    ];
    for (const [what, spoil] of cases) {
      const data = sample() as Record<string, unknown> & Snapshot;
      spoil(data);
      expect(() => parseSnapshot(JSON.stringify(data)), what).toThrow();
    }
  });

  it("refuses numbers JSON cannot carry faithfully (1e400 parses as Infinity)", () => {
    const text = JSON.stringify(sample()).replace(/"durationMs":100/, '"durationMs":1e400');
    expect(text).toContain("1e400");
    expect(() => parseSnapshot(text)).toThrow();
  });

  it("keeps only the model's fields and never lets a key reach Object.prototype", () => {
    const text = JSON.stringify(sample())
      .replace('"pid":4242,', '"pid":4242,"__proto__":{"polluted":true},"extra":"x",')
      .replace('"schemaVersion":1,', '"schemaVersion":1,"constructor":{"prototype":{"p":1}},');
    expect(text).toContain('"__proto__"');
    const back = parseSnapshot(text);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(({} as Record<string, unknown>).p).toBeUndefined();
    const wate = back.processes.find((p) => p.pid === 4242);
    expect(Object.getPrototypeOf(wate)).toBe(Object.prototype);
    expect(Object.keys(wate ?? {})).not.toContain("extra");
    expect(Object.keys(back)).not.toContain("constructor");
  });
});
