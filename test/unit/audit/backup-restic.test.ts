/**
 * The backup check against a real restic repository (Debian's restic): breachkit's config
 * names it (backup.repo, backup.passwordFile, file mode 0600); an empty repository is "no
 * snapshot", one with a fresh snapshot is fine; a config others may read is refused.
 */
import { execFileSync } from "node:child_process";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { preventionFindings } from "../../../src/judge/audit/prevention.js";
import { observePrevention } from "../../../src/observe/audit/prevention.js";

let dir: string;
let config: string;
const env = { PATH: process.env.PATH, HOME: process.env.HOME };

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-audit-restic-"));
  const pass = join(dir, "pass");
  await writeFile(pass, "correct horse battery staple\n", { mode: 0o600 });
  const repo = join(dir, "repo");
  execFileSync("restic", ["init", "--repo", repo, "--password-file", pass, "--quiet"], {
    env: { ...env, RESTIC_CACHE_DIR: join(dir, "cache") },
  });
  config = join(dir, "config.json");
  await writeFile(config, JSON.stringify({ backup: { repo, passwordFile: pass } }), {
    mode: 0o600,
  });
}, 60_000);

afterAll(async () => rm(dir, { recursive: true, force: true }));

describe("backups through restic", () => {
  it("an empty repository holds no snapshot; after a backup the check is quiet", async () => {
    const empty = await observePrevention({ root: "/", live: true, env, configFile: config });
    expect(empty.backup.configured).toBe(true);
    expect(empty.backup.error).toBeNull();
    expect(empty.backup.latest).toBeNull();
    const f = preventionFindings(empty, [], new Date(), true).find(
      (x) => x.rule === "audit.prevention.backup-old",
    );
    expect(f?.title).toMatch(/holds no snapshot/);

    const data = join(dir, "data");
    await writeFile(data, "some data\n");
    const cfg = JSON.parse(execFileSync("cat", [config]).toString()).backup;
    execFileSync(
      "restic",
      ["backup", "--repo", cfg.repo, "--password-file", cfg.passwordFile, "--quiet", data],
      {
        env: { ...env, RESTIC_CACHE_DIR: join(dir, "cache") },
      },
    );
    const fresh = await observePrevention({ root: "/", live: true, env, configFile: config });
    expect(fresh.backup.latest).not.toBeNull();
    expect(Date.now() - Date.parse(fresh.backup.latest!)).toBeLessThan(10 * 60_000);
    const rules = preventionFindings(fresh, [], new Date(), true).map((x) => x.rule);
    expect(rules).not.toContain("audit.prevention.backup-old");
    expect(rules).not.toContain("audit.prevention.no-backup");
  }, 60_000);

  it("a config others may read is refused with the chmod", async () => {
    await chmod(config, 0o644);
    try {
      const p = await observePrevention({ root: "/", live: true, env, configFile: config });
      expect(p.backup.configError).toMatch(/chmod 600/);
      expect(preventionFindings(p, [], new Date(), true).map((x) => x.rule)).toContain(
        "audit.prevention.config-unreadable",
      );
    } finally {
      await chmod(config, 0o600);
    }
  });
});
