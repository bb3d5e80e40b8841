/**
 * A fake procfs tree for tests: regular files and symlinks shaped like /proc/<pid>/*. Links
 * such as ns/net -> "net:[4026531992]" and fd/3 -> "socket:[123]" are dangling symlinks,
 * exactly what readlink returns on the real /proc.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const HOST_NS = { pid: 4026531836, net: 4026531833, mnt: 4026531832 };
export const CT_NS = { pid: 4026532181, net: 4026532182, mnt: 4026532178 };

export interface FakeProc {
  pid: number;
  stat?: string;
  status?: string;
  cmdline?: Buffer;
  cgroup?: string;
  exe?: string;
  cwd?: string;
  ns?: { pid: number; net: number; mnt: number };
  fds?: Record<string, string>;
  mountinfo?: string;
  net?: Record<string, string>;
}

/** A stat line: utime 150, stime 50 (2 s of CPU at 100 Hz), 3 threads, start 1000 ticks, 500 pages. */
export function fakeStat(
  pid: number,
  comm: string,
  o: { state?: string; flags?: number; ppid?: number; starttime?: number } = {},
): string {
  const { state = "S", flags = 4194560, ppid = 1, starttime = 1000 } = o;
  return `${pid} (${comm}) ${state} ${ppid} ${pid} ${pid} 0 -1 ${flags} 0 0 0 0 150 50 0 0 20 0 3 0 ${starttime} 1000000 500 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0\n`;
}

export function fakeStatus(name: string, uid = 0, rssKb: number | null = 2048): string {
  const rss = rssKb === null ? "" : `VmRSS:\t${rssKb} kB\n`;
  return `Name:\t${name}\nState:\tS (sleeping)\nPPid:\t1\nUid:\t${uid}\t${uid}\t${uid}\t${uid}\nGid:\t${uid}\t${uid}\t${uid}\t${uid}\n${rss}Threads:\t3\n`;
}

export function buildFakeProc(root: string, p: FakeProc): void {
  const base = join(root, String(p.pid));
  mkdirSync(base, { recursive: true });
  if (p.stat !== undefined) writeFileSync(join(base, "stat"), p.stat);
  if (p.status !== undefined) writeFileSync(join(base, "status"), p.status);
  writeFileSync(join(base, "cmdline"), p.cmdline ?? Buffer.alloc(0));
  writeFileSync(join(base, "cgroup"), p.cgroup ?? "0::/\n");
  if (p.mountinfo !== undefined) writeFileSync(join(base, "mountinfo"), p.mountinfo);
  if (p.exe !== undefined) symlinkSync(p.exe, join(base, "exe"));
  if (p.cwd !== undefined) symlinkSync(p.cwd, join(base, "cwd"));
  symlinkSync("/", join(base, "root"));
  mkdirSync(join(base, "ns"));
  const ns = p.ns ?? HOST_NS;
  for (const kind of ["pid", "net", "mnt"] as const) {
    symlinkSync(`${kind}:[${ns[kind]}]`, join(base, "ns", kind));
  }
  mkdirSync(join(base, "fd"));
  for (const [fd, target] of Object.entries(p.fds ?? {})) symlinkSync(target, join(base, "fd", fd));
  if (p.net !== undefined) {
    mkdirSync(join(base, "net"));
    for (const [name, text] of Object.entries(p.net)) writeFileSync(join(base, "net", name), text);
  }
}

/** A procfs sample recorded on this machine (test/fixtures/proc/real/). */
export const realProcSample = (name: string): string =>
  readFileSync(new URL(`../../../fixtures/proc/real/${name}`, import.meta.url), "utf8");

/**
 * The hostile processes both readers are tested on (pids 11-31): a zombie, a deleted
 * executable, a file literally named "x (deleted)", a container process running a binary of
 * its upper layer, one beside it from the image, a process that vanished (an empty
 * directory) and a truncated stat. Writes the executables they run into `bin` (and the
 * container's upper layer into `upper`); the caller adds its own processes and builds them.
 */
export function hostileProcs(bin: string, upper: string): FakeProc[] {
  mkdirSync(bin, { recursive: true });
  writeFileSync(join(bin, "daemon"), "#!/bin/false\nshared binary\n");
  writeFileSync(join(bin, "dropped"), "a dropped binary\n");
  writeFileSync(join(bin, "evil (deleted)"), "a file named to look deleted\n");
  // The container's writable layer holds `dropped` at the path the process sees.
  mkdirSync(join(upper, bin), { recursive: true });
  writeFileSync(join(upper, bin, "dropped"), "a dropped binary\n");
  const mountinfo = realProcSample("mountinfo-container").replace(
    /upperdir=[^,]+/,
    `upperdir=${upper.replaceAll(" ", "\\040")}`,
  );
  return [
    {
      pid: 11,
      stat: fakeStat(11, "defunct", { state: "Z" }),
      status: fakeStatus("defunct", 0, null),
    },
    {
      pid: 12,
      stat: fakeStat(12, "gone"),
      status: fakeStatus("gone"),
      exe: `${join(bin, "removed")} (deleted)`,
      cmdline: Buffer.from("gone\0"),
    },
    {
      pid: 13,
      stat: fakeStat(13, "evil"),
      status: fakeStatus("evil"),
      exe: join(bin, "evil (deleted)"),
    },
    {
      pid: 20,
      stat: fakeStat(20, "dropped"),
      status: fakeStatus("dropped"),
      cgroup: realProcSample("cgroup-v1-docker-cgroupfs"),
      exe: join(bin, "dropped"),
      ns: CT_NS,
      mountinfo,
      fds: { "5": "socket:[3003]" },
    },
    {
      pid: 21,
      stat: fakeStat(21, "daemon"),
      status: fakeStatus("daemon"),
      cgroup: realProcSample("cgroup-v1-docker-cgroupfs"),
      exe: join(bin, "daemon"),
      ns: CT_NS,
      mountinfo,
    },
    // Exited between the listing and the read: an empty directory.
    { pid: 30 },
    { pid: 31, stat: "31 (broken", status: fakeStatus("broken"), exe: join(bin, "daemon") },
  ];
}
