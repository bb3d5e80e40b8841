/**
 * Package integrity for real: a test root made of real Debian packages' files and their dpkg
 * database, checked side by side with `debsums -s --root`; and a container whose /bin/ls was
 * overwritten in its writable layer, reported with the package and both hashes.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type TarEntry, tarArchive } from "../../lab/tar.js";
import { runScan } from "../../src/cli/run-scan.js";
import { loadFalsePositives } from "../../src/judge/scanners/false-positives.js";
import { parseDpkgStatus } from "../../src/observe/packages/dpkg.js";
import { verifyRoot } from "../../src/observe/packages/verify.js";
import { discoverTargets } from "../../src/observe/scanners/discover.js";
import { silentProgress } from "../../src/util/progress.js";
import { CLAMAV_TEST_DB } from "../helpers/scanners.js";

/** Small packages every Debian host has: their files are copied into the test root. */
const PACKAGES = ["coreutils", "sed", "grep"];
const md5 = (b: Uint8Array | string) => createHash("md5").update(b).digest("hex");

let dir: string;
/** Stanzas of /var/lib/dpkg/status for PACKAGES, and the files of each. */
let stanzas: string;
const pkgFiles = new Map<string, string[]>();

async function hostStanzas(): Promise<string> {
  const status = await readFile("/var/lib/dpkg/status", "utf8");
  return status
    .split(/\n\n/)
    .filter((b) => PACKAGES.includes(parseDpkgStatus(b)[0]?.package ?? ""))
    .join("\n\n");
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-scan-pkg-"));
  stanzas = `${await hostStanzas()}\n`;
  for (const p of PACKAGES) {
    const sums = await readFile(`/var/lib/dpkg/info/${p}.md5sums`, "utf8");
    pkgFiles.set(
      p,
      sums
        .split("\n")
        .filter(Boolean)
        .map((l) => `/${l.slice(34)}`),
    );
  }
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("a test root of real packages, side by side with debsums -s", () => {
  it("gives the same changed and missing files as debsums -s --root", async () => {
    const root = join(dir, "root");
    const info = join(root, "var/lib/dpkg/info");
    await mkdir(info, { recursive: true });
    await writeFile(join(root, "var/lib/dpkg/status"), stanzas);
    await writeFile(join(root, "var/lib/dpkg/diversions"), "");
    for (const p of PACKAGES) {
      for (const ext of ["md5sums", "list"])
        await copyFile(`/var/lib/dpkg/info/${p}.${ext}`, join(info, `${p}.${ext}`));
      for (const f of pkgFiles.get(p)!) {
        await mkdir(dirname(join(root, f)), { recursive: true });
        await copyFile(f, join(root, f));
      }
    }
    // A trojaned ls, a removed ps-like tool, an edited doc file.
    await writeFile(join(root, "bin/ls"), "#!/bin/sh\necho trojan\n");
    await rm(join(root, "bin/sed"));
    const doc = pkgFiles.get("grep")!.find((f) => f.startsWith("/usr/share/doc/"))!;
    await writeFile(join(root, doc), "edited\n");

    const debsums = await execa("debsums", ["-s", `--root=${root}`], {
      reject: false,
      stdin: "ignore",
    });
    const theirs = debsums.stderr
      .split("\n")
      .filter((l) => /^debsums: (changed|missing) file /.test(l))
      .map((l) => l.replace(root, "").replace(/^debsums: /, ""))
      .sort();
    const r = await verifyRoot({ root, where: "host", containerId: null, upperDir: null });
    const ours = [
      ...r.changed.map((c) => `changed file ${c.path} (from ${c.package} package)`),
      ...r.missing.map((m) => `missing file ${m.path} (from ${m.package} package)`),
    ].sort();
    expect(theirs.length).toBe(3);
    expect(ours).toEqual(theirs);
    const ls = r.changed.find((c) => c.path === "/bin/ls")!;
    expect(ls.found).toBe(md5("#!/bin/sh\necho trojan\n"));
    expect(ls.expected).toBe(
      (await readFile("/var/lib/dpkg/info/coreutils.md5sums", "utf8")).match(
        /^([0-9a-f]{32}) {2}bin\/ls$/m,
      )![1],
    );
  });
});

describe("a container whose /bin/ls was overwritten in its writable layer", () => {
  const name = `bk-test-pkg-${process.pid}`;
  let id = "";
  let image = "";
  const trojan = "#!/bin/sh\n# not ls\nexit 0\n";

  beforeAll(async () => {
    const entries: TarEntry[] = [];
    const dirs = new Set<string>();
    const addDir = (d: string) => {
      const parts = d.split("/").filter(Boolean);
      for (let i = 1; i <= parts.length; i++) {
        const p = parts.slice(0, i).join("/");
        if (!dirs.has(p)) {
          dirs.add(p);
          entries.push({ type: "dir", path: p, mode: 0o755 });
        }
      }
    };
    addDir("bin");
    addDir("tmp");
    addDir("var/lib/dpkg/info");
    entries.push({
      type: "file",
      path: "bin/busybox",
      mode: 0o755,
      data: await readFile("/bin/busybox"),
    });
    entries.push({ type: "symlink", path: "bin/sh", target: "busybox" });
    for (const p of PACKAGES) {
      for (const ext of ["md5sums", "list"])
        entries.push({
          type: "file",
          path: `var/lib/dpkg/info/${p}.${ext}`,
          mode: 0o644,
          data: await readFile(`/var/lib/dpkg/info/${p}.${ext}`),
        });
      for (const f of pkgFiles.get(p)!) {
        addDir(dirname(f));
        entries.push({ type: "file", path: f.slice(1), mode: 0o755, data: await readFile(f) });
      }
    }
    entries.push({
      type: "file",
      path: "var/lib/dpkg/status",
      mode: 0o644,
      data: Buffer.from(stanzas),
    });
    entries.push({
      type: "file",
      path: "var/lib/dpkg/diversions",
      mode: 0o644,
      data: Buffer.alloc(0),
    });
    const tar = tarArchive(entries, 1_700_000_000);
    image = `breachkit-test-pkg:${process.pid}`;
    await execa("docker", ["import", "-", image], { input: tar });
    id = (
      await execa(
        "docker",
        ["create", "--name", name, "--network", "none", image, "/bin/busybox", "sleep", "120"],
        {
          stdin: "ignore",
        },
      )
    ).stdout.trim();
    await execa("docker", ["start", id], { stdin: "ignore" });
    // Overwrite /bin/ls inside the running container: the change lands in its writable layer.
    const over = tarArchive(
      [{ type: "file", path: "bin/ls", mode: 0o755, data: Buffer.from(trojan) }],
      1_700_000_100,
    );
    await execa("docker", ["cp", "-", `${id}:/`], { input: over });
  });

  afterAll(async () => {
    if (id) await execa("docker", ["rm", "--force", id], { reject: false, stdin: "ignore" });
    if (image) await execa("docker", ["image", "rm", image], { reject: false, stdin: "ignore" });
  });

  it("reports /bin/ls with its package, both hashes, the container and the writable layer", async () => {
    const d = await discoverTargets({
      selfPid: process.pid,
      env: process.env,
      hostPaths: [],
      containers: [name],
      host: false,
    });
    const result = await runScan({
      env: process.env,
      targets: d.targets,
      tools: ["packages"],
      clamavDb: CLAMAV_TEST_DB,
      progress: silentProgress,
      cache: null,
      falsePositives: loadFalsePositives(),
    });
    const f = result.findings.find(
      (x) => x.rule === "packages.changed-binary" && x.evidence[0]?.path === "/bin/ls",
    );
    expect(f).toBeDefined();
    expect(f!.where).toBe(name);
    expect(f!.containerId).toBe(id);
    expect(f!.severity).toBe("high");
    const expected = (await readFile("/var/lib/dpkg/info/coreutils.md5sums", "utf8")).match(
      /^([0-9a-f]{32}) {2}bin\/ls$/m,
    )![1];
    expect(f!.evidence[0]?.facts).toMatchObject({
      package: "coreutils",
      algorithm: "md5",
      expected,
      found: md5(trojan),
      writableLayer: "yes",
    });
    expect(f!.evidence[0]?.sha256).toBe(createHash("sha256").update(trojan).digest("hex"));
    // Nothing else of the three packages changed.
    expect(result.findings.filter((x) => x.rule === "packages.changed-binary")).toHaveLength(1);
  });

  it("ClamAV skips the verified package files of the container but scans the changed ls", async () => {
    const d = await discoverTargets({
      selfPid: process.pid,
      env: process.env,
      hostPaths: [],
      containers: [name],
      host: false,
    });
    const result = await runScan({
      env: process.env,
      targets: d.targets.filter((t) => t.kind === "container"),
      tools: ["clamav"],
      clamavDb: CLAMAV_TEST_DB,
      progress: silentProgress,
      cache: null,
      falsePositives: loadFalsePositives(),
      clamav: { useSystemClamd: false, forceClamscan: true },
    });
    const clam = result.reports.find((r) => r.tool === "clamav")!;
    expect(clam.status).toBe("ok");
    const skipped = String(clam.raw["skipped-verified.txt"] ?? "")
      .split("\n")
      .filter(Boolean);
    expect(skipped.length).toBeGreaterThan(50);
    expect(skipped).toContain(`${name}:/usr/bin/sort`);
    expect(skipped).not.toContain(`${name}:/bin/ls`);
    expect(clam.summary).toMatch(new RegExp(`${skipped.length} skipped as verified`));
  });
});
