/**
 * Maps a container's inspect document (GET /containers/{id}/json) to the model's `Container`.
 * Engines from 20.10 to 29 differ (29 with the containerd image store has no GraphDriver upper
 * dir; fields come and go, or arrive as null), so only `Id` is required and every other field
 * falls back to a neutral value rather than losing the container.
 */
import { posix } from "node:path";
import type { Container, Mount } from "../../model/snapshot.js";
import { err, ok, type Result } from "../../util/result.js";
import { z } from "../../util/zod.js";

// A field of the wrong type is treated as missing: one odd field must not hide a container.
const opt = <T extends z.ZodType>(schema: T) => schema.nullish().catch(null);

const PortBindingSchema = z.looseObject({ HostIp: opt(z.string()), HostPort: opt(z.string()) });
const PortMapSchema = z.record(z.string(), z.array(PortBindingSchema).nullable());

const MountInspectSchema = z.looseObject({
  Type: opt(z.string()),
  Source: opt(z.string()),
  Destination: opt(z.string()),
  RW: opt(z.boolean()),
});

const InspectSchema = z.looseObject({
  Id: z.string().min(1),
  Name: opt(z.string()),
  Image: opt(z.string()),
  Created: opt(z.string()),
  LogPath: opt(z.string()),
  State: opt(
    z.looseObject({
      Status: opt(z.string()),
      Running: opt(z.boolean()),
      Paused: opt(z.boolean()),
      Pid: opt(z.number()),
      StartedAt: opt(z.string()),
      FinishedAt: opt(z.string()),
    }),
  ),
  Config: opt(
    z.looseObject({
      Image: opt(z.string()),
      Labels: opt(z.record(z.string(), z.unknown())),
    }),
  ),
  HostConfig: opt(
    z.looseObject({
      Privileged: opt(z.boolean()),
      CapAdd: opt(z.array(z.string())),
      NetworkMode: opt(z.string()),
      PidMode: opt(z.string()),
      RestartPolicy: opt(
        z.looseObject({ Name: opt(z.string()), MaximumRetryCount: opt(z.number()) }),
      ),
      LogConfig: opt(z.looseObject({ Type: opt(z.string()) })),
      PortBindings: opt(PortMapSchema),
    }),
  ),
  NetworkSettings: opt(
    z.looseObject({
      Ports: opt(PortMapSchema),
      Networks: opt(z.record(z.string(), z.unknown())),
    }),
  ),
  Mounts: opt(z.array(z.unknown())),
  GraphDriver: opt(z.looseObject({ Data: opt(z.record(z.string(), z.unknown())) })),
});

/** The inspect document as a Container, or why it is not one (no Id, not an object). */
export function parseContainer(inspect: unknown): Result<Container, string> {
  const parsed = InspectSchema.safeParse(inspect);
  if (!parsed.success) {
    return err(`not a container inspect document: ${parsed.error.issues[0]?.message ?? "invalid"}`);
  }
  const c = parsed.data;
  const state = c.State;
  const host = c.HostConfig;
  const policy = host?.RestartPolicy;
  const upperDir = c.GraphDriver?.Data?.UpperDir;
  return ok({
    id: c.Id,
    name: (c.Name ?? "").replace(/^\//, ""),
    // Config.Image is the reference it was run with; the top-level Image is the image id.
    image: c.Config?.Image || c.Image || "",
    imageId: c.Image ?? "",
    createdAt: dockerTime(c.Created),
    startedAt: dockerTime(state?.StartedAt),
    finishedAt: dockerTime(state?.FinishedAt),
    state: state?.Status ?? "unknown",
    running: state?.Running ?? false,
    paused: state?.Paused ?? false,
    pid: state?.Pid && state.Pid > 0 ? state.Pid : null,
    privileged: host?.Privileged ?? false,
    capAdd: host?.CapAdd ?? [],
    networkMode: host?.NetworkMode || "default",
    pidMode: host?.PidMode ?? "",
    networks: Object.keys(c.NetworkSettings?.Networks ?? {}),
    ports: toPorts(c.NetworkSettings?.Ports, host?.PortBindings),
    mounts: (c.Mounts ?? []).flatMap((m) => {
      const mount = toMount(m);
      return mount ? [mount] : [];
    }),
    restartPolicy: restartPolicy(policy?.Name, policy?.MaximumRetryCount),
    labels: stringRecord(c.Config?.Labels),
    logDriver: logDriver(host?.LogConfig?.Type ?? "", c.LogPath),
    logPath: c.LogPath || null,
    upperDir: typeof upperDir === "string" && upperDir !== "" ? upperDir : null,
    traffic: null,
  });
}

/**
 * Podman's Docker-compatible API calls its k8s-file driver "json-file" (the name a Docker
 * client expects), but the file is in the CRI format (`<RFC 3339 time> stdout F <line>`), not
 * JSON lines. The file's place gives it away: `<storage>/overlay-containers/<id>/userdata/ctr.log`.
 */
export function logDriver(type: string, logPath: string | null | undefined): string {
  if (type === "json-file" && logPath && /\/userdata\/ctr\.log$/.test(logPath)) return "k8s-file";
  return type;
}

/** As parseContainer; throws on a document without an Id (a bug upstream, not a host state). */
export function toContainer(inspect: unknown): Container {
  const result = parseContainer(inspect);
  if (!result.ok) throw new TypeError(result.error);
  return result.value;
}

/**
 * Docker writes RFC 3339 UTC with up to nine fraction digits; those are kept as they are
 * (nanoseconds order events that a millisecond cannot). Go's zero time means "never".
 */
export function dockerTime(value: string | null | undefined): string | null {
  if (!value || value.startsWith("0001-01-01")) return null;
  if (/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(value)) return value;
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? null : new Date(ms).toISOString();
}

type PortMap = z.infer<typeof PortMapSchema>;

/**
 * NetworkSettings.Ports holds what is published now (running containers, with each address
 * family apart); a stopped container has it empty, and then HostConfig.PortBindings tells what
 * would be published on start.
 */
function toPorts(live: PortMap | null | undefined, configured: PortMap | null | undefined) {
  const source = live && Object.keys(live).length > 0 ? live : (configured ?? {});
  const ports: Container["ports"] = [];
  for (const [key, bindings] of Object.entries(source)) {
    const match = /^(\d+)(?:\/(\w+))?$/.exec(key);
    if (!match) continue;
    const containerPort = Number(match[1]);
    const protocol = match[2] ?? "tcp";
    if (!bindings || bindings.length === 0) {
      ports.push({ containerPort, protocol, hostIp: null, hostPort: null });
      continue;
    }
    for (const b of bindings) {
      const hostPort = b.HostPort ? Number.parseInt(b.HostPort, 10) : Number.NaN;
      ports.push({
        containerPort,
        protocol,
        hostIp: b.HostIp || null,
        hostPort: Number.isInteger(hostPort) ? hostPort : null,
      });
    }
  }
  return ports;
}

function toMount(value: unknown): Mount | null {
  const parsed = MountInspectSchema.safeParse(value);
  if (!parsed.success) return null;
  const m = parsed.data;
  const type = m.Type ?? "bind";
  const source = m.Source ?? "";
  const destination = m.Destination ?? "";
  // Only a bind mount shows a host path of the admin's choosing; a volume's source is the
  // engine's own directory under /var/lib/docker/volumes.
  const hostPath = type === "bind" && source.startsWith("/") ? posix.normalize(source) : null;
  const dockerSocket =
    isSocketName(source) ||
    isSocketName(destination) ||
    (hostPath !== null && SOCKET_DIRS.has(stripSlash(hostPath)));
  return {
    type,
    source,
    destination,
    rw: m.RW ?? true,
    dockerSocket,
    sensitive: dockerSocket || (hostPath !== null && isSensitiveHostPath(hostPath)),
  };
}

const SOCKET_NAMES = new Set([
  "docker.sock",
  "containerd.sock",
  "podman.sock",
  "cri-dockerd.sock",
  "crio.sock",
]);

// Directories that hold an engine socket: mounting them hands over the socket too. Only the host
// side counts: a tmpfs at /run inside the container is ordinary.
const SOCKET_DIRS = new Set([
  "/var/run",
  "/run",
  "/run/containerd",
  "/var/run/containerd",
  "/run/podman",
  "/var/run/podman",
]);

/** Sensitive only when mounted whole: their subdirectories are routine (/var/log/nginx, /home/app). */
const SENSITIVE_EXACT = new Set([
  "/",
  "/etc",
  "/home",
  "/var",
  "/var/run",
  "/run",
  "/var/lib",
  "/var/log",
  "/usr",
  "/usr/bin",
  "/usr/sbin",
  "/usr/lib",
  "/usr/local/bin",
  "/lib",
  "/lib64",
  "/bin",
  "/sbin",
  "/opt",
]);

/** Sensitive down to every file below them: credentials, kernel interfaces, the engine's data. */
const SENSITIVE_TREES = [
  "/root",
  "/proc",
  "/sys",
  "/dev",
  "/boot",
  "/lib/modules",
  "/usr/lib/modules",
  "/var/lib/docker",
  "/var/lib/containerd",
  "/var/lib/kubelet",
  "/var/spool/cron",
  "/etc/ssh",
  "/etc/shadow",
  "/etc/gshadow",
  "/etc/passwd",
  "/etc/group",
  "/etc/sudoers",
  "/etc/sudoers.d",
  "/etc/crontab",
  "/etc/cron.d",
  "/etc/cron.hourly",
  "/etc/cron.daily",
  "/etc/cron.weekly",
  "/etc/cron.monthly",
  "/etc/systemd",
  "/etc/pam.d",
  "/etc/ld.so.preload",
  "/etc/docker",
];

// Commonly mounted read-only and harmless, though under a sensitive tree.
const ROUTINE = new Set(["/dev/log", "/dev/null", "/dev/zero", "/dev/random", "/dev/urandom"]);

/** A host path whose exposure in a container gives the host away (credentials, kernel, engine). */
export function isSensitiveHostPath(path: string): boolean {
  const p = stripSlash(posix.normalize(path));
  if (ROUTINE.has(p)) return false;
  if (SENSITIVE_EXACT.has(p)) return true;
  if (SENSITIVE_TREES.some((t) => p === t || p.startsWith(`${t}/`))) return true;
  return /^\/home\/[^/]+\/\.ssh(\/|$)/.test(p);
}

function isSocketName(path: string): boolean {
  return SOCKET_NAMES.has(posix.basename(path));
}

function stripSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/** As `docker run --restart` spells it: "no", "always", "unless-stopped", "on-failure:5". */
function restartPolicy(name: string | null | undefined, max: number | null | undefined): string {
  if (!name) return "no";
  return name === "on-failure" && max ? `${name}:${max}` : name;
}

function stringRecord(value: Record<string, unknown> | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(value ?? {})) if (typeof v === "string") out[k] = v;
  return out;
}
