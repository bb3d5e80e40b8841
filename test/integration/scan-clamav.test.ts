import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runScan } from "../../src/cli/run-scan.js";
import { loadFalsePositives } from "../../src/judge/scanners/false-positives.js";
import { toolFindings } from "../../src/judge/scanners/index.js";
import type { ClamavParsed } from "../../src/observe/scanners/clamav.js";
import { runClamav } from "../../src/observe/scanners/clamav.js";
import { openScanCache } from "../../src/observe/scanners/scan-cache.js";
import { silentProgress } from "../../src/util/progress.js";
import { CLAMAV_TEST_DB, EICAR_TEXT, hashTree } from "../helpers/scanners.js";

let dir: string;
let cacheDir: string;
// Names that break naive reply parsing: ": ", " FOUND", a newline, bytes that are not UTF-8.
const HOSTILE = ["a: b FOUND", "new\nline: OK", "ok: Fake.Sig FOUND", "tab\tand\u001b[31mansi"];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-scan-clamav-"));
  cacheDir = await mkdtemp(join(tmpdir(), "bk-scan-cache-"));
  await mkdir(join(dir, "tree", "deep"), { recursive: true });
  for (const n of HOSTILE) await writeFile(join(dir, "tree", n), EICAR_TEXT);
  await writeFile(Buffer.from(`${join(dir, "tree")}/bin\xff\xfe`, "latin1"), EICAR_TEXT);
  await writeFile(
    join(dir, "tree", "deep", "lab.bin"),
    "pre BREACHKIT-LAB-SIGNATURE-7f3a9c1e post",
  );
  for (let i = 0; i < 50; i++)
    await writeFile(join(dir, "tree", "deep", `clean-${i}.txt`), `clean ${i}\n`);
  await mkdir(join(dir, "tree", "var", "mail"), { recursive: true });
  await writeFile(join(dir, "tree", "fifo-is-skipped"), "");
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await rm(cacheDir, { recursive: true, force: true });
});

/** clamd processes this test process started and did not stop. */
async function clamdChildren(): Promise<number[]> {
  const out: number[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => "");
    const m = /^\d+ \((.*)\) \S (\d+)/.exec(stat);
    if (m?.[1] === "clamd" && Number(m[2]) === process.pid) out.push(Number(pid));
  }
  return out;
}

function scan(extra: Partial<Parameters<typeof runClamav>[0]> = {}) {
  return runClamav({
    env: process.env,
    targets: [{ kind: "host", paths: [join(dir, "tree")] }],
    dbDir: CLAMAV_TEST_DB,
    cache: (key) => openScanCache(cacheDir, key),
    progress: silentProgress,
    timeoutMs: 120_000,
    useSystemClamd: false,
    ...extra,
  });
}

describe("ClamAV through our own clamd", () => {
  let first: ClamavParsed;
  it("finds EICAR in every hostile name and the lab signature, modifying nothing", async () => {
    const before = await hashTree(join(dir, "tree"));
    const r = await scan();
    first = r.parsed as ClamavParsed;
    expect(r.status).toBe("ok");
    expect(first.engine).toMatch(/^clamd \(own/);
    const hits = first.hits.map((h) => [
      h.location.path.slice(join(dir, "tree").length + 1),
      h.signature,
    ]);
    // The .hdb and the .ndb body signature both match EICAR; clamd names the first that fires.
    for (const n of HOSTILE) {
      expect(hits).toContainEqual([
        n,
        expect.stringMatching(/^Eicar-Test-Signature(-Body)?\.UNOFFICIAL$/),
      ]);
    }
    expect(hits).toContainEqual(["deep/lab.bin", "Breachkit.Lab.Signature-7f3a9c1e.UNOFFICIAL"]);
    expect(hits.filter(([p]) => p!.startsWith("bin"))).toHaveLength(1);
    expect(first.hits).toHaveLength(HOSTILE.length + 2);
    expect(first.errors).toEqual([]);
    const findings = toolFindings(r);
    expect(findings.find((f) => f.title.includes("lab.bin"))!.severity).toBe("high");
    expect(findings.filter((f) => f.rule === "clamav.test-signature")).toHaveLength(
      HOSTILE.length + 1,
    );
    expect(await hashTree(join(dir, "tree"))).toEqual(before);
  });

  it("shares one queue between several daemons: same hits, every file once, none left running", async () => {
    // Big enough clean files that the extra daemons may load before the queue runs dry.
    for (let i = 0; i < 4; i++)
      await writeFile(join(dir, "tree", "deep", `big-${i}.bin`), Buffer.alloc(8 << 20, i + 1));
    try {
      const r = await scan({ cache: null, processes: 3 });
      const p = r.parsed as ClamavParsed;
      expect(p.engine).toMatch(/^clamd \(own, [123] process(es)?\)$/);
      const used = Number(/(\d) process/.exec(p.engine)![1]);
      // A daemon that finished loading after the queue ran dry scanned nothing, but has a log.
      const logs = Object.keys(r.raw).filter((k) => /^clamd(-\d)?\.log$/.test(k));
      expect(logs.length).toBeGreaterThanOrEqual(used);
      expect(logs.length).toBeLessThanOrEqual(3);
      expect(p.stats.scanned).toBe(first.stats.files + 4 - first.stats.hardLinkAliases);
      expect(p.hits.map((h) => h.location.path).sort()).toEqual(
        first.hits.map((h) => h.location.path).sort(),
      );
      expect(p.errors).toEqual([]);
      expect(await clamdChildren()).toEqual([]);
    } finally {
      for (let i = 0; i < 4; i++) await rm(join(dir, "tree", "deep", `big-${i}.bin`));
    }
  });

  it("skips unchanged clean files on the second run, rescans a changed one, still reports hits", async () => {
    await writeFile(join(dir, "tree", "deep", "clean-0.txt"), "changed\n");
    const r = await scan();
    const p = r.parsed as ClamavParsed;
    expect(p.stats.cached).toBe(first.stats.files - first.hits.length - 1);
    // Hits are never cached: the 6 hits plus the changed file.
    expect(p.stats.scanned).toBe(first.hits.length + 1);
    expect(p.hits).toHaveLength(first.hits.length);
  });

  it("falls back to clamscan when clamd cannot be used, and finds the same", async () => {
    const r = await scan({ forceClamscan: true, cache: null });
    const p = r.parsed as ClamavParsed;
    expect(p.engine).toBe("clamscan");
    // A name with a newline cannot go through clamscan's file list: recorded, not lost silently.
    expect(p.errors.map((e) => e.path)).toContainEqual(expect.stringContaining("new\nline"));
    expect(p.hits.map((h) => h.signature)).toContain("Breachkit.Lab.Signature-7f3a9c1e.UNOFFICIAL");
    expect(p.hits.length).toBeGreaterThanOrEqual(HOSTILE.length);
  });

  it("reports a database directory without signatures as a gap", async () => {
    const r = await scan({ dbDir: dir, cache: null });
    expect(r.status).toBe("error");
    expect(r.gaps[0]!.reason).toMatch(/--clamav-db/);
  });
});

describe("tool timeouts and missing tools", () => {
  it("kills a hanging tool's process group at the timeout and still runs the rest", async () => {
    const fake = join(dir, "fake-rkhunter");
    // The child sleep is in the same process group: it must die with the script.
    await writeFile(
      fake,
      `#!/bin/sh\necho started\nsleep 300 &\necho $! > ${dir}/child.pid\nwait\n`,
    );
    await chmod(fake, 0o755);
    const r = await runScan({
      env: process.env,
      targets: [{ kind: "host", paths: [join(dir, "tree", "deep")] }],
      tools: ["rkhunter", "lynis", "clamav"],
      clamavDb: CLAMAV_TEST_DB,
      progress: silentProgress,
      cache: null,
      falsePositives: loadFalsePositives(),
      timeoutMs: { rkhunter: 1500 },
      executables: { rkhunter: fake, lynis: join(dir, "no-such-lynis") },
      clamav: { useSystemClamd: false },
    });
    const byTool = Object.fromEntries(r.reports.map((x) => [x.tool, x]));
    expect(byTool.rkhunter!.status).toBe("timeout");
    expect(byTool.rkhunter!.incomplete).toBe(true);
    expect(byTool.lynis!.status).toBe("missing");
    expect(byTool.lynis!.summary).toMatch(/apt-get install lynis/);
    expect(byTool.clamav!.status).toBe("ok");
    expect(r.findings.some((f) => f.title.includes("lab.bin"))).toBe(true);
    const childPid = Number((await readFile(join(dir, "child.pid"), "utf8")).trim());
    // The group got TERM at the timeout (KILL follows 2 s later): poll, bounded, for the child to go.
    const alive = () => {
      try {
        process.kill(childPid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (let i = 0; i < 100 && alive(); i++) await new Promise((res) => setTimeout(res, 100));
    expect(() => process.kill(childPid, 0)).toThrow();
  });
});
