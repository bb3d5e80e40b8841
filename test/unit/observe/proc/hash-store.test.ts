import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  chownSync,
  closeSync,
  existsSync,
  fstatSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  rmSync,
  statfsSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import {
  HashStore,
  hashStoreFromEnv,
  MAX_STORED,
  type StoredHash,
} from "../../../../src/observe/proc/hash-store.js";
import { nativeReaderPath } from "../../../../src/observe/proc/native-read.js";
import { type HashCacheEntry, readProcesses } from "../../../../src/observe/proc/processes.js";
import { buildFakeProc, fakeStat, fakeStatus } from "./fake-proc.js";

const REPO = fileURLToPath(new URL("../../../../", import.meta.url));
const MODULE = fileURLToPath(
  new URL("../../../../src/observe/proc/hash-store.ts", import.meta.url),
);
const FILE = "exe-hashes.json";
const BOOT = "0b7a3a64-2c36-4d8a-9c1e-5f0e6f4b2a11";
const UID = process.geteuid!();
/** Not us: we run as root, so chown can hand a file to it. */
const OTHER_UID = 4242;
const MIB = 1024 * 1024;

const top = mkdtempSync(join(tmpdir(), "bk-hash-store-"));
let serial = 0;

afterAll(() => rmSync(top, { recursive: true, force: true }));

/** A fresh path under the test's temp dir (not created). */
function fresh(name = "store"): string {
  serial++;
  return join(top, `${serial}-${name}`);
}

function storeAt(dir: string, bootId = BOOT): HashStore {
  return new HashStore({ dir, bootId, uid: UID });
}

const sha = (c: string) => c.repeat(64);
const SAMPLE = new Map<string, StoredHash>([
  // Real shapes: dev, inode, size, then mtimeMs and ctimeMs with their sub-ms part.
  [
    "2049:1311022:96251352:1719840000123.4568:1732001234567.891",
    { sha256: sha("a"), hashedAtMs: 1_732_000_000_000 },
  ],
  [
    "2049:1311023:1234:1700000000000:1700000000000",
    { sha256: sha("b"), hashedAtMs: 1_732_000_000_001 },
  ],
  ["64771:17:8:0:0.5", { sha256: sha("0"), hashedAtMs: 1 }],
]);

/** A store directory holding a good saved store of SAMPLE. */
function savedStore(): { dir: string; store: HashStore } {
  const dir = fresh();
  const store = storeAt(dir);
  expect(store.save(SAMPLE)).toBeNull();
  expect(store.load().entries.size).toBe(SAMPLE.size);
  return { dir, store };
}

/** A directory of ours (0700) with `text` as its store file (0600). */
function storeWithText(text: string | Buffer): HashStore {
  const dir = fresh();
  mkdirSync(dir, { mode: 0o700 });
  writeFileSync(join(dir, FILE), text, { mode: 0o600 });
  return storeAt(dir);
}

function fileText(entries: unknown[], over: Record<string, unknown> = {}): string {
  return JSON.stringify({
    format: "breachkit-hash-cache",
    version: 1,
    bootId: BOOT,
    entries,
    ...over,
  });
}

const mode = (path: string) => lstatSync(path).mode & 0o777;

describe("HashStore save and load", () => {
  it("gives back what it saved, in a 0700 directory it made and a 0600 file", () => {
    const dir = fresh();
    const store = storeAt(dir);
    expect(store.dir).toBe(dir);
    expect(store.save(SAMPLE)).toBeNull();
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, FILE))).toBe(0o600);
    expect(lstatSync(join(dir, FILE)).uid).toBe(UID);
    // No temporary file is left beside the store.
    expect(readdirSync(dir)).toEqual([FILE]);
    const loaded = store.load();
    expect(loaded.problem).toBeNull();
    expect(loaded.entries).toEqual(SAMPLE);
    // Another HashStore of the same boot reads it too (nothing is kept in memory).
    expect(storeAt(dir).load().entries).toEqual(SAMPLE);
  });

  it("writes the format it reads: tagged, versioned, tied to the boot", () => {
    const { dir } = savedStore();
    const data = JSON.parse(readFileSync(join(dir, FILE), "utf8"));
    expect(data).toMatchObject({ format: "breachkit-hash-cache", version: 1, bootId: BOOT });
    expect(data.entries).toContainEqual([
      "2049:1311023:1234:1700000000000:1700000000000",
      sha("b"),
      1_732_000_000_001,
    ]);
  });

  it("replaces the file by a rename, never by writing into the old one", () => {
    const { dir, store } = savedStore();
    const path = join(dir, FILE);
    const before = readFileSync(path, "utf8");
    const fd = openSync(path, "r");
    try {
      const oldIno = fstatSync(fd).ino;
      const next = new Map([["1:2:3:4:5", { sha256: sha("c"), hashedAtMs: 5 }]]);
      expect(store.save(next)).toBeNull();
      expect(statSync(path).ino).not.toBe(oldIno);
      expect(store.load().entries).toEqual(next);
      // A reader that had the old file open still reads a whole old store.
      const buf = Buffer.alloc(before.length + 16);
      const n = readSync(fd, buf, 0, buf.length, 0);
      expect(buf.toString("utf8", 0, n)).toBe(before);
    } finally {
      closeSync(fd);
    }
    expect(readdirSync(dir)).toEqual([FILE]);
  });

  it("replaces a symbolic link planted at the file's name, not what it points to", () => {
    const dir = fresh();
    mkdirSync(dir, { mode: 0o700 });
    const victim = fresh("victim");
    writeFileSync(victim, "precious\n");
    symlinkSync(victim, join(dir, FILE));
    expect(storeAt(dir).save(SAMPLE)).toBeNull();
    expect(readFileSync(victim, "utf8")).toBe("precious\n");
    expect(lstatSync(join(dir, FILE)).isFile()).toBe(true);
    expect(storeAt(dir).load().entries).toEqual(SAMPLE);
  });

  it("keeps only well-formed entries when saving", () => {
    const dir = fresh();
    const entries = new Map<string, StoredHash>([
      ...SAMPLE,
      ["1:2:3:4:5\n\u001b[31mevil", { sha256: sha("d"), hashedAtMs: 9 }],
      ["1:2:3:4:6", { sha256: `${sha("e")}\n`, hashedAtMs: 9 }],
    ]);
    expect(storeAt(dir).save(entries)).toBeNull();
    expect(storeAt(dir).load().entries).toEqual(SAMPLE);
  });

  it(`keeps the newest ${MAX_STORED} entries, newest first`, () => {
    const extra = 50;
    const entries = new Map<string, StoredHash>();
    // Inserted oldest first, so that keeping the first MAX_STORED would keep the wrong ones.
    for (let i = 1; i <= MAX_STORED + extra; i++) {
      entries.set(`2049:${i}:100:1:1`, { sha256: i.toString(16).padStart(64, "0"), hashedAtMs: i });
    }
    const dir = fresh();
    expect(storeAt(dir).save(entries)).toBeNull();
    const data = JSON.parse(readFileSync(join(dir, FILE), "utf8")) as {
      entries: [string, string, number][];
    };
    expect(data.entries).toHaveLength(MAX_STORED);
    expect(data.entries[0]).toEqual([
      `2049:${MAX_STORED + extra}:100:1:1`,
      (MAX_STORED + extra).toString(16).padStart(64, "0"),
      MAX_STORED + extra,
    ]);
    const loaded = storeAt(dir).load().entries;
    expect(loaded.size).toBe(MAX_STORED);
    const times = [...loaded.values()].map((h) => h.hashedAtMs);
    expect(Math.min(...times)).toBe(extra + 1);
    expect(loaded.has(`2049:${extra}:100:1:1`)).toBe(false);
    expect(loaded.get(`2049:${extra + 1}:100:1:1`)?.hashedAtMs).toBe(extra + 1);
  });

  it(`reads at most ${MAX_STORED} entries of a file`, () => {
    const list: unknown[] = [];
    for (let i = 0; i < MAX_STORED + 10; i++) list.push([`7:${i}:1:1:1`, sha("f"), i + 1]);
    const loaded = storeWithText(fileText(list)).load();
    expect(loaded.problem).toBeNull();
    expect(loaded.entries.size).toBe(MAX_STORED);
    expect(loaded.entries.has(`7:${MAX_STORED}:1:1:1`)).toBe(false);
  });
});

describe("HashStore load refuses a store it cannot trust, and says why", () => {
  function refused(store: HashStore, why: RegExp): void {
    const r = store.load();
    expect(r.entries.size).toBe(0);
    expect(r.problem).toMatch(/^hash cache not used: /);
    expect(r.problem).toMatch(why);
  }

  it("a directory that is a symbolic link (to a good store)", () => {
    const { dir } = savedStore();
    const link = fresh("link");
    symlinkSync(dir, link);
    refused(storeAt(link), /is a symbolic link/);
  });

  it("a directory another user owns", () => {
    const { dir, store } = savedStore();
    chownSync(dir, OTHER_UID, OTHER_UID);
    refused(store, new RegExp(`belongs to uid ${OTHER_UID}, not ${UID}`));
  });

  it.each([0o755, 0o770, 0o701, 0o710])("a directory of mode %o", (m) => {
    const { dir, store } = savedStore();
    chmodSync(dir, m);
    refused(store, new RegExp(`open to others \\(mode ${m.toString(8)}\\)`));
  });

  it("a store path that is a regular file", () => {
    const path = fresh();
    writeFileSync(path, fileText([["1:2:3:4:5", sha("a"), 1]]), { mode: 0o600 });
    refused(storeAt(path), /is not a directory/);
  });

  it("a file that is a symbolic link (to a good store file)", () => {
    const { dir: good } = savedStore();
    const dir = fresh();
    mkdirSync(dir, { mode: 0o700 });
    symlinkSync(join(good, FILE), join(dir, FILE));
    refused(storeAt(dir), /ELOOP/);
  });

  it("a file another user owns", () => {
    const { dir, store } = savedStore();
    chownSync(join(dir, FILE), OTHER_UID, OTHER_UID);
    refused(store, /is not ours alone/);
  });

  it.each([0o644, 0o640, 0o604, 0o660])("a file of mode %o", (m) => {
    const { dir, store } = savedStore();
    chmodSync(join(dir, FILE), m);
    refused(store, /is not ours alone/);
  });

  it("a file that is a directory", () => {
    const dir = fresh();
    mkdirSync(dir, { mode: 0o700 });
    mkdirSync(join(dir, FILE), { mode: 0o700 });
    refused(storeAt(dir), /is not a regular file/);
  });

  it("a file that is a FIFO, without waiting for a writer", () => {
    const dir = fresh();
    mkdirSync(dir, { mode: 0o700 });
    execFileSync("mkfifo", ["-m", "600", join(dir, FILE)]);
    // In a child process: a load that blocked on the FIFO would hang this test runner for
    // good, where a child is killed when the bound runs out (and the test then fails).
    const code = [
      `import { HashStore } from ${JSON.stringify(MODULE)};`,
      `const s = new HashStore({ dir: process.env.STORE_DIR, bootId: "b", uid: ${UID} });`,
      "const r = s.load();",
      "process.stdout.write(JSON.stringify({ n: r.entries.size, problem: r.problem }));",
    ].join("\n");
    const out = execFileSync(
      process.execPath,
      ["--import", "tsx", "--input-type=module", "-e", code],
      {
        cwd: REPO,
        env: { ...process.env, STORE_DIR: dir },
        encoding: "utf8",
        timeout: 15_000,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    const r = JSON.parse(out) as { n: number; problem: string | null };
    expect(r.n).toBe(0);
    expect(r.problem).toMatch(/is not a regular file/);
  });

  it("a file over 8 MiB, even when it is valid JSON", () => {
    const good = fileText([["1:2:3:4:5", sha("a"), 1]]);
    // JSON allows trailing white space: only the size bound keeps this from loading.
    const big = Buffer.alloc(8 * MIB + 1, " ");
    big.write(good, 0, "utf8");
    refused(storeWithText(big), /is too big/);
    const justFits = Buffer.alloc(8 * MIB, " ");
    justFits.write(good, 0, "utf8");
    expect(storeWithText(justFits).load()).toEqual({
      entries: new Map([["1:2:3:4:5", { sha256: sha("a"), hashedAtMs: 1 }]]),
      problem: null,
    });
  });
});

describe("HashStore load starts over, silently, from a store that is not there or not ours", () => {
  const empty = (store: HashStore) =>
    expect(store.load()).toEqual({ entries: new Map(), problem: null });

  it("a missing directory, which it does not create", () => {
    const dir = fresh();
    empty(storeAt(dir));
    expect(existsSync(dir)).toBe(false);
  });

  it("a missing file", () => {
    const dir = fresh();
    mkdirSync(dir, { mode: 0o700 });
    empty(storeAt(dir));
  });

  it("corrupt, truncated or empty JSON", () => {
    const whole = fileText([["1:2:3:4:5", sha("a"), 1]]);
    for (const text of [
      "{not json",
      whole.slice(0, whole.length - 1),
      whole.slice(0, whole.length / 2),
      "",
      "\u0000\u0000\u0000\u0000",
      Buffer.from([0xff, 0xfe, 0x7b, 0x00]),
    ]) {
      empty(storeWithText(text));
    }
  });

  it("JSON of another shape", () => {
    for (const text of [
      "null",
      "5",
      '"text"',
      "[]",
      "{}",
      JSON.stringify([["1:2:3:4:5", sha("a"), 1]]),
    ]) {
      empty(storeWithText(text));
    }
  });

  it("another format, version or boot", () => {
    const list = [["1:2:3:4:5", sha("a"), 1]];
    // The unchanged file does load: each variant below differs from it by one field.
    expect(storeWithText(fileText(list)).load().entries.size).toBe(1);
    for (const over of [
      { format: "something-else" },
      { format: undefined },
      { version: 2 },
      { version: "1" },
      { bootId: "c7d1a0e2-0000-4000-8000-000000000000" },
      { bootId: undefined },
      { entries: { "1:2:3:4:5": [sha("a"), 1] } },
    ]) {
      empty(storeWithText(fileText(list, over)));
    }
  });

  it("the store of another boot, even in our own directory", () => {
    const { dir } = savedStore();
    empty(storeAt(dir, "5d3f2b1a-9e8c-4d7b-a6f5-e4d3c2b1a098"));
  });

  it("skips bad entries and keeps the good ones", () => {
    const goodKey = "2049:1311022:96251352:1719840000123.4568:1732001234567.891";
    const bad: unknown[] = [
      // Keys of the wrong shape, or carrying terminal escapes, markup or line breaks.
      ["1:2:3:4", sha("a"), 1],
      ["1:2:3:4:5:6", sha("a"), 1],
      ["a:b:c:d:e", sha("a"), 1],
      ["-1:2:3:4:5", sha("a"), 1],
      ["1:2:3:4:5\n", sha("a"), 1],
      ["1:2:3:4:5\nFAKE LINE", sha("a"), 1],
      ["\u001b[31m1:2:3:4:5", sha("a"), 1],
      ["<script>alert(1)</script>", sha("a"), 1],
      ["1:2:3:4:5<b>", sha("a"), 1],
      [12345, sha("a"), 1],
      // Hashes that are not 64 lowercase hex digits.
      ["1:2:3:4:6", sha("A"), 1],
      ["1:2:3:4:7", sha("a").slice(1), 1],
      ["1:2:3:4:8", `${sha("a")}0`, 1],
      ["1:2:3:4:9", `${sha("a").slice(1)}\n`, 1],
      ["1:2:3:4:10", `\u001b[2J${sha("a").slice(4)}`, 1],
      ["1:2:3:4:11", sha("g"), 1],
      ["1:2:3:4:12", null, 1],
      // Times that are not a positive number.
      ["1:2:3:4:13", sha("a"), "1732000000000"],
      ["1:2:3:4:14", sha("a"), null],
      ["1:2:3:4:15", sha("a"), 0],
      ["1:2:3:4:16", sha("a"), -5],
      // Not [key, sha, time].
      ["1:2:3:4:17", sha("a")],
      ["1:2:3:4:18", sha("a"), 1, "extra"],
      { key: "1:2:3:4:19", sha256: sha("a"), hashedAtMs: 1 },
      "1:2:3:4:20",
      null,
    ];
    const good = [
      [goodKey, sha("b"), 1_732_000_000_000],
      ["1:2:3:4:5", sha("c"), 0.5],
    ];
    // 1e999 is a valid JSON number that parses to Infinity.
    const text = fileText([good[0], ...bad, good[1]]).replace(
      '"entries":[',
      `"entries":[["1:2:3:4:21","${sha("a")}",1e999],`,
    );
    const r = storeWithText(text).load();
    expect(r.problem).toBeNull();
    expect(r.entries).toEqual(
      new Map([
        [goodKey, { sha256: sha("b"), hashedAtMs: 1_732_000_000_000 }],
        ["1:2:3:4:5", { sha256: sha("c"), hashedAtMs: 0.5 }],
      ]),
    );
  });
});

describe("HashStore save refuses a directory it cannot trust", () => {
  it("one another user owns, writing nothing there", () => {
    const dir = fresh();
    mkdirSync(dir, { mode: 0o700 });
    chownSync(dir, OTHER_UID, OTHER_UID);
    const problem = storeAt(dir).save(SAMPLE);
    expect(problem).toMatch(/^hash cache not saved: /);
    expect(problem).toMatch(new RegExp(`belongs to uid ${OTHER_UID}`));
    expect(readdirSync(dir)).toEqual([]);
  });

  it("a symbolic link, even to a directory of ours", () => {
    const target = fresh("target");
    mkdirSync(target, { mode: 0o700 });
    const link = fresh("link");
    symlinkSync(target, link);
    expect(storeAt(link).save(SAMPLE)).toMatch(/^hash cache not saved: .*is a symbolic link/);
    expect(readdirSync(target)).toEqual([]);
  });

  it("one open to others", () => {
    const dir = fresh();
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    expect(storeAt(dir).save(SAMPLE)).toMatch(/open to others \(mode 777\)/);
    expect(readdirSync(dir)).toEqual([]);
  });

  it("one it cannot make, saying why", () => {
    const dir = join(fresh("no-parent"), "store");
    expect(storeAt(dir).save(SAMPLE)).toMatch(/^hash cache not saved: cannot create .*ENOENT/);
    expect(existsSync(dir)).toBe(false);
  });

  it("a store file that is a directory, leaving no temporary file", () => {
    const dir = fresh();
    mkdirSync(dir, { mode: 0o700 });
    mkdirSync(join(dir, FILE), { mode: 0o700 });
    expect(storeAt(dir).save(SAMPLE)).toMatch(/^hash cache not saved: E/);
    expect(readdirSync(dir)).toEqual([FILE]);
  });

  it("keeps a hard link to the old file untouched (no write through the old inode)", () => {
    const { dir, store } = savedStore();
    const other = fresh("hardlink");
    linkSync(join(dir, FILE), other);
    const before = readFileSync(other, "utf8");
    expect(store.save(new Map([["9:9:9:9:9", { sha256: sha("9"), hashedAtMs: 9 }]]))).toBeNull();
    expect(readFileSync(other, "utf8")).toBe(before);
  });
});

describe("hashStoreFromEnv", () => {
  const bootId = readFileSync("/proc/sys/kernel/random/boot_id", "latin1").trim();

  it.each(["off", "0", "no", "false", "OFF", "False", " off "])("%j turns the store off", (v) => {
    expect(hashStoreFromEnv({ BREACHKIT_HASH_CACHE: v })).toBeNull();
  });

  it("a path puts the store there, for this boot and our uid", () => {
    const dir = fresh("env");
    const store = hashStoreFromEnv({ BREACHKIT_HASH_CACHE: dir });
    expect(store).not.toBeNull();
    expect(store?.dir).toBe(dir);
    expect(store?.opts).toEqual({ dir, bootId, uid: UID });
    // Choosing the store does not make it: only a save does.
    expect(existsSync(dir)).toBe(false);
  });

  it("unset (or empty) picks a tmpfs directory of our uid", () => {
    const TMPFS_MAGIC = 0x01021994;
    const onTmpfs = (p: string) => {
      try {
        return Number(statfsSync(p).type) === TMPFS_MAGIC;
      } catch {
        return false;
      }
    };
    // On this machine /dev/shm is tmpfs and /run is not; elsewhere the first tmpfs wins.
    const base = ["/dev/shm", "/run"].find(onTmpfs);
    const expected = base === undefined ? null : `${base}/breachkit-${UID}`;
    for (const env of [{}, { BREACHKIT_HASH_CACHE: "" }, { BREACHKIT_HASH_CACHE: "  " }]) {
      const store = hashStoreFromEnv(env);
      expect(store?.dir ?? null).toBe(expected);
      if (store !== null) expect(store.opts).toEqual({ dir: expected, bootId, uid: UID });
    }
  });
});

describe("readProcesses with hashes from the store", () => {
  const LIE = "deadbeef".repeat(8);
  const LIE_AT = Date.parse("2024-01-02T03:04:05.678Z");
  const keyOf = (path: string) => {
    const st = statSync(path);
    return `${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
  };
  const sha256 = (bytes: string) => createHash("sha256").update(bytes).digest("hex");
  /** A store's entry, as takeSnapshot puts it into the cache. */
  const stored = (): HashCacheEntry => ({
    sha256: LIE,
    error: null,
    hashedAtMs: LIE_AT,
    persist: true,
    stored: true,
  });
  const base = { bootTimeMs: Date.parse("2026-01-01T00:00:00Z"), clockTicks: 100, workers: 0 };

  function fakeRoot(exes: Record<number, string>): string {
    const root = fresh("proc");
    for (const [pid, exe] of Object.entries(exes)) {
      const n = Number(pid);
      buildFakeProc(root, { pid: n, stat: fakeStat(n, "p"), status: fakeStatus("p"), exe });
    }
    return root;
  }

  it("uses a stored hash for a linked file, never for one named deleted or without links", async () => {
    const linked = fresh("linked");
    writeFileSync(linked, "linked\n");
    // A file whose name ends like a deleted one's: hashed every time all the same.
    const named = fresh("named (deleted)");
    writeFileSync(named, "named\n");
    // A file without links, reached through a descriptor held open on it; its link does not
    // say "(deleted)", so only its link count tells.
    const unlinkedPath = fresh("unlinked");
    writeFileSync(unlinkedPath, "unlinked\n");
    const fd = openSync(unlinkedPath, "r");
    try {
      rmSync(unlinkedPath);
      const unlinked = `/proc/self/fd/${fd}`;
      expect(statSync(unlinked).nlink).toBe(0);
      const root = fakeRoot({ 1: linked, 2: named, 3: unlinked });
      const cache = new Map<string, HashCacheEntry>([
        [keyOf(linked), stored()],
        [keyOf(named), stored()],
        [keyOf(unlinked), stored()],
      ]);
      const before = Date.now();
      const { processes } = await readProcesses({
        ...base,
        procRoot: root,
        hashCache: cache,
        nativeReader: null,
      });
      const exe = (pid: number) => processes.find((p) => p.pid === pid)?.exe;
      // The linked file's stored hash is taken as it is: this shows the keys above match.
      expect(exe(1)).toMatchObject({ sha256: LIE, hashedAt: new Date(LIE_AT).toISOString() });
      expect(exe(2)?.sha256).toBe(sha256("named\n"));
      expect(exe(3)?.sha256).toBe(sha256("unlinked\n"));
      for (const pid of [2, 3]) {
        expect(Date.parse(exe(pid)?.hashedAt ?? "")).toBeGreaterThanOrEqual(before);
      }
      // What replaced the stored entries is marked as this run's, and not to be kept.
      expect(cache.get(keyOf(named))).toMatchObject({ stored: false, persist: false });
      expect(cache.get(keyOf(unlinked))).toMatchObject({ stored: false, persist: false });
      expect(cache.get(keyOf(linked))).toMatchObject({ stored: true, persist: true });
    } finally {
      closeSync(fd);
    }
  });

  const native = nativeReaderPath({});
  // The native reader is a process of its own: /proc/self/exe, stat'ed by it and hashed by
  // us, is two different files, which is how a pid that exited (and was reused) between the
  // reading and the hash looks. Needs the built reader (npm run build).
  it.skipIf(native === null)(
    "does not fall back on a stored hash for a deleted file that could not be hashed",
    async () => {
      const gone = fresh("gone (deleted)");
      symlinkSync("/proc/self/exe", gone);
      const root = fakeRoot({ 7: gone });
      const key = keyOf(native!);
      const cache = new Map<string, HashCacheEntry>([[key, stored()]]);
      const { processes } = await readProcesses({
        ...base,
        procRoot: root,
        hashCache: cache,
        nativeReader: native,
      });
      const exe = processes.find((p) => p.pid === 7)?.exe;
      expect(exe).toMatchObject({
        deleted: true,
        dev: statSync(native!).dev,
        ino: statSync(native!).ino,
        sha256: null,
        hashedAt: null,
        error: "exited before it could be hashed",
      });
      expect(cache.has(key)).toBe(false);
    },
  );
});
