/**
 * breachkit as one executable (npm run build:exe): built from the sources, then run inside a
 * minimal root that holds the executable and the glibc libraries `ldd` names, nothing else
 * (no node, no /etc, no docker socket), with the host's /proc bound read-only. The same
 * commands give the same output as the npm-installed command, and an executable patched
 * after the build is caught.
 */
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
} from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa, type ResultPromise } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Finding } from "../../src/model/finding.js";
import { SnapshotSchema } from "../../src/model/snapshot.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const EXE = join(REPO, "dist", "breachkit-linux-x64");
const NPM_CLI = join(REPO, "dist", "cli", "bin.cjs");
const work = mkdtempSync(join(tmpdir(), "bk-exe-it-"));
const ROOT = join(work, "root");

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

// Run inside ROOT: a private mount namespace where the host's /proc is bound read-only on
// ROOT/proc, then chroot. The arguments are passed as "$@", never built into the script.
const IN_ROOT =
  'mount --bind /proc "$R/proc" && mount -o remount,bind,ro "$R/proc" && exec chroot "$R" "$@"';
function inRoot(args: string[], exe = "/tmp/breachkit") {
  return execa(
    "unshare",
    ["--mount", "--propagation", "private", "sh", "-c", IN_ROOT, "sh", exe, ...args],
    {
      env: { R: ROOT, PATH: "/usr/sbin:/usr/bin:/sbin:/bin", NO_COLOR: "1" },
      extendEnv: false,
      reject: false,
      stdin: "ignore",
      timeout: 120_000,
      maxBuffer: 256 * 1024 * 1024,
    },
  );
}
function npm(args: string[]) {
  return execa("node", [NPM_CLI, ...args], {
    env: { PATH: process.env.PATH, NO_COLOR: "1" },
    extendEnv: false,
    reject: false,
    stdin: "ignore",
    timeout: 120_000,
    maxBuffer: 256 * 1024 * 1024,
  });
}

beforeAll(async () => {
  await execa("npm", ["run", "build"], { cwd: REPO });
  const b = await execa("node", ["scripts/build-exe.mjs", "--arch", "x64"], {
    cwd: REPO,
    reject: false,
    timeout: 300_000,
  });
  expect(b.exitCode, b.stderr).toBe(0);
  // The build prints the size and the hash it wrote.
  expect(b.stdout).toContain(`sha256 ${sha256(readFileSync(EXE))}`);
  expect(b.stdout).toMatch(/breachkit-linux-x64 {2}\d+\.\d MiB/);
  // The minimal root: the executable, the libraries it links against, an empty /proc and /out.
  mkdirSync(join(ROOT, "proc"), { recursive: true });
  mkdirSync(join(ROOT, "out"), { mode: 0o700 });
  // Where an admin would scp it: a temporary directory.
  mkdirSync(join(ROOT, "tmp"), { mode: 0o1777 });
  copyFileSync(EXE, join(ROOT, "tmp", "breachkit"));
  const ldd = await execa("ldd", [EXE]);
  for (const lib of ldd.stdout.match(/\/\S+/g) ?? []) {
    mkdirSync(join(ROOT, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(ROOT, lib));
  }
}, 400_000);

// A dropped binary that deletes itself, as the trojan did: triage must find it on any host,
// a fresh CI machine included (its findings cannot depend on what else runs there).
const droppedOptions = { reject: false, stdin: "ignore" } as const;
let dropped: ResultPromise<typeof droppedOptions> | undefined;
async function startDropped(): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "bk-exe-dropped-"));
  const bin = join(dir, "wate-exe-test");
  copyFileSync("/bin/sleep", bin);
  chmodSync(bin, 0o755);
  dropped = execa(bin, ["600"], droppedOptions);
  // Wait until the kernel runs it from that file, then delete the file.
  for (let i = 0; i < 200; i++) {
    try {
      if (readlinkSync(`/proc/${dropped.pid}/exe`) === bin) break;
    } catch {}
    await new Promise((r) => setTimeout(r, 10));
  }
  rmSync(dir, { recursive: true, force: true });
  return dropped.pid!;
}

afterAll(() => {
  dropped?.kill("SIGKILL");
  rmSync(work, { recursive: true, force: true });
});

describe("the single executable in a root with no node", () => {
  it("holds nothing but the executable and glibc's libraries", () => {
    const files: string[] = [];
    const walk = (d: string) => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.isDirectory()) walk(join(d, e.name));
        else files.push(join(d, e.name).slice(ROOT.length));
      }
    };
    walk(ROOT);
    expect(
      files.filter(
        (f) => f !== "/tmp/breachkit" && !/^\/lib(64|\/x86_64-linux-gnu)\/[^/]+\.so[.\d]*$/.test(f),
      ),
    ).toEqual([]);
    expect(files.some((f) => /node$/.test(f))).toBe(false);
  });

  it("--version names the version, the commit, its SHA-256 and an intact self-check", async () => {
    const r = await inRoot(["--version"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const pkg = JSON.parse(readFileSync(join(REPO, "package.json"), "utf8")) as { version: string };
    const head = (await execa("git", ["rev-parse", "HEAD"], { cwd: REPO })).stdout.trim();
    expect(r.stdout).toContain(`breachkit ${pkg.version}`);
    expect(r.stdout).toMatch(new RegExp(`commit +${head}`));
    expect(r.stdout).toContain(`sha256      ${sha256(readFileSync(EXE))}`);
    expect(r.stdout).toMatch(/self-check {2}ok: (\d+) of \1 assets match/);
  });

  it("--help and each command's help are the npm-installed command's, byte for byte", async () => {
    const cases = [["--help"], ["triage", "--help"], ["verify", "--help"], ["schema", "--list"]];
    const runs = await Promise.all(cases.map((a) => Promise.all([inRoot(a), npm(a)])));
    for (const [exe, ref] of runs) {
      expect(exe.exitCode, exe.stderr).toBe(0);
      expect(exe.stdout).toBe(ref.stdout);
    }
    // A usage error: the same exit code and JSON error object.
    const [exe, ref] = await Promise.all([inRoot(["verify", "--json"]), npm(["verify", "--json"])]);
    expect(exe.exitCode).toBe(2);
    expect(exe.stdout).toBe(ref.stdout);
  });

  it("snapshot --json reads the host's /proc and hashes executables, itself included", async () => {
    const r = await inRoot(["snapshot", "--json"]);
    expect(r.exitCode, r.stderr).toBe(0);
    const snap = SnapshotSchema.parse(JSON.parse(r.stdout));
    expect(snap.processes.length).toBeGreaterThan(5);
    const self = snap.processes.find((p) => p.self);
    expect(self?.exe.path).toBe("/tmp/breachkit");
    expect(self?.exe.sha256).toBe(sha256(readFileSync(EXE)));
    // Executables outside the root are hashed too (through /proc/PID/exe).
    expect(snap.processes.filter((p) => p.exe.sha256).length).toBeGreaterThan(3);
    // No /etc in the root: a gap, not a crash.
    expect(snap.gaps.some((g) => /\/etc\/passwd/.test(g.message))).toBe(true);
  });

  it("triage writes a bundle that verify (the executable's and npm's) finds intact, and the same findings offline", async () => {
    const pid = await startDropped();
    const t = await inRoot(["triage", "--json", "--out", "/out"]);
    expect([0, 1]).toContain(t.exitCode);
    const tj = JSON.parse(t.stdout) as {
      bundle: { path: string; manifestSha256: string };
      findings: Finding[];
    };
    // Run from /tmp as Node 24 ("MainThread"): breachkit does not judge its own process.
    expect(JSON.stringify(tj.findings)).not.toContain("/tmp/breachkit");
    // The planted dropper: found live, from the host's /proc seen through the chroot.
    const live = tj.findings.filter(
      (f) => f.rule === "process.deleted-exe" && f.title.includes("wate-exe-test"),
    );
    expect(live.length, JSON.stringify(tj.findings.map((f) => f.title))).toBe(1);
    expect(live[0]!.title).toContain(String(pid));
    const inside = tj.bundle.path;
    const outside = join(ROOT, inside);
    const v = await inRoot(["verify", "--json", inside]);
    expect(v.exitCode, v.stdout).toBe(0);
    const nv = await npm(["verify", "--json", outside]);
    expect(nv.exitCode).toBe(0);
    expect(JSON.parse(v.stdout).manifestSha256).toBe(tj.bundle.manifestSha256);
    // The same judge, offline, on the same bundle.
    const rules = (s: string) =>
      (JSON.parse(s) as { findings: Finding[] }).findings.map(
        (f) => `${f.rule} ${f.severity} ${f.title}`,
      );
    const [e, n] = await Promise.all([
      inRoot(["triage", "--json", "--bundle", inside]),
      npm(["triage", "--json", "--bundle", outside]),
    ]);
    expect(rules(e.stdout)).toEqual(rules(n.stdout));
    expect(rules(e.stdout).some((r) => r.includes("wate-exe-test"))).toBe(true);
    // One changed byte in the bundle: not intact.
    const snapFile = join(outside, "snapshot.json");
    const bytes = readFileSync(snapFile);
    bytes[10] = bytes[10] === 0x20 ? 0x0a : 0x20;
    await writeFile(snapFile, bytes);
    const bad = await inRoot(["verify", inside]);
    expect(bad.exitCode).toBe(1);
    expect(bad.stdout).toContain("snapshot.json");
  });
});

describe("an executable changed after the build", () => {
  const KEY = "rules/mining-ports.json";

  it("an altered asset: --version's self-check fails, and commands refuse to run on it", async () => {
    const exe = readFileSync(EXE);
    const content = readFileSync(join(REPO, KEY));
    const at = exe.indexOf(content);
    expect(at).toBeGreaterThan(0);
    // A plausible edit: one digit of a port changed, still valid JSON.
    const digit = content.findIndex(
      (c, i) => i > content.indexOf("entries") && c >= 0x31 && c <= 0x38,
    );
    exe[at + digit] = (exe[at + digit] as number) + 1;
    await writeFile(join(ROOT, "patched"), exe, { mode: 0o755 });
    const v = await inRoot(["--version"], "/patched");
    expect(v.exitCode).toBe(1);
    expect(v.stdout).toContain("self-check  FAILED: 1 of");
    expect(v.stdout).toContain(`${KEY}: altered`);
    expect(v.stdout).not.toContain(sha256(readFileSync(EXE)));
    const t = await inRoot(["triage", "--out", "/out"], "/patched");
    expect(t.exitCode).toBe(2);
    expect(t.stderr).toContain(
      `${KEY} inside this executable does not match the SHA-256 recorded when it was built`,
    );
    expect(t.stderr).toContain("reinstall");
  });

  it("a missing asset: named by the self-check, and commands refuse to run without it", async () => {
    const exe = readFileSync(EXE);
    // The asset table's key (length-prefixed), not the mention in build-info.json.
    const key = Buffer.from(KEY);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(key.length));
    const at = exe.indexOf(Buffer.concat([len, key]));
    expect(at).toBeGreaterThan(0);
    exe[at + 8 + key.length - 6] = "X".charCodeAt(0);
    await writeFile(join(ROOT, "renamed"), exe, { mode: 0o755 });
    const v = await inRoot(["--version"], "/renamed");
    expect(v.exitCode).toBe(1);
    expect(v.stdout).toContain(`${KEY}: missing`);
    const t = await inRoot(["triage", "--out", "/out"], "/renamed");
    expect(t.exitCode).toBe(2);
    expect(t.stderr).toContain(`${KEY} is missing from this executable`);
  });
});
