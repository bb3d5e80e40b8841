import { chmod, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { configSection, loadConfig } from "../../../src/observe/config.js";
import { z } from "../../../src/util/zod.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-config-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function file(text: string, mode = 0o600): Promise<string> {
  const p = join(dir, "config.json");
  await writeFile(p, text);
  await chmod(p, mode);
  return p;
}

describe("loadConfig", () => {
  it("reads a 0600 JSON object and hands each section to its own schema", async () => {
    const p = await file(JSON.stringify({ backup: { repo: "/srv/restic" }, other: 1 }));
    const cfg = await loadConfig({}, p);
    expect(cfg.ok).toBe(true);
    if (!cfg.ok) return;
    const backup = configSection(cfg.value, "backup", z.object({ repo: z.string() }));
    expect(backup).toEqual({ ok: true, value: { repo: "/srv/restic" } });
    expect(configSection(cfg.value, "notify", z.object({}))).toEqual({
      ok: true,
      value: undefined,
    });
    const bad = configSection(cfg.value, "backup", z.object({ repo: z.number() }));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.error.message).toContain("backup.repo");
  });

  it("refuses a file others may read, with the chmod that fixes it", async () => {
    const p = await file("{}", 0o644);
    const cfg = await loadConfig({}, p);
    expect(cfg.ok).toBe(false);
    if (!cfg.ok) {
      expect(cfg.error.message).toContain("0644");
      expect(cfg.error.fix).toBe(`chmod 600 ${p}`);
    }
  });

  it("is empty when the default file is absent, an error when a named one is", async () => {
    const missing = join(dir, "nope.json");
    const named = await loadConfig({}, missing);
    expect(named.ok).toBe(false);
    const viaEnv = await loadConfig({ BREACHKIT_CONFIG: missing });
    expect(viaEnv.ok).toBe(false);
  });

  it("refuses a symlink, non-JSON and a JSON array", async () => {
    const p = await file("not json");
    expect((await loadConfig({}, p)).ok).toBe(false);
    await writeFile(p, "[1]");
    expect((await loadConfig({}, p)).ok).toBe(false);
    const link = join(dir, "link.json");
    await writeFile(p, "{}");
    await symlink(p, link);
    const viaLink = await loadConfig({}, link);
    expect(viaLink.ok).toBe(false);
    if (!viaLink.ok) expect(viaLink.error.message).toContain("symbolic link");
  });
});
