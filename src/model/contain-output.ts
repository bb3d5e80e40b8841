/**
 * What `breachkit contain --json` prints: with --dry-run the plan and what matches; otherwise
 * the containment report (also containment.json in the bundle) with the bundle's path and seal.
 */
import { z } from "../util/zod.js";
import { MemoryDumpSchema } from "./memory-dump.js";
import { CONTAIN_SCHEMA_VERSION } from "./schema-version.js";

export { CONTAIN_SCHEMA_VERSION };

export const ContainModeSchema = z.enum(["pause", "isolate", "stop", "kill"]);

export const MatchedProcessSchema = z.object({
  pid: z.number().int(),
  ppid: z.number().int(),
  startTime: z.string(),
  /** "host" or the container's name. */
  where: z.string(),
  containerId: z.string().nullable(),
  user: z.string(),
  uid: z.number().int(),
  state: z.string(),
  comm: z.string(),
  commandLine: z.string(),
  exePath: z.string().nullable(),
  deleted: z.boolean(),
  sha256: z.string().nullable(),
  /** Which indicator matched it, in words. */
  matchedBy: z.array(z.string()),
  /**
   * Where its executable lives, in words ("a deleted file /tmp/x in the container's writable
   * layer", "/bin/busybox, the image's own file"): weighed with the indicator.
   */
  runsFrom: z.string(),
});

const TargetSchema = z.object({
  id: z.string(),
  name: z.string(),
  image: z.string(),
  state: z.string(),
  pid: z.number().int().nullable(),
  networkMode: z.string(),
  networks: z.array(z.string()),
  restartPolicy: z.string(),
});

const PlanSchema = z.object({
  mode: ContainModeSchema,
  target: TargetSchema,
  steps: z.array(
    z.object({
      kind: z.string(),
      description: z.string(),
      command: z.string(),
      undo: z.string().nullable(),
      network: z.string().optional(),
      pid: z.number().int().optional(),
      restartPolicy: z.object({ from: z.string(), to: z.literal("no") }).optional(),
    }),
  ),
  killPids: z.array(z.number().int()),
  notes: z.array(z.string()),
});

const TrafficSummarySchema = z.object({
  /** Over the snapshot's interval; null when not measured. */
  intervalSeconds: z.number().nullable(),
  txPacketsPerSec: z.number().nullable(),
  /** Sent on interfaces other than lo: what can leave the container. */
  txPacketsPerSecOffLoopback: z.number().nullable(),
  rxPacketsPerSec: z.number().nullable(),
  interfaces: z.array(z.object({ name: z.string(), txPackets: z.number(), rxPackets: z.number() })),
  note: z.string().nullable(),
});

const ActionSchema = z.object({
  kind: z.string(),
  description: z.string(),
  command: z.string(),
  undo: z.string().nullable(),
  startedAt: z.string(),
  endedAt: z.string(),
  ok: z.boolean(),
  error: z.string().nullable(),
  pid: z.number().int().optional(),
  network: z.string().optional(),
});

/** The dry run: the plan and the matching processes; nothing was changed. */
export const ContainDryRunSchema = z.object({
  schemaVersion: z.literal(CONTAIN_SCHEMA_VERSION),
  dryRun: z.literal(true),
  takenAt: z.string(),
  plan: PlanSchema,
  indicators: z.array(z.string()),
  notes: z.array(z.string()),
  matches: z.array(MatchedProcessSchema),
  /**
   * Processes that share an indicator's hash or name but run a program's own shipped file
   * (the image's busybox): a program, not the intrusion; never killed, not counted.
   */
  spared: z.array(MatchedProcessSchema),
  /** Processes whose memory is dumped before acting (kill and stop modes; none with --no-memory). */
  memoryPids: z.array(z.number().int()),
});

export const ContainReportSchema = z.object({
  schemaVersion: z.literal(CONTAIN_SCHEMA_VERSION),
  /** The evidence bundle made before acting, and the SHA-256 of its manifest. */
  bundle: z.string(),
  manifestSha256: z.string(),
  format: z.literal("breachkit-containment"),
  formatVersion: z.literal(1),
  tool: z.object({ name: z.string(), version: z.string() }),
  host: z.string(),
  mode: ContainModeSchema,
  startedAt: z.string(),
  endedAt: z.string(),
  target: TargetSchema.extend({
    stateAfter: z.string().nullable(),
    networksAfter: z.array(z.string()),
    restartPolicyAfter: z.string().nullable(),
  }),
  indicators: z.array(z.string()),
  notes: z.array(z.string()),
  evidence: z.object({
    complete: z.boolean(),
    incompleteReason: z.string().nullable(),
    files: z.number().int(),
    bytes: z.number().int(),
  }),
  before: z.object({
    takenAt: z.string(),
    matches: z.array(MatchedProcessSchema),
    spared: z.array(MatchedProcessSchema),
  }),
  after: z.object({
    takenAt: z.string(),
    matches: z.array(MatchedProcessSchema),
    spared: z.array(MatchedProcessSchema),
    freezer: z.string().nullable(),
  }),
  /**
   * The memory dumps made before acting (kill and stop modes). A containment.json written
   * before breachkit dumped memory has none: read as an empty list.
   */
  memory: z.array(MemoryDumpSchema).default([]),
  actions: z.array(ActionSchema),
  undo: z.array(z.string()),
  verdict: z.enum(["CONTAINED", "NOT CONTAINED"]),
  contained: z.boolean(),
  reasons: z.array(z.string()),
  problems: z.array(z.string()),
  stillRunning: z.array(MatchedProcessSchema),
  appeared: z.array(MatchedProcessSchema),
  /** Traffic of the target before and after, over the sampling interval. */
  traffic: z.object({ before: TrafficSummarySchema, after: TrafficSummarySchema }),
  next: z.array(z.string()),
});

export const ContainOutputSchema = z.union([ContainDryRunSchema, ContainReportSchema]);
export type ContainOutput = z.infer<typeof ContainOutputSchema>;
