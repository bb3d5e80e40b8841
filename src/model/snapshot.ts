/**
 * The one typed model of a host's volatile state. A live host and a saved bundle
 * produce the same `Snapshot`, so every rule and report runs offline exactly as live.
 *
 * Conventions: times are ISO-8601 UTC strings; a value that could not be read is `null`
 * (and the reason, where useful, is a `Gap`); attacker-controlled strings are stored
 * as read (decoded as UTF-8 with replacement) and neutralised only when shown.
 */
import { z } from "../util/zod.js";
import { SNAPSHOT_SCHEMA_VERSION } from "./schema-version.js";

export { SNAPSHOT_SCHEMA_VERSION };

const isoTime = z.string();
const hex64 = z.string().regex(/^[0-9a-f]{64}$/);

/** An expected gap in what could be observed: a vanished process, a daemon that is down. */
export const GapSchema = z.object({
  source: z.string(),
  message: z.string(),
});
export type Gap = z.infer<typeof GapSchema>;

export const ExecutableSchema = z.object({
  /** Target of /proc/<pid>/exe with any " (deleted)" suffix removed. */
  path: z.string().nullable(),
  deleted: z.boolean(),
  /** Runs from a memfd (`/memfd:name (deleted)`): fileless execution. */
  memfd: z.boolean(),
  sha256: hex64.nullable(),
  size: z.number().int().nonnegative().nullable(),
  dev: z.number().int().nullable(),
  ino: z.number().int().nullable(),
  /**
   * For a process in a container: true when the executable is not part of the image (it
   * lives only in the container's writable layer, or was deleted there: a dropped binary);
   * false when it comes from the image; null when unknown or not in a container.
   */
  upperLayer: z.boolean().nullable(),
  /**
   * When the bytes behind `sha256` were read. Earlier than the snapshot when the hash came
   * earlier in the same run (same device, inode, size, mtime and ctime).
   */
  hashedAt: isoTime.nullable().default(null),
  /** Why the executable could not be read or hashed (kernel thread, permission, vanished). */
  error: z.string().nullable(),
});
export type Executable = z.infer<typeof ExecutableSchema>;

export const NamespacesSchema = z.object({
  pid: z.number().int().nullable(),
  net: z.number().int().nullable(),
  mnt: z.number().int().nullable(),
});
export type Namespaces = z.infer<typeof NamespacesSchema>;

export const ProcessSchema = z.object({
  pid: z.number().int(),
  ppid: z.number().int(),
  uid: z.number().int(),
  gid: z.number().int(),
  /** Name of `uid` in the host's passwd (null when unknown). */
  user: z.string().nullable(),
  state: z.string(),
  comm: z.string(),
  /** argv split on NUL, decoded as UTF-8. Empty for kernel threads and zombies. */
  argv: z.array(z.string()),
  /** The raw bytes of /proc/<pid>/cmdline, base64, NULs kept: the exact evidence. */
  cmdlineB64: z.string(),
  kernelThread: z.boolean(),
  exe: ExecutableSchema,
  cwd: z.string().nullable(),
  startTime: isoTime,
  /** User + system CPU time in seconds. */
  cpuSeconds: z.number().nonnegative(),
  /** CPU share (percent of one core) over the snapshot interval, or since start. */
  cpuPercent: z.number().nonnegative(),
  rssBytes: z.number().int().nonnegative(),
  threads: z.number().int().nonnegative(),
  ns: NamespacesSchema,
  socketInodes: z.array(z.number().int()),
  /** Raw cgroup path that decided the container (first matching line). */
  cgroup: z.string().nullable(),
  containerId: z.string().nullable(),
  containerName: z.string().nullable(),
  /**
   * This is breachkit itself, the process that took the snapshot (absent on every other
   * process, and in snapshots made before the field existed).
   */
  self: z.literal(true).optional(),
});
export type Process = z.infer<typeof ProcessSchema>;

export const PortSchema = z.object({
  containerPort: z.number().int(),
  protocol: z.string(),
  hostIp: z.string().nullable(),
  hostPort: z.number().int().nullable(),
});

export const MountSchema = z.object({
  type: z.string(),
  source: z.string(),
  destination: z.string(),
  rw: z.boolean(),
  /** The Docker (or containerd/podman) API socket: full control of the host. */
  dockerSocket: z.boolean(),
  /** A sensitive host path (/, /etc, /root, /var/run, /proc, /sys, /dev, /boot, /home ...). */
  sensitive: z.boolean(),
});
export type Mount = z.infer<typeof MountSchema>;

export const TrafficRateSchema = z.object({
  intervalSeconds: z.number().positive(),
  rxPacketsPerSec: z.number(),
  txPacketsPerSec: z.number(),
  rxBytesPerSec: z.number(),
  txBytesPerSec: z.number(),
});
export type TrafficRate = z.infer<typeof TrafficRateSchema>;

export const ContainerSchema = z.object({
  id: z.string(),
  /** Without the leading slash. */
  name: z.string(),
  image: z.string(),
  imageId: z.string(),
  createdAt: isoTime.nullable(),
  startedAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
  /** created | running | paused | restarting | removing | exited | dead */
  state: z.string(),
  running: z.boolean(),
  paused: z.boolean(),
  /** Init process pid on the host; null when not running. */
  pid: z.number().int().nullable(),
  privileged: z.boolean(),
  capAdd: z.array(z.string()),
  networkMode: z.string(),
  pidMode: z.string(),
  networks: z.array(z.string()),
  ports: z.array(PortSchema),
  mounts: z.array(MountSchema),
  restartPolicy: z.string(),
  labels: z.record(z.string(), z.string()),
  logDriver: z.string(),
  logPath: z.string().nullable(),
  /** Writable layer on the host (overlay2 UpperDir, or from mountinfo); null when unknown. */
  upperDir: z.string().nullable(),
  /** Summed over the interfaces of its network namespace, when an interval was taken. */
  traffic: TrafficRateSchema.nullable(),
});
export type Container = z.infer<typeof ContainerSchema>;

export const EngineSchema = z.object({
  available: z.boolean(),
  endpoint: z.string(),
  version: z.string().nullable(),
  apiVersion: z.string().nullable(),
  storageDriver: z.string().nullable(),
  dockerRootDir: z.string().nullable(),
  error: z.string().nullable(),
});
export type Engine = z.infer<typeof EngineSchema>;

export const SocketSchema = z.object({
  /** tcp | tcp6 | udp | udp6 | raw | raw6 */
  proto: z.string(),
  netns: z.number().int().nullable(),
  localAddress: z.string(),
  localPort: z.number().int(),
  remoteAddress: z.string(),
  remotePort: z.number().int(),
  /** LISTEN, ESTABLISHED, ... (UDP and raw use the TCP state names the kernel prints). */
  state: z.string(),
  inode: z.number().int(),
  uid: z.number().int(),
  txQueue: z.number().int(),
  rxQueue: z.number().int(),
  /** Processes holding it, found by inode. */
  pids: z.array(z.number().int()),
  containerId: z.string().nullable(),
});
export type Socket = z.infer<typeof SocketSchema>;

export const InterfaceCountersSchema = z.object({
  name: z.string(),
  rxBytes: z.number(),
  rxPackets: z.number(),
  rxErrors: z.number(),
  rxDrops: z.number(),
  txBytes: z.number(),
  txPackets: z.number(),
  txErrors: z.number(),
  txDrops: z.number(),
});
export type InterfaceCounters = z.infer<typeof InterfaceCountersSchema>;

export const NetNamespaceSchema = z.object({
  inode: z.number().int(),
  /** The process whose /proc/<pid>/net was read for this namespace. */
  readerPid: z.number().int(),
  /** Containers whose processes live in it (empty: the host's own or an unattributed one). */
  containerIds: z.array(z.string()),
  host: z.boolean(),
  interfaces: z.array(InterfaceCountersSchema),
  /** Per-interface rates when `--interval` was given. */
  rates: z.array(TrafficRateSchema.extend({ name: z.string() })),
});
export type NetNamespace = z.infer<typeof NetNamespaceSchema>;

export const UserSchema = z.object({
  name: z.string(),
  uid: z.number().int(),
  gid: z.number().int(),
  gecos: z.string(),
  home: z.string(),
  shell: z.string(),
  /** false for nologin, false, sync, empty ... */
  loginShell: z.boolean(),
  /** From shadow; the hash itself is never stored. */
  password: z.enum(["set", "locked", "empty", "unknown"]),
  /** shadow's last-change field as a date (YYYY-MM-DD), null if unknown. */
  lastChange: z.string().nullable(),
});
export type User = z.infer<typeof UserSchema>;

export const GroupSchema = z.object({
  name: z.string(),
  gid: z.number().int(),
  members: z.array(z.string()),
});
export type Group = z.infer<typeof GroupSchema>;

export const SudoRuleSchema = z.object({
  file: z.string(),
  line: z.number().int(),
  text: z.string(),
  fileMtime: isoTime.nullable(),
});
export type SudoRule = z.infer<typeof SudoRuleSchema>;

export const AuthorizedKeySchema = z.object({
  type: z.string(),
  /** "SHA256:..." as ssh-keygen -l prints it. */
  fingerprint: z.string(),
  comment: z.string(),
  options: z.string(),
  line: z.number().int(),
});

export const AuthorizedKeysFileSchema = z.object({
  user: z.string(),
  path: z.string(),
  mtime: isoTime.nullable(),
  ctime: isoTime.nullable(),
  size: z.number().int(),
  keys: z.array(AuthorizedKeySchema),
});
export type AuthorizedKeysFile = z.infer<typeof AuthorizedKeysFileSchema>;

export const LoginRecordSchema = z.object({
  /** wtmp, btmp or utmp */
  source: z.string(),
  /** USER_PROCESS, DEAD_PROCESS, BOOT_TIME, LOGIN_PROCESS, RUN_LVL ... */
  type: z.string(),
  user: z.string(),
  tty: z.string(),
  host: z.string(),
  /** From ut_addr_v6 when set. */
  address: z.string().nullable(),
  pid: z.number().int(),
  time: isoTime,
});
export type LoginRecord = z.infer<typeof LoginRecordSchema>;

export const LastlogEntrySchema = z.object({
  uid: z.number().int(),
  user: z.string().nullable(),
  time: isoTime,
  tty: z.string(),
  host: z.string(),
});

export const AccountsSchema = z.object({
  /** "host", or the container's name */
  scope: z.string(),
  containerId: z.string().nullable(),
  /** Where the files were read from (/, /proc/<pid>/root, a --root dir). */
  root: z.string(),
  users: z.array(UserSchema),
  groups: z.array(GroupSchema),
  sudo: z.array(SudoRuleSchema),
  authorizedKeys: z.array(AuthorizedKeysFileSchema),
  logins: z.array(LoginRecordSchema),
  lastlog: z.array(LastlogEntrySchema),
  /** mtime of passwd, shadow, group, sudoers: when accounts last changed. */
  fileTimes: z.record(z.string(), isoTime),
});
export type Accounts = z.infer<typeof AccountsSchema>;

export const HostSchema = z.object({
  hostname: z.string(),
  kernel: z.string(),
  bootTime: isoTime.nullable(),
  /** "/" for the live host, or the --root directory. */
  root: z.string(),
  live: z.boolean(),
  cpus: z.number().int(),
  memTotalBytes: z.number().nullable(),
  clockTicks: z.number().int(),
});

export const SnapshotSchema = z.object({
  schemaVersion: z.literal(SNAPSHOT_SCHEMA_VERSION),
  tool: z.object({ name: z.string(), version: z.string() }),
  takenAt: isoTime,
  durationMs: z.number(),
  intervalSeconds: z.number().nullable(),
  host: HostSchema,
  engine: EngineSchema,
  processes: z.array(ProcessSchema),
  containers: z.array(ContainerSchema),
  sockets: z.array(SocketSchema),
  netns: z.array(NetNamespaceSchema),
  accounts: z.array(AccountsSchema),
  gaps: z.array(GapSchema),
});
export type Snapshot = z.infer<typeof SnapshotSchema>;

/** Read a snapshot back from JSON, validated against the versioned schema. */
export function parseSnapshot(text: string): Snapshot {
  const data: unknown = JSON.parse(text);
  const version = (data as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== SNAPSHOT_SCHEMA_VERSION) {
    throw new Error(
      `snapshot schema version ${String(version)} is not supported (this breachkit reads ${SNAPSHOT_SCHEMA_VERSION})`,
    );
  }
  return SnapshotSchema.parse(data);
}
