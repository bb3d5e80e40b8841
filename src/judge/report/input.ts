/**
 * What `report` builds an incident from: the files of each bundle as read and validated
 * (cli/report-load.ts reads them; nothing here touches the disk), and watch recordings.
 */
import type { ContainReportSchema } from "../../model/contain-output.js";
import type { Finding } from "../../model/finding.js";
import type { Snapshot } from "../../model/snapshot.js";
import type { z } from "../../util/zod.js";

/** containment.json as contain writes it: the --json report without schemaVersion, bundle and seal. */
export type ContainReport = Omit<
  z.infer<typeof ContainReportSchema>,
  "schemaVersion" | "bundle" | "manifestSha256"
>;

export interface BundleVerification {
  verified: boolean;
  /** What is wrong when it does not verify, in a few words. */
  problem: string | null;
  seal: string | null;
  manifestSha256: string | null;
  files: number;
  bytes: number;
}

export interface BundleManifestFacts {
  command: string;
  host: string;
  startedAt: string;
  endedAt: string;
  complete: boolean;
  incompleteReason: string | null;
  files: { path: string; sha256: string; size: number; collectedAt: string; source: string }[];
}

export interface LogLine {
  /** 1-based line of collection.log.jsonl. */
  line: number;
  time: string;
  step: string;
  action: string;
  result: string;
  error: string | null;
  changedHost: boolean;
}

export interface ContainerChanges {
  place: string;
  containerId: string | null;
  /** Bundle-relative path of changes.json. */
  file: string;
  /** When the file was collected (docker diff has no times of its own). */
  collectedAt: string;
  changes: { path: string; kind: string; line: number | null }[];
}

export interface FindingsFile {
  /** Bundle-relative path (findings.json, scans/clamav/findings.json, audit.json ...). */
  file: string;
  findings: Finding[];
  /** audit: the hardening checks (audit.json); the rest judge the incident. */
  kind: "incident" | "audit";
}

/** Another command's --json saved in the bundle (update.json, backup.json ...), as read. */
export interface CommandOutput {
  file: string;
  command: string;
  data: unknown;
}

export interface BundleInput {
  /** The directory's name. */
  name: string;
  /** In a fleet case: the inventory's name of the host it came from. */
  fleetHost?: string;
  path: string;
  verification: BundleVerification;
  manifest: BundleManifestFacts | null;
  snapshot: Snapshot | null;
  /** pid -> 1-based line of its entry in snapshot.json's processes. */
  snapshotPidLines: ReadonlyMap<number, number>;
  findings: FindingsFile[];
  containment: ContainReport | null;
  log: LogLine[];
  changes: ContainerChanges[];
  outputs: CommandOutput[];
  /** What could not be read or used, in words. */
  gaps: string[];
}

/** One sample of `watch --record` (format agreed in the project notes). */
export interface WatchSample {
  time: string;
  intervalMs: number;
  rows: {
    place: string;
    containerId: string | null;
    cpuPercent: number;
    memoryBytes: number;
    processes: number;
    rxPacketsPerSec: number;
    txPacketsPerSec: number;
    rxBytesPerSec: number;
    txBytesPerSec: number;
    destinations: { address: string; port: number; count: number }[];
  }[];
  alarms: { rule: string; severity: string; place: string; text: string }[];
  /** 1-based line in the recording. */
  line: number;
}

export interface WatchInput {
  /** The file's name as given. */
  file: string;
  sha256: string;
  samples: WatchSample[];
  gaps: string[];
}

/** A fleet case's hosts as its case.json records them (report CASE_DIR). */
export interface FleetCaseInput {
  case: string;
  command: string;
  /** The executable's SHA-256 fleet computed (null in a case that does not record it). */
  exeSha256: string | null;
  hosts: {
    name: string;
    state: string;
    reason: string | null;
    /** The bundle's directory name, when the host has one (loaded as a BundleInput). */
    bundle: string | null;
    /** The ssh user, and what --keep-exe found on the host (null: not recorded). */
    user: string | null;
    keep: { found: string; foundSha256: string | null; setAside: string | null } | null;
  }[];
  /** What in the case could not be read or used, in words. */
  gaps: string[];
}
