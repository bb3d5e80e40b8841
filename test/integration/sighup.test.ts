/**
 * A dropped SSH session during collect (issue 23, item 4): SIGHUP, then the terminal gone
 * (its pipes closed, so every later write fails). Node's default for SIGHUP is to exit at once,
 * which left no manifest and no SEAL; collect must go on to the end and seal.
 */
import { spawn } from "node:child_process";
import { mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAB_CONTAINER_NAMES, labDown, labUp } from "../../lab/lab-core.js";
import { verifyBundle } from "../../src/evidence/verify.js";
import { startDockerProxy } from "../helpers/docker-proxy.js";
import { tempDir } from "../helpers/evidence.js";

const REPO = join(import.meta.dirname, "..", "..");
const CLI = join(REPO, "dist", "cli", "bin.cjs");

let tmp: Awaited<ReturnType<typeof tempDir>>;

beforeAll(async () => {
  tmp = await tempDir("bk-sighup-");
  await labUp({ scenario: "contained", trojanSeconds: 600 });
  await execa("npm", ["run", "build"], { cwd: REPO, reject: false, stdin: "ignore" });
});

afterAll(async () => {
  await labDown();
  await tmp.cleanup();
});

describe("SIGHUP during collect", () => {
  it("goes on without its terminal and seals the bundle", async () => {
    // The engine call for the container's changes is held, so the signal lands mid-collect.
    const proxy = await startDockerProxy((r) => (r.path.includes("/changes") ? "hold" : "forward"));
    const out = join(tmp.path, "sighup");
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
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.stdout.resume();
      const exited = new Promise<number | null>((r) => child.once("close", (code) => r(code)));
      const first = await Promise.race([
        proxy.waitFor((r) => r.path.includes("/changes")).then(() => "held" as const),
        exited.then(() => "exited" as const),
      ]);
      if (first === "exited") throw new Error(`the CLI ended before the held call: ${stderr}`);
      child.kill("SIGHUP");
      // The terminal is gone: whatever the CLI writes from now on fails with EPIPE.
      child.stdout.destroy();
      child.stderr.destroy();
      proxy.release();
      const code = await exited;
      expect(code).toBe(0);
      const [name, ...more] = await readdir(out);
      expect(more).toEqual([]);
      const dir = join(out, name!);
      const report = await verifyBundle(dir);
      expect(report.intact).toBe(true);
      expect(report.complete).toBe(true);
      const log = await readFile(join(dir, "collection.log.jsonl"), "utf8");
      expect(log).toMatch(/SIGHUP: terminal gone, collecting on/);
    } finally {
      await proxy.close();
    }
  });
});
