/**
 * Every hash is measured, in the run that reports it, and nothing is left under /dev/shm:
 * the built command, run for real (issue 12: the hash store that once stood in for
 * hashes is gone). Runs under the docker lock: collect and triage read the engine.
 */
import { type ChildProcess, spawn } from "node:child_process";
import {
  closeSync,
  copyFileSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  statSync,
  writeSync,
} from "node:fs";
import { readdir } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, describe, expect, it } from "vitest";
import { SnapshotSchema } from "../../src/model/snapshot.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const CLI = join(REPO, "dist", "cli", "bin.cjs");
// Under /tmp: a scratch directory, so collect also copies the running executable.
const work = mkdtempSync(join(tmpdir(), "bk-measured-"));
const running: ChildProcess[] = [];
afterAll(async () => {
  for (const c of running) await stop(c);
  rmSync(work, { recursive: true, force: true });
});

const env = { ...process.env, NODE_EXTRA_CA_CERTS: undefined, NO_COLOR: "1" };

function start(file: string): Promise<ChildProcess> {
  const child = spawn(file, ["120"], { stdio: "ignore" });
  running.push(child);
  return new Promise((resolve, reject) => {
    child.once("spawn", () => resolve(child));
    child.once("error", reject);
  });
}

/** End a child of this test by its handle and wait until it is reaped. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGKILL");
  await gone;
}

/** collect into a new directory; the bundle's snapshot and its executables' index. */
async function collect(out: string, pid: number) {
  const r = await execa(
    "node",
    [CLI, "collect", "--no-host", "--pid", String(pid), "--out", out, "--json"],
    {
      env,
      extendEnv: false,
      reject: false,
      stdin: "ignore",
      timeout: 300_000,
    },
  );
  expect(r.exitCode, r.stderr).toBeLessThan(2);
  const [bundle] = (await readdir(out)).filter((n) => n.startsWith("breachkit-"));
  if (bundle === undefined) throw new Error(`no bundle in ${out}: ${r.stderr}`);
  const dir = join(out, bundle);
  const snap = SnapshotSchema.parse(JSON.parse(readFileSync(join(dir, "snapshot.json"), "utf8")));
  const index = JSON.parse(readFileSync(join(dir, "executables", "index.json"), "utf8")) as {
    pid: number;
    sha256: string | null;
    snapshotSha256: string | null;
  }[];
  return { snap, copied: index.find((e) => e.pid === pid) };
}

describe("collect, twice, on an executable rewritten in place between the runs", () => {
  it("gives two different hashes, each that of the bytes of its run", async () => {
    const prog = join(work, "prog");
    copyFileSync("/bin/sleep", prog);
    const ino = statSync(prog).ino;
    const size = statSync(prog).size;
    const sha = async () => (await execa("sha256sum", [prog])).stdout.split(" ")[0];

    const first = await start(prog);
    const one = await collect(join(work, "one"), first.pid ?? -1);
    const before = await sha();
    await stop(first);

    // Same inode, same size: one byte of the file's end (section headers' padding) changed.
    const fd = openSync(prog, "r+");
    writeSync(fd, Buffer.from([0x5a]), 0, 1, size - 1);
    closeSync(fd);
    expect(statSync(prog)).toMatchObject({ ino, size });
    const second = await start(prog);
    const two = await collect(join(work, "two"), second.pid ?? -1);
    const after = await sha();
    await stop(second);

    const exeOf = (s: typeof one, pid: number | undefined) =>
      s.snap.processes.find((p) => p.pid === pid)?.exe;
    const a = exeOf(one, first.pid);
    const b = exeOf(two, second.pid);
    expect(a?.ino).toBe(ino);
    expect(b?.ino).toBe(ino);
    expect(before).not.toBe(after);
    expect(a?.sha256).toBe(before);
    expect(b?.sha256).toBe(after);
    // The copies in the bundles agree with the snapshots'.
    expect(one.copied).toMatchObject({ sha256: before, snapshotSha256: before });
    expect(two.copied).toMatchObject({ sha256: after, snapshotSha256: after });
  });
});

describe("nothing under /dev/shm", () => {
  /** Syscalls of the run (and its threads) that create, write, rename or remove there. */
  async function shmWrites(args: string[]): Promise<string[]> {
    const log = join(work, `strace-${args[0]}.log`);
    const r = await execa(
      "strace",
      ["-f", "-qq", "-e", "trace=%file", "-o", log, "node", CLI, ...args],
      { env, extendEnv: false, reject: false, stdin: "ignore", timeout: 300_000, cwd: work },
    );
    expect(r.exitCode, `${args.join(" ")}: ${r.stderr}`).toBeLessThan(2);
    const lines = readFileSync(log, "utf8").split("\n");
    // Any syscall on a path under /dev/shm (reading it is as much a trace as writing).
    return lines.filter((l) => l.includes('"/dev/shm'));
  }

  it("snapshot, triage and collect touch no path there", async () => {
    // A directory an older breachkit left (its hash store) may be there: only new ones count.
    const listing = () =>
      readdir("/dev/shm").then((names) => names.filter((n) => /breachkit/.test(n)));
    const before = await listing();
    expect(await shmWrites(["snapshot", "--json"])).toEqual([]);
    expect(await shmWrites(["triage", "--json", "--out", work])).toEqual([]);
    expect(await shmWrites(["collect", "--no-host", "--out", work])).toEqual([]);
    expect((await listing()).filter((n) => !before.includes(n))).toEqual([]);
  });
});
