import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkHookProgram, parseHookLabel, runHook } from "../../../src/act/backup/hooks.js";
import { checkPasswordFile, chooseRepo, resticEnv } from "../../../src/observe/restic/repo.js";
import { skipReason, targetOf } from "../../../src/observe/restic/targets.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-backup-unit-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("repository settings", () => {
  it("--repo, then the config, then RESTIC_REPOSITORY; keep defaults 7/4/6", () => {
    const env = { RESTIC_REPOSITORY: "/env", RESTIC_PASSWORD_FILE: "/env.pw" };
    expect(chooseRepo({ repo: "/opt" }, { repo: "/cfg" }, env)).toMatchObject({
      location: "/opt",
      from: "option",
      passwordFile: "/env.pw",
    });
    expect(
      chooseRepo(
        {},
        { repo: "/cfg", passwordFile: "/cfg.pw", keep: { daily: 3, weekly: 4, monthly: 6 } },
        env,
      ),
    ).toMatchObject({
      location: "/cfg",
      from: "config",
      passwordFile: "/cfg.pw",
      keep: { daily: 3, weekly: 4, monthly: 6 },
    });
    expect(chooseRepo({}, undefined, env)).toMatchObject({
      location: "/env",
      from: "env",
      keep: { daily: 7, weekly: 4, monthly: 6 },
    });
    expect(() => chooseRepo({}, undefined, {})).toThrow(/no restic repository/);
  });

  it("a password file others may read is refused with the chmod fix; 0600 is taken", async () => {
    const pw = join(dir, "pw");
    await writeFile(pw, "secret\n");
    await chmod(pw, 0o644);
    await expect(checkPasswordFile(pw)).rejects.toMatchObject({ hint: `chmod 600 ${pw}` });
    await chmod(pw, 0o600);
    await expect(checkPasswordFile(pw)).resolves.toBe(pw);
    await expect(checkPasswordFile(join(dir, "missing"))).rejects.toThrow(/cannot be read/);
    await expect(checkPasswordFile(undefined)).rejects.toThrow(/no password file/);
  });

  it("restic gets the file, never a password in its environment", () => {
    const env = resticEnv(
      {
        location: "/r",
        passwordFile: "/pw",
        from: "option",
        keep: { daily: 7, weekly: 4, monthly: 6 },
      },
      { PATH: "/bin", RESTIC_PASSWORD: "leak", RESTIC_PASSWORD_COMMAND: "cat x" },
    );
    expect(env).toEqual({ PATH: "/bin", RESTIC_REPOSITORY: "/r", RESTIC_PASSWORD_FILE: "/pw" });
  });
});

describe("hooks from labels: argv, never a shell", () => {
  it("a label is a JSON array or words; shell syntax stays words; relative programs refused", () => {
    expect(parseHookLabel('["/usr/local/sbin/dump", "--out", "/srv/a b"]')).toEqual({
      ok: true,
      value: ["/usr/local/sbin/dump", "--out", "/srv/a b"],
    });
    expect(parseHookLabel("/bin/echo hi; rm -rf /")).toEqual({
      ok: true,
      value: ["/bin/echo", "hi;", "rm", "-rf", "/"],
    });
    expect(parseHookLabel("dump-db").ok).toBe(false);
    expect(parseHookLabel("[1,2]").ok).toBe(false);
    expect(parseHookLabel("[not json").ok).toBe(false);
  });

  it("the program must be owned by root (or us) and changed by nobody else", async () => {
    const prog = join(dir, "hook.sh");
    await writeFile(prog, '#!/bin/sh\necho hooked "$@" > "$1"\n');
    await chmod(prog, 0o775);
    expect(await checkHookProgram(prog, process.geteuid?.() ?? 0)).toMatch(/group or others/);
    await chmod(prog, 0o755);
    expect(await checkHookProgram(prog, process.geteuid?.() ?? 0)).toBeNull();
    expect(await checkHookProgram(join(dir, "nope"), 0)).toMatch(/ENOENT/);
  });

  it("runs with the argv as given (a ';' is an argument) and reports failure", async () => {
    const prog = join(dir, "hook.sh");
    const out = join(dir, "out.txt");
    const ctx = {
      containerId: "c1",
      containerName: "web",
      env: { PATH: "/usr/bin:/bin" },
      euid: process.geteuid?.() ?? 0,
      timeoutMs: 10_000,
    };
    const ok = await runHook("pre", JSON.stringify([prog, out, "a;b", "$(id)"]), ctx);
    expect(ok.ok).toBe(true);
    expect(await readFile(out, "utf8")).toBe(`hooked ${out} a;b $(id)\n`);
    const failing = await runHook("pre", "/bin/false", ctx);
    expect(failing).toMatchObject({ ok: false, exitCode: 1 });
  });
});

describe("what a container's backup reads (recorded inspect, Docker 20.10)", () => {
  it("the volume and the bind mount; never the socket or /proc; labels read", async () => {
    const inspect = JSON.parse(
      await readFile(
        new URL("../../fixtures/restic/docker-20.10-inspect-backup-mounts.json", import.meta.url),
        "utf8",
      ),
    ) as Record<string, unknown>;
    const t = targetOf(inspect, "sha256:img", "/var/lib/docker");
    expect(t.paths).toEqual([
      {
        type: "volume",
        volume: "bkfx-vol",
        source: "/var/lib/docker/volumes/bkfx-vol/_data",
        destination: "/data",
      },
      { type: "bind", volume: null, source: "/tmp/bkfx-bind", destination: "/srv/site" },
    ]);
    expect(t.skipped.map((s) => s.source).sort()).toEqual(["/proc", "/var/run/docker.sock"]);
    expect(t.stop).toBe(true);
    expect(t.pre).toBe('["/usr/local/sbin/dump-db","--out","/srv/site/dump.sql"]');
  });

  it("skip reasons", () => {
    expect(skipReason("bind", "/", "/var/lib/docker")).toMatch(/root/);
    expect(skipReason("bind", "/sys/fs/cgroup", "/var/lib/docker")).toMatch(/kernel/);
    expect(skipReason("bind", "/dev", "/var/lib/docker")).toMatch(/kernel/);
    expect(skipReason("bind", "/run/containerd/containerd.sock", "/var/lib/docker")).toMatch(
      /socket/,
    );
    expect(skipReason("bind", "/var/lib/docker/overlay2/x", "/var/lib/docker")).toMatch(
      /Docker's own/,
    );
    expect(skipReason("volume", "/var/lib/docker/volumes/v/_data", "/var/lib/docker")).toBeNull();
    expect(skipReason("tmpfs", "", "/var/lib/docker")).toMatch(/tmpfs/);
    expect(skipReason("bind", "/srv/www", "/var/lib/docker")).toBeNull();
  });
});
