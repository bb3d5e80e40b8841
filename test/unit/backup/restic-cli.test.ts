/**
 * The backup commands through runCli, and the drill's file comparison, against the real restic
 * (Debian's package) on a throw-away repository: no Docker needed.
 */
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmod, mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ResticWriter } from "../../../src/act/backup/restic.js";
import { interruptible } from "../../../src/cli/commands/backup.js";
import { runCli } from "../../../src/cli/main.js";
import { BackupStatusOutputSchema } from "../../../src/model/backup-output.js";
import { recordedFiles, verifyFile } from "../../../src/observe/restic/files.js";
import { ResticReader } from "../../../src/observe/restic/read.js";
import type { ResticRepo } from "../../../src/observe/restic/repo.js";
import { runTool, type ToolRun } from "../../../src/observe/scanners/run-tool.js";
import { memoryIo } from "../../helpers/memory-io.js";

let dir: string;
let repo: ResticRepo;
const env = { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: "/tmp", TZ: "UTC" };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-restic-unit-"));
  await writeFile(join(dir, "pw"), "unit-test-password\n", { mode: 0o600 });
  repo = {
    location: join(dir, "repo"),
    passwordFile: join(dir, "pw"),
    from: "option",
    keep: { daily: 7, weekly: 4, monthly: 6 },
  };
  execFileSync("restic", ["init", "--repo", repo.location, "--password-file", repo.passwordFile], {
    stdio: "ignore",
  });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function cli(args: string[]) {
  const { io, stdout, stderr } = memoryIo({ env, cwd: dir });
  const code = await runCli(args, io);
  return { code, stdout: stdout(), stderr: stderr() };
}

describe("breachkit backup / restore (CLI, real restic)", () => {
  it("help has examples and exit codes; no container named is a usage error", async () => {
    const help = await cli(["backup", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/Examples:[\s\S]*breachkit backup --all/);
    expect(help.stdout).toMatch(/Exit codes:/);
    const none = await cli([
      "backup",
      "--repo",
      repo.location,
      "--password-file",
      repo.passwordFile,
    ]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/name the containers to back up, or --all/);
  });

  it("a password file that others may read: exit 2 and the chmod", async () => {
    const loose = join(dir, "loose-pw");
    await writeFile(loose, "x\n");
    await chmod(loose, 0o640);
    const r = await cli([
      "backup",
      "status",
      "--repo",
      repo.location,
      "--password-file",
      loose,
      "--json",
    ]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`chmod 600 ${loose}`);
    expect(JSON.parse(r.stdout).error.code).toBe("PERMISSION");
  });

  it("a wrong password and a missing repository: exit 2 with the reason", async () => {
    const bad = join(dir, "bad-pw");
    await writeFile(bad, "wrong\n", { mode: 0o600 });
    const wrong = await cli(["backup", "drill", "--repo", repo.location, "--password-file", bad]);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/wrong password/);
    const missing = await cli([
      "backup",
      "prune",
      "--repo",
      join(dir, "nope"),
      "--password-file",
      repo.passwordFile,
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/no restic repository at that location[\s\S]*restic init/);
  });

  it("restore: one of --to/--volume, never into a directory that holds data", async () => {
    const neither = await cli([
      "restore",
      "web",
      "--repo",
      repo.location,
      "--password-file",
      repo.passwordFile,
    ]);
    expect(neither.code).toBe(2);
    expect(neither.stderr).toMatch(/--to DIR or --volume NAME/);
    const both = await cli([
      "restore",
      "web",
      "--before",
      "1d",
      "--snapshot",
      "abcd",
      "--to",
      "/x",
    ]);
    expect(both.code).toBe(2);
  });

  it("status on a repository without snapshots, as JSON matching its schema", async () => {
    const r = await cli([
      "backup",
      "status",
      "--repo",
      repo.location,
      "--password-file",
      repo.passwordFile,
      "--json",
    ]);
    expect(r.code).toBeLessThanOrEqual(1);
    const out = BackupStatusOutputSchema.parse(JSON.parse(r.stdout));
    expect(out.repo.location).toBe(repo.location);
    expect(JSON.stringify(out)).not.toContain("unit-test-password");
  });

  it("schema backup / restore exist", async () => {
    for (const name of ["backup", "backup-status", "backup-prune", "backup-drill", "restore"]) {
      const r = await cli(["schema", name]);
      expect(r.code, name).toBe(0);
      expect(JSON.parse(r.stdout).$id).toBe(`urn:breachkit:schema:${name}:1`);
    }
  });
});

describe("drill: a restored file against restic's record", () => {
  it("every blob matches after a restore; one changed byte is found and placed", async () => {
    const data = join(dir, "data");
    await mkdir(join(data, "sub"), { recursive: true });
    // Over restic's largest chunk (8 MiB): at least two blobs whatever the content.
    await writeFile(join(data, "big.bin"), randomBytes(9_000_000));
    await writeFile(join(data, "sub", "small.txt"), "hello\n");
    await writeFile(join(data, "empty"), "");
    const writer = new ResticWriter("restic", repo, env);
    const run = await writer.backup([data], {
      tags: ["breachkit", "container=unit"],
      host: "unit",
      timeoutMs: 60_000,
    });
    expect(run.exitCode).toBe(0);
    expect(run.summary?.totalFilesProcessed).toBe(3);
    const reader = new ResticReader("restic", repo, env);
    const [snap] = await reader.snapshots(["container=unit"]);
    expect(snap?.tree).toBeTruthy();
    const target = join(dir, "restored");
    const restore = await writer.restore(snap!.id, target, 60_000);
    expect(restore.exitCode).toBe(0);
    const recorded = await recordedFiles(reader, snap!.tree!);
    expect(recorded.map((r) => r.path.slice(data.length)).sort()).toEqual([
      "/big.bin",
      "/empty",
      "/sub/small.txt",
    ]);
    const big = recorded.find((r) => r.path.endsWith("big.bin"))!;
    expect(big.content.length).toBeGreaterThan(1); // several blobs: the chunk lengths matter
    const lengths = await reader.blobLengths();
    for (const rec of recorded) {
      const v = await verifyFile(`${target}${rec.path}`, rec, lengths);
      expect(v.ok, rec.path).toBe(true);
    }
    // One byte changed near the end of the restored big file.
    const fh = await open(`${target}${big.path}`, "r+");
    await fh.write(Buffer.from([0x42 ^ 0xff]), 0, 1, 2_400_000);
    await fh.close();
    const v = await verifyFile(`${target}${big.path}`, big, lengths);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.reason).toMatch(/^blob \d+ at byte \d+ differs$/);
  });
});

describe("Ctrl-C during a restic run (restic has its own process group)", () => {
  it("the interrupt stops the program through the signal, and the command ends INTERRUPTED", async () => {
    let handler: ((sig: NodeJS.Signals) => void) | null = null;
    const { io } = memoryIo({
      onInterrupt: (h) => {
        handler = h;
        return () => {
          handler = null;
        };
      },
    });
    const ctx = { io, setExitCode: () => {} };
    const t0 = Date.now();
    let run: ToolRun | null = null;
    const done = interruptible(ctx, async (signal) => {
      run = await runTool("/bin/sh", ["-c", "echo started; sleep 30"], {
        timeoutMs: 60_000,
        env,
        signal,
        // The interrupt comes once the program runs.
        onStdoutLine: () => handler?.("SIGINT"),
      });
      return run;
    });
    await expect(done).rejects.toMatchObject({ code: "INTERRUPTED" });
    expect((run as ToolRun | null)?.signal).toBe("SIGTERM");
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(handler).toBeNull();
  });
});
