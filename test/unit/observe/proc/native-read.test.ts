/**
 * The native /proc reader (native/procread.c) and its decoder (native-read.ts).
 *
 * The decoder is tested on an output recorded from the built reader (fixtures/native-read/
 * fake-tree.bin, made from FIXTURE_TREE below: re-record with BREACHKIT_RECORD_FIXTURES=1),
 * cut at every byte and corrupted. The reader itself, when built, is held to the JS reader
 * on fake trees: the same raw records, the same Process objects, the same failures.
 */
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  decodeNativeOutput,
  NativeDecoder,
  nativeReaderPath,
  readNative,
} from "../../../../src/observe/proc/native-read.js";
import { readProcesses } from "../../../../src/observe/proc/processes.js";
import {
  type RawProcess,
  type RawReadResult,
  readRawProcesses,
} from "../../../../src/observe/proc/raw-read.js";
import { parseStat, parseStatus } from "../../../../src/observe/proc/stat.js";
import {
  buildFakeProc,
  CT_NS,
  type FakeProc,
  fakeStat,
  fakeStatus,
  HOST_NS,
  hostileProcs,
} from "./fake-proc.js";

const real = (name: string) =>
  readFileSync(new URL(`../../../fixtures/proc/real/${name}`, import.meta.url), "utf8");
const FIXTURE = new URL("../../../fixtures/native-read/fake-tree.bin", import.meta.url);
const NATIVE = nativeReaderPath({});
const RECORD = process.env.BREACHKIT_RECORD_FIXTURES === "1";

/** The status lines the reader keeps (and the only ones parseStatus reads). */
const KEPT = ["Name:", "PPid:", "Uid:", "Gid:", "Threads:", "VmRSS:", "NSpid:"];
const keptLines = (status: string) =>
  status
    .split(/(?<=\n)/)
    .filter((l) => KEPT.some((k) => l.startsWith(k)))
    .join("");

const ODD_STATUS = "Name:\todd\nUmask:\t0022\nUid:  0 0 0 0\nGid:\t0\t0\t0\t0\nVmRSS:\t12\n";
const HOSTILE_CMDLINE = Buffer.from([0x2f, 0x78, 0x00, 0xff, 0xfe, 0x0a, 0x1b, 0x00]);

/**
 * The recorded tree: real stat and status files of this machine (hostile comm, kernel
 * thread, zombie, container process) and every failure a root-run reader can meet in a
 * fake tree. Link targets are fixed paths (no temp dir), so the output does not depend on
 * where the tree was built; /bin/sh is the one executable that exists.
 */
function buildFixtureTree(root: string): void {
  const procs: FakeProc[] = [
    {
      pid: 1,
      stat: fakeStat(1, "init", { ppid: 0 }),
      status: fakeStatus("init"),
      cmdline: Buffer.from("/sbin/init\0splash\0"),
      exe: "/bin/sh",
      cwd: "/",
      fds: { "0": "/dev/null", "1": "socket:[1001]", "7": "pipe:[55]" },
    },
    { pid: 2, stat: real("stat-kthreadd"), status: real("status-kthreadd") },
    {
      pid: 15583,
      stat: real("stat-hostile-comm"),
      status: real("status-hostile-comm"),
      cmdline: HOSTILE_CMDLINE,
      exe: "/opt/evil (deleted)",
      cwd: "/tmp/<b>\n\u001b[31m",
      fds: { "3": "socket:[2002]", "4": "socket:[2003]" },
    },
    { pid: 22484, stat: real("stat-zombie"), status: real("status-zombie") },
    {
      pid: 29789,
      stat: real("stat-container-httpd"),
      status: real("status-container-httpd"),
      cmdline: Buffer.from("/bin/busybox\0httpd\0-f\0-p\x00127.0.0.1:8080\0"),
      cgroup: real("cgroup-v1-docker-cgroupfs"),
      exe: "/bin/sh",
      cwd: "/",
      ns: CT_NS,
      // The same socket twice (dup2), and a descriptor that is no socket.
      fds: { "3": "socket:[3003]", "4": "socket:[3003]", "5": "anon_inode:[eventpoll]" },
    },
    // stat is a directory: read() fails with EISDIR, a failure and no record.
    { pid: 40 },
    // exe is a regular file, not a link: readlink fails with EINVAL.
    { pid: 41, stat: fakeStat(41, "noexe"), status: fakeStatus("noexe"), cwd: "/" },
    // Exited between the listing and the read: an empty directory, no record, no failure.
    { pid: 42 },
    // cmdline cannot be read: the process is kept with an empty one and a failure.
    {
      pid: 43,
      stat: fakeStat(43, "nocmd"),
      status: fakeStatus("nocmd"),
      exe: "/bin/sh",
      fds: { "9": "socket:[4004]" },
      // The host namespace's tables (the older 2, 1 and 41 have none): hostile text is passed
      // as it is; udp6 is a directory (EISDIR), tcp6 and raw6 are absent (no IPv6).
      net: {
        dev: "Inter-|\n face |\n<b>lo\u001b[31m: 1 2 3\n",
        tcp: "  sl  local_address\n",
        udp: "",
        raw: "\u0000\n",
      },
    },
    // fd is not a directory: no sockets and a failure; exe links to itself (stat: ELOOP).
    { pid: 44, stat: fakeStat(44, "nofd"), status: fakeStatus("nofd", 1000), exe: "exe" },
    // Not in the kernel's exact shape (spaces for tabs, a tab in stat, no kB): left as text.
    {
      pid: 45,
      stat: fakeStat(45, "odd").replace(" 1 ", "\t1 "),
      status: ODD_STATUS,
      exe: "/bin/sh",
    },
  ];
  for (const p of procs) buildFakeProc(root, p);
  const at = (pid: number, name: string) => join(root, String(pid), name);
  rmSync(at(40, "cmdline"));
  mkdirSync(at(40, "stat"));
  writeFileSync(at(41, "exe"), "not a link");
  rmSync(at(42, "cmdline"));
  rmSync(at(42, "cgroup"));
  rmSync(at(42, "root"));
  rmSync(at(42, "ns"), { recursive: true });
  rmSync(at(42, "fd"), { recursive: true });
  rmSync(at(43, "cmdline"));
  mkdirSync(at(43, "cmdline"));
  mkdirSync(join(root, "43", "net", "udp6"));
  rmSync(at(44, "fd"), { recursive: true });
  writeFileSync(at(44, "fd"), "");
  // Not pids: the reader must pass them by.
  mkdirSync(join(root, "self"));
  mkdirSync(join(root, "0"));
  mkdirSync(join(root, "12abc"));
  writeFileSync(join(root, "uptime"), "1.0 1.0\n");
}

function runReader(root: string, args: string[] = ["2"]) {
  if (NATIVE === null) throw new Error("the native reader is not built");
  return spawnSync(NATIVE, [root, ...args], { maxBuffer: 64 * 1024 * 1024 });
}

/** Failures in one order: the readers emit them in different orders. */
const sortedFailures = (r: RawReadResult) =>
  [...r.failures].sort((a, b) => a[2] - b[2] || a[0].localeCompare(b[0]));

/** What a record's stat and status say: parsed by the reader ('Q'), or parsed here. */
const facts = (p: RawProcess) => {
  if (p.parsed !== undefined) return p.parsed;
  const status = parseStatus(p.status);
  return {
    stat: parseStat(p.stat),
    status: status && { uid: status.uid, gid: status.gid, vmRssBytes: status.vmRssBytes },
  };
};

/** Raw records with stat and status reduced to their facts. */
const comparable = (r: RawReadResult) =>
  r.processes.map(({ stat: _s, status: _t, parsed: _p, ...p }, i) => ({
    ...p,
    facts: facts(r.processes[i] as RawProcess),
    cmdline: Buffer.from(p.cmdline).toString("hex"),
  }));

/** A hand-made output, little-endian as the reader writes it. */
class Out {
  private readonly parts: Buffer[] = [];
  magic(m = "BKPR0004"): this {
    this.parts.push(Buffer.from(m, "latin1"));
    return this;
  }
  u8(v: number): this {
    this.parts.push(Buffer.from([v]));
    return this;
  }
  i32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32LE(v);
    this.parts.push(b);
    return this;
  }
  u32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(v);
    this.parts.push(b);
    return this;
  }
  i64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64LE(v);
    this.parts.push(b);
    return this;
  }
  blob(v: string | Buffer | null): this {
    if (v === null) return this.u32(0xffffffff);
    const b = typeof v === "string" ? Buffer.from(v) : v;
    this.u32(b.length);
    this.parts.push(b);
    return this;
  }
  /** A record: its kind, the length of its body, its body. */
  record(kind: number, body: Out): this {
    const b = body.open();
    return this.u8(kind).u32(b.length).raw(b);
  }
  raw(b: Buffer): this {
    this.parts.push(b);
    return this;
  }
  /** A 'P' record: stat status cmdline cgroup cwd exe exeError exeStatError ns*3. */
  proc(
    pid: number,
    blobs: (string | Buffer | null)[],
    exeStat: bigint[] | null,
    sockets: string[],
  ) {
    const body = new Out().i32(pid);
    for (const b of blobs) body.blob(b);
    body.u8(exeStat === null ? 0 : 1);
    for (const v of exeStat ?? []) body.i64(v);
    body.u32(sockets.length);
    for (const s of sockets) body.blob(s);
    return this.record(0x50, body);
  }
  fail(pid: number, source: string | null, what: string | null): this {
    return this.record(0x46, new Out().i32(pid).blob(source).blob(what));
  }
  end(): Buffer {
    return Buffer.concat([...this.parts, Buffer.from("E")]);
  }
  open(): Buffer {
    return Buffer.concat(this.parts);
  }
}

const STAT = "7 (x) S 1 7 7 0 -1 4194560 0 0 0 0 1 1 0 0 20 0 1 0 100 0 10 0\n";
const STATUS = "Name:\tx\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n";

describe("decodeNativeOutput on an output recorded from the built reader", () => {
  let recorded: Buffer;
  let decoded: RawReadResult;
  beforeAll(() => {
    if (RECORD) {
      const dir = mkdtempSync(join(tmpdir(), "bk-native-rec-"));
      try {
        buildFixtureTree(dir);
        const r = runReader(dir);
        if (r.status !== 0) throw new Error(`procread failed: ${r.stderr}`);
        writeFileSync(FIXTURE, r.stdout);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
    recorded = readFileSync(FIXTURE);
    decoded = decodeNativeOutput(recorded);
  });

  it("reads each network namespace's tables through the first process that shows them", () => {
    // Tried as readNetwork would, oldest first: kthreadd (2), then pids 1 and 41 (started
    // together: by pid) have no net dir; pid 43 shows the tables.
    // The container's one process (29789) has none either: that namespace is left to
    // breachkit (readNetwork reads it, or reports it).
    expect(decoded.netns).toEqual([
      {
        link: `net:[${HOST_NS.net}]`,
        readerPid: 43,
        dev: "Inter-|\n face |\n<b>lo\u001b[31m: 1 2 3\n",
        tables: [
          ["tcp", "  sl  local_address\n", null],
          ["udp", "", null],
          ["udp6", null, "EISDIR"],
          ["raw", "\u0000\n", null],
        ],
      },
    ]);
  });

  it("has every process that was there, in pid order, and no other", () => {
    expect(decoded.processes.map((p) => p.pid)).toEqual([
      1, 2, 41, 43, 44, 45, 15583, 22484, 29789,
    ]);
  });

  it("parses stat and status in the kernel's shape as breachkit's parsers do, hostile comm included", () => {
    const expected = (stat: string, status: string) => {
      const s = parseStatus(status);
      return {
        stat: parseStat(stat),
        status: s && { uid: s.uid, gid: s.gid, vmRssBytes: s.vmRssBytes },
      };
    };
    const hostile = decoded.processes.find((p) => p.pid === 15583);
    expect(hostile?.parsed?.stat.comm).toBe("a) R 1 (<b>\n\u001b[3");
    expect(hostile?.parsed).toEqual(
      expected(real("stat-hostile-comm"), real("status-hostile-comm")),
    );
    const httpd = decoded.processes.find((p) => p.pid === 29789);
    expect(httpd?.parsed).toEqual(
      expected(real("stat-container-httpd"), real("status-container-httpd")),
    );
    expect(httpd?.parsed?.status.vmRssBytes).toBeGreaterThan(0);
    const zombie = decoded.processes.find((p) => p.pid === 22484);
    expect(zombie?.parsed).toEqual(expected(real("stat-zombie"), real("status-zombie")));
    expect(zombie?.parsed?.status.vmRssBytes).toBeNull();
    // Parsed records carry no text.
    expect([hostile?.stat, hostile?.status]).toEqual(["", ""]);
  });

  it("leaves text in another shape whole, with only the status lines breachkit reads", () => {
    const odd = decoded.processes.find((p) => p.pid === 45);
    expect(odd?.parsed).toBeUndefined();
    expect(odd?.stat).toContain("\t1 ");
    expect(odd?.status).toBe(keptLines(ODD_STATUS));
    expect(odd?.status).not.toContain("Umask:");
    // breachkit's parsers still read it: uids from spaces, no size from "12" without kB.
    expect(parseStatus(odd?.status ?? "")).toMatchObject({
      uid: { effective: 0 },
      vmRssBytes: null,
    });
  });

  it("keeps command lines as bytes: invalid UTF-8, newlines, escapes and NULs", () => {
    const hostile = decoded.processes.find((p) => p.pid === 15583);
    expect(Buffer.from(hostile?.cmdline ?? [])).toEqual(HOSTILE_CMDLINE);
    expect(hostile?.cwd).toBe("/tmp/<b>\n\u001b[31m");
    const httpd = decoded.processes.find((p) => p.pid === 29789);
    expect(Buffer.from(httpd?.cmdline ?? []).toString()).toBe(
      "/bin/busybox\0httpd\0-f\0-p\x00127.0.0.1:8080\0",
    );
    expect(httpd?.cgroup).toBe(real("cgroup-v1-docker-cgroupfs"));
  });

  it("gives a kernel thread no command line, executable, cwd or sockets (null blobs)", () => {
    const kthreadd = parseStatus(real("status-kthreadd"));
    expect(decoded.processes.find((p) => p.pid === 2)).toEqual({
      pid: 2,
      stat: "",
      status: "",
      parsed: {
        stat: parseStat(real("stat-kthreadd")),
        status: kthreadd && { uid: kthreadd.uid, gid: kthreadd.gid, vmRssBytes: null },
      },
      cmdline: new Uint8Array(0),
      cgroup: "",
      cwd: null,
      exeLink: null,
      exeError: null,
      exeStat: null,
      exeStatError: null,
      ns: [`pid:[${HOST_NS.pid}]`, `net:[${HOST_NS.net}]`, `mnt:[${HOST_NS.mnt}]`],
      sockets: [],
    });
  });

  it("decodes the executable's link, stat and errors", () => {
    const init = decoded.processes.find((p) => p.pid === 1);
    expect(init?.exeLink).toBe("/bin/sh");
    // dev, ino, size, mtimeMs, ctimeMs, nlink of /bin/sh when recorded: whole numbers
    // and times in ms of this century.
    const st = init?.exeStat;
    expect(st).toHaveLength(6);
    expect(st?.every((v) => Number.isFinite(v) && v >= 0)).toBe(true);
    expect(st?.[3]).toBeGreaterThan(Date.parse("2000-01-01"));
    expect(st?.[5]).toBeGreaterThanOrEqual(1);
    expect(decoded.processes.find((p) => p.pid === 15583)).toMatchObject({
      exeLink: "/opt/evil (deleted)",
      exeStat: null,
      exeStatError: "ENOENT",
      exeError: null,
    });
    expect(decoded.processes.find((p) => p.pid === 22484)).toMatchObject({
      exeLink: null,
      exeError: "zombie",
      exeStat: null,
    });
    expect(decoded.processes.find((p) => p.pid === 41)).toMatchObject({
      exeLink: null,
      exeError: "EINVAL",
    });
    expect(decoded.processes.find((p) => p.pid === 44)).toMatchObject({
      exeLink: "exe",
      exeStat: null,
      exeStatError: "ELOOP",
    });
  });

  it("decodes sockets as listed, duplicates included, and namespaces", () => {
    expect(decoded.processes.find((p) => p.pid === 1)?.sockets).toEqual(["socket:[1001]"]);
    expect(decoded.processes.find((p) => p.pid === 15583)?.sockets.sort()).toEqual([
      "socket:[2002]",
      "socket:[2003]",
    ]);
    const httpd = decoded.processes.find((p) => p.pid === 29789);
    expect(httpd?.sockets).toEqual(["socket:[3003]", "socket:[3003]"]);
    expect(httpd?.ns).toEqual([`pid:[${CT_NS.pid}]`, `net:[${CT_NS.net}]`, `mnt:[${CT_NS.mnt}]`]);
    // A failed cmdline read leaves the rest of the process read.
    expect(decoded.processes.find((p) => p.pid === 43)).toMatchObject({
      cmdline: new Uint8Array(0),
      exeLink: "/bin/sh",
      sockets: ["socket:[4004]"],
    });
  });

  it("decodes the failures, with the JS reader's texts", () => {
    expect(sortedFailures(decoded)).toEqual([
      ["procfs stat", "cannot read: EISDIR", 40],
      ["procfs exe", "cannot read exe: EINVAL", 41],
      ["procfs", "cannot read cmdline or cgroup: EISDIR", 43],
      ["procfs fd", "cannot list fds: ENOTDIR", 44],
    ]);
  });

  it("throws at every truncation point, never a partial result", () => {
    let threw = 0;
    for (let cut = 0; cut < recorded.length; cut++) {
      expect(() => decodeNativeOutput(recorded.subarray(0, cut)), `cut at ${cut}`).toThrow(
        /native reader: output (truncated|does not start with its header)/,
      );
      threw++;
    }
    expect(threw).toBe(recorded.length);
  });

  it("decodes the same in two chunks split at any byte, and byte by byte", () => {
    for (let cut = 0; cut <= recorded.length; cut++) {
      const d = new NativeDecoder();
      d.push(recorded.subarray(0, cut));
      d.push(recorded.subarray(cut));
      expect(d.end(), `split at ${cut}`).toEqual(decoded);
    }
    const d = new NativeDecoder();
    for (let i = 0; i < recorded.length; i++) d.push(recorded.subarray(i, i + 1));
    expect(d.end()).toEqual(decoded);
  });

  it("hands each process once, to the subscriber or in the result, whenever it subscribes", () => {
    const cuts = [...Array(Math.ceil(recorded.length / 13)).keys()].map((i) => i * 13);
    for (const cut of [...cuts, recorded.length - 1, recorded.length]) {
      const d = new NativeDecoder();
      const handed: unknown[] = [];
      d.push(recorded.subarray(0, cut));
      d.subscribe((r) => handed.push(r));
      d.push(recorded.subarray(cut));
      const rest = d.end();
      // In pid order, each once: what was handed over is not in the result again.
      expect([...handed, ...rest.processes], `subscribed at ${cut}`).toEqual(decoded.processes);
      expect(rest.failures).toEqual(decoded.failures);
      // Before the end record, everything goes to the subscriber; after it, to the result.
      expect(handed.length, `subscribed at ${cut}`).toBe(
        cut === recorded.length ? 0 : decoded.processes.length,
      );
    }
  });

  it("throws for a prefix fed in chunks, at any cut", () => {
    for (let cut = 0; cut < recorded.length; cut += 7) {
      const d = new NativeDecoder();
      d.push(recorded.subarray(0, Math.floor(cut / 2)));
      d.push(recorded.subarray(Math.floor(cut / 2), cut));
      expect(() => d.end(), `cut at ${cut}`).toThrow();
    }
  });

  it("rejects anything after the end record, in the same chunk or a later one", () => {
    for (const extra of [Buffer.from("E"), Buffer.from([0]), Buffer.from("P")]) {
      expect(() => decodeNativeOutput(Buffer.concat([recorded, extra]))).toThrow(
        "output goes on after its end",
      );
      const d = new NativeDecoder();
      d.push(recorded);
      d.push(extra);
      expect(() => d.end()).toThrow("output goes on after its end");
    }
    // An empty chunk after the end is no more output.
    const d = new NativeDecoder();
    d.push(recorded);
    d.push(Buffer.alloc(0));
    expect(d.end()).toEqual(decoded);
  });

  it("rejects a corrupted header and an unknown record kind", () => {
    const badMagic = Buffer.from(recorded);
    badMagic[7] = 0x35; // BKPR0005: a format this decoder does not know
    expect(() => decodeNativeOutput(badMagic)).toThrow("does not start with its header");
    const badKind = Buffer.from(recorded);
    badKind[8] = 0x52; // 'R' where the first record's 'Q' was
    expect(() => decodeNativeOutput(badKind)).toThrow("unknown record 82");
  });
});

describe("decodeNativeOutput on hand-made outputs", () => {
  it("decodes an empty reading", () => {
    expect(decodeNativeOutput(new Out().magic().end())).toEqual({
      processes: [],
      failures: [],
      netns: [],
    });
  });

  it("decodes a namespace's tables, with null for a table not read and its error code", () => {
    const body = new Out()
      .i32(9)
      .blob("net:[5]")
      .blob("dev text")
      .u32(2)
      .blob("tcp")
      .blob("tcp <text>\n")
      .blob(null)
      .blob("udp6")
      .blob(null)
      .blob("EACCES");
    const out = new Out().magic().record(0x4e, body).end();
    expect(decodeNativeOutput(out).netns).toEqual([
      {
        link: "net:[5]",
        readerPid: 9,
        dev: "dev text",
        tables: [
          ["tcp", "tcp <text>\n", null],
          ["udp6", null, "EACCES"],
        ],
      },
    ]);
    // A count that claims more tables than the record holds is an error, not a guess.
    const short = new Out()
      .i32(9)
      .blob("net:[5]")
      .blob("dev")
      .u32(3)
      .blob("tcp")
      .blob("t")
      .blob(null);
    expect(() => decodeNativeOutput(new Out().magic().record(0x4e, short).end())).toThrow(
      /past its record/,
    );
  });

  it("refuses at once a record longer than any the reader writes", () => {
    const d = new NativeDecoder();
    const head = Buffer.alloc(5);
    head[0] = 0x4e;
    head.writeUInt32LE(0xf0000000, 1);
    d.push(Buffer.from("BKPR0004"));
    d.push(head);
    expect(() => d.end()).toThrow(/a record of 4026531840 bytes/);
  });

  it("joins a record longer than its chunks once, when whole, not at every chunk", () => {
    // A namespace's tables under a connection flood: megabytes in one record, arriving in
    // the pipe's 64 KiB pieces. Joining what came so far at every piece was quadratic.
    const table = Buffer.alloc(4 * 1024 * 1024, "0: 0100007F:1F90 00000000:0000 0A\n");
    const body = new Out().i32(9).blob("net:[5]").blob("dev").u32(1).blob("tcp").blob(table);
    const out = new Out().magic().record(0x4e, body.blob(null)).end();
    const concat = vi.spyOn(Buffer, "concat");
    try {
      const d = new NativeDecoder();
      for (let at = 0; at < out.length; at += 65536) d.push(out.subarray(at, at + 65536));
      const r = d.end();
      expect(r.netns?.[0]?.tables[0]?.[1]).toBe(table.toString());
      // About 64 pieces: the bytes copied stay near the record's size, not 32 times it.
      const copied = concat.mock.calls.reduce(
        (n, [parts]) => n + (parts as Buffer[]).reduce((m, b) => m + b.length, 0),
        0,
      );
      expect(copied).toBeLessThan(2 * out.length);
    } finally {
      concat.mockRestore();
    }
  });

  it("decodes null blobs to null, and to empty text where a record needs text", () => {
    const out = new Out()
      .magic()
      .proc(7, [null, null, null, null, null, null, null, null, null, null, null], null, [])
      .fail(7, null, null)
      .end();
    expect(decodeNativeOutput(out)).toEqual({
      processes: [
        {
          pid: 7,
          stat: "",
          status: "",
          cmdline: new Uint8Array(0),
          cgroup: "",
          cwd: null,
          exeLink: null,
          exeError: null,
          exeStat: null,
          exeStatError: null,
          ns: [null, null, null],
          sockets: [],
        },
      ],
      failures: [["", "", 7]],
      netns: [],
    });
  });

  it("computes mtimeMs and ctimeMs as Node's Stats does (hash cache keys agree)", () => {
    const out = new Out()
      .magic()
      .proc(
        7,
        [STAT, STATUS, "x\0", "0::/\n", "/", "/bin/x", null, null, "pid:[1]", "net:[2]", "mnt:[3]"],
        [2049n, 131n, 4096n, 2n, 1700000000n, 123456789n, 1700000001n, 1n],
        ["socket:[5]", "socket:[6]"],
      )
      .end();
    const [p] = decodeNativeOutput(out).processes;
    expect(p?.exeStat).toEqual([
      2049,
      131,
      4096,
      1700000000 * 1e3 + 123456789 / 1e6,
      1700000001 * 1e3 + 1 / 1e6,
      2,
    ]);
    expect(p?.sockets).toEqual(["socket:[5]", "socket:[6]"]);
    expect(p?.ns).toEqual(["pid:[1]", "net:[2]", "mnt:[3]"]);
  });

  it("rejects a blob longer than the output, and an output without its end record", () => {
    const long = Buffer.concat([
      new Out().magic().u8(0x46).i32(7).u32(1000).open(),
      Buffer.from("E"),
    ]);
    expect(() => decodeNativeOutput(long)).toThrow("truncated");
    expect(() => decodeNativeOutput(new Out().magic().fail(7, "a", "b").open())).toThrow(
      "truncated",
    );
    expect(() => decodeNativeOutput(Buffer.from("BKPR000"))).toThrow("header");
    expect(() => decodeNativeOutput(Buffer.from("garbage that is long enough"))).toThrow("header");
  });

  it("holds every record to its length: no field past it, no byte left over in it", () => {
    const failure = new Out().i32(9).blob("src").blob("what").open();
    const record = (len: number, body: Buffer) =>
      new Out().magic().u8(0x46).u32(len).raw(body).end();
    expect(decodeNativeOutput(record(failure.length, failure)).failures).toEqual([
      ["src", "what", 9],
    ]);
    expect(() => decodeNativeOutput(record(failure.length - 1, failure))).toThrow();
    expect(() =>
      decodeNativeOutput(record(failure.length + 1, Buffer.concat([failure, Buffer.from([0])]))),
    ).toThrow("longer than its fields");
    // A blob that claims more than its record holds, even when the output goes on.
    const lying = new Out().i32(9).u32(1000).raw(Buffer.from("src")).open();
    expect(() => decodeNativeOutput(record(lying.length, lying))).toThrow("past its record");
  });

  it("keeps the first error: later valid bytes do not repair a corrupt output", () => {
    const d = new NativeDecoder();
    d.push(Buffer.from("BKPR0004Z"));
    d.push(new Out().end());
    expect(() => d.end()).toThrow("unknown record 90");
  });
});

describe("nativeReaderPath", () => {
  it("is null when BREACHKIT_PROC_READER=js asks for the JS reader", () => {
    expect(nativeReaderPath({ BREACHKIT_PROC_READER: "js" })).toBeNull();
  });

  it.skipIf(NATIVE === null)("finds the built reader in dist/native", () => {
    expect(NATIVE).toMatch(/\/dist\/native\/procread$/);
    expect(statSync(NATIVE ?? "").mode & 0o111).not.toBe(0);
    expect(nativeReaderPath({ BREACHKIT_PROC_READER: "native" })).toBe(NATIVE);
  });
});

// The reader itself; skipped only where no C compiler built it (the JS reader then reads).
describe.skipIf(NATIVE === null)("the built reader against the JS reader on fake trees", () => {
  const dir = mkdtempSync(join(tmpdir(), "bk-native-"));
  const fixtureRoot = join(dir, "fixture");
  const root = join(dir, "proc");
  const bin = join(dir, "bin");
  const upper = join(dir, "upper");
  const other = join(dir, "other");
  const scripts = join(dir, "scripts");
  const BOOT_MS = Date.parse("2026-01-01T00:00:00Z");
  const opts = {
    procRoot: root,
    bootTimeMs: BOOT_MS,
    clockTicks: 100,
    nowMs: BOOT_MS + 30_000,
    users: new Map([
      [0, "root"],
      [1000, "alice"],
    ]),
    workers: 0,
  };
  /** Equal but for when each hash was taken. */
  const untimed = (r: Awaited<ReturnType<typeof readProcesses>>) => ({
    ...r,
    processes: r.processes.map((p) => ({ ...p, exe: { ...p.exe, hashedAt: null } })),
  });
  const script = (name: string, body: string) => {
    const path = join(scripts, name);
    writeFileSync(path, `#!/bin/sh\n${body}\n`);
    chmodSync(path, 0o755);
    return path;
  };

  beforeAll(() => {
    mkdirSync(fixtureRoot, { recursive: true });
    buildFixtureTree(fixtureRoot);
    // The tree of processes.test.ts (hostile names, deleted and "x (deleted)" executables,
    // a container process with a binary of its upper layer), the failures of the fixture
    // tree, and enough processes for several chunks of the reader's threads.
    buildFixtureTree(root);
    const procs: FakeProc[] = [
      {
        pid: 10,
        stat: fakeStat(10, "a) R 1 (<b>\n\u001b[31m", { ppid: 1 }),
        status: fakeStatus("a) R 1 (<b>\\n\u001b[31m", 1000),
        cmdline: HOSTILE_CMDLINE,
        exe: join(bin, "daemon"),
        cwd: "/home/alice",
        fds: { "3": "socket:[2002]", "4": "socket:[2003]" },
      },
      ...hostileProcs(bin, upper),
      // A deleted memfd executable, as fileless malware runs.
      {
        pid: 32,
        stat: fakeStat(32, "memfd"),
        status: fakeStatus("memfd"),
        exe: "/memfd:x (deleted)",
      },
    ];
    // Past the readers' bounds: a 1.5 MiB command line (cut at 1 MiB) and a 300 KiB status
    // (cut at 256 KiB, before its VmRSS line).
    procs.push(
      {
        pid: 34,
        stat: fakeStat(34, "long"),
        status: fakeStatus("long"),
        cmdline: Buffer.alloc(1536 * 1024, "a\0"),
      },
      {
        pid: 35,
        stat: fakeStat(35, "fat"),
        status: `${fakeStatus("fat", 0, null)}Pad:\t${"x".repeat(300 * 1024)}\nVmRSS:\t999 kB\n`,
      },
    );
    for (let pid = 1000; pid < 1100; pid++) {
      procs.push({
        pid,
        stat: fakeStat(pid, `w${pid}`, { starttime: pid }),
        status: fakeStatus(`w${pid}`, pid % 2 === 0 ? 0 : 1000),
        cmdline: Buffer.from(`worker\0--n=${pid}\0`),
        exe: join(bin, pid % 3 === 0 ? "dropped" : "daemon"),
        cwd: `/srv/${pid}`,
        fds: { "3": `socket:[${90000 + pid}]`, "4": "/dev/null" },
      });
    }
    for (const p of procs) buildFakeProc(root, p);
    // An executable and a cwd whose names are not UTF-8.
    const oddName = Buffer.concat([Buffer.from(`${bin}/`), Buffer.from([0xff, 0xfe, 0x1b, 0x0a])]);
    writeFileSync(oddName, "odd\n");
    buildFakeProc(root, { pid: 33, stat: fakeStat(33, "odd"), status: fakeStatus("odd") });
    symlinkSync(oddName, join(root, "33", "exe"));
    symlinkSync(Buffer.from([0x2f, 0xc3, 0x28]), join(root, "33", "cwd"));
    buildFakeProc(other, {
      pid: 77,
      stat: fakeStat(77, "elsewhere"),
      status: fakeStatus("elsewhere"),
      cmdline: Buffer.from("elsewhere\0"),
    });
    mkdirSync(scripts);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("records the fixture's output again, but for the stat of /bin/sh", () => {
    const r = runReader(fixtureRoot);
    expect(r.status).toBe(0);
    const live = decodeNativeOutput(r.stdout);
    const noStat = (x: RawReadResult) => ({
      ...x,
      processes: x.processes.map((p) => ({ ...p, exeStat: p.exeStat === null ? null : 0 })),
    });
    expect(noStat(live)).toEqual(noStat(decodeNativeOutput(readFileSync(FIXTURE))));
  });

  it("reads the same raw records and failures as the JS reader", () => {
    const pids = fs
      .readdirSync(root)
      .filter((n) => /^\d+$/.test(n))
      .map(Number)
      .filter((n) => n > 0)
      .sort((a, b) => a - b);
    const js = readRawProcesses(fs, root, pids);
    const r = runReader(root);
    expect(r.status).toBe(0);
    const native = decodeNativeOutput(r.stdout);
    expect(native.processes.length).toBeGreaterThan(100);
    expect(comparable(native)).toEqual(comparable(js));
    // Both kinds of record were written: parsed by the reader, and left as text for
    // breachkit's parsers (hostile or truncated shapes).
    expect(native.processes.filter((p) => p.parsed !== undefined).length).toBeGreaterThan(100);
    expect(native.processes.filter((p) => p.parsed === undefined).length).toBeGreaterThan(0);
    expect(sortedFailures(native)).toEqual(sortedFailures(js));
  });

  it("writes the same output whatever its number of threads", () => {
    const one = runReader(root, ["1"]);
    expect(one.status).toBe(0);
    for (const threads of ["2", "3", "8", "64"]) {
      const r = runReader(root, [threads]);
      expect(r.status).toBe(0);
      expect(Buffer.compare(r.stdout, one.stdout), `${threads} threads`).toBe(0);
    }
    const pids = decodeNativeOutput(one.stdout).processes.map((p) => p.pid);
    expect(pids).toEqual([...pids].sort((a, b) => a - b));
  });

  it("leaves out the pid it is told to skip", () => {
    const r = runReader(root, ["2", "1050"]);
    expect(r.status).toBe(0);
    const pids = decodeNativeOutput(r.stdout).processes.map((p) => p.pid);
    expect(pids).not.toContain(1050);
    expect(pids).toContain(1049);
    expect(pids).toContain(1051);
  });

  it("refuses bad arguments and a root it cannot list", () => {
    for (const args of [["0"], ["65"], ["x"], []]) {
      const r = runReader(root, args);
      expect(r.status, args.join(" ")).toBe(2);
      expect(r.stdout.length).toBe(0);
    }
    const missing = runReader(join(dir, "none"));
    expect(missing.status).toBe(1);
    expect(missing.stderr.toString()).toContain("ENOENT");
    expect(missing.stdout.length).toBe(0);
  });

  it("builds the same Process objects as the JS reader (hashes, layers, gaps included)", async () => {
    const js = await readProcesses({ ...opts, nativeReader: null });
    const native = await readProcesses({ ...opts, nativeReader: NATIVE });
    expect(untimed(native)).toEqual(untimed(js));
    // Not a trivially equal pair: the hostile cases are there.
    const byPid = new Map(js.processes.map((p) => [p.pid, p]));
    expect(byPid.get(10)?.comm).toBe("a) R 1 (<b>\n\u001b[31m");
    expect(byPid.get(15583)?.argv).toEqual(["/x", "\ufffd\ufffd\n\u001b"]);
    expect(byPid.get(12)?.exe).toMatchObject({ path: join(bin, "removed"), deleted: true });
    expect(byPid.get(13)?.exe).toMatchObject({ path: join(bin, "evil (deleted)"), deleted: false });
    expect(byPid.get(32)?.exe).toMatchObject({ path: "/memfd:x", deleted: true, memfd: true });
    expect(byPid.get(20)?.exe.upperLayer).toBe(true);
    expect(byPid.get(22484)?.exe.error).toBe("zombie");
    expect(byPid.get(2)?.kernelThread).toBe(true);
    expect(byPid.get(1050)?.socketInodes).toEqual([91050]);
    expect(byPid.get(33)?.exe.path).toBe(`${bin}/\ufffd\ufffd\u001b\n`);
    expect(byPid.get(33)?.exe.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(byPid.get(33)?.cwd).toBe("/\ufffd(");
    expect(byPid.get(34)?.argv.length).toBe(512 * 1024);
    expect(byPid.get(35)?.rssBytes).toBe(500 * 4096);
    expect(byPid.has(42)).toBe(false);
    expect(byPid.get(44)?.exe.error).toBe("cannot stat: ELOOP");
    const gaps = js.gaps.map((g) => `${g.source}: ${g.message}`);
    expect(gaps).toContain("procfs stat: cannot read: EISDIR (1 process: pid 40)");
    expect(gaps).toContain("procfs exe: cannot read exe: EINVAL (1 process: pid 41)");
    expect(gaps).toContain("procfs: cannot read cmdline or cgroup: EISDIR (1 process: pid 43)");
    expect(gaps).toContain("procfs fd: cannot list fds: ENOTDIR (1 process: pid 44)");
  });

  it("builds the same Process objects with helper threads and without hashing", async () => {
    const js = await readProcesses({ ...opts, workers: 2, nativeReader: null });
    const native = await readProcesses({ ...opts, workers: 2, nativeReader: NATIVE });
    expect(untimed(native)).toEqual(untimed(js));
    const jsBare = await readProcesses({ ...opts, hashExecutables: false, nativeReader: null });
    const nativeBare = await readProcesses({
      ...opts,
      hashExecutables: false,
      nativeReader: NATIVE,
    });
    expect(nativeBare).toEqual(jsBare);
  });

  it("uses the native reader's output when it is whole", async () => {
    // A reader that reads another tree: its processes, not the JS reader's, come back.
    const elsewhere = script("elsewhere", `exec '${NATIVE}' '${other}' "$2"`);
    const { processes } = await readProcesses({ ...opts, nativeReader: elsewhere });
    expect(processes.map((p) => [p.pid, p.comm])).toEqual([[77, "elsewhere"]]);
    const empty = script("empty", "printf 'BKPR0004E'");
    expect(await readNative(empty, root, 2, null)).toEqual({
      processes: [],
      failures: [],
      netns: [],
    });
  });

  it("keeps nothing of a reading that failed midway, hashes included", async () => {
    // The reader sends its records (pid 77's executable: /bin/sh), then the host moves on
    // (pid 77's executable can no longer be read) and it fails before its end record. The
    // JS reader reads again: no hash of the first reading may stay on pid 77.
    const edge = join(dir, "edge-proc");
    buildFakeProc(edge, {
      pid: 77,
      stat: fakeStat(77, "wate"),
      status: fakeStatus("wate"),
      cmdline: Buffer.from("wate\0"),
      exe: "/bin/sh",
    });
    const reader = script(
      "fails-midway",
      `'${NATIVE}' "$@" | head -c -1; sleep 0.5; ln -sfn /nonexistent/wate '${edge}/77/exe'; exit 1`,
    );
    const { processes } = await readProcesses({
      procRoot: edge,
      bootTimeMs: BOOT_MS,
      clockTicks: 100,
      nativeReader: reader,
      hashCache: new Map(),
    });
    expect(processes.find((p) => p.pid === 77)?.exe).toMatchObject({
      path: "/nonexistent/wate",
      sha256: null,
      size: null,
    });
  });

  it("falls back to the JS reader, same result, when the native reader fails", async () => {
    const js = untimed(await readProcesses({ ...opts, nativeReader: null }));
    const failing: [string, RegExp][] = [
      ["/bin/false", /exit 1/],
      [join(dir, "no-such-reader"), /ENOENT/],
      [script("garbage", "echo 'this is no reader output at all'"), /header/],
      [script("truncated", "printf 'BKPR0004P\\005\\000\\000\\000\\001'"), /truncated/],
      [script("overrun", "printf 'BKPR0004P\\001\\000\\000\\000\\005E'"), /past its record/],
      [script("trailing", "printf 'BKPR0004Ejunk'"), /after its end/],
      [script("exit-1", "printf 'BKPR0004E'; exit 1"), /exit 1/],
      [script("killed", "printf 'BKPR0004'; kill -9 $$"), /SIGKILL/],
      [script("cut", `'${NATIVE}' "$@" | head -c 5000`), /truncated/],
    ];
    for (const [reader, why] of failing) {
      await expect(readNative(reader, root, 2, null), reader).rejects.toThrow(why);
      const got = await readProcesses({ ...opts, nativeReader: reader });
      expect(untimed(got), reader).toEqual(js);
    }
  });
});
