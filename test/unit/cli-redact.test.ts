/**
 * One redaction policy for everything that leaves the host (issue 23 item 8): a process's
 * `--password=...` is in no file of a bundle nor in `snapshot --json`, unless --no-redact.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import { memoryIo } from "../helpers/memory-io.js";

const SECRET = `s3cret-${process.pid}-value`;
const DOWN = { DOCKER_HOST: "unix:///nonexistent/docker.sock" };
let child: ChildProcess;
const dir = mkdtempSync(join(tmpdir(), "bk-redact-"));

beforeAll(async () => {
  // A real process with a password on its command line, as `ps` shows it to anyone.
  child = spawn(
    process.execPath,
    ["-e", "setInterval(() => {}, 1000)", "--", `--password=${SECRET}`],
    {
      stdio: "ignore",
    },
  );
  await new Promise((r) => child.once("spawn", r));
});
afterAll(() => {
  if (child.pid !== undefined) process.kill(child.pid);
  rmSync(dir, { recursive: true, force: true });
});

/** Every file under `root`, as text. */
function allText(root: string): string {
  let out = "";
  for (const name of readdirSync(root, { recursive: true, encoding: "utf8" })) {
    const p = join(root, name);
    if (statSync(p).isFile()) out += readFileSync(p, "latin1");
  }
  return out;
}

describe("secrets on command lines", () => {
  it("snapshot --json and snapshot --out redact them; --no-redact shows them", async () => {
    const out = mkdtempSync(join(dir, "snap-"));
    const m = memoryIo({ cwd: out, env: DOWN });
    expect(await runCli(["snapshot", "--json", "--out", out], m.io)).toBe(0);
    expect(m.stdout()).toContain("--password=<redacted>");
    expect(m.stdout()).not.toContain(SECRET);
    const text = allText(out);
    expect(text).toContain("--password=<redacted>");
    expect(text).not.toContain(SECRET);
    // Nor in the raw cmdline bytes (base64).
    expect(text).not.toContain(Buffer.from(SECRET).toString("base64").slice(0, 12));

    const raw = memoryIo({ cwd: out, env: DOWN });
    expect(await runCli(["snapshot", "--json", "--no-redact"], raw.io)).toBe(0);
    expect(raw.stdout()).toContain(`--password=${SECRET}`);
  }, 60_000);

  it.runIf(process.geteuid?.() === 0)(
    "collect's bundle holds them in no file; collect --no-redact keeps them",
    async () => {
      for (const [flags, present] of [
        [[], false],
        [["--no-redact"], true],
      ] as const) {
        const out = mkdtempSync(join(dir, "collect-"));
        const m = memoryIo({ cwd: out, env: DOWN });
        await runCli(["collect", "--no-host", "--out", out, ...flags], m.io);
        const text = allText(out);
        expect(text, m.stderr()).toContain("snapshot.json");
        expect(text.includes(`--password=${SECRET}`), flags.join(" ")).toBe(present);
      }
    },
    120_000,
  );
});
