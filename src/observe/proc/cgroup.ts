/**
 * Which container a process belongs to, from /proc/<pid>/cgroup. Each line is
 * `hierarchy-id:controllers:path`; cgroup v1 has one line per hierarchy, v2 a single `0::`
 * line, hybrid hosts both. The container id is encoded in the path, in a shape that depends
 * on the runtime and on its cgroup driver (cgroupfs or systemd).
 */

export type ContainerRuntime = "docker" | "containerd" | "podman" | "crio" | "unknown";

export interface CgroupContainer {
  id: string;
  runtime: ContainerRuntime;
  /** The cgroup path (of the first line that named a container). */
  path: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

// systemd driver: one transient scope per container, named <prefix>-<id>.scope. The
// `-conmon-` scopes (CRI-O's and podman's monitor processes) are host processes and do not
// match, because "conmon-<id>" is not 64 hex characters.
const SCOPES: ReadonlyArray<[RegExp, ContainerRuntime]> = [
  [/^docker-([0-9a-f]{64})\.scope$/, "docker"],
  [/^cri-containerd-([0-9a-f]{64})\.scope$/, "containerd"],
  [/^nerdctl-([0-9a-f]{64})\.scope$/, "containerd"],
  [/^crio-([0-9a-f]{64})\.scope$/, "crio"],
  [/^libpod-([0-9a-f]{64})(?:\.scope)?$/, "podman"],
];

function fromPath(path: string): CgroupContainer | null {
  const segments = path.split("/");
  // The first (outermost) match wins: with Docker-in-Docker the path is
  // /docker/<outer>/docker/<inner>, and only the outer id is known to the host's engine.
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] ?? "";
    for (const [re, runtime] of SCOPES) {
      const m = re.exec(seg);
      if (m?.[1] !== undefined) return { id: m[1], runtime, path };
    }
    if (!HEX64.test(seg)) continue;
    const parent = segments[i - 1] ?? "";
    // cgroupfs driver: /docker/<id>, possibly with more below it (a systemd inside the
    // container adds /docker/<id>/init.scope, /docker/<id>/system.slice/...).
    if (parent === "docker") return { id: seg, runtime: "docker", path };
    // kubelet with cgroupfs: /kubepods/<qos>/pod<uid>/<id>; the path does not tell whether
    // dockershim, containerd or CRI-O created it.
    return { id: seg, runtime: "unknown", path };
  }
  return null;
}

/**
 * The container named by a /proc/<pid>/cgroup file, or null for a host process (`/`,
 * `/init.scope`, `/user.slice/...`, `/system.slice/docker.service` ...).
 */
export function containerFromCgroup(text: string): CgroupContainer | null {
  // Every shape holds a 64-hex id: most host processes are ruled out by one scan.
  if (!/[0-9a-f]{64}/.test(text)) return null;
  for (const line of text.split("\n")) {
    // The path is everything after the second colon; it may itself contain colons.
    const first = line.indexOf(":");
    const second = first < 0 ? -1 : line.indexOf(":", first + 1);
    if (second < 0) continue;
    const found = fromPath(line.slice(second + 1));
    if (found !== null) return found;
  }
  return null;
}
