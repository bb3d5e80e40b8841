import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/main.js";
import { loadIocs } from "../../../src/judge/ioc/load-iocs.js";
import { memoryIo } from "../../helpers/memory-io.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-contain-unit-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("loadIocs", () => {
  it("reads an existing file as an IOC file, anything else as one IOC", async () => {
    await writeFile(join(dir, "iocs.txt"), "# from the abuse mail\nname:wate\nip:203.0.113.9\n");
    const set = await loadIocs(["iocs.txt", "kdevtmpfsd", "a".repeat(64)], dir);
    expect(set.entries.map((e) => `${e.kind}:${e.value}`)).toEqual([
      "name:wate",
      "ip:203.0.113.9",
      "name:kdevtmpfsd",
      `sha256:${"a".repeat(64)}`,
    ]);
    expect(set.entries[0]?.origin).toBe("iocs.txt:2");
  });

  it("refuses a file that is not an IOC list, with how to match its path instead", async () => {
    await writeFile(join(dir, "wate"), Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2]));
    await expect(loadIocs(["wate"], dir)).rejects.toMatchObject({
      code: "BAD_INPUT",
      hint: expect.stringContaining(`--ioc path:${join(dir, "wate")}`),
    });
  });
});

describe("breachkit contain (no engine needed)", () => {
  it("refuses to act without a terminal or --yes, before touching anything", async () => {
    const { io, stderr } = memoryIo({ cwd: dir, env: { DOCKER_HOST: "unix:///nonexistent.sock" } });
    const code = await runCli(["contain", "bk-lab-gitlab"], io);
    expect(code).toBe(2);
    expect(stderr()).toContain("needs a confirmation");
    expect(stderr()).toContain("--yes");
    expect(await readdir(dir)).not.toContainEqual(expect.stringMatching(/^breachkit-/));
  });

  it("says the engine is down, with a hint, and writes no bundle", async () => {
    const { io, stderr } = memoryIo({ cwd: dir, env: { DOCKER_HOST: "unix:///nonexistent.sock" } });
    const code = await runCli(["contain", "bk-lab-gitlab", "--yes"], io);
    expect(code).toBe(2);
    expect(stderr()).toContain("no Docker engine answers at unix:///nonexistent.sock");
    expect(stderr()).toContain("what to do:");
    expect(await readdir(dir)).not.toContainEqual(expect.stringMatching(/^breachkit-/));
  });

  it("refuses a remote DOCKER_HOST and an unknown mode", async () => {
    const remote = memoryIo({ cwd: dir, env: { DOCKER_HOST: "tcp://127.0.0.1:2375" } });
    expect(await runCli(["contain", "x", "--dry-run"], remote.io)).toBe(2);
    expect(remote.stderr()).toContain("DOCKER_HOST=tcp://127.0.0.1:2375 is not supported");
    const mode = memoryIo({ cwd: dir });
    expect(await runCli(["contain", "x", "--mode", "nuke", "--dry-run"], mode.io)).toBe(2);
    expect(mode.stderr()).toMatch(/--mode <mode>.*Allowed choices are pause, isolate, stop, kill/);
  });

  it("documents modes and exit codes in its help", async () => {
    const { io, stdout } = memoryIo();
    expect(await runCli(["contain", "--help"], io)).toBe(0);
    expect(stdout()).toMatch(/--mode <mode>/);
    expect(stdout()).toMatch(/1 {2}NOT CONTAINED/);
    expect(stdout()).toContain("--dry-run");
  });
});
