import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/main.js";
import { archiveBundle } from "../../../src/evidence/archive.js";
import { makeSealedBundle, tempDir } from "../../helpers/evidence.js";
import { memoryIo } from "../../helpers/memory-io.js";

let tmp: Awaited<ReturnType<typeof tempDir>>;
let dir: string;
beforeEach(async () => {
  tmp = await tempDir();
  dir = await makeSealedBundle(tmp.path);
});
afterEach(async () => {
  await tmp.cleanup();
});

describe("breachkit verify", () => {
  it("says INTACT with exit 0, the seal, completeness, tool and host", async () => {
    const m = memoryIo();
    expect(await runCli(["verify", dir], m.io)).toBe(0);
    const out = m.stdout();
    expect(out).toMatch(/^INTACT {2}/);
    expect(out).toMatch(/sealed +yes, manifest sha256 [0-9a-f]{64}/);
    expect(out).toMatch(/complete +yes/);
    expect(out).toMatch(/host +web01/);
    expect(out).toMatch(/tool +breachkit \d+\.\d+\.\d+: collect --test/);
    expect(out).not.toContain("\u001b[");
  });

  it("says NOT INTACT with exit 1 and names each changed, missing and added file", async () => {
    await writeFile(join(dir, "host/etc/passwd"), "evil::0:0::/:/bin/sh\n");
    await rm(join(dir, "snapshot.json"));
    await writeFile(join(dir, "added\u001b[2Jfile"), "x");
    const m = memoryIo();
    expect(await runCli(["verify", dir], m.io)).toBe(1);
    const out = m.stdout();
    expect(out).toMatch(/^NOT INTACT/);
    expect(out).toMatch(/changed +host\/etc\/passwd: size differs/);
    expect(out).toMatch(/missing +snapshot\.json/);
    // Hostile names are shown escaped, never interpreted by the terminal.
    expect(out).toContain("added    added\\e[2Jfile");
    expect(out).not.toContain("\u001b");
  });

  it("reports an incomplete bundle as intact but incomplete, with the reason", async () => {
    const inc = await makeSealedBundle(join(tmp.path, "inc"), {
      complete: false,
      reason: "disk full (ENOSPC)",
    });
    const m = memoryIo();
    expect(await runCli(["verify", inc], m.io)).toBe(0);
    expect(m.stdout()).toMatch(/^INTACT/);
    expect(m.stdout()).toMatch(/complete +NO: disk full \(ENOSPC\)/);
  });

  it("verifies an archive and prints its SHA-256", async () => {
    const a = await archiveBundle(dir);
    const m = memoryIo();
    expect(await runCli(["verify", a.path], m.io)).toBe(0);
    expect(m.stdout()).toContain(`archive    sha256 ${a.sha256}`);
  });

  it("--json prints the report for scripts", async () => {
    await rm(join(dir, "snapshot.json"));
    const m = memoryIo();
    expect(await runCli(["verify", "--json", dir], m.io)).toBe(1);
    const r = JSON.parse(m.stdout()) as { intact: boolean; missing: string[] };
    expect(r).toMatchObject({ intact: false, missing: ["snapshot.json"] });
  });

  it("exit 2 with what to do when the bundle is unreadable", async () => {
    const manifest = join(dir, "manifest.json");
    await writeFile(manifest, (await readFile(manifest, "utf8")).slice(0, 40));
    const m = memoryIo();
    expect(await runCli(["verify", dir], m.io)).toBe(2);
    expect(m.stderr()).toMatch(/error: manifest\.json is corrupt/);
    expect(m.stderr()).toMatch(/what to do: .*verify another copy/);
    expect(m.stdout()).toBe("");

    const n = memoryIo();
    expect(await runCli(["verify", join(tmp.path, "missing")], n.io)).toBe(2);
    expect(n.stderr()).toMatch(/what to do: give the path of a bundle/);
  });

  it("colors only when the io says so", async () => {
    const m = memoryIo({ color: true });
    expect(await runCli(["verify", dir], m.io)).toBe(0);
    expect(m.stdout()).toContain("\u001b[");
  });

  it("has help with examples and exit codes", async () => {
    const m = memoryIo();
    expect(await runCli(["verify", "--help"], m.io)).toBe(0);
    expect(m.stdout()).toContain("$ breachkit verify");
    expect(m.stdout()).toMatch(/2 +unreadable/);
  });
});
