/**
 * What a container's backup reads: its volumes (at their Mountpoint on the host) and bind
 * mounts (at their Source), from the engine's inspect document through the read-only client
 * (GET only). Never the engine's socket, /proc, /sys or /dev, nor / itself or Docker's own data
 * outside the volumes directory; tmpfs and other mount types hold nothing to keep.
 */
import { posix } from "node:path";
import type { Container } from "../../model/snapshot.js";
import { z } from "../../util/zod.js";
import { parseContainer } from "../docker/container-model.js";
import {
  type DockerEngineOptions,
  EngineTransport,
  engineOptionsFromEnv,
  ref,
} from "../docker/engine-transport.js";

export interface BackupPath {
  type: string;
  volume: string | null;
  source: string;
  destination: string;
}

export interface SkippedPath {
  source: string;
  destination: string;
  reason: string;
}

export interface BackupTarget {
  container: Container;
  imageDigest: string;
  paths: BackupPath[];
  skipped: SkippedPath[];
  /** Label breachkit.backup.stop=true: stop rather than pause while reading. */
  stop: boolean;
  /** breachkit.backup.pre / .post, as written in the label (parsed by act). */
  pre: string | null;
  post: string | null;
}

const MountRaw = z.looseObject({
  Type: z.string().nullish(),
  Name: z.string().nullish(),
  Source: z.string().nullish(),
  Destination: z.string().nullish(),
});

const NEVER_TREES = ["/proc", "/sys", "/dev"];
const SOCKETS = /(^|\/)(docker|containerd|podman|cri-dockerd|crio)\.sock$/;

function under(path: string, tree: string): boolean {
  return path === tree || path.startsWith(`${tree}/`);
}

/** Why a mount is not read, or null when it is. */
export function skipReason(type: string, source: string, dockerRoot: string): string | null {
  if (type !== "volume" && type !== "bind") return `a ${type} mount holds nothing to keep`;
  if (!source.startsWith("/")) return "no host path";
  const p = posix.normalize(source);
  if (SOCKETS.test(p)) return "the container engine's socket";
  if (p === "/") return "the host's whole root filesystem";
  for (const t of NEVER_TREES) if (under(p, t)) return `a kernel or device filesystem (${t})`;
  if (p === "/run" || p === "/var/run" || under(p, "/run/docker") || under(p, "/var/run/docker"))
    return "runtime state, not data";
  if (under(p, dockerRoot) && !under(p, `${dockerRoot}/volumes`))
    return "Docker's own data directory";
  return null;
}

export function targetOf(
  inspect: Record<string, unknown>,
  imageDigest: string,
  dockerRoot: string,
) {
  const parsed = parseContainer(inspect);
  if (!parsed.ok) throw new TypeError(parsed.error);
  const container = parsed.value;
  const paths: BackupPath[] = [];
  const skipped: SkippedPath[] = [];
  const raw = Array.isArray(inspect.Mounts) ? inspect.Mounts : [];
  for (const m of raw) {
    const r = MountRaw.safeParse(m);
    if (!r.success) continue;
    const type = r.data.Type ?? "bind";
    const source = r.data.Source ?? "";
    const destination = r.data.Destination ?? "";
    const why = skipReason(type, source, dockerRoot);
    if (why) {
      skipped.push({ source, destination, reason: why });
      continue;
    }
    paths.push({
      type,
      volume: type === "volume" ? (r.data.Name ?? null) : null,
      source: posix.normalize(source),
      destination,
    });
  }
  const labels = container.labels;
  return {
    container,
    imageDigest,
    paths,
    skipped,
    stop: labels["breachkit.backup.stop"] === "true",
    pre: labels["breachkit.backup.pre"] ?? null,
    post: labels["breachkit.backup.post"] ?? null,
  } satisfies BackupTarget;
}

const ImageRaw = z.looseObject({
  Id: z.string(),
  RepoDigests: z.array(z.string()).nullish(),
});
const VolumeRaw = z.looseObject({
  Name: z.string(),
  Mountpoint: z.string(),
  Driver: z.string().nullish(),
});
const InfoRaw = z.looseObject({ DockerRootDir: z.string().nullish() });
const ListRaw = z.array(z.looseObject({ Id: z.string(), Names: z.array(z.string()).nullish() }));
const InspectRaw = z.looseObject({ Id: z.string() });

/** The few GET calls a backup needs beside the snapshot's: list, inspect, image, volume. */
export class BackupEngine {
  readonly #t: EngineTransport;
  constructor(options: DockerEngineOptions) {
    this.#t = new EngineTransport(options);
  }
  static fromEnv(env: Readonly<Record<string, string | undefined>>): BackupEngine {
    return new BackupEngine(engineOptionsFromEnv(env));
  }
  async dockerRoot(): Promise<string> {
    const info = await this.#t.json({ method: "GET", path: "/info" }, InfoRaw);
    return info.DockerRootDir || "/var/lib/docker";
  }
  async list(): Promise<{ id: string; name: string }[]> {
    const l = await this.#t.json(
      { method: "GET", path: "/containers/json", query: { all: true } },
      ListRaw,
    );
    return l.map((c) => ({ id: c.Id, name: (c.Names?.[0] ?? "").replace(/^\//, "") }));
  }
  async inspect(idOrName: string): Promise<Record<string, unknown>> {
    return this.#t.json(
      { method: "GET", path: `/containers/${ref(idOrName)}/json` },
      InspectRaw,
    ) as Promise<Record<string, unknown>>;
  }
  /** RepoDigests[0] when the image came from a registry, else the image id. */
  async imageDigest(imageId: string): Promise<string> {
    if (!imageId) return "";
    try {
      const img = await this.#t.json(
        { method: "GET", path: `/images/${ref(imageId.replace(/^sha256:/, ""))}/json` },
        ImageRaw,
      );
      return img.RepoDigests?.[0] ?? img.Id;
    } catch {
      return imageId;
    }
  }
  async volume(name: string): Promise<{ name: string; mountpoint: string } | null> {
    try {
      const v = await this.#t.json({ method: "GET", path: `/volumes/${ref(name)}` }, VolumeRaw);
      return { name: v.Name, mountpoint: v.Mountpoint };
    } catch (e) {
      if ((e as { code?: string }).code === "NOT_FOUND") return null;
      throw e;
    }
  }
  /** The running or paused state now. */
  async state(id: string): Promise<{ running: boolean; paused: boolean }> {
    const c = parseContainer(await this.inspect(id));
    if (!c.ok) throw new TypeError(c.error);
    return { running: c.value.running, paused: c.value.paused };
  }
}
