/**
 * `verify`: recompute every hash of a bundle, from a directory or a .tar.gz, and say which
 * file changed, went missing or was added. A bundle is evidence from a breached host and may
 * have been tampered with since: its manifest is validated, its paths are never trusted
 * (an archive is stream-parsed, never extracted), and symlinks are never followed.
 */

import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, open, readdir, readFile, stat } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createGunzip } from "node:zlib";
import { BreachkitError } from "../util/errors.js";
import { errorMessage } from "../util/result.js";
import { z } from "../util/zod.js";
import { LOG_FILE, MANIFEST_FILE, SEAL_FILE } from "./bundle.js";
import { CHUNK_SIZE, sha256OfFile } from "./hash.js";
import { checkRelPath } from "./paths.js";
import { TarFormatError, TarParser } from "./tar.js";
import type { Manifest } from "./types.js";

/** manifest.json and SEAL are read into memory: bound them. */
const MAX_MANIFEST_BYTES = 64 * 1024 * 1024;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/, "not a SHA-256 hex digest");

export const ManifestSchema = z.object({
  format: z.literal("breachkit-bundle"),
  formatVersion: z.literal(1),
  tool: z.object({ name: z.string(), version: z.string() }),
  command: z.string(),
  host: z.string(),
  startedAt: z.string(),
  endedAt: z.string(),
  complete: z.boolean(),
  incompleteReason: z.string().nullable(),
  files: z.array(
    z.object({
      path: z.string(),
      sha256: sha256Hex,
      size: z.number().int().nonnegative(),
      source: z.string(),
      collectedAt: z.string(),
      truncated: z.boolean(),
      note: z.string().nullable(),
    }),
  ),
});

export interface ChangedFile {
  path: string;
  /** What is wrong, in words: "content differs", "size differs", "not a regular file"... */
  problem: string;
  expected?: { sha256: string; size: number };
  actual?: { sha256: string; size: number };
}

export type SealStatus = "ok" | "missing" | "mismatch";

export interface VerifyReport {
  /** The path given. */
  path: string;
  kind: "directory" | "archive";
  /** SHA-256 of the archive file itself (to compare with the one printed when it was made). */
  archiveSha256: string | null;
  intact: boolean;
  seal: SealStatus;
  /** SHA-256 of manifest.json as found. */
  manifestSha256: string;
  /** What SEAL says the manifest's SHA-256 is; null when SEAL is missing. */
  sealedSha256: string | null;
  complete: boolean;
  incompleteReason: string | null;
  tool: { name: string; version: string };
  host: string;
  command: string;
  startedAt: string;
  endedAt: string;
  /** Files listed in the manifest, and their total size. */
  files: number;
  bytes: number;
  /** Files whose bytes, size or type are not what the manifest says. */
  changed: ChangedFile[];
  missing: string[];
  added: string[];
}

export interface VerifyOptions {
  /** Bytes hashed so far, for a progress display. */
  onBytes?: (n: number) => void;
}

/** What was found at a bundle path. */
type Found = { kind: "file"; size: number; sha256?: string } | { kind: "other"; what: string };

interface Observed {
  /** Every non-directory path found, relative to the bundle root. */
  found: Map<string, Found>;
  /** Problems found while reading (e.g. a path twice in an archive). */
  problems: ChangedFile[];
  manifestBytes: Buffer | null;
  sealBytes: Buffer | null;
  /** Compute the hash of a found file (directories hash lazily; archives already did). */
  hash(rel: string): Promise<{ size: number; sha256: string }>;
  archiveSha256: string | null;
}

/**
 * Verify a bundle directory or .tar.gz archive. Resolves with a report whether intact or not;
 * rejects with a BreachkitError (exit 2) when it is not a readable bundle at all.
 */
export async function verifyBundle(path: string, opts: VerifyOptions = {}): Promise<VerifyReport> {
  const abs = resolve(path);
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    // The path the user typed may be a symlink to the bundle; nothing inside it is followed.
    st = await stat(abs);
  } catch (e) {
    throw new BreachkitError(
      "NOT_FOUND",
      `cannot read ${path}: ${errorMessage(e)}`,
      "give the path of a bundle directory (breachkit-<host>-<time>/) or its .tar.gz archive",
    );
  }
  let observed: Observed;
  let kind: VerifyReport["kind"];
  if (st.isDirectory()) {
    kind = "directory";
    observed = await observeDirectory(abs, opts);
  } else if (st.isFile()) {
    kind = "archive";
    observed = await observeArchive(abs, opts);
  } else {
    throw new BreachkitError(
      "BAD_INPUT",
      `${path} is neither a directory nor a file`,
      "give the path of a bundle directory or its .tar.gz archive",
    );
  }
  return compare(path, kind, observed);
}

async function compare(
  path: string,
  kind: VerifyReport["kind"],
  o: Observed,
): Promise<VerifyReport> {
  if (o.manifestBytes === null) {
    const killed = o.found.has(LOG_FILE);
    throw new BreachkitError(
      "BAD_INPUT",
      `${path} is not a sealed evidence bundle: it has no ${MANIFEST_FILE}`,
      killed
        ? `${LOG_FILE} is there: the collection was probably killed before it could seal. That log lists what was collected, but nothing proves the files are unchanged; collect again if you can`
        : "give the path of a bundle directory (breachkit-<host>-<time>/) or its .tar.gz archive",
    );
  }
  const manifest = parseManifest(o.manifestBytes);
  const manifestSha256 = createHash("sha256").update(o.manifestBytes).digest("hex");
  let seal: SealStatus = "missing";
  let sealedSha256: string | null = null;
  if (o.sealBytes !== null) {
    sealedSha256 = o.sealBytes.toString("latin1").trim().slice(0, 128);
    seal = sealedSha256 === manifestSha256 ? "ok" : "mismatch";
  }

  const changed: ChangedFile[] = [...o.problems];
  const missing: string[] = [];
  const listed = new Set<string>();
  let bytes = 0;
  for (const f of manifest.files) {
    bytes += f.size;
    const checked = checkRelPath(f.path);
    if (
      !checked.ok ||
      checked.path !== f.path ||
      f.path === MANIFEST_FILE ||
      f.path === SEAL_FILE
    ) {
      changed.push({
        path: f.path,
        problem: `the manifest lists an unsafe path (${checked.ok ? "reserved name" : checked.reason})`,
      });
      continue;
    }
    if (listed.has(f.path)) {
      changed.push({ path: f.path, problem: "listed twice in the manifest" });
      continue;
    }
    listed.add(f.path);
    const found = o.found.get(f.path);
    if (found === undefined) {
      missing.push(f.path);
      continue;
    }
    if (found.kind !== "file") {
      changed.push({ path: f.path, problem: `not a regular file (${found.what})` });
      continue;
    }
    let actual: { size: number; sha256: string };
    try {
      actual = await o.hash(f.path);
    } catch (e) {
      changed.push({ path: f.path, problem: `cannot be read: ${errorMessage(e)}` });
      continue;
    }
    const expected = { sha256: f.sha256, size: f.size };
    if (actual.size !== f.size) {
      changed.push({ path: f.path, problem: "size differs", expected, actual });
    } else if (actual.sha256 !== f.sha256) {
      changed.push({ path: f.path, problem: "content differs", expected, actual });
    }
  }
  const added = [...o.found.keys()]
    .filter((p) => !listed.has(p) && p !== MANIFEST_FILE && p !== SEAL_FILE)
    .sort();
  // A listed-but-unsafe path can also be found on disk; it is reported once, as changed.
  const unsafe = new Set(changed.map((c) => c.path));
  const addedOnly = added.filter((p) => !unsafe.has(p));

  return {
    path,
    kind,
    archiveSha256: o.archiveSha256,
    intact: seal === "ok" && changed.length === 0 && missing.length === 0 && addedOnly.length === 0,
    seal,
    manifestSha256,
    sealedSha256,
    complete: manifest.complete,
    incompleteReason: manifest.incompleteReason,
    tool: manifest.tool,
    host: manifest.host,
    command: manifest.command,
    startedAt: manifest.startedAt,
    endedAt: manifest.endedAt,
    files: manifest.files.length,
    bytes,
    changed,
    missing: missing.sort(),
    added: addedOnly,
  };
}

/** Parse and validate manifest.json; a corrupt manifest makes the bundle unreadable (exit 2). */
export function parseManifest(bytes: Uint8Array): Manifest {
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (e) {
    throw corruptManifest(`it is not valid JSON (${errorMessage(e)})`);
  }
  const r = ManifestSchema.safeParse(json);
  if (!r.success) {
    const issue = r.error.issues[0];
    const where = issue?.path.length ? issue.path.join(".") : "the top level";
    throw corruptManifest(`${where}: ${issue?.message ?? "invalid"}`);
  }
  return r.data;
}

function corruptManifest(why: string): BreachkitError {
  return new BreachkitError(
    "BAD_INPUT",
    `${MANIFEST_FILE} is corrupt: ${why}`,
    "this copy of the bundle cannot be verified; verify another copy (the .tar.gz archive, or the original) and compare the SHA-256 printed when it was made",
  );
}

async function observeDirectory(root: string, opts: VerifyOptions): Promise<Observed> {
  const found = new Map<string, Found>();
  await walk(root, "", found);
  const readSmall = async (name: string): Promise<Buffer | null> => {
    const f = found.get(name);
    if (f === undefined || f.kind !== "file") return null;
    if (f.size > MAX_MANIFEST_BYTES) {
      throw corruptManifest(`${name} is ${f.size} bytes, far more than any manifest`);
    }
    return readFile(join(root, name), { flag: "r" });
  };
  return {
    found,
    problems: [],
    manifestBytes: await readSmall(MANIFEST_FILE),
    sealBytes: await readSmall(SEAL_FILE),
    hash: (rel) => sha256OfFile(join(root, rel), opts.onBytes),
    archiveSha256: null,
  };
}

/** List every non-directory entry under `dir`, never following symlinks. */
async function walk(root: string, rel: string, out: Map<string, Found>): Promise<void> {
  const entries = await readdir(rel === "" ? root : join(root, rel), { withFileTypes: true });
  for (const e of entries) {
    const p = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) await walk(root, p, out);
    else if (e.isFile()) out.set(p, { kind: "file", size: (await lstat(join(root, p))).size });
    else out.set(p, { kind: "other", what: direntKind(e) });
  }
}

function direntKind(e: {
  isSymbolicLink(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
}): string {
  if (e.isSymbolicLink()) return "a symbolic link";
  if (e.isFIFO()) return "a FIFO";
  if (e.isSocket()) return "a socket";
  return "a device or special file";
}

/**
 * Stream the archive once: gunzip, parse tar, hash each file's data as it passes. Paths must
 * sit under one top directory (the bundle's name); ".." and absolute paths are refused.
 */
async function observeArchive(file: string, opts: VerifyOptions): Promise<Observed> {
  const fh = await open(file, "r");
  const magic = Buffer.alloc(2);
  await fh.read(magic, 0, 2, 0);
  await fh.close();
  if (magic[0] !== 0x1f || magic[1] !== 0x8b) {
    throw new BreachkitError(
      "BAD_INPUT",
      `${file} is not a .tar.gz archive (no gzip header)`,
      "give the path of a bundle directory or the .tar.gz archive made by breachkit collect --archive",
    );
  }
  const found = new Map<string, Found>();
  const problems: ChangedFile[] = [];
  let manifestBytes: Buffer | null = null;
  let sealBytes: Buffer | null = null;
  let top: string | null = null;
  const archiveHash = createHash("sha256");
  const parser = new TarParser();

  // Current entry being read.
  let cur: {
    rel: string;
    hash: ReturnType<typeof createHash> | null;
    size: number;
    keep: Buffer[] | null;
  } | null = null;

  const raw = createReadStream(file, { highWaterMark: CHUNK_SIZE });
  raw.on("data", (c) => archiveHash.update(c as Buffer));
  const gunzip = raw.pipe(createGunzip({ chunkSize: 256 * 1024 }));
  raw.on("error", (e) => gunzip.destroy(e));
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      for (const ev of parser.push(chunk)) {
        if (ev.kind === "entry") {
          const { header } = ev;
          const rel = archivePath(header.path, file);
          const [first, ...rest] = rel.split("/");
          if (top === null) top = first!;
          else if (first !== top) {
            throw new BreachkitError(
              "BAD_INPUT",
              `${file} is not a bundle archive: it holds entries outside one top directory (${JSON.stringify(first)})`,
              "give the .tar.gz archive made by breachkit collect --archive",
            );
          }
          const inner = rest.join("/");
          cur = null;
          if (inner === "" || header.type === "directory") continue;
          if (found.has(inner)) {
            problems.push({ path: inner, problem: "appears twice in the archive" });
          }
          if (header.type !== "file") {
            const what =
              header.type === "symlink" || header.type === "hardlink"
                ? `a ${header.type === "symlink" ? "symbolic" : "hard"} link`
                : `tar type ${JSON.stringify(header.typeflag)}`;
            found.set(inner, { kind: "other", what });
            continue;
          }
          const small = inner === MANIFEST_FILE || inner === SEAL_FILE;
          if (small && header.size > MAX_MANIFEST_BYTES) {
            throw corruptManifest(`${inner} is ${header.size} bytes, far more than any manifest`);
          }
          cur = { rel: inner, hash: createHash("sha256"), size: 0, keep: small ? [] : null };
        } else if (ev.kind === "data") {
          if (cur === null) continue;
          cur.hash?.update(ev.bytes);
          cur.size += ev.bytes.length;
          cur.keep?.push(Buffer.from(ev.bytes));
          opts.onBytes?.(ev.bytes.length);
        } else if (cur !== null) {
          const sha256 = cur.hash!.digest("hex");
          found.set(cur.rel, { kind: "file", size: cur.size, sha256 });
          if (cur.rel === MANIFEST_FILE) manifestBytes = Buffer.concat(cur.keep!);
          if (cur.rel === SEAL_FILE) sealBytes = Buffer.concat(cur.keep!);
          cur = null;
        }
      }
    }
    parser.end();
  } catch (e) {
    raw.destroy();
    if (e instanceof BreachkitError) throw e;
    throw new BreachkitError(
      "BAD_INPUT",
      `${file} is corrupt or truncated: ${e instanceof TarFormatError ? e.message : errorMessage(e)}`,
      "get the archive again from where it was stored, check its SHA-256 against the one printed when it was made, or verify the bundle directory instead",
    );
  }
  return {
    found,
    problems,
    manifestBytes,
    sealBytes,
    hash: async (rel) => {
      const f = found.get(rel);
      if (f?.kind !== "file" || f.sha256 === undefined) throw new Error("not in the archive");
      return { size: f.size, sha256: f.sha256 };
    },
    archiveSha256: archiveHash.digest("hex"),
  };
}

/** An archive entry's path, normalised; refuses ".." and absolute paths (not our archive). */
function archivePath(p: string, file: string): string {
  const s = p.replace(/^(\.\/)+/, "").replace(/\/+$/, "");
  const checked = checkRelPath(s);
  if (!checked.ok) {
    throw new BreachkitError(
      "BAD_INPUT",
      `${file} holds an unsafe entry ${JSON.stringify(p)} (${checked.reason}): it was not made by breachkit, or was tampered with`,
      "do not extract it; verify the bundle directory or another copy of the archive",
    );
  }
  return checked.path;
}
