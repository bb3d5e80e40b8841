/**
 * The built command as npm ci leaves it (scripts/build.mjs): one bundle, its entry and the
 * hash worker, nothing else; and a build that reads nothing of the host it runs on.
 */
import {
  cpSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { SnapshotSchema } from "../../src/model/snapshot.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string }
).version;
const work = mkdtempSync(join(tmpdir(), "bk-build-it-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const env = { ...process.env, NODE_EXTRA_CA_CERTS: undefined, BREACHKIT_TRACE: "1" };
const run = (root: string, args: string[]) =>
  execa("node", [join(root, "dist/cli/bin.cjs"), ...args], {
    env,
    extendEnv: false,
    reject: false,
    stdin: "ignore",
    maxBuffer: 256 * 1024 * 1024,
    timeout: 120_000,
  });

/** A copy of the package's runnable parts, to spoil without touching the real one. */
function copyPackage(name: string): string {
  const root = join(work, name);
  for (const part of ["dist", "rules"])
    cpSync(join(REPO, part), join(root, part), { recursive: true });
  cpSync(join(REPO, "package.json"), join(root, "package.json"));
  return root;
}

describe("the build", () => {
  it("only compiles: it runs nothing but esbuild and reads no process of the host", async () => {
    // A copy of what the build reads, so that the real dist/ is left as it is.
    const root = join(work, "fresh");
    for (const part of ["src", "scripts", "package.json"]) {
      cpSync(join(REPO, part), join(root, part), { recursive: true });
    }
    symlinkSync(join(REPO, "node_modules"), join(root, "node_modules"));
    const log = join(work, "build.strace");
    const r = await execa(
      "strace",
      [
        "-f",
        "-qq",
        "-e",
        "trace=execve,openat,open,getdents64",
        "-o",
        log,
        "node",
        "scripts/build.mjs",
      ],
      { cwd: root, reject: false, timeout: 120_000 },
    );
    expect(r.exitCode, r.stderr).toBe(0);
    expect(readdirSync(join(root, "dist", "cli")).sort()).toEqual([
      "bin.cjs",
      "main.cjs",
      "memory-scan-worker.cjs",
      "proc-worker.cjs",
    ]);
    expect(readdirSync(join(root, "dist"))).toEqual(["cli"]);
    const lines = readFileSync(log, "utf8").split("\n");
    const ran = lines
      .filter((l) => / execve\(/.test(l) && !/ = -1 /.test(l))
      .map((l) => /execve\("([^"]+)"/.exec(l)?.[1] ?? l);
    expect(ran.map((p) => p.split("/").pop())).toEqual(["node", "esbuild"]);
    // No other process's /proc entries, and no listing of /proc (its own /proc/self is node's
    // and esbuild's business).
    const proc = lines.filter((l) => /"\/proc\/\d+|"\/proc"|"\/proc\/"/.test(l));
    expect(proc).toEqual([]);
    // The reading of processes is in the bundle: a build that ran it would have shown.
    expect(readFileSync(join(root, "dist/cli/main.cjs"), "utf8")).toContain("/proc");
  });
});

describe("the built command", () => {
  it("prints its version", async () => {
    const r = await run(REPO, ["--version"]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(VERSION);
  });

  it("takes a snapshot in which it is itself, marked self, and started nothing", async () => {
    const sub = run(REPO, ["snapshot", "--json"]);
    const pid = sub.pid;
    const r = await sub;
    expect(r.exitCode, r.stderr).toBe(0);
    const snap = SnapshotSchema.parse(JSON.parse(r.stdout));
    expect(snap.tool.version).toBe(VERSION);
    const self = snap.processes.filter((p) => p.self === true);
    expect(pid).toBeGreaterThan(0);
    expect(self.map((p) => p.pid)).toEqual([pid]);
    expect(self[0]?.exe.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(snap.processes.filter((p) => p.ppid === pid)).toEqual([]);
    // Every executable that could be read was hashed, in this run.
    const took = Date.parse(snap.takenAt);
    for (const p of snap.processes) {
      if (p.exe.sha256 === null) continue;
      expect(Date.parse(p.exe.hashedAt ?? "")).toBeGreaterThanOrEqual(took);
    }
  });

  it("hashes in the worker built beside it, and without it alike", async () => {
    const root = copyPackage("no-worker");
    rmSync(join(root, "dist/cli/proc-worker.cjs"));
    const r = await run(root, ["snapshot", "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const self = SnapshotSchema.parse(JSON.parse(r.stdout)).processes.find((p) => p.self);
    const withWorker = await run(REPO, ["snapshot", "--json"]);
    const other = SnapshotSchema.parse(JSON.parse(withWorker.stdout)).processes.find((p) => p.self);
    expect(self?.exe.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(other?.exe.sha256).toBe(self?.exe.sha256);
  });

  it("reads rules from its own package, wherever it was copied", async () => {
    const root = copyPackage("moved");
    // A rule file only this copy has: the bundle must read rules/ next to itself.
    const rules = join(root, "rules/false-positives.json");
    writeFileSync(rules, "{ not json");
    const r = await run(root, ["scan", "--lynis", "--json"]);
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toContain(join(root, "rules/false-positives.json"));
    expect(r.stderr).not.toContain("internal error");
  });
});
