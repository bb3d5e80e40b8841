import { mkdir, mkdtemp, readFile, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const FIXTURES = fileURLToPath(new URL("../fixtures/accounts/", import.meta.url));

/** Path of a recorded fixture under test/fixtures/accounts/. */
export function accountsFixture(...parts: string[]): string {
  return path.join(FIXTURES, ...parts);
}

export async function readAccountsFixture(...parts: string[]): Promise<Buffer> {
  return readFile(accountsFixture(...parts));
}

export type TreeEntry =
  | string
  | Uint8Array
  | { symlink: string }
  | { dir: true }
  | { content: string | Uint8Array; mtime?: Date };

/** Paths (relative to the tree) to contents: a file, a symlink or an empty directory. */
export type TreeSpec = Record<string, TreeEntry>;

export type Tree = { root: string; cleanup: () => Promise<void> };

/** Build a directory tree in a fresh temp dir; the caller removes it with `cleanup`. */
export async function makeTree(spec: TreeSpec, prefix = "bk-accounts-"): Promise<Tree> {
  const root = await mkdtemp(path.join(tmpdir(), prefix));
  for (const [rel, entry] of Object.entries(spec)) {
    const full = path.join(root, rel);
    await mkdir(path.dirname(full), { recursive: true });
    if (typeof entry === "string" || entry instanceof Uint8Array) {
      await writeFile(full, entry);
    } else if ("symlink" in entry) {
      await symlink(entry.symlink, full);
    } else if ("dir" in entry) {
      await mkdir(full, { recursive: true });
    } else {
      await writeFile(full, entry.content);
      if (entry.mtime) await utimes(full, entry.mtime, entry.mtime);
    }
  }
  return { root, cleanup: () => rm(root, { recursive: true, force: true }) };
}

/** glibc x86_64 struct utmp field offsets, for patching recorded records in tests. */
export const UTMP_FIELDS = {
  type: 0,
  pid: 4,
  line: 8,
  id: 40,
  user: 44,
  host: 76,
  tvSec: 340,
  tvUsec: 344,
  addr: 348,
} as const;

/** Overwrite a fixed-size string field of record `index` (NUL-padded, not NUL-terminated if full). */
export function setUtmpString(
  buf: Buffer,
  index: number,
  field: "line" | "user" | "host",
  value: Uint8Array,
): void {
  const size = { line: 32, user: 32, host: 256 }[field];
  const at = index * 384 + UTMP_FIELDS[field];
  buf.fill(0, at, at + size);
  Buffer.from(value).copy(buf, at, 0, size);
}
