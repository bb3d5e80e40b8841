/**
 * The few /proc reads the lab needs to find and identify its own trojan processes. Parsers are
 * pure; readers return null when a process is gone or unreadable (it may exit at any moment).
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { readdir, readFile, readlink } from "node:fs/promises";

/**
 * Fields of /proc/<pid>/stat after the command name. The name (field 2) is in parentheses and
 * may itself hold spaces and ")" (it is chosen by the process), so parsing starts after the
 * LAST ")".
 */
export function parseProcStat(
  text: string,
): { state: string; ppid: number; starttime: number } | null {
  const close = text.lastIndexOf(")");
  if (close < 0) return null;
  const rest = text
    .slice(close + 1)
    .trim()
    .split(/\s+/);
  // rest[0] is field 3 (state); field 22 (starttime, clock ticks since boot) is rest[19].
  const state = rest[0];
  const ppid = Number(rest[1]);
  const starttime = Number(rest[19]);
  if (!state || !/^[A-Za-z]$/.test(state)) return null;
  if (!Number.isSafeInteger(ppid) || !Number.isSafeInteger(starttime) || starttime < 0) return null;
  return { state, ppid, starttime };
}

/** Parses the loopback line of /proc/<pid>/net/dev into its rx/tx packet counters. */
export function parseLoopbackPackets(
  text: string,
): { rxPackets: number; txPackets: number } | null {
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0 || line.slice(0, colon).trim() !== "lo") continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/)
      .map(Number);
    // Receive: bytes packets errs drop fifo frame compressed multicast; transmit: bytes packets ...
    const rx = f[1];
    const tx = f[9];
    if (
      rx === undefined ||
      tx === undefined ||
      !Number.isSafeInteger(rx) ||
      !Number.isSafeInteger(tx)
    )
      return null;
    return { rxPackets: rx, txPackets: tx };
  }
  return null;
}

async function readSmall(path: string): Promise<string | null> {
  try {
    return (await readFile(path)).subarray(0, 64 * 1024).toString("utf8");
  } catch {
    return null;
  }
}

export async function procStat(pid: number) {
  const text = await readSmall(`/proc/${pid}/stat`);
  return text === null ? null : parseProcStat(text);
}

export async function procExeLink(pid: number): Promise<string | null> {
  try {
    return await readlink(`/proc/${pid}/exe`);
  } catch {
    return null;
  }
}

export async function procCgroup(pid: number): Promise<string | null> {
  return readSmall(`/proc/${pid}/cgroup`);
}

export async function procLoopbackPackets(pid: number) {
  const text = await readSmall(`/proc/${pid}/net/dev`);
  return text === null ? null : parseLoopbackPackets(text);
}

/** SHA-256 of a file (or of /proc/<pid>/exe, which still reads a deleted executable). */
export function sha256File(path: string): Promise<string | null> {
  return new Promise((resolve) => {
    const hash = createHash("sha256");
    const stream = createReadStream(path);
    stream.on("data", (chunk) => hash.update(chunk));
    stream.on("error", () => resolve(null));
    stream.on("end", () => resolve(hash.digest("hex")));
  });
}

export async function listPids(): Promise<number[]> {
  const names = await readdir("/proc");
  return names.filter((n) => /^\d+$/.test(n)).map(Number);
}

/** A process that is gone, or a zombie (it no longer runs; only its parent can clear it). */
export async function isGoneOrZombie(pid: number): Promise<boolean> {
  const stat = await procStat(pid);
  return stat === null || stat.state === "Z" || stat.state === "X";
}

/** Host pids of processes in the container (cgroup mentions its full id) whose exe matches. */
export async function findContainerProcesses(
  containerId: string,
  exeMatches: (link: string) => boolean,
): Promise<number[]> {
  const found: number[] = [];
  for (const pid of await listPids()) {
    const cgroup = await procCgroup(pid);
    if (cgroup === null || !cgroup.includes(containerId)) continue;
    const link = await procExeLink(pid);
    if (link !== null && exeMatches(link)) found.push(pid);
  }
  return found;
}
