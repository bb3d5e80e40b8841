/**
 * The cgroup files watch reads for a container's CPU, memory and tasks, on cgroup v1 (one
 * hierarchy per controller: cpuacct, memory, pids), v2 (one unified hierarchy) and hybrid
 * hosts. Where each hierarchy is mounted comes from /proc/self/mountinfo, read once; which
 * cgroup a container is in comes from /proc/<pid>/cgroup of one of its processes (the same
 * text cgroup.ts reads the container id from).
 */

export interface CgroupMounts {
  /** v1 controller name (cpuacct, memory, pids ...) to its mount point. */
  v1: Map<string, string>;
  /** The cgroup2 mount point, or null. */
  v2: string | null;
}

/** Where to read one figure, and how. */
export interface CgroupFile {
  path: string;
  kind: "cpuacct.usage" | "cpu.stat" | "bytes" | "count";
}

export interface CgroupFiles {
  cpu: CgroupFile | null;
  memory: CgroupFile | null;
  tasks: CgroupFile | null;
}

/** Undo mountinfo's octal escapes (\040 for a space). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8)));
}

/**
 * The cgroup hierarchies mounted, from /proc/self/mountinfo: `id parent maj:min root
 * mountpoint opts [optional...] - fstype source superopts`. A mount whose root is not "/"
 * (a bind of a sub-cgroup, as inside a container) does not show the whole tree: skipped.
 */
export function parseCgroupMounts(mountinfo: string): CgroupMounts {
  const v1 = new Map<string, string>();
  let v2: string | null = null;
  for (const line of mountinfo.split("\n")) {
    const dash = line.indexOf(" - ");
    if (dash < 0) continue;
    const pre = line.slice(0, dash).split(" ");
    const post = line.slice(dash + 3).split(" ");
    const root = pre[3];
    const mountPoint = pre[4];
    const fstype = post[0];
    if (root !== "/" || mountPoint === undefined) continue;
    const mp = unescapeMount(mountPoint);
    if (fstype === "cgroup2") {
      v2 ??= mp;
    } else if (fstype === "cgroup") {
      for (const opt of (post[2] ?? "").split(",")) {
        if (["cpuacct", "memory", "pids", "cpu"].includes(opt) && !v1.has(opt)) v1.set(opt, mp);
      }
    }
  }
  return { v1, v2 };
}

/**
 * The cgroup path per v1 controller, and the v2 path ("" key), from /proc/<pid>/cgroup
 * (`hierarchy-id:controllers:path`; `0::path` is v2; the path may itself hold colons).
 */
export function cgroupPaths(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split("\n")) {
    const first = line.indexOf(":");
    const second = first < 0 ? -1 : line.indexOf(":", first + 1);
    if (second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (!path.startsWith("/") || path.split("/").includes("..")) continue;
    if (controllers === "") {
      if (line.slice(0, first) === "0") out.set("", path);
      continue;
    }
    for (const c of controllers.split(",")) if (!out.has(c)) out.set(c, path);
  }
  return out;
}

function join(mount: string, path: string, file: string): string {
  return `${mount}${path === "/" ? "" : path}/${file}`;
}

/** The files to read for a cgroup text, v1 controllers first (a hybrid host has both). */
export function cgroupFiles(mounts: CgroupMounts, text: string): CgroupFiles {
  const paths = cgroupPaths(text);
  const v1 = (controller: string, file: string, kind: CgroupFile["kind"]): CgroupFile | null => {
    const mount = mounts.v1.get(controller);
    const path = paths.get(controller);
    return mount !== undefined && path !== undefined
      ? { path: join(mount, path, file), kind }
      : null;
  };
  const v2path = paths.get("");
  const v2 = (file: string, kind: CgroupFile["kind"]): CgroupFile | null =>
    mounts.v2 !== null && v2path !== undefined
      ? { path: join(mounts.v2, v2path, file), kind }
      : null;
  return {
    cpu: v1("cpuacct", "cpuacct.usage", "cpuacct.usage") ?? v2("cpu.stat", "cpu.stat"),
    memory: v1("memory", "memory.usage_in_bytes", "bytes") ?? v2("memory.current", "bytes"),
    tasks: v1("pids", "pids.current", "count") ?? v2("pids.current", "count"),
  };
}

/** The figure in a cgroup file's text: ns of CPU, bytes, or a count; null when unparsable. */
export function parseCgroupValue(text: string, kind: CgroupFile["kind"]): number | null {
  if (kind === "cpu.stat") {
    const m = /^usage_usec (\d{1,20})$/m.exec(text);
    return m ? Number(m[1]) * 1000 : null;
  }
  const t = text.trim();
  if (!/^\d{1,20}$/.test(t)) return null;
  return Number(t);
}

/**
 * Busy CPU time of the whole machine in clock ticks, from the `cpu` line of /proc/stat:
 * user nice system idle iowait irq softirq steal; busy is all but idle and iowait.
 */
export function parseProcStatBusy(text: string): number | null {
  const line = /^cpu +([\d ]+)$/m.exec(text)?.[1];
  if (line === undefined) return null;
  const f = line.trim().split(/ +/).map(Number);
  if (f.length < 8 || f.some((n) => !Number.isFinite(n))) return null;
  const [user, nice, system, , , irq, softirq, steal] = f as [
    number,
    number,
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return user + nice + system + irq + softirq + steal;
}

/** Memory in use on the machine: MemTotal - MemAvailable, in bytes; null when unparsable. */
export function parseMemUsed(meminfo: string): number | null {
  const total = /^MemTotal:\s+(\d+) kB$/m.exec(meminfo)?.[1];
  const avail = /^MemAvailable:\s+(\d+) kB$/m.exec(meminfo)?.[1];
  if (total === undefined || avail === undefined) return null;
  return Math.max(0, (Number(total) - Number(avail)) * 1024);
}

/**
 * /proc/net/nf_conntrack (or /proc/net/ip_conntrack): each line's first tuple is the
 * original direction (src, dst, dport). Lines that do not parse are skipped.
 */
export function parseConntrack(
  text: string,
): { src: string; dst: string; dport: number | null; proto: string }[] {
  const out: { src: string; dst: string; dport: number | null; proto: string }[] = [];
  for (const line of text.split("\n")) {
    const src = / src=(\S+)/.exec(line)?.[1];
    const dst = / dst=(\S+)/.exec(line)?.[1];
    if (src === undefined || dst === undefined) continue;
    const dport = / dport=(\d{1,5})/.exec(line)?.[1];
    const proto = /^ipv[46]\s+\d+\s+(\S+)/.exec(line)?.[1] ?? "?";
    out.push({ src, dst, dport: dport === undefined ? null : Number(dport), proto });
  }
  return out;
}
