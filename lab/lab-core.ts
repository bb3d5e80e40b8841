/**
 * The breach lab: a simulated GitLab compromise built from local parts (busybox, a tiny C
 * program), for the integration tests and for drills by hand.
 *
 * Safety: the only traffic is UDP to 127.0.0.1 (inside a `--network none` container, or on the
 * host's loopback in the "escaped" scenario), paced and bounded by the program itself; `labDown`
 * removes only containers carrying the lab label, by id, and signals only host processes whose
 * start time and executable hash match what `labUp` recorded.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import {
  chmod,
  copyFile,
  mkdir,
  mkdtemp,
  readFile,
  rename,
  rm,
  rmdir,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { BreachkitError } from "../src/util/errors.js";
import { errorMessage } from "../src/util/result.js";
import {
  bobMaildir,
  containerFiles,
  EICAR,
  LAB_CONTAINER_NAMES,
  LAB_LABEL,
  LAB_PATHS,
  LAB_SIGNATURE_TEXT,
  type LabRole,
  rootfsEntries,
} from "./lab-content.js";
import {
  findContainerProcesses,
  isGoneOrZombie,
  procExeLink,
  procStat,
  sha256File,
} from "./lab-proc.js";
import { tarArchive } from "./tar.js";

export {
  EICAR,
  LAB_CONTAINER_NAMES,
  LAB_LABEL,
  LAB_PATHS,
  LAB_SIGNATURE_TEXT,
} from "./lab-content.js";

export type LabScenario = "contained" | "escaped";

export interface LabTrojan {
  where: "container" | "host";
  /** Container name, or null for the host copy. */
  container: string | null;
  /** The pid in the host's pid namespace. */
  hostPid: number;
  /** SHA-256 of the binary, equal to what /proc/<hostPid>/exe reads. */
  sha256: string;
  /** The path the program was started from (deleted by the program right after its start). */
  path: string;
}

export interface LabInfo {
  scenario: LabScenario;
  image: { id: string; ref: string };
  containers: Record<LabRole, { name: string; id: string }>;
  trojans: LabTrojan[];
  signatures: {
    /** Inside bk-lab-mail: the mbox whose second message carries EICAR as an attachment. */
    eicarPath: string;
    /** Inside bk-lab-mail: every file that holds EICAR (mbox, and a Maildir message). */
    eicarPaths: string[];
    /** Inside bk-lab-mail. */
    labSignaturePath: string;
    labSignatureText: string;
  };
}

export interface LabStatus {
  /** What the last `labUp` reported, if its state file is present. */
  info: LabInfo | null;
  containers: { id: string; name: string; state: string }[];
  hostProcesses: { pid: number; running: boolean }[];
}

export interface LabUpOptions {
  scenario: LabScenario;
  /** How long the trojan copies run before stopping by themselves (1..900 s, default 900). */
  trojanSeconds?: number;
  /** Progress messages (for a terminal); silent by default. */
  log?: (message: string) => void;
}

interface HostProcessRecord {
  pid: number;
  starttime: number;
  sha256: string;
  dir: string;
}

interface LabState {
  version: 1;
  info: LabInfo | null;
  hostProcesses: HostProcessRecord[];
}

const LAB_DIR = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = dirname(LAB_DIR);
const CACHE_DIR = join(REPO_ROOT, ".lab-cache");
/**
 * One state file per engine: a lab on another engine (DOCKER_HOST naming a second dockerd or a
 * podman service) must never read, and so never stop, the host processes of the system engine's lab.
 */
function stateDir(): string {
  const socket = dockerSocketPath();
  return socket === "/var/run/docker.sock" || socket === "/run/docker.sock"
    ? "/run/breachkit-lab"
    : `/run/breachkit-lab-${sha256(socket).slice(0, 12)}`;
}
const stateFile = (): string => join(stateDir(), "state.json");
const GCC_FLAGS = ["-static", "-O2", "-s", "-Wall"];
const HOST_TROJAN_NAME = "kdevtmpfsd";
const HOST_DIR_PREFIX = "bk-lab-";
const MAX_TROJAN_SECONDS = 900;
/** Fixed tar times keep the image tarball byte-identical between runs, so its hash is its key. */
const IMAGE_MTIME = 1_700_000_000;
const IMAGE_FORMAT = "breachkit-lab-image/1";

const sha256 = (data: Uint8Array | string): string =>
  createHash("sha256").update(data).digest("hex");

async function docker(args: string[], input?: Uint8Array): Promise<string> {
  let result: { exitCode?: number | undefined; stdout: unknown; stderr: unknown };
  try {
    result = await execa("docker", args, {
      reject: false,
      timeout: 120_000,
      maxBuffer: 16 * 1024 * 1024,
      stripFinalNewline: true,
      ...(input === undefined ? { stdin: "ignore" as const } : { input }),
    });
  } catch (err) {
    throw new BreachkitError(
      "TOOL_MISSING",
      `could not run the docker CLI: ${errorMessage(err)}`,
      "install Docker (scripts/setup.sh installs Debian's docker.io)",
      { cause: err },
    );
  }
  if (result.exitCode !== 0) {
    const stderr = String(result.stderr ?? "")
      .trim()
      .split("\n")
      .slice(-3)
      .join(" | ");
    const down =
      /Cannot connect to the Docker daemon|Is the docker daemon running|connection refused/i;
    if (down.test(stderr)) {
      throw new BreachkitError(
        "ENGINE_DOWN",
        `no Docker engine answers: ${stderr}`,
        "start dockerd (or set DOCKER_HOST) and try again",
      );
    }
    throw new BreachkitError(
      "INTERNAL",
      `docker ${args[0]} failed: ${stderr || `exit ${result.exitCode}`}`,
    );
  }
  return String(result.stdout ?? "");
}

/** The engine's socket on the host, mounted into the mail container as the audit's misconfiguration. */
function dockerSocketPath(): string {
  const host = process.env.DOCKER_HOST;
  return host?.startsWith("unix://") ? host.slice("unix://".length) : "/var/run/docker.sock";
}

/** Compiles wate.c once per source content into the repo's `.lab-cache/`. */
export async function buildWate(): Promise<{ path: string; sha256: string }> {
  const source = join(LAB_DIR, "wate.c");
  const key = sha256(`${await readFile(source, "utf8")}\n${GCC_FLAGS.join(" ")}`).slice(0, 12);
  const out = join(CACHE_DIR, `wate-${key}`);
  if (!existsSync(out)) {
    await mkdir(CACHE_DIR, { recursive: true });
    const tmp = `${out}.${process.pid}.tmp`;
    try {
      await execa("gcc", [...GCC_FLAGS, "-o", tmp, source], { stdin: "ignore" });
    } catch (err) {
      await rm(tmp, { force: true });
      throw new BreachkitError(
        "TOOL_MISSING",
        `could not build the lab trojan with gcc: ${errorMessage(err).split("\n").slice(0, 5).join(" ")}`,
        "install gcc and libc6-dev (scripts/setup.sh does it)",
        { cause: err },
      );
    }
    await rename(tmp, out); // atomic: a concurrent build never sees a half-written binary
  }
  const digest = await sha256File(out);
  if (digest === null) throw new BreachkitError("IO", `cannot read ${out}`);
  return { path: out, sha256: digest };
}

/** Builds (or reuses) the lab image, tagged by the hash of its root filesystem tarball. */
export async function buildLabImage(): Promise<{ id: string; ref: string }> {
  let busybox: Buffer;
  try {
    busybox = await readFile("/bin/busybox");
  } catch (err) {
    throw new BreachkitError(
      "TOOL_MISSING",
      "/bin/busybox is missing",
      "install busybox-static (scripts/setup.sh does it)",
      { cause: err },
    );
  }
  const list = await execa("/bin/busybox", ["--list-full"], { stdin: "ignore" });
  const tar = tarArchive(rootfsEntries(busybox, list.stdout.split("\n")), IMAGE_MTIME);
  const ref = `breachkit-lab:${sha256(Buffer.concat([Buffer.from(IMAGE_FORMAT), tar])).slice(0, 12)}`;
  const existing = await docker(["image", "ls", "--no-trunc", "--format", "{{.ID}}", ref]);
  if (existing.trim() !== "") return { id: existing.trim().split("\n")[0]!, ref };
  // The image label differs from the containers' label on purpose: containers inherit image
  // labels, and labDown must match only containers the lab itself created.
  await docker(
    [
      "import",
      "--change",
      "ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin",
      "--change",
      `LABEL ${LAB_LABEL}.image=1`,
      "--change",
      'CMD ["/bin/sh"]',
      "-",
      ref,
    ],
    tar,
  );
  const id = (await docker(["image", "inspect", "--format", "{{.Id}}", ref])).trim();
  return { id, ref };
}

async function readState(): Promise<LabState | null> {
  let text: string;
  try {
    text = await readFile(stateFile(), "utf8");
  } catch {
    return null;
  }
  try {
    const parsed = JSON.parse(text) as Partial<LabState>;
    if (parsed.version !== 1 || !Array.isArray(parsed.hostProcesses)) return null;
    const hostProcesses = parsed.hostProcesses.filter(
      (p): p is HostProcessRecord =>
        typeof p === "object" &&
        p !== null &&
        Number.isSafeInteger(p.pid) &&
        p.pid > 1 &&
        Number.isSafeInteger(p.starttime) &&
        typeof p.sha256 === "string" &&
        /^[0-9a-f]{64}$/.test(p.sha256) &&
        typeof p.dir === "string",
    );
    return { version: 1, info: parsed.info ?? null, hostProcesses };
  } catch {
    return null;
  }
}

async function writeState(state: LabState): Promise<void> {
  await mkdir(stateDir(), { recursive: true, mode: 0o700 });
  const tmp = `${stateFile()}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, stateFile());
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | null>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== null) return value;
    if (Date.now() > deadline)
      throw new BreachkitError("INTERNAL", `timed out after ${ms} ms waiting for ${what}`);
    await sleep(100);
  }
}

async function listLabContainers(): Promise<{ id: string; name: string; state: string }[]> {
  const out = await docker([
    "ps",
    "-a",
    "--no-trunc",
    "--filter",
    `label=${LAB_LABEL}=1`,
    "--format",
    "{{.ID}}\t{{.Names}}\t{{.State}}",
  ]);
  return out
    .split("\n")
    .map((line) => line.split("\t"))
    .filter(
      (f): f is [string, string, string] => f.length === 3 && /^[0-9a-f]{64}$/.test(f[0] ?? ""),
    )
    .map(([id, name, state]) => ({ id, name, state }));
}

async function createContainer(
  role: LabRole,
  image: string,
  files: Uint8Array,
): Promise<{ name: string; id: string }> {
  const name = LAB_CONTAINER_NAMES[role];
  const extra =
    role === "mail" ? ["--volume", `${dockerSocketPath()}:/var/run/docker.sock:ro`] : [];
  const id = (
    await docker([
      "create",
      "--name",
      name,
      "--label",
      `${LAB_LABEL}=1`,
      "--label",
      `${LAB_LABEL}.role=${role}`,
      "--network",
      "none",
      "--log-driver",
      "json-file",
      "--hostname",
      role,
      ...extra,
      image,
      "/bin/sh",
      "/lab/run.sh",
    ])
  ).trim();
  // Copied into the created container (its writable layer), never baked into the shared image.
  await docker(["cp", "-", `${id}:/`], files);
  return { name, id };
}

/** Starts the host copy of the trojan under another name, detached from the caller's stdio. */
async function startHostTrojan(
  wate: string,
  seconds: number,
  record: (r: HostProcessRecord) => Promise<void>,
): Promise<LabTrojan> {
  const dir = await mkdtemp(join(tmpdir(), HOST_DIR_PREFIX));
  const path = join(dir, HOST_TROJAN_NAME);
  await copyFile(wate, path);
  await chmod(path, 0o755);
  const expected = await sha256File(path);
  if (expected === null) throw new BreachkitError("IO", `cannot read ${path}`);
  // stdio "ignore": a child holding the caller's stdout (a test runner's or CI's pipe) would
  // keep that pipe open for up to 15 minutes.
  const child = spawn(path, [String(seconds)], { detached: true, stdio: "ignore" });
  const spawnError = new Promise<never>((_, reject) => child.once("error", reject));
  spawnError.catch(() => {});
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    await Promise.race([spawnError, sleep(1000)]);
    throw new BreachkitError("INTERNAL", `could not start ${path}`);
  }
  try {
    const stat = await waitFor("the host trojan's /proc entry", 5_000, () => procStat(pid));
    await record({ pid, starttime: stat.starttime, sha256: expected, dir });
  } catch (err) {
    child.kill("SIGKILL"); // not recorded, so labDown could not find it: end it through its handle
    throw err;
  }
  await waitFor("the host trojan to delete its file", 10_000, async () => {
    const link = await procExeLink(pid);
    return link?.endsWith(`/${HOST_TROJAN_NAME} (deleted)`) ? link : null;
  });
  await rmdir(dir).catch(() => {});
  const running = await sha256File(`/proc/${pid}/exe`);
  if (running !== expected) {
    throw new BreachkitError("INTERNAL", `host trojan pid ${pid} does not run the lab binary`);
  }
  return { where: "host", container: null, hostPid: pid, sha256: expected, path };
}

/**
 * Brings the lab up (after tearing down any previous lab) and returns once the trojan runs
 * and has deleted its file. On failure, whatever was created is removed again.
 */
export async function labUp(opts: LabUpOptions): Promise<LabInfo> {
  const log = opts.log ?? (() => {});
  const seconds = Math.max(
    1,
    Math.min(MAX_TROJAN_SECONDS, Math.floor(opts.trojanSeconds ?? MAX_TROJAN_SECONDS)),
  );
  await labDown();
  try {
    log("building the trojan stand-in (wate)");
    const wate = await buildWate();
    log("building the lab image");
    const image = await buildLabImage();
    const watebytes = await readFile(wate.path);
    const now = new Date();
    const state: LabState = { version: 1, info: null, hostProcesses: [] };

    const containers = {} as Record<LabRole, { name: string; id: string }>;
    for (const role of ["wordpress", "mail", "gitlab"] as const) {
      log(`creating ${LAB_CONTAINER_NAMES[role]}`);
      const files = tarArchive(
        containerFiles(role, now, { wate: watebytes, trojanSeconds: seconds }),
        Math.floor(now.getTime() / 1000),
      );
      containers[role] = await createContainer(role, image.ref, files);
    }
    for (const role of ["wordpress", "mail", "gitlab"] as const) {
      await docker(["start", containers[role].id]);
    }

    const gitlabId = containers.gitlab.id;
    log("waiting for the trojan in bk-lab-gitlab");
    const pid = await waitFor(
      "wate to run and delete itself in bk-lab-gitlab",
      30_000,
      async () => {
        const pids = await findContainerProcesses(gitlabId, (link) =>
          link.endsWith("/wate (deleted)"),
        );
        return pids[0] ?? null;
      },
    );
    const containerSha = await sha256File(`/proc/${pid}/exe`);
    if (containerSha !== wate.sha256) {
      throw new BreachkitError(
        "INTERNAL",
        `pid ${pid} in bk-lab-gitlab does not run the lab binary`,
      );
    }
    const trojans: LabTrojan[] = [
      {
        where: "container",
        container: containers.gitlab.name,
        hostPid: pid,
        sha256: wate.sha256,
        path: LAB_PATHS.trojanInContainer,
      },
    ];

    if (opts.scenario === "escaped") {
      log("starting the trojan on the host (escaped scenario)");
      trojans.push(
        await startHostTrojan(wate.path, seconds, async (r) => {
          state.hostProcesses.push(r);
          await writeState(state);
        }),
      );
    }

    const info: LabInfo = {
      scenario: opts.scenario,
      image,
      containers,
      trojans,
      signatures: {
        eicarPath: LAB_PATHS.aliceMbox,
        eicarPaths: [
          LAB_PATHS.aliceMbox,
          ...bobMaildir(now)
            .filter((m) => m.text.includes(EICAR))
            .map((m) => `${LAB_PATHS.bobMaildirNew}/${m.name}`),
        ],
        labSignaturePath: LAB_PATHS.labSignature,
        labSignatureText: LAB_SIGNATURE_TEXT,
      },
    };
    state.info = info;
    await writeState(state);
    return info;
  } catch (err) {
    await labDown().catch(() => {});
    throw err;
  }
}

/** Signals a recorded host process only while it is provably the one the lab started. */
async function stopHostProcess(p: HostProcessRecord): Promise<boolean> {
  const isOurs = async () => {
    const stat = await procStat(p.pid);
    if (stat === null || stat.starttime !== p.starttime || stat.state === "Z") return false;
    return (await sha256File(`/proc/${p.pid}/exe`)) === p.sha256;
  };
  if (!(await isOurs())) return false;
  process.kill(p.pid, "SIGTERM");
  for (let i = 0; i < 30; i++) {
    if (await isGoneOrZombie(p.pid)) return true;
    await sleep(100);
  }
  if (await isOurs()) process.kill(p.pid, "SIGKILL");
  for (let i = 0; i < 30 && !(await isGoneOrZombie(p.pid)); i++) await sleep(100);
  // A zombie lingers until its parent reaps it: the caller (a test runner) does so at once,
  // an init that adopted it may take a few seconds. Wait a little, bounded, for a clean /proc.
  for (let i = 0; i < 50 && (await procStat(p.pid)) !== null; i++) await sleep(100);
  return true;
}

/**
 * Removes every container labelled `breachkit.lab=1` (by id) and stops the host processes
 * recorded by `labUp`. Idempotent; images stay cached.
 */
export async function labDown(): Promise<{ removedContainers: string[]; killedPids: number[] }> {
  const state = await readState();
  const killedPids: number[] = [];
  for (const p of state?.hostProcesses ?? []) {
    if (await stopHostProcess(p)) killedPids.push(p.pid);
    // Only the lab's own temporary directory, never a path the state file could point elsewhere.
    if (dirname(p.dir) === tmpdir() && basename(p.dir).startsWith(HOST_DIR_PREFIX)) {
      await rm(p.dir, { recursive: true, force: true });
    }
  }
  const removedContainers: string[] = [];
  const containers = await listLabContainers();
  for (const c of containers) {
    await docker(["rm", "--force", "--volumes", c.id]);
    removedContainers.push(c.id);
  }
  await rm(stateFile(), { force: true });
  await rmdir(stateDir()).catch(() => {}); // only when empty: nothing of the lab stays behind
  return { removedContainers, killedPids };
}

export async function labStatus(): Promise<LabStatus> {
  const state = await readState();
  const containers = await listLabContainers();
  const hostProcesses = [];
  for (const p of state?.hostProcesses ?? []) {
    const stat = await procStat(p.pid);
    hostProcesses.push({
      pid: p.pid,
      running: stat !== null && stat.starttime === p.starttime && stat.state !== "Z",
    });
  }
  return { info: state?.info ?? null, containers, hostProcesses };
}
