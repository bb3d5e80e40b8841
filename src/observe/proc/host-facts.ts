/**
 * Host facts from procfs: hostname, kernel release, boot time, CPUs, memory, clock ticks.
 */
import { readFileSync } from "node:fs";
import type { z } from "zod";
import type { Gap, HostSchema } from "../../model/snapshot.js";
import { errorMessage } from "../../util/result.js";

/** The facts procfs can give; the caller adds `root` and `live`. */
export type HostFacts = Omit<z.infer<typeof HostSchema>, "root" | "live">;

/** The USER_HZ every Linux architecture in use exports (x86, arm, arm64, riscv, s390, ppc). */
export const DEFAULT_CLOCK_TICKS = 100;

/** /proc/uptime: seconds since boot, and idle seconds summed over CPUs. */
export function parseProcUptime(text: string): { uptime: number; idle: number } | null {
  const m = /^\s*(\d+(?:\.\d+)?)\s+(\d+(?:\.\d+)?)\s*$/.exec(text);
  if (m?.[1] === undefined || m[2] === undefined) return null;
  return { uptime: Number(m[1]), idle: Number(m[2]) };
}

/** The `btime` line of /proc/stat (boot time, seconds since the epoch) in milliseconds. */
export function parseBootTimeMs(procStat: string): number | null {
  const m = /^btime\s+(\d+)\s*$/m.exec(procStat);
  return m?.[1] === undefined ? null : Number(m[1]) * 1000;
}

/** Online CPUs: the `cpuN` lines of /proc/stat. */
export function parseCpuCount(procStat: string): number | null {
  const n = procStat.match(/^cpu\d+\s/gm)?.length ?? 0;
  return n > 0 ? n : null;
}

/** MemTotal of /proc/meminfo in bytes. */
export function parseMemTotalBytes(meminfo: string): number | null {
  const m = /^MemTotal:\s+(\d+)\s+kB\s*$/m.exec(meminfo);
  return m?.[1] === undefined ? null : Number(m[1]) * 1024;
}

const AT_CLKTCK = 17;

/**
 * The AT_CLKTCK entry of an auxiliary vector (/proc/<pid>/auxv): pairs of machine words
 * (type, value), little-endian on the machines this runs on, ended by AT_NULL. This is the
 * value glibc's sysconf(_SC_CLK_TCK) returns, read without spawning `getconf`.
 */
export function parseAuxvClockTicks(bytes: Uint8Array, wordSize: 4 | 8 = 8): number | null {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const word = (off: number): number =>
    wordSize === 8 ? Number(view.getBigUint64(off, true)) : view.getUint32(off, true);
  for (let off = 0; off + 2 * wordSize <= bytes.byteLength; off += 2 * wordSize) {
    const type = word(off);
    if (type === 0) break;
    if (type === AT_CLKTCK) {
      const v = word(off + wordSize);
      return v >= 1 && v <= 100_000 ? v : null;
    }
  }
  return null;
}

function wordSizeOfArch(): 4 | 8 {
  return ["ia32", "arm", "mips", "mipsel", "ppc"].includes(process.arch) ? 4 : 8;
}

// Synchronous on purpose: five small procfs files take well under a millisecond, and the
// snapshot reads /proc on this thread right after; a round trip through the thread pool
// (behind the engine's socket and the accounts' reads) cost it about 15 ms.
function readText(path: string, gaps: Gap[]): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch (e) {
    gaps.push({ source: path, message: errorMessage(e) });
    return null;
  }
}

/** Clock ticks per second from our own auxv; DEFAULT_CLOCK_TICKS when it cannot be read. */
export async function readClockTicks(procRoot = "/proc"): Promise<number> {
  return readClockTicksSync(procRoot);
}

function readClockTicksSync(procRoot: string): number {
  try {
    const auxv = readFileSync(`${procRoot}/self/auxv`);
    return parseAuxvClockTicks(auxv, wordSizeOfArch()) ?? DEFAULT_CLOCK_TICKS;
  } catch {
    return DEFAULT_CLOCK_TICKS;
  }
}

/**
 * Read the host facts. `bootTimeMs` (null when /proc/stat has no btime) is what
 * readProcesses needs to turn start ticks into absolute times.
 */
export async function readHostFacts(
  procRoot = "/proc",
): Promise<{ host: HostFacts; bootTimeMs: number | null; gaps: Gap[] }> {
  const gaps: Gap[] = [];
  const hostname = readText(`${procRoot}/sys/kernel/hostname`, gaps);
  const kernel = readText(`${procRoot}/sys/kernel/osrelease`, gaps);
  const stat = readText(`${procRoot}/stat`, gaps);
  const meminfo = readText(`${procRoot}/meminfo`, gaps);
  const clockTicks = readClockTicksSync(procRoot);
  const bootTimeMs = stat === null ? null : parseBootTimeMs(stat);
  return {
    host: {
      hostname: hostname?.trim() ?? "",
      kernel: kernel?.trim() ?? "",
      bootTime: bootTimeMs === null ? null : new Date(bootTimeMs).toISOString(),
      cpus: (stat === null ? null : parseCpuCount(stat)) ?? 1,
      memTotalBytes: meminfo === null ? null : parseMemTotalBytes(meminfo),
      clockTicks,
    },
    bootTimeMs,
    gaps,
  };
}
