/**
 * Which running executables must be preserved now: a dropper that deleted its file, or runs
 * from memory or a world-writable scratch directory, leaves its only copy behind
 * /proc/<pid>/exe, and that copy is gone the moment the process exits. This is a choice of
 * what to copy, not a verdict: the judge decides what is malicious.
 */
import type { Process, Snapshot } from "../model/snapshot.js";

/** World-writable scratch directories where droppers land (paths as the process sees them). */
export const SCRATCH_DIRS = ["/tmp/", "/var/tmp/", "/dev/shm/"] as const;

export type SuspiciousReason = "deleted" | "memfd" | "scratch-dir";

/** Why this process's executable is worth copying, or null when it is not. */
export function suspiciousReason(p: Process): SuspiciousReason | null {
  if (p.kernelThread) return null;
  if (p.exe.memfd) return "memfd";
  if (p.exe.deleted) return "deleted";
  const path = p.exe.path;
  if (path !== null && SCRATCH_DIRS.some((d) => path.startsWith(d))) return "scratch-dir";
  return null;
}

/** Pids whose executable is deleted, a memfd, or under /tmp, /var/tmp or /dev/shm; sorted. */
export function suspiciousPids(snap: Snapshot): number[] {
  return snap.processes
    .filter((p) => suspiciousReason(p) !== null)
    .map((p) => p.pid)
    .sort((a, b) => a - b);
}
