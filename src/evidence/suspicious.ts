/**
 * Which running executables must be preserved now: a dropper that deleted its file, or runs
 * from memory or a world-writable scratch directory, leaves its only copy behind
 * /proc/<pid>/exe, and that copy is gone the moment the process exits. This is a choice of
 * what to copy, not a verdict: the judge decides what is malicious.
 */
import type { Process, Snapshot } from "../model/snapshot.js";

export type SuspiciousReason = "deleted" | "memfd" | "scratch-dir";

/**
 * Why this process's executable is worth copying, or null when it is not. Scratch dirs are
 * the judge's staging dirs (rules/staging-dirs.json, given by the caller: evidence reads no rules itself): one list, so what triage calls
 * "runs from a temp dir" is always preserved.
 */
export function suspiciousReason(
  p: Process,
  stagingDirs: readonly string[],
): SuspiciousReason | null {
  if (p.kernelThread) return null;
  if (p.exe.memfd) return "memfd";
  if (p.exe.deleted) return "deleted";
  const path = p.exe.path;
  if (path !== null && stagingDirs.some((d) => path.startsWith(d))) return "scratch-dir";
  return null;
}

/** Pids whose executable is deleted, a memfd, or under a staging dir (/tmp, /dev/shm ...); sorted. */
export function suspiciousPids(snap: Snapshot, stagingDirs: readonly string[]): number[] {
  return snap.processes
    .filter((p) => suspiciousReason(p, stagingDirs) !== null)
    .map((p) => p.pid)
    .sort((a, b) => a - b);
}
