/**
 * `update` against real parts: Debian's docker-registry on 127.0.0.1 (started here, stopped by
 * pid), images built from local parts and pushed to it, tags moved to a new image and to one
 * whose healthcheck fails, and two bad registries on the loopback (one hangs, one lies). Only
 * containers, networks, volumes and images this file created are touched, by id; every command
 * is restricted with --label to this run's containers.
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { configDifferences } from "../../src/act/update/recreate-spec.js";
import { runCli } from "../../src/cli/main.js";
import { verifyBundle } from "../../src/evidence/verify.js";
import type { UpdateCheck, UpdateRun } from "../../src/model/update-output.js";
import { memoryIo } from "../helpers/memory-io.js";
import {
  buildImage,
  docker,
  hangingServer,
  type LocalRegistry,
  lyingRegistry,
  startRegistry,
  startTokenRegistry,
} from "../helpers/registry.js";

type CheckOut = UpdateCheck & { schemaVersion: number; mode: "check" };
type RunOut = UpdateRun & {
  schemaVersion: number;
  mode: "update";
  bundle: string | null;
  manifestSha256: string | null;
};

const RUN = `r${Date.now().toString(36)}`;
const LABEL = `bk-update-test=${RUN}`;
let reg: LocalRegistry;
let out: string;
const containers: string[] = [];
const images = new Set<string>();
const networks: string[] = [];
const volumes: string[] = [];
let appRef: string;
let brkRef: string;
let v1: string;
let netName: string;

async function cli(args: string[]) {
  const { io, stdout, stderr } = memoryIo({ env: process.env, cwd: out });
  const code = await runCli(["update", ...args], io);
  return { code, stdout: stdout(), stderr: stderr() };
}

async function checkJson(args: string[]): Promise<{ code: number; out: CheckOut; ms: number }> {
  const t0 = Date.now();
  const r = await cli([
    "--check",
    "--json",
    "--label",
    LABEL,
    "--insecure-registry",
    reg.host,
    ...args,
  ]);
  if (!r.stdout.trim().startsWith("{")) throw new Error(`no JSON (exit ${r.code}): ${r.stderr}`);
  return { code: r.code, out: JSON.parse(r.stdout) as CheckOut, ms: Date.now() - t0 };
}

async function updateJson(args: string[]): Promise<{ code: number; out: RunOut; stderr: string }> {
  const r = await cli([
    "--json",
    "--yes",
    "--label",
    LABEL,
    "--insecure-registry",
    reg.host,
    "--out",
    out,
    "--stop-timeout",
    "3",
    ...args,
  ]);
  if (!r.stdout.trim().startsWith("{")) throw new Error(`no JSON (exit ${r.code}): ${r.stderr}`);
  return { code: r.code, out: JSON.parse(r.stdout) as RunOut, stderr: r.stderr };
}

async function inspect(id: string): Promise<Record<string, unknown>> {
  return (JSON.parse(await docker(["inspect", id])) as Record<string, unknown>[])[0] ?? {};
}

async function imageId(ref: string): Promise<string> {
  return docker(["image", "inspect", "--format", "{{.Id}}", ref]);
}

/** Move the registry's tag to a new image, leaving the local tag on `keepLocal` (the running one). */
async function moveTag(
  ref: string,
  version: string,
  healthy: boolean,
  keepLocal: string,
  alsoTags: string[] = [],
) {
  const id = await buildImage(ref, { version, healthy });
  images.add(id);
  await docker(["push", ref]);
  for (const t of alsoTags) {
    await docker(["tag", id, t]);
    await docker(["push", t]);
  }
  // The new image leaves this host, so the update has to pull it for real.
  await docker(["rmi", ref, ...alsoTags]);
  await docker(["tag", keepLocal, ref]);
  return id;
}

/** `docker run -d` of `ref` with this run's label (`cmd`: the arguments after the image). */
async function run(name: string, args: string[], ref: string, cmd: string[] = []): Promise<string> {
  // On this test's own network: nothing here needs the default bridge (docker0).
  const net = args.includes("--network") ? [] : ["--network", netName];
  try {
    const id = await docker([
      "run",
      "-d",
      "--name",
      name,
      "--label",
      LABEL,
      ...net,
      ...args,
      ref,
      ...cmd,
    ]);
    containers.push(id);
    return id;
  } catch (e) {
    // Created but not started (a network error, say): still this test's, removed by id at the end.
    const left = await docker(["ps", "-aq", "--no-trunc", "--filter", `name=^/${name}$`]).catch(
      () => "",
    );
    for (const id of left.split("\n")) if (id) containers.push(id);
    throw e;
  }
}

/** A created (not started) container on `ref`, a local tag of v1; removed by id at the end. */
async function createOn(ref: string, name: string, labels: string[]): Promise<string> {
  await docker(["tag", v1, ref]);
  const id = await docker([
    "create",
    "--name",
    name,
    ...labels.flatMap((l) => ["--label", l]),
    ref,
  ]);
  containers.push(id);
  return id;
}

/** Every local image of `repo` (pulled by an update) is this file's, removed at the end. */
async function adoptImages(repo: string): Promise<void> {
  for (const id of (await docker(["images", "-q", "--no-trunc", repo])).split("\n")) {
    if (id) images.add(id);
  }
}

/** The paths a bundle's manifest lists. */
async function bundlePaths(bundle: string | null): Promise<string[]> {
  const manifest = JSON.parse(await readFile(join(bundle ?? "", "manifest.json"), "utf8")) as {
    files: { path: string }[];
  };
  return manifest.files.map((f) => f.path);
}

describe("update", () => {
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), "bk-update-out-"));
    reg = await startRegistry();
    appRef = `${reg.host}/bk-update/app:1.0.0`;
    brkRef = `${reg.host}/bk-update/brk:1`;
    v1 = await buildImage(appRef, { version: "1", healthy: true });
    images.add(v1);
    await docker(["push", appRef]);
    await docker(["tag", v1, brkRef]);
    await docker(["push", brkRef]);
    netName = `bk-upd-net-${RUN}`;
    networks.push(
      await docker(["network", "create", "--subnet", "172.29.77.0/24", "--label", LABEL, netName]),
    );
    const vol = `bk-upd-vol-${RUN}`;
    volumes.push(await docker(["volume", "create", "--label", LABEL, vol]));
    await run(
      `bk-upd-main-${RUN}`,
      [
        "--network",
        netName,
        "--network-alias",
        "app-alias",
        "--ip",
        "172.29.77.10",
        "-e",
        "FOO=bar",
        "--label",
        "org.example.role=web",
        "-v",
        `${vol}:/vol`,
        "-v",
        "/data",
        "--mount",
        `type=bind,src=${out},dst=/host,readonly`,
        "-p",
        "127.0.0.1::8080",
        "--restart",
        "unless-stopped",
        "--memory",
        "64m",
        "--cpu-shares",
        "512",
        "--pids-limit",
        "64",
        "--cap-drop",
        "ALL",
        "--cap-add",
        "CHOWN",
        "--user",
        "1000:1000",
        "--init",
        "--log-opt",
        "max-size=1m",
        "--log-opt",
        "max-file=2",
        "--hostname",
        "web-1",
        "--entrypoint",
        "/bin/sh",
      ],
      appRef,
      ["-c", "trap 'exit 0' TERM; echo main started; while :; do sleep 1; done"],
    );
    await run(`bk-upd-pinned-${RUN}`, ["--label", "breachkit.update=false"], appRef);
    await run(`bk-upd-brk-${RUN}`, [], brkRef);
  }, 180_000);

  afterAll(async () => {
    for (const id of containers) await docker(["rm", "-f", id]).catch(() => {});
    for (const id of networks) await docker(["network", "rm", id]).catch(() => {});
    for (const v of volumes) await docker(["volume", "rm", "-f", v]).catch(() => {});
    for (const id of images) await docker(["rmi", "-f", id]).catch(() => {});
    await reg?.stop();
    if (out) await rm(out, { recursive: true, force: true });
  }, 120_000);

  it("--check: current before the tag moves, pinned listed, newer semver tags reported", async () => {
    const r = await checkJson([]);
    const byName = new Map(r.out.containers.map((c) => [c.name, c]));
    expect(r.out.containers).toHaveLength(3);
    expect(byName.get(`bk-upd-main-${RUN}`)?.status).toBe("current");
    expect(byName.get(`bk-upd-pinned-${RUN}`)?.status).toBe("pinned");
    expect(byName.get(`bk-upd-main-${RUN}`)?.localDigest).toMatch(/^sha256:[a-f0-9]{64}$/);
    expect(r.code).toBe(0);
  });

  it("--check sees the moved tag (digest proven from the manifest's bytes) and the newer tag", async () => {
    await moveTag(appRef, "2", true, v1, [`${reg.host}/bk-update/app:1.1.0`]);
    const r = await checkJson([]);
    const main = r.out.containers.find((c) => c.name === `bk-upd-main-${RUN}`);
    expect(main?.status).toBe("update-available");
    expect(main?.remoteVerified).toBe(true);
    expect(main?.remoteDigest).not.toBe(main?.localDigest);
    expect(main?.newerTags).toEqual(["1.1.0"]);
    expect(r.out.containers.find((c) => c.name === `bk-upd-pinned-${RUN}`)?.status).toBe("pinned");
    expect(r.code).toBe(1);
  });

  it("--dry-run changes nothing; a pinned container is not touched", async () => {
    const ids = await docker(["ps", "-aq", "--no-trunc", "--filter", `label=${LABEL}`]);
    const r = await updateJson(["--all", "--dry-run"]);
    expect(r.code).toBe(0);
    const main = r.out.results.find((x) => x.name === `bk-upd-main-${RUN}`);
    expect(main?.outcome).toBe("planned");
    expect(r.out.results.find((x) => x.name === `bk-upd-pinned-${RUN}`)?.outcome).toBe("skipped");
    expect(r.out.bundle).toBeNull();
    expect(await docker(["ps", "-aq", "--no-trunc", "--filter", `label=${LABEL}`])).toBe(ids);
    const pinned = await updateJson([`bk-upd-pinned-${RUN}`]);
    expect(pinned.code).toBe(0);
    expect(pinned.out.results[0]?.outcome).toBe("skipped");
    expect(pinned.out.results[0]?.reason).toMatch(/pinned/);
    expect(await docker(["ps", "-aq", "--no-trunc", "--filter", `label=${LABEL}`])).toBe(ids);
  });

  it("an ambiguous container name is refused, nothing changed", async () => {
    const main = await docker(["inspect", "--format", "{{.Id}}", `bk-upd-main-${RUN}`]);
    const decoy = await docker([
      "create",
      "--name",
      main.slice(0, 8),
      "--label",
      LABEL,
      "--label",
      "breachkit.update=false",
      appRef,
    ]);
    containers.push(decoy);
    const r = await cli(["--yes", "--insecure-registry", reg.host, "--out", out, main.slice(0, 8)]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/names 2 containers/);
    expect(await docker(["inspect", "--format", "{{.Id}}", `bk-upd-main-${RUN}`])).toBe(main);
    await docker(["rm", decoy]);
  });

  it("update recreates on the new digest with an identical configuration; its bundle verifies", async () => {
    const name = `bk-upd-main-${RUN}`;
    const before = await inspect(name);
    // A second container on the same tag: after this update the tag's new image is pulled here.
    await run(`bk-upd-second-${RUN}`, [], appRef);
    const r = await updateJson([name, "--settle", "5"]);
    const res = r.out.results.find((x) => x.name === name);
    expect(res?.outcome, JSON.stringify(res)).toBe("updated");
    expect(r.code).toBe(0);
    const after = await inspect(name);
    containers.push(String(after.Id));
    expect(after.Id).not.toBe(before.Id);
    expect(after.Image).not.toBe(before.Image);
    expect(res?.after?.imageId).toBe(after.Image);
    const pulled = await imageId(`${reg.host}/bk-update/app@${res?.after?.digest}`);
    expect(after.Image).toBe(pulled);
    images.add(pulled);
    // Field by field, except what must change (the image's own defaults follow the new image:
    // its APP_VERSION and version label; Binds gains the anonymous volume by name).
    const diffs = configDifferences(before, after, ["Config.Image", "HostConfig.Binds"]);
    expect(diffs.filter((d) => !/^Config\.(Env|Labels\.org\.example\.version)$/.test(d))).toEqual(
      [],
    );
    const cfg = (x: Record<string, unknown>) =>
      x.Config as {
        Env: string[];
        Hostname: string;
        Cmd: string[];
        Entrypoint: string[];
        User: string;
        Healthcheck: unknown;
        Labels: Record<string, string>;
      };
    expect(cfg(after).Env).toContain("FOO=bar");
    expect(cfg(after).Env).toContain("APP_VERSION=2");
    expect(cfg(after).Hostname).toBe("web-1");
    expect(cfg(after).User).toBe("1000:1000");
    expect(cfg(after).Entrypoint).toEqual(cfg(before).Entrypoint);
    expect(cfg(after).Cmd).toEqual(cfg(before).Cmd);
    expect(cfg(after).Healthcheck).toEqual(cfg(before).Healthcheck);
    expect(cfg(after).Labels["org.example.role"]).toBe("web");
    expect(cfg(after).Labels["org.example.version"]).toBe("2");
    const net = (x: Record<string, unknown>) =>
      (x.NetworkSettings as { Networks: Record<string, { IPAddress: string; Aliases: string[] }> })
        .Networks[netName];
    expect(net(after)?.IPAddress).toBe("172.29.77.10");
    expect(net(after)?.Aliases).toContain("app-alias");
    const mounts = (x: Record<string, unknown>) =>
      (x.Mounts as { Destination: string; Name?: string; Source: string }[])
        .map((m) => `${m.Destination} ${m.Name ?? m.Source}`)
        .sort();
    expect(mounts(after)).toEqual(mounts(before));
    expect((after.State as { Health?: { Status: string } }).Health?.Status).toBe("healthy");
    // The old container is gone; its image is kept.
    await expect(docker(["inspect", String(before.Id)])).rejects.toThrow();
    expect(await imageId(String(before.Image))).toBe(before.Image);
    // The bundle: sealed, intact, with the record, the evidence and the actions.
    expect(r.out.bundle).toBeTruthy();
    const bundle = r.out.bundle ?? "";
    const v = await verifyBundle(bundle);
    expect(v.intact).toBe(true);
    expect(v.complete).toBe(true);
    const paths = await bundlePaths(bundle);
    expect(paths).toContain("update.json");
    expect(paths).toContain("snapshot.json");
    expect(
      paths.some((p) => p.startsWith(`containers/${name}/`) && p.endsWith("inspect.json")),
    ).toBe(true);
    const log = (await readFile(join(bundle, "collection.log.jsonl"), "utf8"))
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { action: string; changedHost?: boolean });
    const changed = log.filter((l) => l.changedHost).map((l) => l.action);
    expect(changed.some((a) => a.startsWith("docker pull "))).toBe(true);
    expect(changed.some((a) => a.startsWith("docker create "))).toBe(true);
    expect(res?.actions.every((a) => a.ok)).toBe(true);
    const record = JSON.parse(await readFile(join(bundle, "update.json"), "utf8")) as RunOut;
    expect(record.results.find((x) => x.name === name)?.outcome).toBe("updated");
    // Now current.
    const again = await checkJson([name]);
    expect(again.out.containers[0]?.status).toBe("current");
  });

  it("a newer image already pulled but not running is seen, and used without a pull", async () => {
    const name = `bk-upd-second-${RUN}`;
    const c = await checkJson([name]);
    expect(c.out.containers[0]?.status).toBe("pulled-not-running");
    expect(c.out.containers[0]?.newerPulled?.imageId).toBe(await imageId(appRef));
    const r = await updateJson([name, "--settle", "3"]);
    const res = r.out.results[0];
    expect(res?.outcome, JSON.stringify(res)).toBe("updated");
    expect(res?.actions.some((a) => a.action.startsWith("docker pull "))).toBe(false);
    const after = await inspect(name);
    containers.push(String(after.Id));
    expect(after.Image).toBe(await imageId(appRef));
  });

  it("a broken image is rolled back: the old image id again, same configuration, and why", async () => {
    const name = `bk-upd-brk-${RUN}`;
    const before = await inspect(name);
    await moveTag(brkRef, "3", false, v1);
    const r = await updateJson([name, "--settle", "8"]);
    const res = r.out.results.find((x) => x.name === name);
    expect(res?.outcome, JSON.stringify(res)).toBe("rolled-back");
    expect(res?.reason).toMatch(/unhealthy/);
    expect(r.code).toBe(1);
    const after = await inspect(name);
    expect(after.Id).toBe(before.Id);
    expect(after.Image).toBe(before.Image);
    expect((after.State as { Running: boolean }).Running).toBe(true);
    expect(configDifferences(before, after)).toEqual([]);
    // The tag points at the old image again; the failed container's evidence is in the bundle.
    expect(await imageId(brkRef)).toBe(before.Image);
    const v = await verifyBundle(r.out.bundle ?? "");
    expect(v.intact).toBe(true);
    expect(await bundlePaths(r.out.bundle)).toContain(`update/${name}/failed-inspect.json`);
    await adoptImages(`${reg.host}/bk-update/brk`);
    const pulled = res?.actions.find((a) => a.action.startsWith("docker pull "));
    expect(pulled?.ok).toBe(true);
  });

  it("a registry that hangs, lies or lacks the tag gives a gap in bounded time", async () => {
    const hang = await hangingServer();
    const liar = await lyingRegistry();
    try {
      const refs = {
        hang: `${hang.host}/bk-update/app:1`,
        liar: `${liar.host}/bk-update/app:1`,
        missing: `${reg.host}/bk-update/nothing:1`,
      };
      for (const [k, ref] of Object.entries(refs)) {
        await createOn(ref, `bk-upd-${k}-${RUN}`, [LABEL, `bk-update-gap=${RUN}`]);
      }
      const t0 = Date.now();
      const r = await cli([
        "--check",
        "--json",
        "--label",
        `bk-update-gap=${RUN}`,
        "--timeout",
        "1",
        "--insecure-registry",
        hang.host,
        "--insecure-registry",
        liar.host,
        "--insecure-registry",
        reg.host,
      ]);
      const ms = Date.now() - t0;
      const check = JSON.parse(r.stdout) as CheckOut;
      const by = new Map(check.containers.map((c) => [c.name, c]));
      expect(by.get(`bk-upd-hang-${RUN}`)?.status).toBe("gap");
      expect(by.get(`bk-upd-hang-${RUN}`)?.gap?.kind).toBe("timeout");
      expect(by.get(`bk-upd-liar-${RUN}`)?.status).toBe("gap");
      expect(by.get(`bk-upd-liar-${RUN}`)?.gap?.kind).toBe("malformed");
      expect(by.get(`bk-upd-missing-${RUN}`)?.gap?.kind).toBe("not-found");
      expect(r.code).toBe(1);
      expect(ms).toBeLessThan(8000);
      // Without --insecure-registry, plain HTTP is never spoken: TLS fails, a gap too.
      const tls = await cli([
        "--check",
        "--json",
        "--label",
        `bk-update-gap=${RUN}`,
        "--timeout",
        "2",
        `bk-upd-liar-${RUN}`,
      ]);
      const t = JSON.parse(tls.stdout) as CheckOut;
      expect(t.containers[0]?.gap?.kind).toMatch(/tls|unreachable|malformed/);
      for (const ref of Object.values(refs)) await docker(["rmi", ref]).catch(() => {});
    } finally {
      await hang.close();
      await liar.close();
    }
  });

  it("the token flow: a Bearer challenge answered with the Docker config's credentials, refused without", async () => {
    const tok = await startTokenRegistry(reg, { alice: "pa55:word" });
    const cfg = join(out, "docker-config");
    const empty = join(out, "docker-config-empty");
    const ref = `${tok.registry.host}/bk-update/app:1.0.0`;
    try {
      await mkdir(cfg, { recursive: true });
      await mkdir(empty, { recursive: true });
      await writeFile(
        join(cfg, "config.json"),
        JSON.stringify({
          auths: {
            [tok.registry.host]: { auth: Buffer.from("alice:pa55:word").toString("base64") },
          },
        }),
        { mode: 0o600 },
      );
      await createOn(ref, `bk-upd-token-${RUN}`, [`bk-update-token=${RUN}`]);
      const args = [
        "update",
        "--check",
        "--json",
        "--label",
        `bk-update-token=${RUN}`,
        "--timeout",
        "3",
        "--insecure-registry",
        tok.registry.host,
        "--insecure-registry",
        tok.tokenHost,
      ];
      const withCreds = memoryIo({ env: { ...process.env, DOCKER_CONFIG: cfg }, cwd: out });
      expect(await runCli(args, withCreds.io)).toBe(1);
      const row = (JSON.parse(withCreds.stdout()) as CheckOut).containers[0];
      // The same storage as the open registry: the digest the moved tag has there.
      const open = await checkJson([`bk-upd-main-${RUN}`]);
      expect(row?.gap).toBeNull();
      expect(row?.remoteDigest).toBe(open.out.containers[0]?.localDigest);
      expect(row?.newerTags).toEqual(["1.1.0"]);
      expect(
        tok.requests.some((r) => r.includes("scope=repository%3Abk-update%2Fapp%3Apull")),
      ).toBe(true);
      const without = memoryIo({ env: { ...process.env, DOCKER_CONFIG: empty }, cwd: out });
      expect(await runCli(args, without.io)).toBe(1);
      const denied = (JSON.parse(without.stdout()) as CheckOut).containers[0];
      expect(denied?.status).toBe("gap");
      expect(denied?.gap?.kind).toBe("unauthorized");
      expect(denied?.gap?.reason).toMatch(/token service/);
      await docker(["rmi", ref]).catch(() => {});
    } finally {
      await tok.close();
    }
  });

  it("a Compose-managed container is updated through Compose, rolled back through it, and refused when its file changed", async () => {
    // A project as an admin runs it: docker-compose (Debian's, v1) from its directory.
    const project = `bkupd${RUN}`;
    const dir = await mkdtemp(join(tmpdir(), "bk-upd-compose-"));
    const file = join(dir, "docker-compose.yml");
    const ref = `${reg.host}/bk-update/compose:1`;
    const yml = (extra: string) =>
      [
        'version: "2.4"',
        "services:",
        "  web:",
        `    image: ${ref}`,
        "    labels:",
        `      bk-update-test: "${RUN}"`,
        "    environment:",
        "      FOO: bar",
        extra,
        "",
      ].join("\n");
    const compose = (args: string[]) =>
      execa("docker-compose", ["-p", project, ...args], { cwd: dir, stdin: "ignore" });
    const name = `${project}_web_1`;
    const state = async () => {
      const i = await inspect(name);
      const labels = (i.Config as { Labels: Record<string, string> }).Labels;
      return { id: String(i.Id), image: String(i.Image), labels, i };
    };
    /** Compose itself sees the project as it wrote it: its container, with the hash it computes now. */
    const consistent = async () => {
      const s = await state();
      const hash = (await compose(["config", "--hash=web"])).stdout.trim().split(/\s+/)[1];
      expect(s.labels["com.docker.compose.config-hash"]).toBe(hash);
      expect(s.labels["com.docker.compose.project"]).toBe(project);
      expect(s.labels["com.docker.compose.project.working_dir"]).toBe(dir);
      return s;
    };
    try {
      await docker(["tag", v1, ref]);
      await docker(["push", ref]);
      await writeFile(file, yml(""));
      await compose(["up", "-d"]);
      const before = await state();
      expect(before.image).toBe(v1);

      // 1. A new digest: updated through docker-compose, the project still Compose's.
      const v4 = await moveTag(ref, "4", true, v1);
      const r = await updateJson([name, "--settle", "6"]);
      const res = r.out.results[0];
      expect(res?.outcome, JSON.stringify(res)).toBe("updated");
      expect(res?.method).toBe("docker-compose");
      expect(r.out.composeTool).toBe("docker-compose");
      expect(r.code).toBe(0);
      const after = await consistent();
      expect(after.id).not.toBe(before.id);
      expect((await compose(["ps", "-q", "web"])).stdout.trim()).toBe(after.id);
      expect(after.image).toBe(v4);
      expect(res?.after?.imageId).toBe(v4);
      expect((after.i.Config as { Env: string[] }).Env).toContain("FOO=bar");
      expect(res?.actions.some((a) => a.action.startsWith("docker-compose -p "))).toBe(true);
      expect(res?.actions.every((a) => a.ok)).toBe(true);
      const v = await verifyBundle(r.out.bundle ?? "");
      expect(v.intact).toBe(true);
      expect(v.complete).toBe(true);

      // 2. A digest whose healthcheck fails: rolled back through docker-compose to the old image id.
      await moveTag(ref, "5", false, v4);
      const b = await updateJson([name, "--settle", "6"]);
      const bad = b.out.results[0];
      expect(bad?.outcome, JSON.stringify(bad)).toBe("rolled-back");
      expect(bad?.reason).toMatch(/unhealthy/);
      expect(b.code).toBe(1);
      const back = await consistent();
      expect(back.image).toBe(v4);
      expect(bad?.after?.containerId).toBe(back.id);
      expect(await imageId(ref)).toBe(v4);
      expect(await bundlePaths(b.out.bundle)).toContain(`update/${name}/failed-inspect.json`);
      await adoptImages(`${reg.host}/bk-update/compose`);

      // 3. The project's file changed since: compose would deploy that too, so it is refused.
      await writeFile(file, yml("      BAR: baz"));
      const d = await updateJson([name, "--settle", "3"]);
      expect(d.out.results[0]?.outcome, JSON.stringify(d.out.results[0])).toBe("skipped");
      expect(d.out.results[0]?.reason).toMatch(/changed since the container was created/);
      const still = await state();
      expect(still.id).toBe(back.id);
      expect(still.image).toBe(v4);
      expect(d.out.results[0]?.actions.some((a) => a.action.startsWith("docker pull"))).toBe(false);
    } finally {
      const ids = await docker([
        "ps",
        "-aq",
        "--no-trunc",
        "--filter",
        `label=com.docker.compose.project=${project}`,
      ]);
      for (const id of ids.split("\n")) if (id) await docker(["rm", "-f", id]).catch(() => {});
      const nets = await docker([
        "network",
        "ls",
        "-q",
        "--no-trunc",
        "--filter",
        `label=com.docker.compose.project=${project}`,
      ]);
      for (const id of nets.split("\n"))
        if (id) await docker(["network", "rm", id]).catch(() => {});
      await docker(["rmi", ref]).catch(() => {});
      await rm(dir, { recursive: true, force: true });
    }
    // Python's docker-compose takes 1-5 s to start on a loaded machine, and runs 9 times here.
  }, 300_000);
});
