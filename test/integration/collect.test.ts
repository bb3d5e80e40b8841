/**
 * `collect` on the breach lab: the raw gitlab log and the deleted trojan secured byte for byte,
 * verify catching tampering, and every fault (container removed, engine stopped, output
 * unwritable or full, SIGINT) leaving a valid bundle marked incomplete with a clear reason.
 * Faults of the engine go through a proxy socket in front of the real dockerd, never dockerd.
 */
import { spawn } from "node:child_process";
import { cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildLabImage,
  LAB_CONTAINER_NAMES,
  type LabInfo,
  labDown,
  labUp,
} from "../../lab/lab-core.js";
import { runCli } from "../../src/cli/main.js";
import { createBundle } from "../../src/evidence/bundle.js";
import { type CollectSummary, collectEvidence } from "../../src/evidence/collect.js";
import type { BundleWriter, Manifest } from "../../src/evidence/types.js";
import { verifyBundle } from "../../src/evidence/verify.js";
import { shippedLists } from "../../src/judge/rule-set.js";
import { DockerEngine } from "../../src/observe/docker/engine.js";
import { type SnapshotResult, takeSnapshot } from "../../src/observe/snapshot.js";
import { type ProxyDecision, startDockerProxy } from "../helpers/docker-proxy.js";
import { mountTmpfs, sha256OfPath, tempDir, unmount } from "../helpers/evidence.js";
import { memoryIo } from "../helpers/memory-io.js";

const REPO = join(import.meta.dirname, "..", "..");
const CLI = join(REPO, "dist", "cli", "bin.cjs");
const SESSION = `breachkit.test.session=collect-${process.pid}-${Date.now()}`;

let lab: LabInfo;
let imageRef: string;
let tmp: { path: string; cleanup(): Promise<void> };
const ownContainers: string[] = [];

async function docker(...args: string[]): Promise<string> {
  const r = await execa("docker", args, { stdin: "ignore", timeout: 60_000 });
  return r.stdout.trim();
}

/** A container of our own (never a lab one), removed by id in afterAll. */
async function runOwn(script: string, extra: string[] = []): Promise<string> {
  const id = await docker(
    "run",
    "-d",
    "--label",
    "breachkit.test=1",
    "--label",
    SESSION,
    "--network",
    "none",
    "--log-driver",
    "json-file",
    ...extra,
    imageRef,
    "/bin/sh",
    "-c",
    script,
  );
  ownContainers.push(id);
  return id;
}

async function snapshot(env: NodeJS.ProcessEnv = process.env): Promise<SnapshotResult> {
  return takeSnapshot({ env, containerAccounts: false });
}

async function newBundle(name: string): Promise<BundleWriter> {
  const out = join(tmp.path, name);
  await mkdir(out, { recursive: true });
  return createBundle({ outDir: out, host: "lab", command: `collect test ${name}` });
}

async function readManifest(dir: string): Promise<Manifest> {
  return JSON.parse(await readFile(join(dir, "manifest.json"), "utf8")) as Manifest;
}

function logPathOf(snap: SnapshotResult, name: string): string {
  const c = snap.snapshot.containers.find((x) => x.name === name);
  if (!c?.logPath) throw new Error(`no log path for ${name}`);
  return c.logPath;
}

beforeAll(async () => {
  tmp = await tempDir("bk-collect-");
  lab = await labUp({ scenario: "contained", trojanSeconds: 600 });
  imageRef = (await buildLabImage()).ref;
});

afterAll(async () => {
  for (const id of ownContainers) await execa("docker", ["rm", "-f", id], { reject: false });
  await labDown();
  await tmp.cleanup();
});

describe("collect on the lab", () => {
  let snap: SnapshotResult;
  let bundle: BundleWriter;
  let summary: CollectSummary;

  beforeAll(async () => {
    snap = await snapshot();
    bundle = await newBundle("main");
    summary = await collectEvidence({
      bundle,
      lists: shippedLists(),
      snap,
      engine: DockerEngine.fromEnv(process.env),
      containerIds: Object.values(lab.containers).map((c) => c.id),
    });
    await bundle.seal(
      summary.complete
        ? { complete: true }
        : { complete: false, reason: summary.incompleteReason ?? "?" },
    );
  });

  it("completes, with the snapshot first and the host collected", async () => {
    expect(summary.errors).toEqual([]);
    expect(summary.complete).toBe(true);
    const m = await readManifest(bundle.dir);
    expect(m.complete).toBe(true);
    expect(m.files[0]?.path).toBe("snapshot.json");
    const paths = m.files.map((f) => f.path);
    expect(paths).toContain("host/etc/passwd");
    expect(paths.some((p) => p.includes("shadow"))).toBe(false);
  });

  it("holds the gitlab container's raw json log with the exploit line, byte-identical to LogPath", async () => {
    const logPath = logPathOf(snap, LAB_CONTAINER_NAMES.gitlab);
    const name = logPath.slice(logPath.lastIndexOf("/") + 1);
    const rel = `containers/${LAB_CONTAINER_NAMES.gitlab}/logs/${name}`;
    const copy = await readFile(join(bundle.dir, rel));
    const onDisk = await readFile(logPath);
    expect(copy.toString("utf8")).toContain("/uploads/user");
    expect(copy.equals(onDisk)).toBe(true);
    const entry = (await readManifest(bundle.dir)).files.find((f) => f.path === rel);
    expect(entry?.source).toBe(logPath);
    expect(entry?.sha256).toBe(await sha256OfPath(logPath));
  });

  it("copies the deleted wate executable with the hash the lab reports", async () => {
    const trojan = lab.trojans.find((t) => t.where === "container")!;
    const ex = summary.executables.find((e) => e.pid === trojan.hostPid);
    expect(ex?.reason).toBe("deleted");
    expect(ex?.containerName).toBe(LAB_CONTAINER_NAMES.gitlab);
    expect(ex?.sha256).toBe(trojan.sha256);
    expect(await sha256OfPath(join(bundle.dir, ex!.file!))).toBe(trojan.sha256);
    const index = JSON.parse(await readFile(join(bundle.dir, "executables/index.json"), "utf8"));
    expect(index.some((e: { pid: number }) => e.pid === trojan.hostPid)).toBe(true);
  });

  it("redacts the environment in inspect and keeps the container's processes", async () => {
    const dir = join(bundle.dir, "containers", LAB_CONTAINER_NAMES.gitlab);
    const inspect = JSON.parse(await readFile(join(dir, "inspect.json"), "utf8"));
    expect(inspect.Id).toBe(lab.containers.gitlab.id);
    for (const e of inspect.Config.Env as string[]) expect(e).toMatch(/=<redacted>$|^[^=]*=?$/);
    const procs = JSON.parse(await readFile(join(dir, "processes.json"), "utf8"));
    expect(procs.some((p: { comm: string }) => p.comm === "wate")).toBe(true);
    const changes = JSON.parse(await readFile(join(dir, "changes.json"), "utf8"));
    expect(Array.isArray(changes)).toBe(true);
  });

  it("verifies intact, and names the file after a flipped byte, a deletion or an addition", async () => {
    expect((await verifyBundle(bundle.dir)).intact).toBe(true);
    const rel = `containers/${LAB_CONTAINER_NAMES.gitlab}/inspect.json`;

    const flipped = join(tmp.path, "flipped");
    await cp(bundle.dir, flipped, { recursive: true });
    const bytes = await readFile(join(flipped, rel));
    bytes[10] = (bytes[10] ?? 0) ^ 0x01;
    await writeFile(join(flipped, rel), bytes);
    const r1 = await verifyBundle(flipped);
    expect(r1.intact).toBe(false);
    expect(r1.changed.map((c) => c.path)).toEqual([rel]);

    const deleted = join(tmp.path, "deleted");
    await cp(bundle.dir, deleted, { recursive: true });
    await rm(join(deleted, "snapshot.json"));
    const r2 = await verifyBundle(deleted);
    expect(r2.intact).toBe(false);
    expect(r2.missing).toEqual(["snapshot.json"]);

    const added = join(tmp.path, "added");
    await cp(bundle.dir, added, { recursive: true });
    await writeFile(join(added, "host", "planted.txt"), "not collected\n");
    const r3 = await verifyBundle(added);
    expect(r3.intact).toBe(false);
    expect(r3.added).toEqual(["host/planted.txt"]);
  });
});

describe("hostile log lines", () => {
  it("stores ANSI escapes, NUL and invalid UTF-8 byte for byte as the driver wrote them", async () => {
    const id = await runOwn(
      "printf 'plain\\n\\033[31mred\\033[0m\\033]0;title\\007\\n nul:\\000:end\\n bad:\\377\\376:utf8\\n'",
    );
    await docker("wait", id);
    const snap = await snapshot();
    const bundle = await newBundle("hostile");
    const s = await collectEvidence({
      lists: shippedLists(),
      bundle,
      snap,
      engine: DockerEngine.fromEnv(process.env),
      containerIds: [id],
      host: false,
    });
    await bundle.seal({ complete: s.complete, reason: s.incompleteReason ?? "" });
    const c = snap.snapshot.containers.find((x) => x.id === id)!;
    const logPath = c.logPath!;
    const copy = await readFile(join(bundle.dir, s.containers[0]!.logFiles[0]!));
    expect(copy.equals(await readFile(logPath))).toBe(true);
    // JSON-escaped by the driver: ESC as \u001b, NUL as \u0000, bad UTF-8 as the escape \ufffd.
    expect(copy.toString("utf8")).toContain("\\u001b[31mred");
    expect(copy.toString("utf8")).toContain("nul:\\u0000:end");
    expect(copy.toString("utf8")).toContain("bad:\\ufffd\\ufffd:utf8");
    expect((await verifyBundle(bundle.dir)).intact).toBe(true);
  });
});

describe("faults", () => {
  it("a container removed during collection: its later steps fail, the rest goes on", async () => {
    const id = await runOwn("echo doomed; sleep 600");
    await sleep(300);
    const proxy = await startDockerProxy(async (r): Promise<ProxyDecision> => {
      if (r.path.startsWith(`/containers/${id}/changes`)) {
        await docker("rm", "-f", id);
      }
      return "forward";
    });
    try {
      const snap = await snapshot();
      const bundle = await newBundle("removed");
      const s = await collectEvidence({
        lists: shippedLists(),
        bundle,
        snap,
        engine: new DockerEngine({ socketPath: proxy.socketPath }),
        containerIds: [id, lab.containers.wordpress.id],
        host: false,
      });
      await bundle.seal({ complete: false, reason: s.incompleteReason ?? "?" });
      expect(s.complete).toBe(false);
      expect(s.stopped).toBe(false);
      expect(s.errors.some((e) => e.action.includes(`docker diff ${id}`))).toBe(true);
      expect(s.incompleteReason).toMatch(/No such container|no such/i);
      // Its log was copied before it went; the next container is collected whole.
      const paths = bundle.entries.map((e) => e.path);
      expect(s.containers[0]?.logFiles.length).toBe(1);
      expect(paths).toContain(`containers/${LAB_CONTAINER_NAMES.wordpress}/changes.json`);
      const report = await verifyBundle(bundle.dir);
      expect(report.intact).toBe(true);
      expect(report.complete).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it("the engine stopped during collection: API steps fail or are not tried, raw files still copied", async () => {
    const proxy = await startDockerProxy((r) =>
      r.path.includes("/changes") ? "close" : "forward",
    );
    try {
      const snap = await snapshot();
      const bundle = await newBundle("engine-gone");
      const ids = [lab.containers.gitlab.id, lab.containers.wordpress.id, lab.containers.mail.id];
      const s = await collectEvidence({
        lists: shippedLists(),
        bundle,
        snap,
        engine: new DockerEngine({ socketPath: proxy.socketPath }),
        containerIds: ids,
        host: false,
      });
      await bundle.seal({ complete: false, reason: s.incompleteReason ?? "?" });
      expect(s.complete).toBe(false);
      expect(s.errors.length).toBeGreaterThanOrEqual(3);
      expect(s.errors.filter((e) => e.error.startsWith("not tried")).length).toBeGreaterThan(0);
      expect(s.incompleteReason).toMatch(/engine/i);
      // Every container's raw log is there: files need no engine.
      for (const c of s.containers) expect(c.logFiles.length).toBeGreaterThan(0);
      const report = await verifyBundle(bundle.dir);
      expect(report.intact).toBe(true);
      expect(report.complete).toBe(false);
    } finally {
      await proxy.close();
    }
  });

  it("an unwritable output directory: exit 2 with a clear message, nothing written", async () => {
    const dir = join(tmp.path, "ro");
    await mkdir(dir);
    mountTmpfs(dir, "1m", { readOnly: true });
    try {
      const m = memoryIo({ env: process.env, cwd: tmp.path });
      const code = await runCli(
        ["collect", "--out", dir, "--no-host", "--container", LAB_CONTAINER_NAMES.wordpress],
        m.io,
      );
      expect(code).toBe(2);
      expect(m.stderr()).toMatch(/read-only/);
      expect(m.stderr()).toMatch(/--out/);
    } finally {
      unmount(dir);
    }
  });

  it("a full output device: stops, seals incomplete with the reason, verify passes", async () => {
    const dir = join(tmp.path, "full");
    await mkdir(dir);
    mountTmpfs(dir, "2m");
    try {
      const snap = await snapshot();
      const bundle = await createBundle({ outDir: dir, host: "lab", command: "collect full" });
      const s = await collectEvidence({
        lists: shippedLists(),
        bundle,
        snap,
        engine: DockerEngine.fromEnv(process.env),
        containerIds: [lab.containers.gitlab.id],
        exportFs: true,
        host: false,
      });
      expect(s.stopped).toBe(true);
      expect(s.incompleteReason).toMatch(/full/);
      await bundle.seal({ complete: false, reason: s.incompleteReason! });
      const report = await verifyBundle(bundle.dir);
      expect(report.intact).toBe(true);
      expect(report.complete).toBe(false);
      expect(report.incompleteReason).toMatch(/full/);
      const m = await readManifest(bundle.dir);
      expect(m.files.some((f) => f.truncated && /incomplete/.test(f.note ?? ""))).toBe(true);
    } finally {
      unmount(dir);
    }
  });

  it("SIGINT in the middle: the CLI seals an incomplete bundle, says so and exits 2", async () => {
    await execa("npm", ["run", "build"], { cwd: REPO, reject: false, stdin: "ignore" });
    const proxy = await startDockerProxy((r) => (r.path.includes("/changes") ? "hold" : "forward"));
    const out = join(tmp.path, "sigint");
    await mkdir(out);
    try {
      const child = spawn(
        process.execPath,
        [CLI, "collect", "--out", out, "--no-host", "--container", LAB_CONTAINER_NAMES.gitlab],
        {
          env: { ...process.env, DOCKER_HOST: proxy.dockerHost },
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
      const first = await Promise.race([
        proxy.waitFor((r) => r.path.includes("/changes")).then(() => "held" as const),
        exited.then(() => "exited" as const),
      ]);
      if (first === "exited") throw new Error(`the CLI ended before the held call: ${stderr}`);
      child.kill("SIGINT");
      // The held engine call answers late, as a slow engine would; the CLI must not wait for it.
      await sleep(200);
      proxy.release();
      const code = await exited;
      expect(code).toBe(2);
      expect(stdout).toMatch(/INCOMPLETE/);
      expect(stdout).toMatch(/interrupted by SIGINT/);
      const dir = /INCOMPLETE\s+(\S+)/.exec(stdout)?.[1];
      expect(dir).toBeDefined();
      const report = await verifyBundle(dir!);
      expect(report.intact).toBe(true);
      expect(report.complete).toBe(false);
      expect(report.incompleteReason).toBe("interrupted by SIGINT");
      expect(stderr).not.toMatch(/internal error/);
    } finally {
      await proxy.close();
    }
  });
});
