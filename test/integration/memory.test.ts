/**
 * Memory dumps (issue 24), for real: host processes this file starts (held with SIGSTOP), the
 * lab's trojan in bk-lab-gitlab (held by its cgroup freezer), read by Debian's gdb. Every
 * process this file starts is ended by its pid; only lab containers are touched.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build as esbuild } from "esbuild";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dumpProcessMemory } from "../../src/act/memory-dump.js";
import { runCli } from "../../src/cli/main.js";
import { createBundle } from "../../src/evidence/bundle.js";
import { verifyBundle } from "../../src/evidence/verify.js";
import type { CollectOutput } from "../../src/model/collect-output.js";
import { type LabInfo, labDown, labUp } from "../helpers/lab.js";
import { memoryIo } from "../helpers/memory-io.js";

/**
 * A process whose memory holds an address and a URL built at run time from numbers: they are in
 * no file, so finding them in the dump proves it is the memory that was read.
 */
const HOLDER = `
import sys, time, mmap
ip = ".".join(str(x) for x in [203, 0, 113, 99])
url = "http" + "://" + ip + ":" + str(7000 + 443) + "/mem-only/" + "beacon"
wide = ("c2-" + str(6 * 7) + ".memory-only.xyz").encode("utf-16-le")
fill = bytearray(b"\\x5a") * (int(sys.argv[1]) << 20)
big = mmap.mmap(-1, int(sys.argv[2]) << 20) if int(sys.argv[2]) else None
print("ready", flush=True)
time.sleep(300)
`;
const MARKER_URL = "http://203.0.113.99:7443/mem-only/beacon";

const started: ChildProcess[] = [];

/** Start a holder with `mib` MiB of non-zero data and an untouched mapping of `mapMib` MiB. */
async function holder(mib: number, mapMib = 0): Promise<number> {
  const child = spawn("python3", ["-c", HOLDER, String(mib), String(mapMib)], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  started.push(child);
  await new Promise<void>((resolve, reject) => {
    child.once("error", reject);
    child.once("exit", (code) => reject(new Error(`holder exited (${code})`)));
    child.stdout?.once("data", () => resolve());
  });
  return child.pid!;
}

function stateOf(stat: string): string {
  return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
}

async function logOf(bundle: string) {
  return (await readFile(join(bundle, "collection.log.jsonl"), "utf8"))
    .trim()
    .split("\n")
    .map(
      (l) =>
        JSON.parse(l) as {
          step: string;
          action: string;
          result: string;
          time: string;
          changedHost?: boolean;
        },
    );
}

let out: string;
beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), "bk-memory-it-"));
});
afterAll(async () => {
  for (const c of started) {
    if (c.exitCode !== null || c.signalCode !== null || !c.pid) continue;
    try {
      process.kill(c.pid, "SIGKILL");
    } catch {
      // gone already
    }
  }
  await rm(out, { recursive: true, force: true });
});

/**
 * A process holding `mib` MiB where every 4 KiB page is tagged with its number, and one
 * domain name every MiB written across the MiB boundary; it prints the buffer's address and
 * the SHA-256 of its bytes.
 */
const PAGES = `
import ctypes, hashlib, sys, time
n = int(sys.argv[1]) << 20
data = bytearray(n)
for i in range(n // 4096):
    data[i * 4096:(i + 1) * 4096] = i.to_bytes(8, "little") * 512
for k in range(1, n >> 20):
    s = b" straddle-%d.evil-test.ru " % k
    data[(k << 20) - 10:(k << 20) - 10 + len(s)] = s
addr = ctypes.addressof((ctypes.c_char * n).from_buffer(data))
print("ready", addr, hashlib.sha256(data).hexdigest(), flush=True)
time.sleep(300)
`;

/** The bytes at [addr, addr+len) in an ELF64 core file, from its PT_LOAD program headers. */
function coreBytes(core: Buffer, addr: number, len: number): Buffer {
  const phoff = Number(core.readBigUInt64LE(0x20));
  const phentsize = core.readUInt16LE(0x36);
  const phnum = core.readUInt16LE(0x38);
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * phentsize;
    if (core.readUInt32LE(h) !== 1) continue;
    const offset = Number(core.readBigUInt64LE(h + 8));
    const vaddr = Number(core.readBigUInt64LE(h + 16));
    const filesz = Number(core.readBigUInt64LE(h + 32));
    if (addr >= vaddr && addr + len <= vaddr + filesz) {
      return core.subarray(offset + (addr - vaddr), offset + (addr - vaddr) + len);
    }
  }
  const loads: string[] = [];
  for (let i = 0; i < phnum; i++) {
    const h = phoff + i * phentsize;
    const vaddr = Number(core.readBigUInt64LE(h + 16));
    loads.push(
      `${core.readUInt32LE(h)}:${vaddr.toString(16)}+${Number(core.readBigUInt64LE(h + 32)).toString(16)}/${Number(core.readBigUInt64LE(h + 40)).toString(16)}`,
    );
  }
  throw new Error(`no PT_LOAD segment holds ${addr.toString(16)}+${len}: ${loads.join(" ")}`);
}

describe("a host process's memory", () => {
  it("every byte in its place, with the scan in its worker or in this thread alike", async () => {
    const mib = 48;
    const child = spawn("python3", ["-c", PAGES, String(mib)], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    started.push(child);
    const line = await new Promise<string>((resolve, reject) => {
      let text = "";
      child.once("exit", (code) => reject(new Error(`holder exited (${code})`)));
      child.stdout?.on("data", (d: Buffer) => {
        text += d.toString();
        if (text.includes("\n")) resolve(text);
      });
    });
    const [, addr, sha] = line.trim().split(" ");
    // The scan's worker, built from the sources now (dist/ may be older than they are).
    const workerFile = join(out, "memory-scan-worker.cjs");
    await esbuild({
      entryPoints: ["src/act/memory-scan-worker.ts"],
      outfile: workerFile,
      bundle: true,
      platform: "node",
      format: "cjs",
      logLevel: "warning",
    });
    const iocs: string[] = [];
    for (const scanWorker of [workerFile, null]) {
      const bundle = await createBundle({ outDir: out, host: "t", command: "memory test" });
      const r = await dumpProcessMemory({
        bundle,
        pid: child.pid!,
        containerId: null,
        containerName: null,
        selfPid: process.pid,
        machine: "x64",
        scanWorker,
      });
      await bundle.seal({ complete: true });
      expect(r.complete, r.incompleteReason ?? "").toBe(true);
      const core = await readFile(join(bundle.dir, r.file!));
      const held = coreBytes(core, Number(addr), mib << 20);
      expect(createHash("sha256").update(held).digest("hex")).toBe(sha);
      iocs.push((await readFile(join(bundle.dir, r.iocsFile!), "utf8")).replace(/^#.*\n/gm, ""));
    }
    // The same leads from both, the names cut across MiB boundaries included.
    expect(iocs[0]).toBe(iocs[1]);
    for (let k = 1; k < mib; k++) expect(iocs[0]).toContain(`domain:straddle-${k}.evil-test.ru\n`);
  });

  it("is an ELF core file gdb opens, holding what only memory holds; stopped during the read, running after", async () => {
    const pid = await holder(16);
    const bundle = await createBundle({ outDir: out, host: "t", command: "memory test" });
    const r = await dumpProcessMemory({
      bundle,
      pid,
      containerId: null,
      containerName: null,
      selfPid: process.pid,
      machine: "x64",
    });
    await bundle.seal({ complete: true });
    expect(r.error).toBeNull();
    expect(r.complete).toBe(true);
    expect(r.held).toBe("sigstop");
    expect(r.file).toMatch(/^memory\/\d+-python3\.core$/);
    const core = await readFile(join(bundle.dir, r.file!));
    expect(core.length).toBe(r.size);
    expect(core.includes(Buffer.from(MARKER_URL))).toBe(true);
    expect(core.includes(Buffer.from("c2-42.memory-only.xyz", "utf16le"))).toBe(true);
    const gdb = await execa("gdb", ["--batch", "-nx", "-c", join(bundle.dir, r.file!)], {
      reject: false,
    });
    expect(gdb.stdout + gdb.stderr).toContain("Core was generated by");
    expect(gdb.stdout + gdb.stderr).not.toMatch(/not in executable format|not a core dump/i);
    const iocs = await readFile(join(bundle.dir, r.iocsFile!), "utf8");
    expect(iocs).toContain("ip:203.0.113.99\n");
    expect(iocs).toContain(`url:${MARKER_URL}\n`);
    expect(iocs).toContain("domain:c2-42.memory-only.xyz\n");
    // Stopped, then continued: both logged as host changes, in that order; it runs again.
    const log = await logOf(bundle.dir);
    const stop = log.findIndex((e) => e.action.startsWith(`SIGSTOP pid ${pid}`));
    const cont = log.findIndex((e) => e.action.startsWith(`SIGCONT pid ${pid}`));
    expect(stop).toBeGreaterThanOrEqual(0);
    expect(cont).toBeGreaterThan(stop);
    expect(log[stop]?.changedHost).toBe(true);
    expect(log[cont]?.changedHost).toBe(true);
    expect(stateOf(await readFile(`/proc/${pid}/stat`, "latin1"))).not.toBe("T");
    const verified = await verifyBundle(bundle.dir);
    expect(verified.intact).toBe(true);
  });

  it("a process that exits during the dump: a partial core marked incomplete, no crash", async () => {
    const pid = await holder(64);
    const bundle = await createBundle({ outDir: out, host: "t", command: "memory test" });
    let killed = false;
    const r = await dumpProcessMemory({
      bundle,
      pid,
      containerId: null,
      containerName: null,
      selfPid: process.pid,
      machine: "x64",
      onProgress: (n) => {
        // After the first few MiB, the process dies (SIGKILL works on a stopped process).
        if (!killed && n >= 4 << 20) {
          killed = true;
          process.kill(pid, "SIGKILL");
        }
      },
    });
    await bundle.seal({ complete: false, reason: "test" });
    expect(killed).toBe(true);
    expect(r.complete).toBe(false);
    expect(r.incompleteReason).toMatch(/exited during the dump/);
    expect(r.file).not.toBeNull();
    expect(r.size).toBeLessThan(64 << 20);
    const log = await logOf(bundle.dir);
    expect(log.some((e) => e.action === `SIGCONT pid ${pid}` && e.result === "skipped")).toBe(true);
    expect((await verifyBundle(bundle.dir)).intact).toBe(true);
  });

  // The default bound (2 GiB) is checked on a 3 GiB map in the unit tests (elf-core.test.ts);
  // here a real process of 3 GiB is cut at a bound of 256 MiB, to keep the suite quick.
  it("a process of 3 GiB: cut at --memory-max, the rest listed, the core still opens", async () => {
    const pid = await holder(1, 3072);
    const bundle = await createBundle({ outDir: out, host: "t", command: "memory test" });
    const max = 256 * 1024 ** 2;
    const r = await dumpProcessMemory({
      bundle,
      pid,
      containerId: null,
      containerName: null,
      selfPid: process.pid,
      machine: "x64",
      maxBytes: max,
    });
    await bundle.seal({ complete: true });
    expect(r.complete).toBe(true);
    expect(r.dumpedBytes).toBe(max);
    const cut = r.skipped.filter((x) => x.reason === `over --memory-max (${max} bytes)`);
    expect(cut.length).toBeGreaterThan(0);
    const gdb = await execa("gdb", ["--batch", "-nx", "-c", join(bundle.dir, r.file!)], {
      reject: false,
    });
    expect(gdb.stdout + gdb.stderr).toContain("Core was generated by");
    await rm(join(bundle.dir, r.file!));
  });
});

describe("the lab's trojan in bk-lab-gitlab", () => {
  let info: LabInfo;
  beforeAll(async () => {
    info = await labUp({ scenario: "contained", trojanSeconds: 600 });
  });
  afterAll(async () => {
    await labDown();
  });

  it("collect --memory-suspicious: the container frozen during the read, running after; the command server only memory holds", async () => {
    const wate = info.trojans.find((t) => t.where === "container")!;
    const { io, stdout, stderr } = memoryIo({ env: process.env, cwd: out });
    const code = await runCli(
      [
        "collect",
        "--memory-suspicious",
        "--container",
        "bk-lab-gitlab",
        "--no-host",
        "--json",
        "--out",
        out,
      ],
      io,
    );
    expect(code, stderr()).toBe(0);
    const res = JSON.parse(stdout()) as CollectOutput;
    const dump = res.memory.find((m) => m.pid === wate.hostPid);
    expect(dump, JSON.stringify(res.memory)).toBeDefined();
    expect(dump?.held).toBe("cgroup-freezer");
    expect(dump?.containerName).toBe("bk-lab-gitlab");
    expect(dump?.complete).toBe(true);
    const core = await readFile(join(res.bundle, dump!.file!));
    expect(core.includes(Buffer.from("http://198.51.100.77:8443/wate/beacon"))).toBe(true);
    // The copy of the executable does not hold it: it is built at run time.
    const exe = res.executables.find((e) => e.pid === wate.hostPid);
    expect(exe?.file).toBeTruthy();
    const exeBytes = await readFile(join(res.bundle, exe!.file!));
    expect(exeBytes.includes(Buffer.from("198.51.100.77"))).toBe(false);
    const iocs = await readFile(join(res.bundle, dump!.iocsFile!), "utf8");
    expect(iocs).toContain("ip:198.51.100.77\n");
    expect(iocs).toContain("url:http://198.51.100.77:8443/wate/beacon\n");
    // Frozen, then thawed, both logged as host changes; the container runs, not paused.
    const log = await logOf(res.bundle);
    const freeze = log.findIndex((e) =>
      e.action.startsWith("freeze the cgroup of container bk-lab-gitlab"),
    );
    const thaw = log.findIndex((e) =>
      e.action.startsWith("thaw the cgroup of container bk-lab-gitlab"),
    );
    expect(freeze).toBeGreaterThanOrEqual(0);
    expect(thaw).toBeGreaterThan(freeze);
    expect(log[freeze]?.changedHost).toBe(true);
    const state = JSON.parse(
      (await execa("docker", ["inspect", "--format", "{{json .State}}", info.containers.gitlab.id]))
        .stdout,
    ) as { Running: boolean; Paused: boolean };
    expect(state).toMatchObject({ Running: true, Paused: false });
    expect(stateOf(await readFile(`/proc/${wate.hostPid}/stat`, "latin1"))).not.toBe("D");
    const gdb = await execa("gdb", ["--batch", "-nx", "-c", join(res.bundle, dump!.file!)], {
      reject: false,
    });
    expect(gdb.stdout + gdb.stderr).toContain("Core was generated by");
    expect((await verifyBundle(res.bundle)).intact).toBe(true);

    // triage --bundle shows the indicators as a lead, low, never as a verdict.
    const t = memoryIo({ env: process.env, cwd: out });
    await runCli(["triage", "--bundle", res.bundle, "--json"], t.io);
    const triage = JSON.parse(t.stdout()) as {
      findings: {
        rule: string;
        severity: string;
        confidence: string;
        evidence: { pid?: number }[];
      }[];
    };
    const lead = triage.findings.find((f) => f.rule === "memory.leads");
    expect(lead).toMatchObject({ severity: "low", confidence: "low" });
    expect(lead?.evidence[0]?.pid).toBe(wate.hostPid);
  });
});
