/**
 * What the scanners take and give back. Targets are explicit so that they run the same from
 * the CLI (built from a snapshot) and from tests (built by hand). A report says what the tool
 * said (`said`), parsed, and nothing more: severities and known false positives are decided
 * in judge/scanners.
 */
import type { PackagesSaid } from "../packages/scan.js";
import type { BusyboxIdentity, ChkrootkitItem } from "./chkrootkit.js";
import type { LynisReport } from "./lynis.js";
import type { RkhunterLog } from "./rkhunter.js";
import type { YaraHit } from "./yara.js";

/** In the order a scan runs them: packages first, so that ClamAV and YARA can skip what it verified. */
export const TOOL_NAMES = [
  "packages",
  "clamav",
  "rkhunter",
  "chkrootkit",
  "lynis",
  "yara",
] as const;
/** The tools a scan runs when none is named (YARA needs rules: only with --yara RULES). */
export const DEFAULT_TOOLS: readonly ToolName[] = [
  "packages",
  "clamav",
  "rkhunter",
  "chkrootkit",
  "lynis",
];
export type ToolName = (typeof TOOL_NAMES)[number];

/** The Debian package that provides each tool, for the "not installed" message. */
export const TOOL_PACKAGES: Record<ToolName, string> = {
  clamav: "clamav clamav-daemon",
  rkhunter: "rkhunter",
  chkrootkit: "chkrootkit",
  lynis: "lynis",
  packages: "(built in)",
  yara: "yara",
};

export type ScanTarget =
  | { kind: "host"; paths: string[] }
  /** `root` is how the host sees the container's filesystem: /proc/<pid>/root or an upper dir. */
  | {
      kind: "container";
      name: string;
      id: string;
      root: string;
      /** The container's init pid, when running: its mountinfo tells which mounts to skip. */
      pid: number | null;
      /** Paths inside the container to scan; default: the whole filesystem. */
      paths?: string[];
    }
  /** A running process's executable through /proc/<pid>/exe: also readable when deleted. */
  | {
      kind: "process";
      pid: number;
      /** The readlink text, e.g. "/tmp/wate (deleted)". */
      exe: string;
      containerId: string | null;
      containerName: string | null;
    };

/** Where a file lives, said the way an admin thinks of it. */
export interface Location {
  /** "host" or the container's name. */
  where: string;
  containerId: string | null;
  /** The path inside the container (or on the host). */
  path: string;
  /** The path the host opened (/proc/<pid>/root/..., /proc/<pid>/exe). */
  hostPath: string;
  pid: number | null;
}

export interface ClamavHit {
  location: Location;
  /** As clamd said it, e.g. "Eicar-Test-Signature.UNOFFICIAL". */
  signature: string;
  size: number;
  sha256: string | null;
  /** The file starts with "From " (an mbox), read only for hits. */
  looksLikeMbox: boolean;
}

export interface ChkrootkitSaid {
  tool: "chkrootkit";
  /** One per root it ran on, in order. */
  roots: {
    where: string;
    containerId: string | null;
    /** The bundle file its output is kept in (scans/chkrootkit/...). */
    outputFile: string;
    items: ChkrootkitItem[];
    /** The root's own busybox, when INFECTED checks were found in a container. */
    busybox?: BusyboxIdentity | null;
  }[];
}

/** What each tool said, parsed; the judge turns it into findings. */
export type ToolSaid =
  | { tool: "clamav"; hits: ClamavHit[] }
  | { tool: "rkhunter"; log: RkhunterLog; logFile: string }
  | ChkrootkitSaid
  | { tool: "lynis"; report: LynisReport; reportFile: string }
  | PackagesSaid
  | { tool: "yara"; hits: YaraHit[]; rules: string };

/** Something the scan could not do: recorded and shown, never a crash. */
export interface ScanGap {
  tool: ToolName;
  what: string;
  reason: string;
}

export interface ToolReport {
  tool: ToolName;
  status: "ok" | "missing" | "timeout" | "error" | "skipped";
  /** Human line about how it ran: "clamd (own, 4 threads)", "exit 1 in 121 s". */
  summary: string;
  /** Null when the tool did not run (missing, or failed before it said anything). */
  said: ToolSaid | null;
  gaps: ScanGap[];
  durationMs: number;
  /** Raw outputs kept as evidence: relative file name -> content. */
  raw: Record<string, string | Uint8Array>;
  /** Tool-specific parsed result, written as parsed.json. */
  parsed: unknown;
  /**
   * true when the parse is not the tool's whole answer: its output was cut at the bound
   * (parsed.truncated), or it timed out or stopped early. Absent means complete.
   */
  incomplete?: boolean;
  /**
   * Not asked for: the package check run only so that ClamAV and YARA can skip what it
   * verified. Listed after the asked tools; it does not count as a tool that ran to the end.
   */
  implicit?: boolean;
}
