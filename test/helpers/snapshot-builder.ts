/**
 * Small, valid Snapshots for rule tests, built from partial object literals.
 *
 *   const snap = new SnapshotBuilder()
 *     .container({ name: "bk-lab-gitlab" })
 *     .process({ pid: 4242, comm: "wate", exe: { path: "/tmp/wate", deleted: true } }, "bk-lab-gitlab")
 *     .build();
 *
 * Everything not given gets a plausible default: a process in a container gets the
 * container's id, name, cgroup path and namespaces, and `exe.upperLayer: false`; an
 * executable's sha256 is derived from its path (same path, same hash) unless given.
 * `build()` validates the result with the real zod schema, so a test can never run on a
 * Snapshot that the collector could not have produced.
 */
import { createHash } from "node:crypto";
import {
  type Accounts,
  type AuthorizedKeysFile,
  type Container,
  type Executable,
  type LoginRecord,
  type Mount,
  type NetNamespace,
  type Process,
  SNAPSHOT_SCHEMA_VERSION,
  type Snapshot,
  SnapshotSchema,
  type Socket,
  type SudoRule,
  type User,
} from "../../src/model/snapshot.js";

export const HOST_NET_NS = 4026531840;
export const HOST_PID_NS = 4026531836;
export const HOST_MNT_NS = 4026531841;
export const DEFAULT_TAKEN_AT = "2026-03-01T12:00:00.000Z";

/** A stable fake SHA-256 for a seed (an executable's path, usually). */
export function fakeSha256(seed: string): string {
  return createHash("sha256").update(seed).digest("hex");
}

/** A stable fake 64-hex container id for a name. */
export function fakeContainerId(name: string): string {
  return fakeSha256(`container:${name}`);
}

function basename(p: string): string {
  const i = p.lastIndexOf("/");
  return i === -1 ? p : p.slice(i + 1);
}

export type ProcessInput = Partial<Omit<Process, "exe" | "ns">> & {
  exe?: Partial<Executable>;
  ns?: Partial<Process["ns"]>;
};

export type ContainerInput = Partial<Container> & { name: string };

export function makeExecutable(partial: Partial<Executable> = {}): Executable {
  const path = partial.path === undefined ? "/usr/bin/true" : partial.path;
  const memfd = partial.memfd ?? path?.startsWith("/memfd:") === true;
  return {
    path,
    deleted: partial.deleted ?? memfd,
    memfd,
    sha256: partial.sha256 === undefined ? (path ? fakeSha256(path) : null) : partial.sha256,
    size: partial.size === undefined ? 4096 : partial.size,
    dev: partial.dev === undefined ? 2049 : partial.dev,
    ino: partial.ino === undefined ? 1000 : partial.ino,
    upperLayer: partial.upperLayer === undefined ? null : partial.upperLayer,
    hashedAt: partial.hashedAt === undefined ? null : partial.hashedAt,
    error: partial.error === undefined ? null : partial.error,
  };
}

let nextPid = 1000;

/** A process; `container`, when given, fills in the container's id, name, cgroup and namespaces. */
export function makeProcess(input: ProcessInput = {}, container?: Container): Process {
  const pid = input.pid ?? nextPid++;
  const exeInput: Partial<Executable> = { ...input.exe };
  if (container && exeInput.upperLayer === undefined) exeInput.upperLayer = false;
  const kernelThread = input.kernelThread ?? false;
  if (kernelThread && exeInput.path === undefined) {
    exeInput.path = null;
    exeInput.error = exeInput.error ?? "kernel thread";
  }
  if (input.comm !== undefined && exeInput.path === undefined) {
    exeInput.path = `/usr/bin/${input.comm}`;
  }
  const exe = makeExecutable(exeInput);
  const comm = input.comm ?? (exe.path ? basename(exe.path).slice(0, 15) : "proc");
  const argv = input.argv ?? (kernelThread ? [] : [exe.path ?? comm]);
  const containerNs = container ? nsOfContainer(container) : null;
  return {
    pid,
    ppid: input.ppid ?? (kernelThread ? 2 : 1),
    uid: input.uid ?? 0,
    gid: input.gid ?? 0,
    user: input.user === undefined ? (input.uid && input.uid !== 0 ? null : "root") : input.user,
    state: input.state ?? "S",
    comm,
    argv,
    cmdlineB64:
      input.cmdlineB64 ??
      Buffer.from(argv.length ? `${argv.join("\0")}\0` : "", "utf8").toString("base64"),
    kernelThread,
    exe,
    cwd: input.cwd === undefined ? "/" : input.cwd,
    startTime: input.startTime ?? "2026-03-01T10:00:00.000Z",
    cpuSeconds: input.cpuSeconds ?? 0,
    cpuPercent: input.cpuPercent ?? 0,
    rssBytes: input.rssBytes ?? 1_000_000,
    threads: input.threads ?? 1,
    ns: {
      pid: containerNs?.pid ?? HOST_PID_NS,
      net: containerNs?.net ?? HOST_NET_NS,
      mnt: containerNs?.mnt ?? HOST_MNT_NS,
      ...input.ns,
    },
    socketInodes: input.socketInodes ?? [],
    cgroup:
      input.cgroup === undefined ? (container ? `/docker/${container.id}` : "/") : input.cgroup,
    containerId: input.containerId === undefined ? (container?.id ?? null) : input.containerId,
    containerName:
      input.containerName === undefined ? (container?.name ?? null) : input.containerName,
  };
}

/** Namespace inodes derived from the container id, so each container gets its own. */
export function nsOfContainer(c: Container): { pid: number; net: number; mnt: number } {
  const n = Number.parseInt(c.id.slice(0, 6), 16);
  return { pid: 4026532000 + n * 3, net: 4026532001 + n * 3, mnt: 4026532002 + n * 3 };
}

export function makeMount(partial: Partial<Mount> & { source: string }): Mount {
  return {
    type: "bind",
    destination: partial.source,
    rw: true,
    dockerSocket: false,
    sensitive: false,
    ...partial,
  };
}

export function makeContainer(input: ContainerInput): Container {
  const running = input.running ?? true;
  return {
    id: input.id ?? fakeContainerId(input.name),
    name: input.name,
    image: input.image ?? `${input.name}:latest`,
    imageId: input.imageId ?? `sha256:${fakeSha256(`image:${input.name}`)}`,
    createdAt: input.createdAt === undefined ? "2026-02-01T09:00:00.000Z" : input.createdAt,
    startedAt: input.startedAt === undefined ? "2026-02-01T09:00:01.000Z" : input.startedAt,
    finishedAt: input.finishedAt === undefined ? null : input.finishedAt,
    state: input.state ?? (running ? "running" : "exited"),
    running,
    paused: input.paused ?? false,
    pid: input.pid === undefined ? (running ? 900 : null) : input.pid,
    privileged: input.privileged ?? false,
    capAdd: input.capAdd ?? [],
    networkMode: input.networkMode ?? "bridge",
    pidMode: input.pidMode ?? "",
    networks: input.networks ?? ["bridge"],
    ports: input.ports ?? [],
    mounts: input.mounts ?? [],
    restartPolicy: input.restartPolicy ?? "no",
    labels: input.labels ?? {},
    logDriver: input.logDriver ?? "json-file",
    logPath: input.logPath === undefined ? null : input.logPath,
    upperDir: input.upperDir === undefined ? null : input.upperDir,
    traffic: input.traffic === undefined ? null : input.traffic,
  };
}

let nextInode = 50_000;

export function makeSocket(input: Partial<Socket> = {}, container?: Container): Socket {
  return {
    proto: "tcp",
    netns: container ? nsOfContainer(container).net : HOST_NET_NS,
    localAddress: "0.0.0.0",
    localPort: 0,
    remoteAddress: "0.0.0.0",
    remotePort: 0,
    state: "LISTEN",
    inode: nextInode++,
    uid: 0,
    txQueue: 0,
    rxQueue: 0,
    pids: [],
    containerId: container?.id ?? null,
    ...input,
  };
}

export function makeUser(input: Partial<User> & { name: string }): User {
  const shell = input.shell ?? "/usr/sbin/nologin";
  return {
    uid: 1000,
    gid: input.gid ?? input.uid ?? 1000,
    gecos: "",
    home: `/home/${input.name}`,
    shell,
    loginShell: !/(nologin|false|sync|shutdown|halt)$/.test(shell) && shell !== "",
    password: "locked",
    lastChange: "2025-06-01",
    ...input,
  };
}

/** The users of a stock Debian system: root with a shell, service accounts without. */
export function debianUsers(): User[] {
  return [
    makeUser({ name: "root", uid: 0, gid: 0, home: "/root", shell: "/bin/bash", password: "set" }),
    makeUser({ name: "daemon", uid: 1, home: "/usr/sbin" }),
    makeUser({ name: "bin", uid: 2, home: "/bin" }),
    makeUser({ name: "sys", uid: 3, home: "/dev" }),
    makeUser({ name: "sync", uid: 4, gid: 65534, home: "/bin", shell: "/bin/sync" }),
    makeUser({ name: "www-data", uid: 33, home: "/var/www" }),
    makeUser({ name: "nobody", uid: 65534, home: "/nonexistent" }),
  ];
}

export function makeSudoRule(input: Partial<SudoRule> & { text: string }): SudoRule {
  return { file: "/etc/sudoers", line: 20, fileMtime: "2025-06-01T00:00:00.000Z", ...input };
}

export function makeAuthorizedKeys(
  input: Partial<AuthorizedKeysFile> & { user: string },
): AuthorizedKeysFile {
  return {
    path:
      input.user === "root"
        ? "/root/.ssh/authorized_keys"
        : `/home/${input.user}/.ssh/authorized_keys`,
    mtime: "2025-06-01T00:00:00.000Z",
    ctime: "2025-06-01T00:00:00.000Z",
    size: 100,
    keys: [],
    ...input,
  };
}

export function makeLogin(input: Partial<LoginRecord> = {}): LoginRecord {
  return {
    source: "wtmp",
    type: "USER_PROCESS",
    user: "root",
    tty: "pts/0",
    host: "",
    address: null,
    pid: 2000,
    time: "2026-02-20T08:00:00.000Z",
    ...input,
  };
}

export function makeAccounts(input: Partial<Accounts> = {}): Accounts {
  return {
    scope: "host",
    containerId: null,
    root: "/",
    users: debianUsers(),
    groups: [],
    sudo: [],
    authorizedKeys: [],
    logins: [],
    lastlog: [],
    fileTimes: {},
    ...input,
  };
}

export function makeNetns(input: Partial<NetNamespace> & { inode: number }): NetNamespace {
  return { readerPid: 1, containerIds: [], host: false, interfaces: [], rates: [], ...input };
}

/** A rate entry for one interface of a NetNamespace. */
export function rate(name: string, txPacketsPerSec: number, rxPacketsPerSec = 0) {
  return {
    name,
    intervalSeconds: 2,
    txPacketsPerSec,
    rxPacketsPerSec,
    txBytesPerSec: txPacketsPerSec * 100,
    rxBytesPerSec: rxPacketsPerSec * 100,
  };
}

/** A summed traffic rate for `Container.traffic`. */
export function traffic(txPacketsPerSec: number, rxPacketsPerSec = 0) {
  const { name: _name, ...r } = rate("all", txPacketsPerSec, rxPacketsPerSec);
  return r;
}

export class SnapshotBuilder {
  private readonly snap: Snapshot;

  constructor(overrides: Partial<Snapshot> = {}) {
    this.snap = {
      schemaVersion: SNAPSHOT_SCHEMA_VERSION,
      tool: { name: "breachkit", version: "0.0.0-test" },
      takenAt: DEFAULT_TAKEN_AT,
      durationMs: 100,
      intervalSeconds: null,
      host: {
        hostname: "testhost",
        kernel: "6.1.0-test",
        bootTime: "2026-02-01T00:00:00.000Z",
        root: "/",
        live: true,
        cpus: 2,
        memTotalBytes: 4 * 1024 ** 3,
        clockTicks: 100,
      },
      engine: {
        available: true,
        endpoint: "unix:///var/run/docker.sock",
        version: "20.10.24",
        apiVersion: "1.41",
        storageDriver: "overlay2",
        dockerRootDir: "/var/lib/docker",
        error: null,
      },
      processes: [],
      containers: [],
      sockets: [],
      netns: [],
      accounts: [],
      gaps: [],
      ...overrides,
    };
  }

  /** The container called `name`; throws when it was not added (a bug in the test). */
  containerNamed(name: string): Container {
    const c = this.snap.containers.find((x) => x.name === name);
    if (!c) throw new Error(`snapshot-builder: add container "${name}" before using it`);
    return c;
  }

  container(input: ContainerInput): this {
    this.snap.containers.push(makeContainer(input));
    return this;
  }

  /** Add a process, on the host or (with `inContainer`) in a container added before. */
  process(input: ProcessInput = {}, inContainer?: string): this {
    const c = inContainer === undefined ? undefined : this.containerNamed(inContainer);
    this.snap.processes.push(makeProcess(input, c));
    return this;
  }

  /** The runtime chain that starts a container's init: dockerd, containerd, containerd-shim. */
  dockerRuntime(): this {
    this.process({ pid: 700, comm: "dockerd", exe: { path: "/usr/sbin/dockerd" } });
    this.process({ pid: 710, ppid: 700, comm: "containerd", exe: { path: "/usr/bin/containerd" } });
    this.process({
      pid: 800,
      ppid: 1,
      comm: "containerd-shim",
      exe: { path: "/usr/bin/containerd-shim-runc-v2" },
    });
    return this;
  }

  socket(input: Partial<Socket> = {}, inContainer?: string): this {
    const c = inContainer === undefined ? undefined : this.containerNamed(inContainer);
    this.snap.sockets.push(makeSocket(input, c));
    return this;
  }

  netns(input: Partial<NetNamespace> & { inode?: number } = {}, ofContainer?: string): this {
    const c = ofContainer === undefined ? undefined : this.containerNamed(ofContainer);
    this.snap.netns.push(
      makeNetns({
        inode: c ? nsOfContainer(c).net : HOST_NET_NS,
        containerIds: c ? [c.id] : [],
        host: !c,
        ...input,
      }),
    );
    return this;
  }

  /** Accounts of the host, or (with `ofContainer`) of a container added before. */
  accounts(input: Partial<Accounts> = {}, ofContainer?: string): this {
    const c = ofContainer === undefined ? undefined : this.containerNamed(ofContainer);
    this.snap.accounts.push(
      makeAccounts({
        ...(c ? { scope: c.name, containerId: c.id, root: `/proc/${c.pid ?? 1}/root` } : {}),
        ...input,
      }),
    );
    return this;
  }

  set<K extends keyof Snapshot>(key: K, value: Snapshot[K]): this {
    this.snap[key] = value;
    return this;
  }

  /** A validated deep copy: later builder calls do not change it. */
  build(): Snapshot {
    return SnapshotSchema.parse(structuredClone(this.snap));
  }
}
