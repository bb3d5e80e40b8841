/**
 * The package databases read from a root and verified from the host: dpkg (md5sums, status,
 * diversions, path-exclude) and apk (Z:Q1 SHA-1 in base64), on small roots built in a temp
 * directory with checksums computed from the bytes written.
 */
import { createHash } from "node:crypto";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { packagesFindings } from "../../../src/judge/scanners/packages.js";
import { decodeApkChecksum, parseApkInstalled } from "../../../src/observe/packages/apk.js";
import {
  globToRegExp,
  parseDiversions,
  parseDpkgStatus,
  parseMd5sums,
} from "../../../src/observe/packages/dpkg.js";
import { verifyRoot } from "../../../src/observe/packages/verify.js";

const md5 = (s: string) => createHash("md5").update(s).digest("hex");
const q1 = (s: string) => `Q1${createHash("sha1").update(s).digest("base64")}`;

let dir: string;
async function put(root: string, path: string, text: string, mode = 0o644) {
  const p = join(root, path);
  await mkdir(dirname(p), { recursive: true });
  await writeFile(p, text);
  await chmod(p, mode);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-pkg-unit-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("dpkg database", () => {
  it("parses status stanzas with conffiles, replaces and continuation lines", () => {
    const s = parseDpkgStatus(
      "Package: openssh-server\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:9.2p1-2\nReplaces: openssh-client (<< 1:7.9p1-8), ssh\nConffiles:\n /etc/ssh/moduli 0123abcd\n /etc/old 0123 remove-on-upgrade\nDescription: x\n more\n\nPackage: gone\nStatus: deinstall ok config-files\nVersion: 1\n",
    );
    expect(s[0]).toMatchObject({
      package: "openssh-server",
      arch: "amd64",
      conffiles: ["/etc/ssh/moduli"],
      replaces: ["openssh-client", "ssh"],
    });
    expect(s[1]?.status).toBe("deinstall ok config-files");
  });

  it("parses md5sums and says which line is bad", () => {
    const problems: string[] = [];
    const e = parseMd5sums(
      `${md5("a")}  usr/bin/a\nnot a line\n${md5("b")}  ./usr/b c\n`,
      "p",
      problems,
    );
    expect(e).toEqual([
      { md5: md5("a"), path: "/usr/bin/a" },
      { md5: md5("b"), path: "/usr/b c" },
    ]);
    expect(problems).toEqual(['p.md5sums line 2: not "<md5>  <path>"']);
  });

  it("reads diversions and dpkg path-exclude globs (fnmatch, * crosses /)", () => {
    expect(parseDiversions("/usr/bin/a\n/usr/bin/a.distrib\npkg\n")).toEqual([
      { from: "/usr/bin/a", to: "/usr/bin/a.distrib", by: "pkg" },
    ]);
    expect(globToRegExp("/usr/share/doc/*").test("/usr/share/doc/x/y")).toBe(true);
    expect(globToRegExp("/usr/share/doc/*/copyright").test("/usr/share/doc/x/README")).toBe(false);
  });

  it("reports a changed and a missing file like debsums, skips conffiles, excluded and diverted paths", async () => {
    const root = join(dir, "deb");
    const files: Record<string, string> = {
      "/bin/ls": "the real ls\n",
      "/bin/ps": "the real ps\n",
      "/usr/share/doc/tool/README": "docs\n",
      "/etc/tool.conf": "conf\n",
      "/usr/bin/div": "diverted original\n",
      "/usr/lib/tool/data": "data\n",
    };
    const sums = Object.entries(files)
      .map(([p, t]) => `${md5(t)}  ${p.slice(1)}`)
      .join("\n");
    await put(
      root,
      "var/lib/dpkg/status",
      "Package: tool\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\nConffiles:\n /etc/tool.conf 00\n\nPackage: old\nStatus: deinstall ok config-files\nVersion: 1\n",
    );
    await put(root, "var/lib/dpkg/info/tool.md5sums", `${sums}\n`);
    await put(
      root,
      "var/lib/dpkg/info/tool.list",
      `${Object.keys(files).join("\n")}\n/usr/sbin/tool-link\n`,
    );
    await put(root, "var/lib/dpkg/info/old.md5sums", `${md5("x")}  usr/bin/old\n`);
    await put(root, "var/lib/dpkg/info/old.list", "/usr/bin/old\n");
    await put(root, "var/lib/dpkg/diversions", "/usr/bin/div\n/usr/bin/div.distrib\nother\n");
    await put(root, "etc/dpkg/dpkg.cfg.d/excludes", "path-exclude=/usr/share/doc/*\n");
    await put(root, "bin/ls", "a trojan\n", 0o755); // changed
    // /bin/ps missing; README missing but excluded; conffile changed: not checked
    await put(root, "etc/tool.conf", "edited by the admin\n");
    await put(root, "usr/bin/div.distrib", "diverted original\n", 0o755);
    await put(root, "usr/lib/tool/data", "data\n");
    await put(root, "usr/sbin/dropper", "#!/bin/sh\n", 0o755); // no package owns it
    await put(root, "usr/sbin/notexec", "x\n", 0o644);
    const r = await verifyRoot({ root, where: "host", containerId: null, upperDir: null });
    expect(r.managers).toEqual([
      { manager: "dpkg", source: expect.any(String), packages: 1, files: 5 },
    ]);
    expect(r.changed).toEqual([
      expect.objectContaining({
        package: "tool",
        path: "/bin/ls",
        expected: md5("the real ls\n"),
        found: md5("a trojan\n"),
        sha256: createHash("sha256").update("a trojan\n").digest("hex"),
      }),
    ]);
    expect(r.missing.map((m) => m.path)).toEqual(["/bin/ps"]);
    expect(r.ok).toBe(2);
    expect(r.unowned.map((u) => u.path)).toEqual(["/usr/sbin/dropper"]);
    const f = packagesFindings([r]);
    expect(f.find((x) => x.rule === "packages.changed-binary")?.evidence[0]?.facts).toMatchObject({
      package: "tool",
      expected: md5("the real ls\n"),
      found: md5("a trojan\n"),
    });
    expect(f.find((x) => x.rule === "packages.unowned-executable")?.severity).toBe("medium");
  });
});

describe("apk database", () => {
  it("decodes Z:Q1 (SHA-1, base64) and Q2 (SHA-256) checksums", () => {
    expect(decodeApkChecksum(q1("abc"))).toEqual({
      algo: "sha1",
      hex: createHash("sha1").update("abc").digest("hex"),
    });
    expect(
      decodeApkChecksum(`Q2${createHash("sha256").update("abc").digest("base64")}`)?.algo,
    ).toBe("sha256");
    expect(decodeApkChecksum("Q1short")).toBeNull();
  });

  it("parses packages, directories and files, owning files without checksums too", () => {
    const p = parseApkInstalled(
      `C:Q1x\nP:busybox\nV:1.36\nF:bin\nR:busybox\na:0:0:755\nZ:${q1("bb")}\nR:sh\n\nP:musl\nF:lib\nR:ld-musl.so.1\nZ:${q1("m")}\n`,
    );
    expect(p.packages).toBe(2);
    expect(p.files.map((f) => [f.package, f.path])).toEqual([
      ["busybox", "/bin/busybox"],
      ["musl", "/lib/ld-musl.so.1"],
    ]);
    expect(p.owners.get("/bin/sh")).toEqual(["busybox"]);
  });

  it("verifies an Alpine-like root, resolving absolute links inside the root, not the host's", async () => {
    const root = join(dir, "alpine");
    await put(root, "bin/busybox", "busybox bytes\n", 0o755);
    await put(root, "usr/real/ls", "changed ls\n", 0o755);
    // An absolute link inside the root must land in the root, never on the host's /usr.
    await mkdir(join(root, "usr/bin"), { recursive: true });
    await symlink("/usr/real/ls", join(root, "usr/bin/ls"));
    await put(
      root,
      "lib/apk/db/installed",
      `P:busybox\nV:1\nF:bin\nR:busybox\nZ:${q1("busybox bytes\n")}\n\nP:coreutils\nV:9\nF:usr/bin\nR:ls\nZ:${q1("original ls\n")}\n`,
    );
    const r = await verifyRoot({ root, where: "alpine", containerId: "c1", upperDir: null });
    expect(r.managers[0]?.manager).toBe("apk");
    expect(r.ok).toBe(1);
    expect(r.changed).toEqual([
      expect.objectContaining({ path: "/usr/bin/ls", package: "coreutils", algo: "sha1" }),
    ]);
    expect(r.verified.size).toBe(1);
  });
});
