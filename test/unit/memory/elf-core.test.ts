import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_MEMORY_MAX, planSegments } from "../../../src/act/memory-dump.js";
import { coreLayout } from "../../../src/evidence/elf-core.js";
import { parseMaps, parseSyscall, readMaps } from "../../../src/observe/proc/memory-maps.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-elfcore-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const MAPS = `55d0c0a00000-55d0c0a02000 r--p 00000000 08:01 1234 /usr/bin/wate (deleted)
55d0c0a02000-55d0c0a05000 r-xp 00002000 08:01 1234 /usr/bin/wate (deleted)
7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0 [stack]
7ffd1c1f0000-7ffd1c1f4000 r--p 00000000 00:00 0 [vvar]
7ffd1c1f4000-7ffd1c1f6000 r-xp 00000000 00:00 0 [vdso]
7f0000000000-7f0000001000 ---p 00000000 00:00 0
ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0 [vsyscall]
garbage line
`;

describe("/proc/<pid>/maps", () => {
  it("parses mappings, keeps (deleted), drops what is above 2^53 and lines that do not parse", () => {
    const maps = parseMaps(MAPS);
    expect(maps.map((m) => m.path)).toEqual([
      "/usr/bin/wate (deleted)",
      "/usr/bin/wate (deleted)",
      "[stack]",
      "[vvar]",
      "[vdso]",
      "",
    ]);
    expect(maps[1]).toMatchObject({ perms: "r-xp", offset: 0x2000, inode: 1234 });
  });

  it("reads this process's own maps", async () => {
    const maps = await readMaps(process.pid);
    expect(maps.some((m) => m.path === "[stack]")).toBe(true);
  });

  it("plans segments: kernel pages and unreadable mappings left out, the rest up to the bound", () => {
    const plan = planSegments(parseMaps(MAPS), 0x3000);
    // The bound falls inside the second mapping: its first page is read, the rest listed.
    expect(plan.read.map((m) => [m.path, m.end - m.start])).toEqual([
      ["/usr/bin/wate (deleted)", 0x2000],
      ["/usr/bin/wate (deleted)", 0x1000],
    ]);
    expect(plan.skipped[0]).toMatchObject({ start: "0x55d0c0a03000", end: "0x55d0c0a05000" });
    expect(plan.skipped.map((r) => r.reason)).toEqual([
      "over --memory-max (12288 bytes)",
      "over --memory-max (12288 bytes)",
      "a kernel page that cannot be read",
      "over --memory-max (12288 bytes)",
      "not readable (no r permission)",
    ]);
    // Every mapping is still described (memsz), the skipped ones without bytes (filesz 0).
    expect(plan.segments.map((s) => s.fileSize)).toEqual([0x2000, 0x1000, 0, 0, 0, 0]);
  });

  it("cuts a process of 3 GiB at the default bound of 2 GiB, inside the mapping that crosses it", () => {
    const GiB = 1024 ** 3;
    const base = 0x7f0000000000;
    const maps = parseMaps(
      [
        `${base.toString(16)}-${(base + 0x1000).toString(16)} r--p 00000000 08:01 7 /usr/bin/x`,
        `${(base + 0x10000).toString(16)}-${(base + 0x10000 + 3 * GiB).toString(16)} rw-p 00000000 00:00 0`,
      ].join("\n"),
    );
    const plan = planSegments(maps, DEFAULT_MEMORY_MAX);
    expect(DEFAULT_MEMORY_MAX).toBe(2 * GiB);
    expect(plan.read.reduce((n, m) => n + (m.end - m.start), 0)).toBe(2 * GiB);
    expect(plan.segments[1]?.fileSize).toBe(2 * GiB - 0x1000);
    expect(plan.skipped).toEqual([
      {
        start: `0x${(base + 0x10000 + 2 * GiB - 0x1000).toString(16)}`,
        end: `0x${(base + 0x10000 + 3 * GiB).toString(16)}`,
        path: "",
        reason: `over --memory-max (${2 * GiB} bytes)`,
      },
    ]);
  });

  it("reads the stack and instruction pointers of a stopped task, and nothing of a running one", () => {
    expect(parseSyscall(7, "running")).toEqual({ tid: 7, sp: null, pc: null });
    expect(parseSyscall(7, "230 0x1 0x0 0x7ffc 0x0 0x0 0x0 0x7ffd1c020f00 0x55d0c0a03456")).toEqual(
      {
        tid: 7,
        sp: 0x7ffd1c020f00,
        pc: 0x55d0c0a03456,
      },
    );
  });
});

describe("the ELF core file", () => {
  it("is read by binutils' readelf: a core file with its notes, threads and segments", async () => {
    const plan = planSegments(parseMaps(MAPS), 1 << 30);
    const layout = coreLayout(
      {
        machine: "x64",
        pid: 4242,
        ppid: 1,
        pgrp: 4242,
        sid: 4242,
        uid: 0,
        gid: 0,
        state: "T",
        comm: "wate",
        args: "/tmp/wate 600",
        threads: [
          { tid: 4242, sp: 0x7ffd1c020f00, pc: 0x55d0c0a03456 },
          { tid: 4243, sp: null, pc: null },
        ],
        auxv: Buffer.alloc(32),
        pageSize: 4096,
      },
      plan.segments,
    );
    const data = plan.segments.map((s) => Buffer.alloc(s.fileSize, 0xab));
    const file = join(dir, "core");
    await writeFile(file, Buffer.concat([layout.header, ...data]));
    expect((await readFile(file)).length).toBe(layout.totalSize);
    const header = (await execa("readelf", ["-h", file])).stdout;
    expect(header).toMatch(/Type:\s+CORE \(Core file\)/);
    expect(header).toMatch(/Machine:\s+Advanced Micro Devices X86-64/);
    const segments = (await execa("readelf", ["-W", "-l", file])).stdout;
    expect(segments.match(/^\s+LOAD\s/gm)?.length).toBe(6);
    expect(segments).toMatch(/NOTE/);
    const notes = (await execa("readelf", ["-W", "-n", file])).stdout;
    expect(notes.match(/NT_PRSTATUS/g)?.length).toBe(2);
    expect(notes).toMatch(/NT_PRPSINFO/);
    expect(notes).toMatch(/NT_AUXV/);
    expect(notes).toMatch(/NT_FILE/);
    // NT_FILE names the mapped file without " (deleted)" (readelf here prints no names).
    expect(layout.header.includes(Buffer.from("/usr/bin/wate\0"))).toBe(true);
    expect(layout.header.includes(Buffer.from("(deleted)"))).toBe(false);
    expect(layout.offsets[0]! % 4096).toBe(0);
  });
});
