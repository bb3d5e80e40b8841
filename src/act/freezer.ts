/**
 * Whether a process is frozen by the cgroup freezer, which is what `docker pause` uses. A paused
 * container's processes stay in /proc (state D on cgroup v1), so "the process still exists" is
 * not "the process still runs": contain reads the freezer to tell the two apart, instead of
 * trusting the engine's State.Paused alone.
 *
 * cgroup v1: the `freezer` hierarchy, file `freezer.state` (THAWED, FREEZING, FROZEN).
 * cgroup v2: no freezer controller; each cgroup has `cgroup.events` with a `frozen 0|1` line.
 */
import { readFile } from "node:fs/promises";

export type FreezerState = "frozen" | "freezing" | "thawed";

export interface FreezerLocation {
  version: 1 | 2;
  /** The cgroup path as /proc/<pid>/cgroup prints it (starts with "/"). */
  path: string;
}

const MAX_CGROUP_TEXT = 64 * 1024;

/**
 * Where the freezer state of a process lives, from its /proc/<pid>/cgroup. A v1 `freezer`
 * line wins over the v2 `0::` line: on a hybrid host the unified hierarchy carries no
 * controllers and its cgroup.events says nothing about `docker pause`.
 */
export function freezerLocation(cgroupText: string): FreezerLocation | null {
  let v2: FreezerLocation | null = null;
  for (const line of cgroupText.slice(0, MAX_CGROUP_TEXT).split("\n")) {
    const first = line.indexOf(":");
    const second = first < 0 ? -1 : line.indexOf(":", first + 1);
    if (second < 0) continue;
    const controllers = line.slice(first + 1, second);
    const path = line.slice(second + 1);
    if (!path.startsWith("/") || path.split("/").includes("..")) continue;
    if (controllers.split(",").includes("freezer")) return { version: 1, path };
    if (line.slice(0, first) === "0" && controllers === "") v2 = { version: 2, path };
  }
  return v2;
}

/** cgroup v1 `freezer.state`. */
export function parseFreezerState(text: string): FreezerState | null {
  switch (text.trim()) {
    case "FROZEN":
      return "frozen";
    case "FREEZING":
      return "freezing";
    case "THAWED":
      return "thawed";
    default:
      return null;
  }
}

/** cgroup v2 `cgroup.events`: "frozen 1" is frozen, "frozen 0" thawed. */
export function parseCgroupEvents(text: string): FreezerState | null {
  for (const line of text.split("\n")) {
    const m = /^frozen ([01])$/.exec(line.trim());
    if (m) return m[1] === "1" ? "frozen" : "thawed";
  }
  return null;
}

/** The file that holds the state, under the cgroup filesystem mounted at `cgroupRoot`. */
export function freezerStateFile(loc: FreezerLocation, cgroupRoot = "/sys/fs/cgroup"): string {
  return loc.version === 1
    ? `${cgroupRoot}/freezer${loc.path}/freezer.state`
    : `${cgroupRoot}${loc.path === "/" ? "" : loc.path}/cgroup.events`;
}

/** The freezer state of a live process; null when it is gone or the state cannot be read. */
export async function readFreezerState(
  pid: number,
  cgroupRoot = "/sys/fs/cgroup",
): Promise<FreezerState | null> {
  try {
    const cgroup = await readFile(`/proc/${pid}/cgroup`, "utf8");
    const loc = freezerLocation(cgroup);
    if (!loc) return null;
    const text = (await readFile(freezerStateFile(loc, cgroupRoot), "utf8")).slice(0, 4096);
    return loc.version === 1 ? parseFreezerState(text) : parseCgroupEvents(text);
  } catch {
    return null;
  }
}
