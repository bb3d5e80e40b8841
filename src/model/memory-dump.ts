/**
 * One process's memory dump (`collect --memory`, and `contain` before it kills or stops): the
 * record collect and contain print and keep, beside the core file in the bundle.
 */
import { z } from "../util/zod.js";

export const MemoryRangeSchema = z.object({
  /** Hex addresses, "0x7f...". */
  start: z.string(),
  end: z.string(),
  path: z.string(),
  reason: z.string(),
});
export type MemoryRange = z.infer<typeof MemoryRangeSchema>;

export const MemoryDumpSchema = z.object({
  pid: z.number().int(),
  comm: z.string().nullable(),
  containerId: z.string().nullable(),
  containerName: z.string().nullable(),
  /** Bundle path of the ELF core file (memory/<pid>-<comm>.core), or null when none was written. */
  file: z.string().nullable(),
  sha256: z.string().nullable(),
  size: z.number().int().nullable(),
  /** Bundle path of the indicators found in it (memory/<pid>.iocs.txt, an IOC file of leads). */
  iocsFile: z.string().nullable(),
  indicators: z.object({
    ips: z.number().int(),
    urls: z.number().int(),
    domains: z.number().int(),
  }),
  /** How the process was held still while it was read. */
  held: z.enum(["cgroup-freezer", "sigstop", "already-stopped", "already-frozen", "not-held"]),
  heldMs: z.number().int().nullable(),
  mappings: z.number().int(),
  /** Bytes of memory in the core file. */
  dumpedBytes: z.number().int(),
  /** Mappings left out (over --memory-max, not readable, kernel pages). */
  skipped: z.array(MemoryRangeSchema),
  /** Ranges that could not be read while the process lived (zero-filled in the core). */
  unreadable: z.array(MemoryRangeSchema),
  complete: z.boolean(),
  incompleteReason: z.string().nullable(),
  /** What the core's registers hold (no ptrace: stack and instruction pointers only). */
  registers: z.string(),
  error: z.string().nullable(),
  startedAt: z.string(),
  endedAt: z.string(),
});
export type MemoryDumpRecord = z.infer<typeof MemoryDumpSchema>;
