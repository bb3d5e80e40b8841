/**
 * The executable hash store against the live host: hashes reused between snapshots of one
 * boot, and never trusted for a deleted executable or from a directory that is not ours.
 * Uses only processes this file starts (copies of sleep) and its own node process.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  copyFileSync,
  linkSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
  rmSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Process, type Snapshot, SnapshotSchema } from "../../src/model/snapshot.js";
import { HashStore, type StoredHash } from "../../src/observe/proc/hash-store.js";
import { takeSnapshot } from "../../src/observe/snapshot.js";

const BOOT = readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();
const UID = process.geteuid!();
const OTHER_UID = 4242;
const FILE = "exe-hashes.json";
const SLEEP = "/usr/bin/sleep";
/** What a poisoned store claims: a valid hash, of no file here. */
const LIE = "deadbeef".repeat(8);
const LIE_AT = Date.parse("2024-01-02T03:04:05.678Z");

let tmp = "";
const children: ChildProcess[] = [];

beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), "bk-hash-store-it-"));
});

afterAll(() => {
  // Only the processes this file started, by their own handles.
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  rmSync(tmp, { recursive: true, force: true });
});

const sha256Of = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** The store's key for what `pid` runs, as the snapshot computes it. */
function keyOf(pid: number, ctimeShift = 0): string {
  const st = statSync(`/proc/${pid}/exe`);
  return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs + ctimeShift}`;
}

function storeIn(name: string): HashStore {
  return new HashStore({ dir: join(tmp, name), bootId: BOOT, uid: UID });
}

async function snap(
  hashStore: HashStore | undefined,
  env: Record<string, string> = {},
): Promise<Snapshot> {
  const { snapshot } = await takeSnapshot({
    env: { ...process.env, ...env },
    ...(hashStore === undefined ? {} : { hashStore }),
    containerAccounts: false,
  });
  // What the snapshot says must still be a valid snapshot (hashedAt included).
  SnapshotSchema.parse(snapshot);
  return snapshot;
}

function proc(snapshot: Snapshot, pid: number): Process {
  const p = snapshot.processes.find((x) => x.pid === pid);
  if (p === undefined) throw new Error(`pid ${pid} is not in the snapshot`);
  return p;
}

const hashedAtMs = (p: Process) => Date.parse(p.exe.hashedAt ?? "invalid");

interface Running {
  pid: number;
  path: string;
}

/**
 * A copy of sleep at `name`, running; `deleted` unlinks the file once it runs, and `keepAs`
 * keeps its inode linked under another name (the name it ran from is gone all the same).
 */
function startCopy(name: string, deleted: boolean, keepAs?: string): Running {
  const path = join(tmp, name);
  copyFileSync(SLEEP, path);
  chmodSync(path, 0o755);
  if (keepAs !== undefined) linkSync(path, join(tmp, keepAs));
  const child = spawn(path, ["600"], { stdio: "ignore" });
  children.push(child);
  if (child.pid === undefined) throw new Error(`cannot start ${path}`);
  // spawn returns once the exec is done: the process runs the copy already.
  expect(readlinkSync(`/proc/${child.pid}/exe`)).toBe(path);
  if (deleted) {
    unlinkSync(path);
    expect(readlinkSync(`/proc/${child.pid}/exe`)).toBe(`${path} (deleted)`);
    expect(statSync(`/proc/${child.pid}/exe`).nlink).toBe(keepAs === undefined ? 0 : 1);
  }
  return { pid: child.pid, path };
}

describe("the hash store across snapshots of one boot", () => {
  const node = realpathSync(process.execPath);
  let nodeSha = "";

  beforeAll(() => {
    nodeSha = sha256Of(`/proc/${process.pid}/exe`);
    expect(sha256Of(node)).toBe(nodeSha);
  });

  it("reuses the hash of node from the first snapshot in the second", async () => {
    const store = storeIn("reuse");
    const before = Date.now();
    const s1 = await snap(store);
    const me1 = proc(s1, process.pid);
    expect(me1.exe.path).toBe(node);
    expect(me1.exe.sha256).toBe(nodeSha);
    // Read in this run: the store was empty.
    expect(hashedAtMs(me1)).toBeGreaterThanOrEqual(before);
    expect(s1.gaps.filter((g) => g.source === "hash cache")).toEqual([]);
    expect(store.load().entries.get(keyOf(process.pid))).toEqual({
      sha256: nodeSha,
      hashedAtMs: hashedAtMs(me1),
    });

    const s2 = await snap(store);
    const me2 = proc(s2, process.pid);
    expect(me2.exe.sha256).toBe(nodeSha);
    expect(me2.exe.hashedAt).toBe(me1.exe.hashedAt);
    // The reused hash says its bytes were read before this snapshot began.
    expect(Date.parse(s2.takenAt)).toBeGreaterThan(hashedAtMs(me2));
    expect(s2.gaps.filter((g) => g.source === "hash cache")).toEqual([]);
  });

  it("keeps the store where BREACHKIT_HASH_CACHE says, ours alone", async () => {
    const dir = join(tmp, "from-env");
    const env = { BREACHKIT_HASH_CACHE: dir };
    const s1 = await snap(undefined, env);
    expect(lstatSync(dir).mode & 0o777).toBe(0o700);
    expect(lstatSync(join(dir, FILE)).mode & 0o777).toBe(0o600);
    expect(readdirSync(dir)).toEqual([FILE]);
    const s2 = await snap(undefined, env);
    expect(proc(s2, process.pid).exe.sha256).toBe(nodeSha);
    expect(proc(s2, process.pid).exe.hashedAt).toBe(proc(s1, process.pid).exe.hashedAt);
  });

  it("is not used when its directory belongs to another user, and says so", async () => {
    const store = storeIn("foreign");
    // A lie about node, saved while the directory was still ours (and then trusted).
    const planted = new Map<string, StoredHash>([
      [keyOf(process.pid), { sha256: LIE, hashedAtMs: LIE_AT }],
    ]);
    expect(store.save(planted)).toBeNull();
    expect(store.load().entries).toEqual(planted);
    chownSync(store.dir, OTHER_UID, OTHER_UID);
    const text = readFileSync(join(store.dir, FILE), "utf8");

    const before = Date.now();
    const s = await snap(store);
    const me = proc(s, process.pid);
    expect(me.exe.sha256).toBe(nodeSha);
    expect(hashedAtMs(me)).toBeGreaterThanOrEqual(before);
    const gaps = s.gaps.filter((g) => g.source === "hash cache").map((g) => g.message);
    expect(gaps).toContainEqual(
      expect.stringMatching(new RegExp(`^hash cache not used: .*belongs to uid ${OTHER_UID}`)),
    );
    expect(gaps).toContainEqual(
      expect.stringMatching(new RegExp(`^hash cache not saved: .*belongs to uid ${OTHER_UID}`)),
    );
    // Nothing was written into it.
    expect(readdirSync(store.dir)).toEqual([FILE]);
    expect(readFileSync(join(store.dir, FILE), "utf8")).toBe(text);
  });
});

describe.each(["native", "js"])("a poisoned store, %s process reader", (reader) => {
  const sleepSha = sha256Of(SLEEP);
  let deleted: Running;
  let hidden: Running;
  let linkedA: Running;
  let linkedB: Running;

  beforeAll(() => {
    deleted = startCopy(`deleted-sleep-${reader}`, true);
    hidden = startCopy(`hidden-sleep-${reader}`, true, `.hidden-link-${reader}`);
    linkedA = startCopy(`linked-a-${reader}`, false);
    linkedB = startCopy(`linked-b-${reader}`, false);
  });

  it("cannot lie about a deleted executable, nor match a file by a wrong identity", async () => {
    const env = { BREACHKIT_PROC_READER: reader };
    const store = storeIn(`poison-${reader}`);
    const s1 = await snap(store, env);
    const d1 = proc(s1, deleted.pid);
    const dStat = statSync(`/proc/${deleted.pid}/exe`);
    expect(d1.exe).toMatchObject({
      path: deleted.path,
      deleted: true,
      memfd: false,
      sha256: sleepSha,
      dev: dStat.dev,
      ino: dStat.ino,
    });
    expect(proc(s1, hidden.pid).exe).toMatchObject({
      path: hidden.path,
      deleted: true,
      sha256: sleepSha,
    });
    expect(proc(s1, linkedA.pid).exe).toMatchObject({ path: linkedA.path, sha256: sleepSha });

    // The deleted executable was not stored, under any identity; the linked copies were.
    const dKey = keyOf(deleted.pid);
    const hKey = keyOf(hidden.pid);
    const stored1 = store.load().entries;
    expect(stored1.has(hKey)).toBe(false);
    expect([...stored1.keys()].filter((k) => k.startsWith(`${dStat.dev}:${dStat.ino}:`))).toEqual(
      [],
    );
    expect(stored1.get(keyOf(linkedA.pid))?.sha256).toBe(sleepSha);
    expect(stored1.get(keyOf(linkedB.pid))?.sha256).toBe(sleepSha);

    // The store now lies about all four: the deleted files by their exact identity, copy A
    // by its exact identity, copy B under a ctime its file does not have.
    const lie = { sha256: LIE, hashedAtMs: LIE_AT };
    const poison = new Map<string, StoredHash>([
      [dKey, lie],
      [hKey, lie],
      [keyOf(linkedA.pid), lie],
      [keyOf(linkedB.pid, 1), lie],
    ]);
    expect(store.save(poison)).toBeNull();
    expect(store.load().entries).toEqual(poison);

    const before = Date.now();
    const s2 = await snap(store, env);
    const d2 = proc(s2, deleted.pid);
    expect(d2.exe.deleted).toBe(true);
    expect(d2.exe.sha256).toBe(sleepSha);
    expect(hashedAtMs(d2)).toBeGreaterThanOrEqual(before);
    const h2 = proc(s2, hidden.pid);
    expect(h2.exe.deleted).toBe(true);
    expect(h2.exe.sha256).toBe(sleepSha);
    expect(hashedAtMs(h2)).toBeGreaterThanOrEqual(before);
    const b2 = proc(s2, linkedB.pid);
    expect(b2.exe.sha256).toBe(sleepSha);
    expect(hashedAtMs(b2)).toBeGreaterThanOrEqual(before);
    // The control: the same poisoning, for a linked file of unchanged identity, is read (by
    // design: the store is ours alone). It shows the keys above are the snapshot's keys, so
    // that the deleted file's true hash is not luck of a mismatched key.
    const a2 = proc(s2, linkedA.pid);
    expect(a2.exe.sha256).toBe(LIE);
    expect(a2.exe.hashedAt).toBe(new Date(LIE_AT).toISOString());
    // The entries for the deleted files do not survive the snapshot's save.
    const stored2 = store.load().entries;
    expect(stored2.has(dKey)).toBe(false);
    expect(stored2.has(hKey)).toBe(false);
  });
});
