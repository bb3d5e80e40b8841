/**
 * `backup` and `restore` for real: Debian's restic, a real Docker volume, a busybox container
 * this file creates (by id, removed at the end) that writes into its volume all the time.
 * Repositories live in a temporary directory; the full-disk case uses a small tmpfs this file
 * mounts and unmounts.
 */
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLabImage, buildWate } from "../../lab/lab-core.js";
import { runCli } from "../../src/cli/main.js";
import { createBundle } from "../../src/evidence/bundle.js";
import type {
  BackupOutput,
  BackupPruneOutput,
  RestoreOutput,
} from "../../src/model/backup-output.js";
import { DockerEngine } from "../../src/observe/docker/engine.js";
import { tagValue } from "../../src/observe/restic/parse.js";
import { memoryIo } from "../helpers/memory-io.js";
import { CLAMAV_TEST_DB, hashTree } from "../helpers/scanners.js";

const run = promisify(execFile);
const HOST = tagValue(hostname());
const NAME = `bk-backup-test-${process.pid}`;
const VOLUME = `${NAME}-data`;
const RESTORED_VOLUME = `${NAME}-restored`;

let dir: string;
let pw: string;
let repo: string;
let containerId = "";
let mountpoint = "";
let tmpfsMounted = "";
let hookFail: string;
const engine = DockerEngine.fromEnv(process.env);

async function docker(args: string[]): Promise<string> {
  return (await execa("docker", args, { stdin: "ignore" })).stdout.trim();
}

async function restic(args: string[], repoPath = repo) {
  return run("restic", args, {
    env: { ...process.env, RESTIC_REPOSITORY: repoPath, RESTIC_PASSWORD_FILE: pw, TZ: "UTC" },
    maxBuffer: 64 * 1024 * 1024,
  });
}

async function cli(args: string[], opts: { interruptAfterPause?: boolean } = {}) {
  let handler: ((s: string) => void) | null = null;
  const { io, stdout, stderr } = memoryIo({
    env: { ...process.env, TZ: "UTC" },
    cwd: dir,
    onInterrupt: (h) => {
      handler = h;
      return () => {
        handler = null;
      };
    },
  });
  let stopPoll = false;
  const seen = { paused: false };
  const poll = (async () => {
    while (!stopPoll) {
      const s = (await engine.inspectContainer(containerId)) as { State?: { Paused?: boolean } };
      if (s.State?.Paused) {
        seen.paused = true;
        if (opts.interruptAfterPause && handler) {
          (handler as (s: string) => void)("SIGINT");
          opts.interruptAfterPause = false;
        }
      }
      await sleep(50);
    }
  })();
  const code = await runCli(args, io);
  stopPoll = true;
  await poll;
  return { code, stdout: stdout(), stderr: stderr(), seenPaused: seen.paused };
}

const repoArgs = () => ["--repo", repo, "--password-file", pw];

async function state() {
  const s = (await engine.inspectContainer(containerId)) as unknown as {
    State: { Running: boolean; Paused: boolean };
  };
  return { running: s.State.Running, paused: s.State.Paused };
}

async function snapshotIds(repoPath = repo): Promise<string[]> {
  const { stdout } = await restic(["snapshots", "--json", "--no-lock"], repoPath);
  return ((JSON.parse(stdout) ?? []) as { id: string }[]).map((s) => s.id).sort();
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-backup-it-"));
  pw = join(dir, "pw");
  await writeFile(pw, "integration-password\n", { mode: 0o600 });
  repo = join(dir, "repo");
  await restic(["init"]);
  const image = await buildLabImage();
  await docker(["volume", "create", VOLUME]);
  mountpoint = (await docker(["volume", "inspect", "--format", "{{.Mountpoint}}", VOLUME])).trim();
  await mkdir(join(mountpoint, "site", "uploads"), { recursive: true });
  await writeFile(join(mountpoint, "site", "static.bin"), randomBytes(300_000));
  await writeFile(join(mountpoint, "site", "uploads", "a b\nc.txt"), "hostile name\n");
  // The pre hook: a "database dump" into the volume, or a failure when told to.
  hookFail = join(dir, "hook-fail");
  const hook = join(dir, "pre-hook.sh");
  await writeFile(
    hook,
    `#!/bin/sh\n[ -e '${hookFail}' ] && { echo "dump failed" >&2; exit 3; }\necho "dump of $BREACHKIT_CONTAINER_NAME" > '${mountpoint}/dump.sql'\n`,
  );
  await chmod(hook, 0o755);
  // Writes a counter line into its volume every 20 ms, for at most ~10 minutes.
  containerId = await docker([
    "run",
    "-d",
    "--network",
    "none",
    "--name",
    NAME,
    "--label",
    `breachkit.backup.pre=${JSON.stringify([hook])}`,
    "-v",
    `${VOLUME}:/data`,
    image.ref,
    "sh",
    "-c",
    "i=0; while [ $i -lt 30000 ]; do i=$((i+1)); echo $i >> /data/log; usleep 20000; done",
  ]);
  await sleep(300);
});

afterAll(async () => {
  if (containerId) await docker(["rm", "-f", containerId]).catch(() => {});
  await docker(["volume", "rm", VOLUME]).catch(() => {});
  await docker(["volume", "rm", RESTORED_VOLUME]).catch(() => {});
  if (tmpfsMounted) await run("umount", [tmpfsMounted]).catch(() => {});
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("breachkit backup (real restic, real volume)", () => {
  let snapshotLog = "";

  it("pauses the writing container during the read, runs it after, and the snapshot restores byte for byte", async () => {
    const r = await cli(["backup", NAME, ...repoArgs(), "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as BackupOutput;
    const c = out.containers[0]!;
    expect(c.status).toBe("ok");
    expect(c.consistency).toBe("pause");
    expect(c.pre?.ok).toBe(true);
    expect(c.tags).toEqual([
      "breachkit",
      `container=${NAME}`,
      `image=${c.imageDigest}`,
      `host=${HOST}`,
    ]);
    expect(c.actions.map((a) => a.action.split(" ")[1])).toEqual(["pause", "unpause"]);
    expect(c.actions.every((a) => a.result === "ok" && a.undo)).toBe(true);
    expect(r.seenPaused).toBe(true);
    expect(c.after).toEqual({ running: true, paused: false });
    expect(await state()).toEqual({ running: true, paused: false });

    const to = join(dir, "restore-1");
    const rr = await cli([
      "restore",
      NAME,
      ...repoArgs(),
      "--to",
      to,
      "--clamav-db",
      CLAMAV_TEST_DB,
      "--json",
    ]);
    expect(rr.code, rr.stderr).toBe(0);
    const restored = JSON.parse(rr.stdout) as RestoreOutput;
    expect(restored.safe).toBe(true);
    expect(restored.clamav.status).toBe("clean");
    const base = join(to, mountpoint);
    // Files nobody wrote since: identical to the live ones, byte for byte.
    const live = await hashTree(join(mountpoint, "site"));
    expect(await hashTree(join(base, "site"))).toEqual(live);
    expect(await readFile(join(base, "dump.sql"), "utf8")).toBe(`dump of ${NAME}\n`);
    // The log, read while the writer was frozen: whole lines, and exactly the start of the live
    // log (nothing was written between the read and the unpause), which has grown since.
    snapshotLog = await readFile(join(base, "log"), "utf8");
    expect(snapshotLog.endsWith("\n")).toBe(true);
    const lines = snapshotLog.trimEnd().split("\n");
    expect(lines.length).toBeGreaterThan(3);
    expect(lines.every((l, i) => l === String(i + 1))).toBe(true);
    await sleep(200);
    const liveLog = await readFile(join(mountpoint, "log"), "utf8");
    expect(liveLog.startsWith(snapshotLog)).toBe(true);
    expect(liveLog.length).toBeGreaterThan(snapshotLog.length);
    // Not over live data: the same directory again is refused.
    const again = await cli(["restore", NAME, ...repoArgs(), "--to", to, "--no-clamav"]);
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/not empty/);
  });

  it("restores into a new volume (never an existing one)", async () => {
    const r = await cli([
      "restore",
      NAME,
      ...repoArgs(),
      "--volume",
      RESTORED_VOLUME,
      "--no-clamav",
      "--json",
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as RestoreOutput;
    expect(out.clamav.status).toBe("skipped");
    expect(out.reasons).toContain("ClamAV was not run (--no-clamav)");
    expect(out.target.volume).toBe(RESTORED_VOLUME);
    expect(await hashTree(join(out.target.path, "site"))).toEqual(
      await hashTree(join(mountpoint, "site")),
    );
    const existing = await cli(["restore", NAME, ...repoArgs(), "--volume", VOLUME, "--no-clamav"]);
    expect(existing.code).toBe(2);
    expect(existing.stderr).toMatch(/exists already/);
  });

  it("a failing pre hook fails the backup and deletes nothing; the container is never paused", async () => {
    const before = await snapshotIds();
    await writeFile(hookFail, "");
    try {
      const r = await cli(["backup", NAME, ...repoArgs(), "--json"]);
      expect(r.code).toBe(1);
      const c = (JSON.parse(r.stdout) as BackupOutput).containers[0]!;
      expect(c.status).toBe("failed");
      expect(c.error).toMatch(/pre hook failed \(exit 3\)/);
      expect(c.pre?.output).toMatch(/dump failed/);
      expect(c.actions).toEqual([]);
      expect(r.seenPaused).toBe(false);
    } finally {
      await rm(hookFail, { force: true });
    }
    expect(await snapshotIds()).toEqual(before);
    expect(await state()).toEqual({ running: true, paused: false });
  });

  it("restic stopped midway (interrupt while paused): the container runs again, no snapshot", async () => {
    const before = await snapshotIds();
    // Enough data that restic is still reading when the interrupt comes, on a quiet machine
    // too (64 MiB was read before the poll saw the pause, in a CI run): 256 MiB in four
    // different random blocks, so that restic cannot deduplicate them.
    for (let i = 0; i < 4; i++) {
      await writeFile(join(mountpoint, `big-1.${i}.bin`), randomBytes(64 * 1024 * 1024));
    }
    try {
      const r = await cli(["backup", NAME, ...repoArgs(), "--json"], { interruptAfterPause: true });
      expect(r.seenPaused).toBe(true);
      const c = (JSON.parse(r.stdout) as BackupOutput).containers[0]!;
      expect(c.status).toBe("failed");
      expect(r.code).toBeGreaterThan(0);
      expect(c.actions.map((a) => a.action.split(" ")[1])).toEqual(["pause", "unpause"]);
      expect(await state()).toEqual({ running: true, paused: false });
      expect(await snapshotIds()).toEqual(before);
    } finally {
      for (let i = 0; i < 4; i++) await rm(join(mountpoint, `big-1.${i}.bin`), { force: true });
    }
  });

  it("wrong password, missing repository, full disk: exit 2 with the reason, the container running", async () => {
    const bad = join(dir, "bad-pw");
    await writeFile(bad, "nope\n", { mode: 0o600 });
    const wrong = await cli(["backup", NAME, "--repo", repo, "--password-file", bad]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/wrong password/);
    const missing = await cli([
      "backup",
      NAME,
      "--repo",
      join(dir, "no-repo"),
      "--password-file",
      pw,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no restic repository at that location/);
    expect(await state()).toEqual({ running: true, paused: false });

    tmpfsMounted = join(dir, "small");
    await mkdir(tmpfsMounted);
    await run("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", tmpfsMounted]);
    const small = join(tmpfsMounted, "repo");
    await restic(["init"], small);
    await writeFile(join(mountpoint, "big-2.bin"), randomBytes(8 * 1024 * 1024));
    try {
      const full = await cli(["backup", NAME, "--repo", small, "--password-file", pw, "--json"]);
      expect(full.code).toBe(2);
      const out = JSON.parse(full.stdout) as BackupOutput;
      expect(out.fatal).toMatch(/disk is full/);
      expect(out.containers[0]!.actions.map((a) => a.action.split(" ")[1])).toEqual([
        "pause",
        "unpause",
      ]);
      expect(full.seenPaused).toBe(true);
      expect(await state()).toEqual({ running: true, paused: false });
    } finally {
      await rm(join(mountpoint, "big-2.bin"), { force: true });
      await run("umount", [tmpfsMounted]);
      tmpfsMounted = "";
    }
  });
});

describe("retention and restore points (snapshots made with restic backup --time)", () => {
  const DAY = 86_400_000;
  const BASE = Date.parse("2026-11-30T12:00:00Z");
  const DAYS = [0, 1, 2, 3, 5, 6, 9, 13, 20, 27, 34, 41, 50, 60, 70, 80, 90, 99];
  const TOOL = "bk-retention";
  let rrepo: string;
  let wateSha = "";
  const time = (ms: number) => new Date(ms).toISOString().replace("T", " ").slice(0, 19);

  beforeAll(async () => {
    rrepo = join(dir, "retention-repo");
    await restic(["init"], rrepo);
    const data = join(dir, "retention-data");
    await mkdir(join(data, ".cache"), { recursive: true });
    await writeFile(join(data, "index.php"), "<?php echo 1;\n");
    const wate = await buildWate();
    wateSha = wate.sha256;
    const trojan = join(data, ".cache", "wate");
    await copyFile(wate.path, trojan);
    await chmod(trojan, 0o755);
    const times = [...DAYS.map((d) => BASE - d * DAY), BASE - 4 * 3600_000];
    const tags = ["--tag", `breachkit,container=${TOOL},host=${HOST}`, "--host", HOST];
    // Four at a time: restic backup takes a shared lock.
    for (let i = 0; i < times.length; i += 4) {
      await Promise.all(
        times
          .slice(i, i + 4)
          .map((t) => restic(["backup", "-q", ...tags, "--time", time(t), data], rrepo)),
      );
    }
    expect((await snapshotIds(rrepo)).length).toBe(19);
  });

  it("prune keeps exactly the policy's set over 100 days (daily 7, weekly 4, monthly 6)", async () => {
    const r = await cli(["backup", "prune", "--repo", rrepo, "--password-file", pw, "--json"]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as BackupPruneOutput;
    expect(out.pruned).toBe(true);
    expect(out.groups).toHaveLength(1);
    expect(out.groups[0]!.agrees).toBe(true);
    const { stdout } = await restic(["snapshots", "--json", "--no-lock"], rrepo);
    const left = (JSON.parse(stdout) as { time: string }[])
      .map((s) => Math.round((BASE - Date.parse(s.time)) / DAY))
      .sort((a, b) => a - b);
    // Worked out by hand in test/unit/backup/judge.test.ts.
    expect(left).toEqual([0, 1, 2, 3, 5, 6, 9, 20, 34, 70, 99]);
    const gone = await restic(["snapshots", "--json", "--no-lock"], rrepo);
    expect(JSON.stringify(gone.stdout)).not.toContain("08:00:00");
  });

  it("--before picks the newest snapshot before the time; the trojan's hash makes it unsafe", async () => {
    const to = join(dir, "restore-before");
    const r = await cli([
      "restore",
      TOOL,
      "--repo",
      rrepo,
      "--password-file",
      pw,
      "--before",
      "2026-11-20T00:00:00Z",
      "--to",
      to,
      "--ioc",
      `sha256:${wateSha}`,
      "--clamav-db",
      CLAMAV_TEST_DB,
      "--json",
    ]);
    const out = JSON.parse(r.stdout) as RestoreOutput;
    // Nov 17 (day 13) was pruned: the newest before Nov 20 left is Nov 10 (day 20).
    expect(out.snapshot.time).toBe("2026-11-10T12:00:00Z");
    expect(out.selectedBy).toBe("before");
    expect(out.safe).toBe(false);
    expect(r.code).toBe(1);
    expect(out.iocHits).toHaveLength(1);
    expect(out.iocHits[0]!.path.endsWith("/.cache/wate")).toBe(true);
    expect(out.iocHits[0]!.sha256).toBe(wateSha);
    expect(out.executables).toBeGreaterThanOrEqual(1);
    expect((await stat(join(to, dir, "retention-data", ".cache", "wate"))).size).toBeGreaterThan(0);
  });

  it("--before-incident takes the bundle's earliest evidence time and its findings' hashes", async () => {
    const bundle = await createBundle({
      outDir: join(dir, "evidence"),
      host: "web01",
      command: "triage",
      now: new Date("2026-11-25T06:00:00Z"),
    });
    await bundle.writeJson(
      "findings.json",
      [
        {
          rule: "process.deleted-exe",
          severity: "high",
          confidence: "high",
          title: "wate runs from a deleted file",
          where: TOOL,
          containerId: null,
          evidence: [{ pid: 4242, sha256: wateSha }],
          next: "",
          source: "triage",
          falsePositive: null,
        },
      ],
      { source: "breachkit" },
    );
    await bundle.seal({ complete: true });
    const r = await cli([
      "restore",
      TOOL,
      "--repo",
      rrepo,
      "--password-file",
      pw,
      "--before-incident",
      bundle.dir,
      "--to",
      join(dir, "restore-incident"),
      "--no-clamav",
      "--json",
    ]);
    const out = JSON.parse(r.stdout) as RestoreOutput;
    expect(out.selectedBy).toBe("before-incident");
    expect(out.before).toBe("2026-11-25T06:00:00.000Z");
    expect(out.snapshot.time).toBe("2026-11-24T12:00:00Z");
    expect(out.iocHashes).toBe(1);
    expect(out.iocHits.map((h) => h.origin)).toEqual([
      `findings.json: process.deleted-exe on ${TOOL}`,
    ]);
    expect(out.safe).toBe(false);
    expect(r.code).toBe(1);
  });
});
