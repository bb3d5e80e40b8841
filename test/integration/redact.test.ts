/**
 * One redaction policy for every file of a bundle (issue 23 item 8): a container labelled
 * `db.password=hunter2` whose command line carries `--password=...` leaves neither value in
 * any file of `collect --container` (inspect.json, snapshot.json, processes.json), and both
 * with --no-redact. The container is our own (never a lab one), removed by id.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLabImage } from "../../lab/lab-core.js";
import { runCli } from "../../src/cli/main.js";
import { tempDir } from "../helpers/evidence.js";
import { memoryIo } from "../helpers/memory-io.js";

const LABEL_SECRET = "hunter2";
const ARG_SECRET = `argsecret${process.pid}`;
const NAME = `bk-test-redact-${process.pid}`;
let id = "";
let tmp: { path: string; cleanup(): Promise<void> };

async function docker(...args: string[]): Promise<string> {
  return (await execa("docker", args, { stdin: "ignore", timeout: 60_000 })).stdout.trim();
}

beforeAll(async () => {
  tmp = await tempDir("bk-redact-");
  const image = (await buildLabImage()).ref;
  id = await docker(
    "run",
    "-d",
    "--name",
    NAME,
    "--label",
    "breachkit.test=1",
    "--label",
    `db.password=${LABEL_SECRET}`,
    "--network",
    "none",
    image,
    "/bin/sh",
    "-c",
    "sleep 600",
    "sh",
    `--password=${ARG_SECRET}`,
  );
}, 120_000);

afterAll(async () => {
  if (id) await docker("rm", "-f", id).catch(() => "");
  await tmp?.cleanup();
});

function allText(root: string): string {
  let out = "";
  for (const name of readdirSync(root, { recursive: true, encoding: "utf8" })) {
    const p = join(root, name);
    if (statSync(p).isFile()) out += readFileSync(p, "latin1");
  }
  return out;
}

describe("collect redacts labels and command lines in every file", () => {
  it("no secret by default; both with --no-redact", async () => {
    for (const [flags, present] of [
      [[], false],
      [["--no-redact"], true],
    ] as const) {
      const out = join(tmp.path, present ? "raw" : "redacted");
      await execa("mkdir", ["-p", out]);
      const m = memoryIo({ cwd: out, env: process.env });
      expect(
        await runCli(["collect", "--container", NAME, "--no-host", "--out", out, ...flags], m.io),
        m.stderr(),
      ).toBe(0);
      const [bundle] = readdirSync(out);
      const dir = join(out, bundle ?? "");
      const snapshot = readFileSync(join(dir, "snapshot.json"), "utf8");
      expect(snapshot).toContain("db.password");
      const text = allText(dir);
      expect(text).toContain("inspect.json");
      expect(text.includes(LABEL_SECRET), `label ${flags.join(" ")}`).toBe(present);
      expect(text.includes(`--password=${ARG_SECRET}`), `argv ${flags.join(" ")}`).toBe(present);
      expect(snapshot.includes(LABEL_SECRET)).toBe(present);
    }
  }, 180_000);
});
