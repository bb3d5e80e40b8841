/**
 * The incident as `breachkit report` tells it: one model built from one or more bundles (and
 * watch recordings), rendered as HTML, Markdown, a timeline, a statement and an incident record.
 * The incident record (record.json) and `report --json` are versioned zod models; the rest are
 * the types the renderers take.
 *
 * Strings from the host (process names, log lines, labels, file names) are stored as read:
 * every renderer neutralises them (tell/report/text.ts).
 */
import { z } from "../util/zod.js";
import { FindingSchema, SeveritySchema } from "./finding.js";
import { REPORT_SCHEMA_VERSION } from "./schema-version.js";

export { REPORT_SCHEMA_VERSION };

/** What a place is, in the verdict: a direct sign of compromise, or a weakness only. */
export const PlaceStateSchema = z.enum(["compromised", "at-risk", "suspicious"]);
export type PlaceState = z.infer<typeof PlaceStateSchema>;

export const BundleSummarySchema = z.object({
  /** The bundle directory's name (timeline events cite it). */
  name: z.string(),
  path: z.string(),
  /** The command that made it, by its first word: triage, contain, collect, scan, audit ... */
  kind: z.string(),
  command: z.string(),
  host: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  complete: z.boolean(),
  incompleteReason: z.string().nullable(),
  /** What the SEAL file says; null when missing. */
  seal: z.string().nullable(),
  /** SHA-256 of manifest.json as found now. */
  manifestSha256: z.string().nullable(),
  /** breachkit verify passed: every file, the manifest and the SEAL match. */
  verified: z.boolean(),
  /** What is wrong when it does not verify (its content is used, marked, never silently). */
  problem: z.string().nullable(),
  files: z.number().int().nonnegative(),
  bytes: z.number().nonnegative(),
});
export type BundleSummary = z.infer<typeof BundleSummarySchema>;

export const TIMELINE_SOURCES = [
  "process",
  "login",
  "account",
  "container",
  "filesystem",
  "log",
  "scanner",
  "finding",
  "breachkit",
  "watch",
] as const;
export const TimelineSourceSchema = z.enum(TIMELINE_SOURCES);
export type TimelineSource = z.infer<typeof TimelineSourceSchema>;

export const TimelineEventSchema = z.object({
  /** ISO 8601 UTC. */
  time: z.string(),
  message: z.string(),
  /** What the time means (Timesketch's timestamp_desc): "Process started", "Log line" ... */
  timestampDesc: z.string(),
  source: TimelineSourceSchema,
  severity: SeveritySchema,
  /** "host" or a container's name. */
  place: z.string(),
  pid: z.number().int().nullable(),
  sha256: z.string().nullable(),
  /** The bundle it comes from (its directory name), the file in it and the 1-based line. */
  bundle: z.string(),
  file: z.string().nullable(),
  line: z.number().int().nullable(),
});
export type TimelineEvent = z.infer<typeof TimelineEventSchema>;

export const TrafficPointSchema = z.object({
  time: z.string(),
  place: z.string(),
  txPacketsPerSec: z.number(),
  rxPacketsPerSec: z.number(),
  /** triage (a snapshot's sample), contain-before, contain-after, watch. */
  origin: z.string(),
});
export type TrafficPoint = z.infer<typeof TrafficPointSchema>;

export const DestinationSchema = z.object({
  address: z.string(),
  port: z.number().int(),
  proto: z.string(),
  place: z.string(),
  /** Sockets or watch counts seen for it. */
  count: z.number().int(),
});

export const PlaceVerdictSchema = z.object({
  where: z.string(),
  containerId: z.string().nullable(),
  state: PlaceStateSchema,
  worst: SeveritySchema,
  /** Why, in a few words (the rules that decided it). */
  because: z.array(z.string()),
});

export const ResponsibleSchema = z.object({
  place: z.string(),
  pid: z.number().int().nullable(),
  name: z.string(),
  path: z.string().nullable(),
  sha256: z.string().nullable(),
  startTime: z.string().nullable(),
});

export const ContainmentSummarySchema = z.object({
  bundle: z.string(),
  target: z.string(),
  mode: z.string(),
  verdict: z.string(),
  contained: z.boolean(),
  startedAt: z.string(),
  endedAt: z.string(),
  reasons: z.array(z.string()),
  problems: z.array(z.string()),
  actions: z.array(
    z.object({
      kind: z.string(),
      description: z.string(),
      command: z.string(),
      startedAt: z.string(),
      ok: z.boolean(),
      undo: z.string().nullable(),
    }),
  ),
  /** The matching processes before and after: the proof. */
  before: z.array(ResponsibleSchema),
  after: z.array(ResponsibleSchema),
  stillRunning: z.array(ResponsibleSchema),
  trafficBefore: z.number().nullable(),
  trafficAfter: z.number().nullable(),
  stateAfter: z.string().nullable(),
});
export type ContainmentSummary = z.infer<typeof ContainmentSummarySchema>;

export const ReportFindingSchema = FindingSchema.extend({ bundle: z.string() });
export type ReportFinding = z.infer<typeof ReportFindingSchema>;

/**
 * A fleet case (`report CASE_DIR`, the directory `breachkit fleet --out` made): every host of
 * its case.json with the state fleet recorded there (case.json is not sealed: the states are
 * as written), its bundle and whether that bundle verified here, its findings.
 */
export const FleetSectionSchema = z.object({
  /** The case directory as given. */
  case: z.string(),
  command: z.string(),
  hosts: z.array(
    z.object({
      /** The inventory's name; its findings' places are "NAME / place". */
      name: z.string(),
      state: z.string(),
      reason: z.string().nullable(),
      /** The bundle's directory name; null when the host gave none. */
      bundle: z.string().nullable(),
      /** null: no bundle. */
      verified: z.boolean().nullable(),
      findings: z.number().int().nonnegative(),
      worst: SeveritySchema.nullable(),
    }),
  ),
});
export type FleetSection = z.infer<typeof FleetSectionSchema>;

/** A fleet host's place ("ok1 / host", "ok1 / web") as [host, place]; null: not a fleet place. */
export function splitFleetPlace(where: string): [string, string] | null {
  const i = where.indexOf(" / ");
  return i > 0 ? [where.slice(0, i), where.slice(i + 3)] : null;
}

export const IncidentSchema = z.object({
  generatedAt: z.string(),
  tool: z.object({ name: z.string(), version: z.string() }),
  hosts: z.array(z.string()),
  bundles: z.array(BundleSummarySchema),
  /** Every bundle verified. */
  verified: z.boolean(),
  verdict: z.object({
    level: z.enum(["compromised", "at-risk", "suspicious", "clean"]),
    headline: z.string(),
    places: z.array(PlaceVerdictSchema),
  }),
  summary: z.object({
    /** The entry point, when a finding names one (an exploit request in a log). */
    entryPoint: z
      .object({
        text: z.string(),
        place: z.string(),
        file: z.string().nullable(),
        line: z.number().nullable(),
        time: z.string().nullable(),
        rule: z.string(),
      })
      .nullable(),
    responsible: z.array(ResponsibleSchema),
    spread: z.object({ spread: z.boolean(), places: z.array(z.string()), text: z.string() }),
    /** When the first containment that acted ended; null when none. */
    containedAt: z.string().nullable(),
    contained: z.boolean().nullable(),
    first: z.string().nullable(),
    last: z.string().nullable(),
  }),
  findings: z.array(ReportFindingSchema),
  containment: z.array(ContainmentSummarySchema),
  traffic: z.object({
    points: z.array(TrafficPointSchema),
    peak: TrafficPointSchema.nullable(),
    /** First and last time a place responsible sent at a flood's rate. */
    attackFirstSeen: z.string().nullable(),
    attackLastSeen: z.string().nullable(),
    destinations: z.array(DestinationSchema),
  }),
  accounts: z.object({
    findings: z.array(ReportFindingSchema),
    logins: z.array(
      z.object({
        place: z.string(),
        user: z.string(),
        from: z.string(),
        time: z.string(),
        source: z.string(),
      }),
    ),
  }),
  /** Audit findings (audit.json), with facts.fix, facts.cis, facts.cost. */
  audit: z.array(ReportFindingSchema),
  /** What was fixed or prevents a repeat: from audit, update and backup bundles when present. */
  prevention: z.array(z.string()),
  timeline: z.array(TimelineEventSchema),
  /** What could not be read or used, in words. */
  gaps: z.array(z.string()),
  /** The hosts of a fleet case; null when the bundles were given one by one. */
  fleet: FleetSectionSchema.nullable(),
});
export type Incident = z.infer<typeof IncidentSchema>;

/** The incident record (record.json): the sections NIST SP 800-61 asks a record to keep. */
export const IncidentRecordSchema = z.object({
  schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
  format: z.literal("breachkit-incident-record"),
  generatedAt: z.string(),
  status: z.object({
    state: z.enum(["open: not contained", "contained", "open: not acted on", "no incident found"]),
    verdict: z.string(),
    verified: z.boolean(),
  }),
  summary: z.string(),
  indicators: z.array(z.object({ kind: z.string(), value: z.string(), where: z.string() })),
  actions: z.array(
    z.object({ time: z.string(), who: z.string(), what: z.string(), result: z.string() }),
  ),
  chainOfCustody: z.array(
    z.object({
      bundle: z.string(),
      seal: z.string().nullable(),
      manifestSha256: z.string().nullable(),
      collectedFrom: z.string(),
      startedAt: z.string(),
      endedAt: z.string(),
      command: z.string(),
      verified: z.boolean(),
      problem: z.string().nullable(),
    }),
  ),
  impact: z.array(z.string()),
  evidence: z.array(z.object({ bundle: z.string(), files: z.number(), bytes: z.number() })),
  nextSteps: z.array(z.string()),
});
export type IncidentRecord = z.infer<typeof IncidentRecordSchema>;

export const REPORT_FORMATS = ["html", "md", "timeline", "statement", "record"] as const;
export type ReportFormat = (typeof REPORT_FORMATS)[number];

/** What `breachkit report --json` prints. */
export const ReportOutputSchema = z.object({
  schemaVersion: z.literal(REPORT_SCHEMA_VERSION),
  outDir: z.string(),
  files: z.array(z.object({ format: z.string(), path: z.string(), bytes: z.number() })),
  verdict: z.string(),
  level: z.enum(["compromised", "at-risk", "suspicious", "clean"]),
  bundles: z.array(BundleSummarySchema),
  verified: z.boolean(),
  events: z.number().int(),
  gaps: z.array(z.string()),
  durationMs: z.number(),
  /** The hosts of a fleet case (report CASE_DIR); null otherwise. */
  fleet: FleetSectionSchema.nullable(),
});
export type ReportOutput = z.infer<typeof ReportOutputSchema>;

const SCANNER_SOURCES = new Set(["clamav", "rkhunter", "chkrootkit", "lynis", "yara", "scan"]);

/** The timeline source a finding is filed under: a log hit, a scanner hit or a finding. */
export function findingSource(f: { rule: string; source: string }): TimelineSource {
  if (f.rule.startsWith("hunt.") || f.rule === "ioc.log") return "log";
  return SCANNER_SOURCES.has(f.source) ? "scanner" : "finding";
}
