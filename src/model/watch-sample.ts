/**
 * What `breachkit watch --json` prints, one line per tick, and what `watch --record FILE`
 * keeps (NDJSON, read by `report`): the per-place rates of one interval and the alarms raised
 * in it. The field names are agreed with report (COMMON "Interfaces"): add, never rename.
 *
 * Beside the zod model, the plain types the three layers of watch pass each other: what
 * observe read at one tick (`WatchReading`), and what a process looked like when first seen.
 */
import { z } from "../util/zod.js";
import { WATCH_SCHEMA_VERSION } from "./schema-version.js";

export { WATCH_SCHEMA_VERSION };

export const WatchDestinationSchema = z.object({
  address: z.string(),
  port: z.number().int(),
  /** Sockets (or conntrack flows) towards it at this tick. */
  count: z.number().int().nonnegative(),
});
export type WatchDestination = z.infer<typeof WatchDestinationSchema>;

export const WatchRowSchema = z.object({
  /** "host" (everything outside containers), or the container's name (its short id when the engine did not say). */
  place: z.string(),
  containerId: z.string().nullable(),
  /** Percent of one core over the interval (cgroup CPU time). */
  cpuPercent: z.number().nonnegative(),
  /** The cgroup's memory use (v1 memory.usage_in_bytes, v2 memory.current). */
  memoryBytes: z.number().nonnegative(),
  /** Processes (thread-group leaders) seen in /proc. */
  processes: z.number().int().nonnegative(),
  /** Tasks (threads included) the pids controller counts; null when it is not there. */
  tasks: z.number().int().nonnegative().nullable().optional(),
  rxPacketsPerSec: z.number().nonnegative(),
  txPacketsPerSec: z.number().nonnegative(),
  rxBytesPerSec: z.number().nonnegative(),
  txBytesPerSec: z.number().nonnegative(),
  /** Top remote endpoints, most sockets first (at most 5). */
  destinations: z.array(WatchDestinationSchema),
  /**
   * Where its traffic figures come from: "own" (its own network namespace), "host" (it uses
   * the host's: counted in the host row), "shared" (another container's, counted there), or
   * "none" (not readable).
   */
  network: z.enum(["own", "host", "shared", "none"]).optional(),
});
export type WatchRow = z.infer<typeof WatchRowSchema>;

export const WatchAlarmSchema = z.object({
  /** watch.flood, watch.fan-out, watch.new-listener, or a triage rule id (process.deleted-exe ...). */
  rule: z.string(),
  severity: z.enum(["info", "low", "medium", "high", "critical"]),
  place: z.string(),
  text: z.string(),
});
export type WatchAlarm = z.infer<typeof WatchAlarmSchema>;

export const WatchSampleSchema = z.object({
  schemaVersion: z.literal(WATCH_SCHEMA_VERSION),
  /** End of the interval, ISO 8601 UTC. */
  time: z.string(),
  /** The interval the rates are over, in ms (measured, not the one asked for). */
  intervalMs: z.number().nonnegative(),
  rows: z.array(WatchRowSchema),
  alarms: z.array(WatchAlarmSchema),
  /** Set when the Docker engine does not answer: names may be stale, readings go on. */
  engineError: z.string().nullable().optional(),
});
export type WatchSample = z.infer<typeof WatchSampleSchema>;

// ---- what observe hands judge (plain types, not part of the output) ----

/** A process as watch first saw it (its exe re-read once, on the next tick). */
export interface WatchProcess {
  pid: number;
  ppid: number;
  comm: string;
  /** Clock ticks after boot (pid reuse shows as another start time). */
  starttime: number;
  containerId: string | null;
  /** /proc/<pid>/exe without " (deleted)"; null when unreadable (kernel thread, permission). */
  exePath: string | null;
  deleted: boolean;
  memfd: boolean;
}

/** One process of a drilled-in container, read at this tick. */
export interface WatchProcessDetail {
  pid: number;
  ppid: number;
  comm: string;
  exePath: string | null;
  deleted: boolean;
  memfd: boolean;
  /** User + system clock ticks. */
  cpuTicks: number;
  rssBytes: number;
  /** Remote endpoints of its connected sockets. */
  destinations: WatchDestination[];
  /** Its listening sockets, as "proto addr:port". */
  listening: string[];
  sockets: number;
}

export interface WatchCounters {
  rxPackets: number;
  txPackets: number;
  rxBytes: number;
  txBytes: number;
}

/** One place (the host or a container) at one tick: counters, not rates. */
export interface WatchPlaceReading {
  containerId: string | null;
  name: string;
  /** CPU time in ns (cgroup cpuacct.usage, or cpu.stat usage_usec x 1000); null: unreadable. */
  cpuNs: number | null;
  memoryBytes: number | null;
  tasks: number | null;
  processes: number;
  network: "own" | "host" | "shared" | "none";
  /** Counters of its network namespace; null when not its own or unreadable. */
  counters: WatchCounters | null;
  destinations: WatchDestination[];
  /** Listening sockets of its namespace, "tcp 0.0.0.0:22"; null when not read this tick. */
  listeners: string[] | null;
  /** The remote port its sockets reach the most distinct addresses on (fan-out), if any. */
  busiestPort: { port: number; addresses: number } | null;
}

export interface WatchReading {
  /** ms since the epoch, and a monotonic clock in ms for the rates. */
  atMs: number;
  monoMs: number;
  places: WatchPlaceReading[];
  /** Processes that appeared (or exec'd another file) since the previous tick. */
  newProcesses: WatchProcess[];
  /** The known parents' chain of the new processes (for the triage rules' runtime check). */
  ancestors: WatchProcess[];
  /** The Docker engine's error, when it did not answer this tick (null: fine, or not asked). */
  engineError: string | null;
  /** Gaps met this tick (permission denied ...), bounded. */
  gaps: string[];
  first: boolean;
}
