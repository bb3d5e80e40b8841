/**
 * The Engine API client against the real engine on this host, compared with the docker CLI.
 * Everything runs in containers of a tiny image imported here from busybox-static (no registry),
 * labelled breachkit.test=1 and removed by id afterwards.
 */
import { copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DockerActions } from "../../src/act/docker-actions.js";
import { ContainerSchema } from "../../src/model/snapshot.js";
import { toContainer } from "../../src/observe/docker/container-model.js";
import { DockerEngine } from "../../src/observe/docker/engine.js";
import { EngineError } from "../../src/observe/docker/engine-error.js";
import { probeEngine } from "../../src/observe/docker/engine-model.js";

const engine = DockerEngine.fromEnv(process.env);
const actions = DockerActions.fromEnv(process.env);
// Marks what this run creates, so even a container whose `docker run` failed half-way is found
// and removed by id.
const SESSION = `breachkit.test.session=docker-engine-${process.pid}-${Date.now()}`;
let image = "";
let network = "";
let work = "";

async function docker(...args: string[]): Promise<string> {
  return (await execa("docker", args)).stdout;
}

function run(...args: string[]): Promise<string> {
  return docker("run", "-d", "--label", "breachkit.test=1", "--label", SESSION, ...args);
}

async function failure(promise: Promise<unknown>): Promise<EngineError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error("expected an EngineError");
}

async function readAll(stream: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const chunk of stream) parts.push(chunk as Buffer);
  return Buffer.concat(parts);
}

/** Names and contents of the regular files in a tar (ustar headers, 512-byte blocks). */
function tarFiles(tar: Buffer): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  for (let at = 0; at + 512 <= tar.length; ) {
    const header = tar.subarray(at, at + 512);
    if (header.every((b) => b === 0)) break;
    const field = (from: number, len: number) =>
      header
        .subarray(from, from + len)
        .toString("latin1")
        .replace(/\0.*$/s, "");
    const name = (field(345, 155) ? `${field(345, 155)}/` : "") + field(0, 100);
    const size = Number.parseInt(field(124, 12).trim() || "0", 8);
    const type = field(156, 1);
    if (type === "0" || type === "")
      files.set(name.replace(/^\.\//, ""), tar.subarray(at + 512, at + 512 + size));
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return files;
}

/** Waits (bounded) until the container's main process has exec'd `comm`. */
async function waitForProcess(id: string, cmd: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const top = await engine.containerTop(id).catch(() => null);
    if (top?.processes.some((p) => p.at(-1)?.startsWith(cmd))) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${cmd} never started in ${id}`);
}

// Known bytes, written by printf in the container: ANSI and OSC escapes, HTML, invalid UTF-8.
const STDOUT = Buffer.concat([
  Buffer.from("line one\n\u001b[31mred\u001b[0m\n<script>alert(1)</script>\nbad "),
  Buffer.from([0xff, 0xfe, 0xc3]),
  Buffer.from(" utf8\n"),
]);
const STDERR = Buffer.from("err \u001b]0;title\u0007 line\nno newline");
const SCRIPT = [
  'printf "line one\\n\\033[31mred\\033[0m\\n"',
  "printf '<script>alert(1)</script>\\n'",
  'printf "bad \\377\\376\\303 utf8\\n"',
  'printf "err \\033]0;title\\007 line\\n" >&2',
  'printf "no newline" >&2',
].join("; ");

let logsId = "";
let ttyId = "";
let targetId = "";

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "bk-docker-engine-"));
  const root = join(work, "root");
  await mkdir(join(root, "bin"), { recursive: true });
  await mkdir(join(root, "etc"));
  await mkdir(join(root, "tmp"));
  await copyFile("/bin/busybox", join(root, "bin", "busybox"));
  await symlink("busybox", join(root, "bin", "sh"));
  await writeFile(join(root, "etc", "motd"), "breachkit test image\n");
  await execa("tar", ["-C", root, "-cf", join(work, "root.tar"), "."]);
  image = await docker("import", "--change", 'CMD ["/bin/sh"]', join(work, "root.tar"));

  // The test's own bridge network: containment disconnects from it, and the run does not
  // depend on the state of the host's default docker0.
  network = await docker(
    "network",
    "create",
    "--label",
    "breachkit.test=1",
    `bk-test-${process.pid}`,
  );

  // local keeps the container's bytes; json-file would store U+FFFD for the invalid UTF-8.
  logsId = await run("--network", "none", "--log-driver", "local", image, "/bin/sh", "-c", SCRIPT);
  ttyId = await run("--network", "none", "-t", image, "/bin/sh", "-c", 'printf "tty line\\n"');
  targetId = await run(
    "--network",
    network,
    "--restart",
    "always",
    "-e",
    "DB_PASSWORD=hunter2",
    image,
    "/bin/sh",
    "-c",
    "echo x >/tmp/dropped; exec sleep 600",
  );
  await docker("wait", logsId, ttyId);
  await waitForProcess(targetId, "sleep");
});

afterAll(async () => {
  const ours = await docker("ps", "-aq", "--no-trunc", "--filter", `label=${SESSION}`);
  for (const id of ours.split("\n").filter(Boolean)) {
    await execa("docker", ["rm", "-f", "-v", id], { reject: false });
  }
  if (network) await execa("docker", ["network", "rm", network], { reject: false });
  if (image) await execa("docker", ["rmi", image], { reject: false });
  if (work) await rm(work, { recursive: true, force: true });
});

describe("reading the engine", () => {
  it("answers ping, version and info as the CLI sees them", async () => {
    expect(await engine.ping()).toBe("OK");
    const version = await engine.version();
    expect(version.ApiVersion).toBe(await docker("version", "--format", "{{.Server.APIVersion}}"));
    expect(version.Version).toBe(await docker("version", "--format", "{{.Server.Version}}"));
    const info = await engine.info();
    expect(info.Driver).toBe(await docker("info", "--format", "{{.Driver}}"));
    // The snapshot's probe asks /info alone and reads the API version from its header.
    const probed = await probeEngine(engine);
    expect(probed).toMatchObject({ available: true, version: version.Version });
    expect(probed.apiVersion).toBe(version.ApiVersion);
  });

  it("lists running and, with all, stopped containers", async () => {
    const all = (await engine.listContainers({ all: true })).map((c) => c.Id);
    const live = (await engine.listContainers()).map((c) => c.Id);
    expect(all).toEqual(expect.arrayContaining([logsId, ttyId, targetId]));
    expect(live).toContain(targetId);
    expect(live).not.toContain(logsId);
  });

  it("inspects into a model Container that agrees with docker inspect", async () => {
    const c = toContainer(await engine.inspectContainer(targetId));
    expect(ContainerSchema.parse(c)).toEqual(c);
    const cli = (format: string) => docker("inspect", "--format", format, targetId);
    expect(c.id).toBe(targetId);
    expect(`/${c.name}`).toBe(await cli("{{.Name}}"));
    expect(String(c.pid)).toBe(await cli("{{.State.Pid}}"));
    expect(c.upperDir).toBe(await cli("{{.GraphDriver.Data.UpperDir}}"));
    expect(c.logPath).toBe(await cli("{{.LogPath}}"));
    expect(c).toMatchObject({ state: "running", running: true, restartPolicy: "always" });
    expect(c.labels["breachkit.test"]).toBe("1");
    const byName = await engine.inspectContainer(c.name);
    expect(byName.Id).toBe(targetId);
  });

  it("lists the filesystem changes as docker diff does", async () => {
    const changes = await engine.containerChanges(targetId);
    expect(changes).toContainEqual({ path: "/tmp/dropped", kind: "added" });
    const letter = { added: "A", modified: "C", deleted: "D", unknown: "?" } as const;
    const ours = changes.map((ch) => `${letter[ch.kind]} ${ch.path}`).sort();
    expect(ours).toEqual((await docker("diff", targetId)).split("\n").sort());
  });

  it("lists the container's processes with host pids", async () => {
    const top = await engine.containerTop(targetId);
    const pidColumn = top.titles.indexOf("PID");
    const pids = top.processes.map((p) => p[pidColumn]);
    const inspect = toContainer(await engine.inspectContainer(targetId));
    expect(pids).toContain(String(inspect.pid));
  });

  it("returns the logs byte for byte, per stream, with escapes and invalid UTF-8", async () => {
    const out = await readAll(
      await engine.containerLogs(logsId, { stdout: true, stderr: false, timestamps: false }),
    );
    const err = await readAll(
      await engine.containerLogs(logsId, { stdout: false, stderr: true, timestamps: false }),
    );
    expect(out.toString("hex")).toBe(STDOUT.toString("hex"));
    expect(err.toString("hex")).toBe(STDERR.toString("hex"));
    const both = await readAll(await engine.containerLogs(logsId, { timestamps: false }));
    expect(both.length).toBe(STDOUT.length + STDERR.length);
  });

  it("prefixes each line with the engine's timestamp and honours since", async () => {
    const stamped = (await readAll(await engine.containerLogs(logsId, { stderr: false })))
      .toString("latin1")
      .split("\n")
      .filter((l) => l !== "");
    expect(stamped).toHaveLength(4);
    for (const line of stamped) expect(line).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z /);
    const future = await engine.containerLogs(logsId, { since: new Date(Date.now() + 3600_000) });
    expect((await readAll(future)).length).toBe(0);
  });

  it("passes a TTY container's log through without demultiplexing", async () => {
    const raw = await readAll(await engine.containerLogs(ttyId, { timestamps: false }));
    expect(raw.toString()).toBe("tty line\r\n");
  });

  it("exports the filesystem and archives a path as tars", async () => {
    const exported = tarFiles(await readAll(await engine.exportContainer(targetId)));
    expect(exported.get("tmp/dropped")?.toString()).toBe("x\n");
    expect(exported.has("bin/busybox")).toBe(true);
    const archive = tarFiles(await readAll(await engine.getArchive(targetId, "/etc/motd")));
    expect(archive.get("motd")?.toString()).toBe("breachkit test image\n");
  });

  it("says NOT_FOUND for a container that does not exist", async () => {
    const name = `bk-missing-${process.pid}`;
    const error = await failure(engine.inspectContainer(name));
    expect(error.code).toBe("NOT_FOUND");
    expect(error.message).toContain(`No such container: ${name}`);
    expect((await failure(engine.containerLogs(name))).code).toBe("NOT_FOUND");
    expect((await failure(engine.containerChanges(name))).code).toBe("NOT_FOUND");
  });

  it("says DOWN, with what to do, when no engine listens at DOCKER_HOST", async () => {
    const down = DockerEngine.fromEnv({ DOCKER_HOST: "unix:///nonexistent.sock" });
    const error = await failure(down.listContainers({ all: true }));
    expect(error.code).toBe("DOWN");
    expect(error.message).toContain("unix:///nonexistent.sock");
    expect(error.message).toMatch(/start the Docker engine, or set DOCKER_HOST/);
  });
});

describe("acting on our own container", () => {
  const state = async () => toContainer(await engine.inspectContainer(targetId));

  it("pauses and unpauses; pausing twice is a CONFLICT", async () => {
    await actions.pause(targetId);
    expect(await state()).toMatchObject({ state: "paused", paused: true });
    expect(await docker("inspect", "--format", "{{.State.Paused}}", targetId)).toBe("true");
    expect((await failure(actions.pause(targetId))).code).toBe("CONFLICT");
    await actions.unpause(targetId);
    expect(await state()).toMatchObject({ state: "running", paused: false });
  });

  it("turns the restart policy off", async () => {
    expect(await actions.updateRestartPolicy(targetId, "no")).toEqual([]);
    expect((await state()).restartPolicy).toBe("no");
    expect(
      await docker("inspect", "--format", "{{.HostConfig.RestartPolicy.Name}}", targetId),
    ).toBe("no");
  });

  it("disconnects from and reconnects to a network", async () => {
    const name = `bk-test-${process.pid}`;
    expect((await state()).networks).toEqual([name]);
    await actions.disconnectNetwork(targetId, network, { force: false });
    expect((await state()).networks).toEqual([]);
    const again = await failure(actions.disconnectNetwork(targetId, name));
    expect(again.status).not.toBeNull();
    await actions.connectNetwork(targetId, name);
    expect((await state()).networks).toEqual([name]);
    const networks = await engine.listNetworks();
    expect(networks.map((n) => n.Name)).toEqual(expect.arrayContaining([name, "host", "none"]));
  });

  it("stops and starts, reporting when it was already so", async () => {
    expect(await actions.stop(targetId, { timeoutSec: 1 })).toBe(true);
    expect(await state()).toMatchObject({ state: "exited", running: false, pid: null });
    expect(await actions.stop(targetId, { timeoutSec: 1 })).toBe(false);
    expect((await failure(engine.containerTop(targetId))).code).toBe("CONFLICT");
    expect(await actions.start(targetId)).toBe(true);
    expect(await state()).toMatchObject({ state: "running", running: true });
    expect(await actions.start(targetId)).toBe(false);
  });

  it("kills with a signal; killing a stopped container is a CONFLICT", async () => {
    await actions.kill(targetId, "SIGKILL");
    await docker("wait", targetId);
    expect((await state()).state).toBe("exited");
    expect((await failure(actions.kill(targetId))).code).toBe("CONFLICT");
  });
});
