/**
 * A process's memory preserved as an ELF core file in the bundle (`collect --memory`, and
 * `contain` before it kills or stops): the configuration, targets and command server a
 * self-deleting trojan keeps only in memory.
 *
 * The process is held still while its memory is read, so the dump is one moment, not a smear:
 * in a container, its cgroup is frozen (the freezer `docker pause` uses; the whole container
 * waits for the read); on the host, the process gets SIGSTOP and SIGCONT after. Both are
 * changes to the host: logged with `changedHost` and their undo, before and after, and undone
 * in a `finally` whatever happens to the read. A process that was already stopped or frozen
 * is left as it was found.
 *
 * The bytes come from /proc/<pid>/mem (no ptrace: the registers in the core are the stack and
 * instruction pointers the kernel shows for a stopped task, the rest zero), streamed into the
 * bundle and hashed on the way (evidence/bundle.ts), and fed to the indicator scanner
 * (judge/memory/indicators.ts) at the same time: nothing is read twice.
 */
import { promises as fs } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { arch } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type CoreMachine,
  type CoreSegment,
  coreLayout,
  MAX_SEGMENTS,
} from "../evidence/elf-core.js";
import { safePathComponent } from "../evidence/paths.js";
import type { BundleWriter } from "../evidence/types.js";
import { indicatorsIocFile, type MemoryIndicators } from "../judge/memory/indicators.js";
import type { MemoryDumpRecord, MemoryRange } from "../model/memory-dump.js";
import type { Snapshot } from "../model/snapshot.js";
import {
  dumpable,
  type Mapping,
  readAuxv,
  readMaps,
  readTasks,
} from "../observe/proc/memory-maps.js";
import { parseStatus } from "../observe/proc/stat.js";
import { formatBytes, type Progress } from "../util/progress.js";
import { errorMessage } from "../util/result.js";
import {
  type FreezerLocation,
  freezerLocation,
  freezerStateFile,
  parseCgroupEvents,
  parseFreezerState,
} from "./freezer.js";
import { type IndicatorScan, startIndicatorScan } from "./memory-scan.js";

export type { MemoryDumpRecord } from "../model/memory-dump.js";

export const DEFAULT_MEMORY_MAX = 2 * 1024 ** 3;
/**
 * Bytes read from /proc/<pid>/mem at a time. 1 MiB measured fastest (bench/memory-vs-gcore.ts
 * with 256 KiB to 4 MiB, quiet machine): each chunk is read, scanned, hashed and written
 * while it is still in the CPU's cache, and six of them fit there.
 */
const CHUNK = 1024 * 1024;
/** Written for a range that cannot be read; never modified. */
const ZEROS = Buffer.alloc(CHUNK);
const HOLD_TIMEOUT_MS = 5000;

export interface MemoryDumpOptions {
  bundle: BundleWriter;
  pid: number;
  /** From the snapshot: the container the process runs in, or null on the host. */
  containerId: string | null;
  containerName: string | null;
  /** Bytes of memory at most in the core file; mappings past it are listed, not read. */
  maxBytes?: number;
  /** Addresses of the host itself, left out of the indicators. */
  ownAddresses?: readonly string[];
  /** breachkit's own pid: never dumped (it would stop itself). */
  selfPid: number;
  machine: CoreMachine;
  pageSize?: number;
  cgroupRoot?: string;
  signal?: AbortSignal;
  /** The indicator scan's built worker, or null to scan in this thread (default: the package's). */
  scanWorker?: string | null;
  /** Bytes read at a time (default 1 MiB; the benchmark compares sizes). */
  chunkSize?: number;
  /** Called after each chunk written, with the bytes of memory read so far (tests, progress). */
  onProgress?: (bytes: number) => void;
}

interface ProcFacts {
  comm: string;
  state: string;
  ppid: number;
  pgrp: number;
  sid: number;
  starttime: number;
}

async function readFacts(pid: number): Promise<ProcFacts | null> {
  const text = await readFile(`/proc/${pid}/stat`, "latin1").catch(() => null);
  if (text === null) return null;
  const open = text.indexOf("(");
  const close = text.lastIndexOf(")");
  if (open < 0 || close < open) return null;
  const f = text.slice(close + 2).split(" ");
  const n = (i: number) => Number(f[i] ?? Number.NaN);
  return {
    comm: text.slice(open + 1, close),
    state: f[0] ?? "?",
    ppid: n(1),
    pgrp: n(2),
    sid: n(3),
    starttime: n(19),
  };
}

const hex = (n: number) => `0x${n.toString(16)}`;

function range(m: Mapping, reason: string, from = m.start): MemoryRange {
  return { start: hex(from), end: hex(m.end), path: m.path, reason };
}

/** Holds a process still and lets it go again; each change logged with its undo. */
interface Hold {
  kind: MemoryDumpRecord["held"];
  release(): Promise<void>;
}

async function readFreezer(loc: FreezerLocation, root: string) {
  const text = await readFile(freezerStateFile(loc, root), "utf8").catch(() => null);
  if (text === null) return null;
  return loc.version === 1 ? parseFreezerState(text) : parseCgroupEvents(text);
}

function freezeFile(loc: FreezerLocation, root: string): { file: string; on: string; off: string } {
  return loc.version === 1
    ? { file: `${root}/freezer${loc.path}/freezer.state`, on: "FROZEN", off: "THAWED" }
    : { file: `${root}${loc.path === "/" ? "" : loc.path}/cgroup.freeze`, on: "1", off: "0" };
}

async function holdContainer(
  opts: MemoryDumpOptions,
  loc: FreezerLocation,
  root: string,
): Promise<Hold> {
  const state = await readFreezer(loc, root);
  if (state === "frozen") return { kind: "already-frozen", release: async () => {} };
  const f = freezeFile(loc, root);
  const undo = `echo ${f.off} > ${f.file}`;
  const action = `freeze the cgroup of container ${opts.containerName ?? opts.containerId} while pid ${opts.pid}'s memory is read (echo ${f.on} > ${f.file})`;
  await writeFile(f.file, f.on);
  opts.bundle.log({
    step: "memory",
    action,
    result: "ok",
    changedHost: true,
    details: { undo, containerId: opts.containerId, pid: opts.pid },
  });
  const deadline = Date.now() + HOLD_TIMEOUT_MS;
  while ((await readFreezer(loc, root)) !== "frozen" && Date.now() < deadline) await sleep(10);
  return {
    kind: "cgroup-freezer",
    release: async () => {
      let error: string | null = null;
      try {
        await writeFile(f.file, f.off);
      } catch (e) {
        error = errorMessage(e);
      }
      opts.bundle.log({
        step: "memory",
        action: `thaw the cgroup of container ${opts.containerName ?? opts.containerId} (${undo})`,
        result: error === null ? "ok" : "error",
        changedHost: true,
        ...(error !== null ? { error } : {}),
        details: { containerId: opts.containerId, pid: opts.pid },
      });
    },
  };
}

async function holdHostProcess(opts: MemoryDumpOptions, facts: ProcFacts): Promise<Hold> {
  if (facts.state === "T" || facts.state === "t") {
    return { kind: "already-stopped", release: async () => {} };
  }
  const pid = opts.pid;
  // The pid must still be the process the facts were read from (pid reuse).
  const now = await readFacts(pid);
  if (now === null || now.starttime !== facts.starttime) {
    return { kind: "not-held", release: async () => {} };
  }
  process.kill(pid, "SIGSTOP");
  opts.bundle.log({
    step: "memory",
    action: `SIGSTOP pid ${pid} (${facts.comm}) while its memory is read`,
    result: "ok",
    changedHost: true,
    details: { undo: `kill -CONT ${pid}`, pid, starttime: facts.starttime },
  });
  const deadline = Date.now() + HOLD_TIMEOUT_MS;
  for (;;) {
    const s = await readFacts(pid);
    if (s === null || s.state === "T" || s.state === "t" || Date.now() >= deadline) break;
    await sleep(5);
  }
  return {
    kind: "sigstop",
    release: async () => {
      const s = await readFacts(pid);
      // A zombie (killed, not yet reaped by its parent) is gone too: nothing runs to continue.
      if (s === null || s.starttime !== facts.starttime || s.state === "Z" || s.state === "X") {
        opts.bundle.log({
          step: "memory",
          action: `SIGCONT pid ${pid}`,
          result: "skipped",
          changedHost: false,
          error: "the process is gone: nothing to continue",
        });
        return;
      }
      let error: string | null = null;
      try {
        process.kill(pid, "SIGCONT");
      } catch (e) {
        error = errorMessage(e);
      }
      opts.bundle.log({
        step: "memory",
        action: `SIGCONT pid ${pid} (${facts.comm})`,
        result: error === null ? "ok" : "error",
        changedHost: true,
        ...(error !== null ? { error } : {}),
        details: { pid },
      });
    },
  };
}

async function hold(opts: MemoryDumpOptions, facts: ProcFacts): Promise<Hold> {
  const root = opts.cgroupRoot ?? "/sys/fs/cgroup";
  if (opts.containerId !== null) {
    const cgroup = await readFile(`/proc/${opts.pid}/cgroup`, "utf8").catch(() => "");
    const loc = freezerLocation(cgroup);
    if (loc && loc.path !== "/") {
      try {
        return await holdContainer(opts, loc, root);
      } catch (e) {
        opts.bundle.log({
          step: "memory",
          action: `freeze the cgroup ${loc.path}`,
          result: "error",
          error: `${errorMessage(e)}: the process is stopped with SIGSTOP instead`,
        });
      }
    }
  }
  return holdHostProcess(opts, facts);
}

function emptyRecord(opts: MemoryDumpOptions, startedAt: Date): MemoryDumpRecord {
  return {
    pid: opts.pid,
    comm: null,
    containerId: opts.containerId,
    containerName: opts.containerName,
    file: null,
    sha256: null,
    size: null,
    iocsFile: null,
    indicators: { ips: 0, urls: 0, domains: 0 },
    held: "not-held",
    heldMs: null,
    mappings: 0,
    dumpedBytes: 0,
    skipped: [],
    unreadable: [],
    complete: false,
    incompleteReason: null,
    registers:
      "stack and instruction pointers from /proc/<pid>/task/<tid>/syscall; other registers zero (no ptrace)",
    error: null,
    startedAt: startedAt.toISOString(),
    endedAt: startedAt.toISOString(),
  };
}

/** Plan the core's segments: readable mappings in address order, up to maxBytes of them. */
export function planSegments(
  maps: readonly Mapping[],
  maxBytes: number,
): { segments: CoreSegment[]; skipped: MemoryRange[]; read: Mapping[] } {
  const segments: CoreSegment[] = [];
  const skipped: MemoryRange[] = [];
  const read: Mapping[] = [];
  let total = 0;
  for (const m of maps) {
    const size = m.end - m.start;
    let fileSize = 0;
    if (!dumpable(m)) {
      skipped.push(
        range(
          m,
          m.perms[0] === "r"
            ? "a kernel page that cannot be read"
            : "not readable (no r permission)",
        ),
      );
    } else if (segments.length >= MAX_SEGMENTS) {
      skipped.push(range(m, "over the ELF limit of program headers"));
      continue;
    } else if (total + size > maxBytes) {
      // The bound falls in this mapping: its first bytes up to the bound, the rest listed.
      const take = Math.floor((maxBytes - total) / 4096) * 4096;
      if (take > 0) {
        fileSize = take;
        total += take;
        read.push({ ...m, end: m.start + take });
      }
      skipped.push(range(m, `over --memory-max (${maxBytes} bytes)`, m.start + take));
    } else {
      fileSize = size;
      total += size;
      read.push(m);
    }
    if (segments.length < MAX_SEGMENTS) {
      segments.push({
        start: m.start,
        end: m.end,
        perms: m.perms,
        fileSize,
        path: m.path.replace(/ \(deleted\)$/, ""),
        offset: m.offset,
      });
    }
  }
  return { segments, skipped, read };
}

/**
 * Dump one process's memory into `memory/<pid>-<comm>.core` and its indicators into
 * `memory/<pid>.iocs.txt`. Expected failures (the process is gone, a mapping cannot be read)
 * come back in the record; a fatal one (disk full, interrupted) is thrown after the process
 * has been let go.
 */
export async function dumpProcessMemory(opts: MemoryDumpOptions): Promise<MemoryDumpRecord> {
  const startedAt = new Date();
  const record = emptyRecord(opts, startedAt);
  const pid = opts.pid;
  const finish = (error: string | null) => {
    record.error = error;
    record.endedAt = new Date().toISOString();
    if (error !== null) record.incompleteReason ??= error;
    return record;
  };
  if (pid === opts.selfPid) return finish("breachkit's own process: not dumped");
  const facts = await readFacts(pid);
  if (facts === null) return finish("the process is gone: no memory to dump");
  record.comm = facts.comm;
  const status = parseStatus(await readFile(`/proc/${pid}/status`, "utf8").catch(() => ""));
  let maps: Mapping[];
  try {
    maps = await readMaps(pid);
  } catch (e) {
    return finish(`its memory map cannot be read: ${errorMessage(e)}`);
  }
  if (maps.length === 0) return finish("no user memory (a kernel thread or a zombie)");

  const rel = `memory/${pid}-${safePathComponent(facts.comm || "unknown")}.core`;
  const h = await hold(opts, facts);
  record.held = h.kind;
  const heldAt = performance.now();
  let fatal: unknown = null;
  try {
    // Read the map again now that the process is still: it may have changed since.
    maps = await readMaps(pid).catch(() => maps);
    const tasks = await readTasks(pid);
    const auxv = await readAuxv(pid);
    const cmdline = await readFile(`/proc/${pid}/cmdline`).catch(() => Buffer.alloc(0));
    const plan = planSegments(maps, opts.maxBytes ?? DEFAULT_MEMORY_MAX);
    record.mappings = maps.length;
    record.skipped = plan.skipped;
    const layout = coreLayout(
      {
        machine: opts.machine,
        pid,
        ppid: facts.ppid,
        pgrp: facts.pgrp,
        sid: facts.sid,
        uid: status?.uid.real ?? 0,
        gid: status?.gid.real ?? 0,
        state: facts.state,
        comm: facts.comm,
        args: cmdline.toString("latin1").replace(/\0/g, " ").trim(),
        threads: tasks.length > 0 ? tasks : [{ tid: pid, sp: null, pc: null }],
        auxv,
        pageSize: opts.pageSize ?? 4096,
      },
      plan.segments,
    );
    const scanner = startIndicatorScan({
      ownAddresses: opts.ownAddresses ?? [],
      chunkSize: opts.chunkSize ?? CHUNK,
      ...(opts.scanWorker !== undefined ? { worker: opts.scanWorker } : {}),
    });
    let found: MemoryIndicators | null;
    let scanError: string | null = null;
    let entry: Awaited<ReturnType<BundleWriter["writeStream"]>>;
    try {
      entry = await opts.bundle.writeStream(
        rel,
        readCore(opts, layout.header, plan, record, scanner),
        { source: `/proc/${pid}/mem`, chunksHeld: true },
      );
      record.file = rel;
      record.sha256 = entry.sha256;
      record.size = entry.size;
      // A failed scan loses the leads, not the core file: said in the IOC file and the log.
      found = await scanner.result().catch((e: unknown) => {
        scanError = errorMessage(e);
        opts.bundle.log({
          step: "memory",
          action: `indicator scan of ${rel} (${scanner.where})`,
          result: "error",
          error: scanError,
        });
        return null;
      });
    } finally {
      await scanner.close();
    }
    record.indicators = {
      ips: found?.ips.length ?? 0,
      urls: found?.urls.length ?? 0,
      domains: found?.domains.length ?? 0,
    };
    const where = opts.containerName ? `container ${opts.containerName}` : "the host";
    const iocs = `memory/${pid}.iocs.txt`;
    const ioc = await opts.bundle.writeFile(
      iocs,
      indicatorsIocFile(found ?? { ips: [], urls: [], domains: [], truncated: false }, [
        `breachkit: indicators in the memory of pid ${pid} (${facts.comm.replace(/[^\x20-\x7e]/g, "?")}) on ${where.replace(/[^\x20-\x7e]/g, "?")}`,
        `core file: ${rel} sha256 ${entry.sha256}`,
        ...(scanError === null ? [] : [`${scanError}: no indicators listed`]),
      ]),
      { source: `indicators found in ${rel}` },
    );
    record.iocsFile = ioc.path;
    record.complete = record.incompleteReason === null;
  } catch (e) {
    fatal = e;
  } finally {
    await h.release();
    record.heldMs =
      h.kind === "cgroup-freezer" || h.kind === "sigstop"
        ? Math.round(performance.now() - heldAt)
        : null;
  }
  if (fatal !== null) {
    record.incompleteReason = errorMessage(fatal);
    finish(errorMessage(fatal));
    throw fatal;
  }
  return finish(null);
}

/**
 * The core file's bytes: its header, then each planned segment read from /proc/<pid>/mem.
 *
 * Chunks are read straight into the indicator scan's buffers (shared with its worker), so no
 * byte is copied: a slot, once read, is scanned by the worker while the main thread hashes
 * and writes it, and is read into again only when both are done with it (the writer is done
 * with a chunk once the next one has been taken: `chunksHeld` in writeStream). The next read
 * is started as soon as a slot is free, before the current chunk is handed on.
 */
async function* readCore(
  opts: MemoryDumpOptions,
  header: Buffer,
  plan: ReturnType<typeof planSegments>,
  record: MemoryDumpRecord,
  scanner: IndicatorScan,
): AsyncGenerator<Uint8Array> {
  yield header;
  const fh = await fs.open(`/proc/${opts.pid}/mem`, "r").catch((e: unknown) => e as Error);
  if (fh instanceof Error) {
    record.incompleteReason = `/proc/${opts.pid}/mem cannot be opened: ${errorMessage(fh)}`;
    return;
  }
  const slots = new SlotPool(scanner.buffers.length);
  interface Read {
    mi: number;
    pos: number;
    slot: number;
    n: number | NodeJS.ErrnoException;
  }
  /** Read the chunk at (mapping mi, pos) into the next free slot, or null past the end. */
  const issue = (mi: number, pos: number): Promise<Read> | null => {
    let i = mi;
    let p = pos;
    while (i < plan.read.length && p >= plan.read[i]!.end) {
      i++;
      p = plan.read[i]?.start ?? 0;
    }
    if (i >= plan.read.length) return null;
    const len = Math.min(scanner.buffers[0]!.length, plan.read[i]!.end - p);
    return slots.acquire().then((slot) =>
      fh.read(scanner.buffers[slot]!, 0, len, p).then(
        (r): Read => ({ mi: i, pos: p, slot, n: r.bytesRead }),
        (e: unknown): Read => ({ mi: i, pos: p, slot, n: e as NodeJS.ErrnoException }),
      ),
    );
  };
  /** The read in flight, awaited before the handle is closed whatever happens. */
  let inFlight: Promise<Read> | null = issue(0, plan.read[0]?.start ?? 0);
  try {
    let done = 0;
    let mi = -1;
    /** The slot last yielded: being written until the next chunk is taken. */
    let writing = -1;
    const handedOn = () => {
      if (writing >= 0) slots.release(writing);
      writing = -1;
    };
    while (inFlight) {
      const cur: Read = await inFlight;
      inFlight = null;
      const n = cur.n;
      if (opts.signal?.aborted) {
        slots.release(cur.slot);
        throw new Error(`interrupted: ${String(opts.signal.reason)}`);
      }
      const m = plan.read[cur.mi]!;
      if (cur.mi !== mi) {
        scanner.boundary();
        mi = cur.mi;
      }
      if (typeof n !== "number" || n === 0) {
        slots.release(cur.slot);
        if (n === 0 || n.code === "ESRCH" || !(await alive(opts.pid))) {
          record.incompleteReason = `the process exited during the dump, at ${hex(cur.pos)} (${done} bytes read): the core file ends there`;
          return;
        }
        // A range that cannot be read (EIO: a guard page, a mapping of a device): zeros.
        record.unreadable.push(range(m, `${n.code ?? errorMessage(n)}: zero-filled`, cur.pos));
        for (let p = cur.pos; p < m.end; p += CHUNK) {
          const z = ZEROS.subarray(0, Math.min(CHUNK, m.end - p));
          record.dumpedBytes += z.length;
          yield z;
          handedOn();
        }
        inFlight = issue(cur.mi + 1, plan.read[cur.mi + 1]?.start ?? 0);
        continue;
      }
      // Read ahead while this chunk is scanned, hashed and written.
      inFlight = issue(cur.mi, cur.pos + n);
      slots.share(cur.slot);
      void scanner.scan(cur.slot, n).then(() => slots.release(cur.slot));
      done += n;
      record.dumpedBytes += n;
      yield scanner.buffers[cur.slot]!.subarray(0, n);
      // The previous chunk's write is done now: its slot is free of the writer.
      handedOn();
      writing = cur.slot;
      opts.onProgress?.(done);
    }
  } finally {
    if (inFlight) await inFlight;
    await fh.close();
  }
}

/**
 * The scan's buffers, each free, being read into, or held by the writer and the scan (a
 * count of holders: the slot is free again when both have let it go).
 */
class SlotPool {
  private readonly holders: number[];
  private readonly free: number[];
  private readonly waiting: ((slot: number) => void)[] = [];

  constructor(n: number) {
    this.holders = new Array<number>(n).fill(0);
    this.free = Array.from({ length: n }, (_, i) => n - 1 - i);
  }

  /** A free slot (held once, by the reader), when there is one. */
  acquire(): Promise<number> {
    const slot = this.free.pop();
    if (slot !== undefined) {
      this.holders[slot] = 1;
      return Promise.resolve(slot);
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** One more holder: the reader's read slot goes to the writer and the scan. */
  share(slot: number): void {
    this.holders[slot]!++;
  }

  release(slot: number): void {
    if (--this.holders[slot]! > 0) return;
    const next = this.waiting.shift();
    if (next) {
      this.holders[slot] = 1;
      next(slot);
    } else {
      this.free.push(slot);
    }
  }
}

async function alive(pid: number): Promise<boolean> {
  const text = await readFile(`/proc/${pid}/stat`, "latin1").catch(() => null);
  if (text === null) return false;
  const state = text.slice(text.lastIndexOf(")") + 2, text.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

export interface DumpProcessesOptions {
  bundle: BundleWriter;
  /** The snapshot the pids were chosen from: each pid's container is taken from it. */
  snapshot: Snapshot;
  pids: readonly number[];
  maxBytes?: number;
  ownAddresses?: readonly string[];
  selfPid: number;
  signal?: AbortSignal;
  progress?: Progress;
}

/** The machine a core file is written for, or null where breachkit writes none. */
export function coreMachine(): CoreMachine | null {
  const a = arch();
  return a === "x64" || a === "arm64" ? a : null;
}

/**
 * Dump the memory of each pid in turn (most volatile first: before anything else is
 * collected), write memory/index.json, and return the records. A process that is gone or
 * cannot be read is a record with its reason; a fatal failure (disk full, interrupted) is
 * thrown once the process in hand has been let go.
 */
export async function dumpProcesses(opts: DumpProcessesOptions): Promise<MemoryDumpRecord[]> {
  const byPid = new Map(opts.snapshot.processes.map((p) => [p.pid, p]));
  const machine = coreMachine();
  const out: MemoryDumpRecord[] = [];
  for (const pid of [...new Set(opts.pids)]) {
    const p = byPid.get(pid);
    const t0 = performance.now();
    if (machine === null) {
      const r = emptyRecord(
        {
          bundle: opts.bundle,
          pid,
          containerId: p?.containerId ?? null,
          containerName: p?.containerName ?? null,
          selfPid: opts.selfPid,
          machine: "x64",
        },
        new Date(),
      );
      r.error = `core files are written for x86-64 and arm64 only, not ${arch()}`;
      r.incompleteReason = r.error;
      out.push(r);
      continue;
    }
    opts.progress?.update(`memory: pid ${pid} (${p?.comm ?? "?"})`);
    const r = await dumpProcessMemory({
      bundle: opts.bundle,
      pid,
      containerId: p?.containerId ?? null,
      containerName: p?.containerName ?? null,
      selfPid: opts.selfPid,
      machine,
      ...(opts.maxBytes !== undefined ? { maxBytes: opts.maxBytes } : {}),
      ...(opts.ownAddresses ? { ownAddresses: opts.ownAddresses } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      onProgress: (n) => opts.progress?.update(`memory: pid ${pid}: ${formatBytes(n)}`),
    });
    out.push(r);
    opts.bundle.log({
      step: "memory",
      action: `dump the memory of pid ${pid} to ${r.file ?? "(nothing written)"}`,
      result:
        r.file === null
          ? r.error?.includes("gone")
            ? "skipped"
            : "error"
          : r.complete
            ? "ok"
            : "partial",
      durationMs: Math.round(performance.now() - t0),
      ...(r.incompleteReason !== null ? { error: r.incompleteReason } : {}),
      details: {
        sha256: r.sha256,
        size: r.size,
        dumpedBytes: r.dumpedBytes,
        held: r.held,
        heldMs: r.heldMs,
        skipped: r.skipped.length,
        unreadable: r.unreadable.length,
      },
    });
  }
  opts.progress?.done();
  if (out.length > 0) {
    await opts.bundle.writeJson("memory/index.json", out, {
      source: "breachkit: the memory dumps, one record per process",
    });
  }
  return out;
}
