/**
 * What decides the Docker daemon's and the containers' security, read without changing
 * anything: the engine's /info and the bridge network (GET), /etc/docker/daemon.json (or the
 * --config-file dockerd was started with), dockerd's command line from /proc, the socket's
 * owner and mode; every container's inspect document, its image, and the versions of known
 * apps from the container's own files through /proc/<pid>/root (never docker exec).
 *
 * With --root DIR (a dead server's disk) the same comes from the disk: daemon.json, and
 * var/lib/docker/containers/<id>/config.v2.json + hostconfig.json.
 */
import { promises as fsp } from "node:fs";
import { posix } from "node:path";
import type { ContainerObservation, DaemonObservation } from "../../model/audit-output.js";
import { errorMessage } from "../../util/result.js";
import { z } from "../../util/zod.js";
import { describeFailure, RootFs } from "../accounts/root-fs.js";
import { DockerEngine } from "../docker/engine.js";
import { EngineTransport, engineOptionsFromEnv } from "../docker/engine-transport.js";
import { readAppVersions } from "./app-versions.js";

const DAEMON_JSON = "/etc/docker/daemon.json";
const MAX_DAEMON_JSON = 1024 * 1024;
const MAX_CONFIG_V2 = 8 * 1024 * 1024;
const MAX_CONTAINERS_ON_DISK = 5_000;

const Loose = z.looseObject({});
const ImageSchema = z.looseObject({ Id: z.string().optional(), Created: z.string().nullish() });
const ImageListSchema = z.array(
  z.looseObject({ Id: z.string(), RepoTags: z.array(z.string()).nullish() }),
);

/** Top-level keys of a JSON object text and their 1-based lines (for file:line evidence). */
export function jsonKeyLines(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  let depth = 0;
  let line = 1;
  let inString = false;
  let start = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === "\n") line++;
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') {
        inString = false;
        if (depth === 1) {
          const rest = text.slice(i + 1).match(/^\s*:/);
          if (rest) {
            const key = text.slice(start + 1, i);
            if (!(key in out)) out[key] = line;
          }
        }
      }
      continue;
    }
    if (c === '"') {
      inString = true;
      start = i;
    } else if (c === "{" || c === "[") depth++;
    else if (c === "}" || c === "]") depth--;
  }
  return out;
}

async function readCmdline(
  proc: string,
  pid: string,
): Promise<{ pid: number; args: string[] } | null> {
  try {
    const comm = (await fsp.readFile(`${proc}/${pid}/comm`, "utf8")).trim();
    if (comm !== "dockerd") return null;
    const raw = await fsp.readFile(`${proc}/${pid}/cmdline`);
    const args = raw
      .toString("utf8")
      .split("\0")
      .filter((a, i, all) => a !== "" || i < all.length - 1);
    return { pid: Number(pid), args };
  } catch {
    return null; // gone, or not ours to read
  }
}

/**
 * dockerd's pid and argv: the pid its pidfile names when that process is dockerd, else the
 * first process named dockerd in /proc.
 */
async function dockerdCmdline(proc = "/proc"): Promise<{ pid: number; args: string[] } | null> {
  const fromPidfile = await fsp
    .readFile("/var/run/docker.pid", "utf8")
    .then((t) => t.trim())
    .catch(() => "");
  if (/^\d+$/.test(fromPidfile)) {
    const hit = await readCmdline(proc, fromPidfile);
    if (hit) return hit;
  }
  let names: string[];
  try {
    names = await fsp.readdir(proc);
  } catch {
    return null;
  }
  for (const n of names) {
    if (!/^\d+$/.test(n)) continue;
    const hit = await readCmdline(proc, n);
    if (hit) return hit;
  }
  return null;
}

/** The value of a dockerd flag (--flag=v or --flag v), the last one given; true for a bare flag. */
export function flagValues(args: readonly string[], ...names: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    for (const name of names) {
      if (a === name) {
        const next = args[i + 1];
        if (next !== undefined && !next.startsWith("-")) {
          out.push(next);
          i++;
        } else out.push("true");
      } else if (a.startsWith(`${name}=`)) out.push(a.slice(name.length + 1));
    }
  }
  return out;
}

async function groupName(fs: RootFs, gid: number): Promise<string | null> {
  const r = await fs.read("/etc/group", { maxBytes: 4 * 1024 * 1024 });
  if (!r.ok) return null;
  for (const line of r.value.bytes.toString("utf8").split("\n")) {
    const f = line.split(":");
    if (f.length >= 3 && Number(f[2]) === gid) return f[0]!;
  }
  return null;
}

async function askEngine(env: Readonly<Record<string, string | undefined>>): Promise<{
  engine: DockerEngine | null;
  info: Record<string, unknown> | null;
  bridgeOptions: Record<string, string> | null;
  error: string | null;
}> {
  try {
    const engine = DockerEngine.fromEnv(env);
    const [info, nets] = await Promise.all([engine.info(), engine.listNetworks()]);
    const bridge = nets.find((n) => n.Name === "bridge") as Record<string, unknown> | undefined;
    const o = bridge?.Options;
    return {
      engine,
      info: info as Record<string, unknown>,
      bridgeOptions: o && typeof o === "object" ? (o as Record<string, string>) : null,
      error: null,
    };
  } catch (e) {
    return { engine: null, info: null, bridgeOptions: null, error: errorMessage(e).slice(0, 300) };
  }
}

export interface ObserveDaemonOptions {
  root: string;
  live: boolean;
  env: Readonly<Record<string, string | undefined>>;
  /** /proc to read dockerd from (tests); default /proc. */
  proc?: string;
}

export async function observeDaemon(
  opts: ObserveDaemonOptions,
): Promise<{ daemon: DaemonObservation; engine: DockerEngine | null; gaps: string[] }> {
  const gaps: string[] = [];
  const fs = new RootFs(opts.root);
  const engineAnswer = opts.live ? askEngine(opts.env) : null;
  const cmdline = opts.live ? await dockerdCmdline(opts.proc) : null;
  const configFile = (cmdline && flagValues(cmdline.args, "--config-file").pop()) || DAEMON_JSON;
  const daemonJson: DaemonObservation["daemonJson"] = {
    path: configFile,
    parsed: null,
    error: null,
    exists: false,
    mode: null,
    uid: null,
    gid: null,
    lines: {},
  };
  const st = await fs.resolve(configFile);
  if (st.ok) {
    try {
      const s = await fsp.stat(st.value.hostPath);
      daemonJson.mode = s.mode & 0o7777;
      daemonJson.uid = s.uid;
      daemonJson.gid = s.gid;
    } catch {
      // read below says why
    }
  }
  const read = await fs.read(configFile, { maxBytes: MAX_DAEMON_JSON });
  if (read.ok) {
    daemonJson.exists = true;
    if (read.value.truncated) daemonJson.error = `larger than ${MAX_DAEMON_JSON} bytes`;
    else {
      const text = read.value.bytes.toString("utf8");
      try {
        const v: unknown = JSON.parse(text);
        if (v === null || typeof v !== "object" || Array.isArray(v))
          daemonJson.error = "not a JSON object";
        else {
          daemonJson.parsed = v as Record<string, unknown>;
          daemonJson.lines = jsonKeyLines(text);
        }
      } catch (e) {
        daemonJson.error = `not valid JSON: ${errorMessage(e).slice(0, 200)}`;
      }
    }
  } else if (read.error.code !== "ENOENT") {
    daemonJson.error = describeFailure(read.error);
    gaps.push(`${configFile}: ${describeFailure(read.error)}`);
  }

  let socket: DaemonObservation["socket"] = null;
  for (const p of ["/var/run/docker.sock", "/run/docker.sock"]) {
    const r = await fs.resolve(p);
    if (!r.ok) continue;
    try {
      const s = await fsp.stat(r.value.hostPath);
      if (!s.isSocket() && opts.live) continue;
      socket = {
        path: p,
        mode: s.mode & 0o7777,
        uid: s.uid,
        gid: s.gid,
        group: await groupName(fs, s.gid),
      };
      break;
    } catch {
      // next
    }
  }

  const answer = engineAnswer ? await engineAnswer : null;
  const engine = answer?.engine ?? null;
  const info = answer?.info ?? null;
  const bridgeOptions = answer?.bridgeOptions ?? null;
  const engineError = answer?.error ?? null;
  if (engineError) gaps.push(`Docker engine: ${engineError}`);
  return {
    daemon: {
      engineAvailable: info !== null,
      engineError,
      info,
      bridgeOptions,
      daemonJson,
      cmdline,
      socket,
    },
    engine,
    gaps,
  };
}

function str(v: unknown): string {
  return typeof v === "string" ? v : "";
}

/** Every container from the engine, with its image and app versions. */
export async function observeContainers(
  engine: DockerEngine,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ containers: ContainerObservation[]; gaps: string[] }> {
  const gaps: string[] = [];
  const transport = new EngineTransport(engineOptionsFromEnv(env));
  const list = await engine.listContainers({ all: true });
  const images = new Map<string, Promise<string | null>>();
  const imageCreated = (id: string) => {
    let p = images.get(id);
    if (!p) {
      p = transport
        .json({ method: "GET", path: `/images/${id.replace(/^sha256:/, "")}/json` }, ImageSchema)
        .then((i) => i.Created ?? null)
        .catch(() => null);
      images.set(id, p);
    }
    return p;
  };
  const one = async (c: (typeof list)[number]): Promise<ContainerObservation | null> => {
    let inspect: Record<string, unknown>;
    try {
      inspect = (await engine.inspectContainer(c.Id)) as Record<string, unknown>;
    } catch (e) {
      gaps.push(`container ${c.Id.slice(0, 12)}: ${errorMessage(e).slice(0, 200)}`);
      return null;
    }
    const cfg = (inspect.Config ?? {}) as Record<string, unknown>;
    const state = (inspect.State ?? {}) as Record<string, unknown>;
    const imageId = str(inspect.Image);
    const ref = str(cfg.Image);
    const tagNow = async (): Promise<string | null> => {
      if (!ref || ref.startsWith("sha256:") || /^[0-9a-f]{64}$/.test(ref)) return null;
      try {
        const found = await transport.json(
          {
            method: "GET",
            path: "/images/json",
            query: { filters: JSON.stringify({ reference: [ref] }) },
          },
          ImageListSchema,
        );
        return found[0]?.Id ?? null;
      } catch {
        return null;
      }
    };
    const pid = typeof state.Pid === "number" && state.Pid > 0 ? state.Pid : null;
    const fsRoot = pid ? `/proc/${pid}/root` : null;
    const [apps, created, now] = await Promise.all([
      readAppVersions(fsRoot, ref, Array.isArray(cfg.Env) ? (cfg.Env as string[]) : []),
      imageId ? imageCreated(imageId) : Promise.resolve(null),
      tagNow(),
    ]);
    return {
      id: c.Id,
      name: str(inspect.Name).replace(/^\//, "") || c.Id.slice(0, 12),
      inspect,
      source: "engine",
      imageCreated: created,
      tagNowPointsTo: now,
      apps,
      fsRoot,
    };
  };
  // A few at a time: the engine answers each call on its own; hundreds at once would queue.
  const results: (ContainerObservation | null)[] = new Array(list.length).fill(null);
  let next = 0;
  const worker = async () => {
    while (next < list.length) {
      const i = next++;
      results[i] = await one(list[i]!);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
  const out = results.filter((r): r is ContainerObservation => r !== null);
  return { containers: out, gaps };
}

/** Containers of a dead server's disk: var/lib/docker/containers/<id>/config.v2.json + hostconfig.json. */
export async function observeContainersOnDisk(
  root: string,
  dockerRoot = "/var/lib/docker",
): Promise<{ containers: ContainerObservation[]; gaps: string[] }> {
  const fs = new RootFs(root);
  const gaps: string[] = [];
  const dir = posix.join(dockerRoot, "containers");
  const listed = await fs.list(dir);
  if (!listed.ok) {
    if (listed.error.code !== "ENOENT") gaps.push(`${dir}: ${describeFailure(listed.error)}`);
    return { containers: [], gaps };
  }
  const out: ContainerObservation[] = [];
  for (const id of listed.value.names.slice(0, MAX_CONTAINERS_ON_DISK)) {
    if (!/^[0-9a-f]{64}$/.test(id)) continue;
    const readJson = async (name: string): Promise<Record<string, unknown> | null> => {
      const r = await fs.read(posix.join(dir, id, name), { maxBytes: MAX_CONFIG_V2 });
      if (!r.ok) {
        gaps.push(`${dir}/${id}/${name}: ${describeFailure(r.error)}`);
        return null;
      }
      if (r.value.truncated) {
        gaps.push(`${dir}/${id}/${name}: larger than ${MAX_CONFIG_V2} bytes`);
        return null;
      }
      try {
        return Loose.parse(JSON.parse(r.value.bytes.toString("utf8"))) as Record<string, unknown>;
      } catch {
        gaps.push(`${dir}/${id}/${name}: not valid JSON`);
        return null;
      }
    };
    const config = await readJson("config.v2.json");
    if (!config) continue;
    const hostConfig = (await readJson("hostconfig.json")) ?? {};
    const mountPoints = (config.MountPoints ?? {}) as Record<string, Record<string, unknown>>;
    const inspect: Record<string, unknown> = {
      ...config,
      Id: str(config.ID) || id,
      HostConfig: hostConfig,
      Mounts: Object.values(mountPoints).map((m) => ({
        Type: m.Type ?? "bind",
        Source: m.Source ?? "",
        Destination: m.Destination ?? "",
        RW: m.RW ?? true,
      })),
    };
    const cfg = (config.Config ?? {}) as Record<string, unknown>;
    out.push({
      id,
      name: str(config.Name).replace(/^\//, "") || id.slice(0, 12),
      inspect,
      source: "disk",
      imageCreated: null,
      tagNowPointsTo: null,
      apps: await readAppVersions(
        null,
        str(cfg.Image),
        Array.isArray(cfg.Env) ? (cfg.Env as string[]) : [],
      ),
      fsRoot: null,
    });
  }
  return { containers: out, gaps };
}
