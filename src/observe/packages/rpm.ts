/**
 * rpm's database. Current rpm (4.16 and later: Fedora 33+, RHEL 9, openSUSE) keeps it in
 * SQLite, `/var/lib/rpm/rpmdb.sqlite` (or /usr/lib/sysimage/rpm/), older ones in Berkeley DB
 * (`Packages`: RHEL 7/8, CentOS) or NDB (`Packages.db`). Each package's header holds its files'
 * digests (RPMTAG_FILEDIGESTS, algorithm RPMTAG_FILEDIGESTALGO).
 *
 * Read with the host's own `rpm` (Debian's package `rpm`, 4.18: SQLite and read-only Berkeley
 * DB), never the root's: the database directory is copied to a temporary directory first (rpm
 * writes a lock file and SQLite's -wal/-shm beside the database it opens, and the suspect root
 * must stay as it is), then queried with `rpm --dbpath COPY -qa --qf ...`. Only the listing
 * comes from rpm; the files are hashed by breachkit like dpkg's and apk's (verify.ts), so a
 * container's files are read from the host, nothing runs inside the root.
 *
 * Like debsums for dpkg conffiles, %config files are not verified (they are meant to change);
 * %ghost files and files rpm did not install (state "not installed": --excludedocs, other
 * languages) are not expected on disk; directories and symlinks carry no digest.
 */
import { copyFile, lstat, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import { errorMessage } from "../../util/result.js";
import { findExecutable, runTool } from "../scanners/run-tool.js";
import { RootResolver } from "./resolve.js";
import type { DigestAlgo, PackageDb, PackageFile } from "./types.js";

const CANDIDATES = [
  "/var/lib/rpm/rpmdb.sqlite",
  "/usr/lib/sysimage/rpm/rpmdb.sqlite",
  "/var/lib/rpm/Packages",
  "/usr/lib/sysimage/rpm/Packages",
  "/var/lib/rpm/Packages.db",
  "/usr/lib/sysimage/rpm/Packages.db",
];

/** RPMTAG_FILEDIGESTALGO values (rpm's pgpHashAlgo). */
const ALGOS: Record<string, DigestAlgo> = {
  // Packages built before rpm 4.6 have no algorithm tag: their digests are MD5.
  "(none)": "md5",
  "1": "md5",
  "2": "sha1",
  "8": "sha256",
  "9": "sha384",
  "10": "sha512",
  "11": "sha224",
};
const DIGEST_HEX: Record<DigestAlgo, number> = {
  md5: 32,
  sha1: 40,
  sha224: 56,
  sha256: 64,
  sha384: 96,
  sha512: 128,
};
/** RPMFILE_* flags. */
const RPMFILE_CONFIG = 1;
const RPMFILE_GHOST = 64;
/** RPMFILE_STATE_NORMAL: the file was installed. */
const STATE_NORMAL = "0";
const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
/** The database directory copied: larger is refused (an rpmdb is tens of MB). */
const MAX_DB_BYTES = 1024 * 1024 * 1024;

/**
 * The rpm database file under `root`, or null. Links are followed inside the root (Fedora's
 * /var/lib/rpm is a link to /usr/lib/sysimage/rpm).
 */
export async function findRpmDb(root: string): Promise<string | null> {
  const res = new RootResolver(root);
  for (const c of CANDIDATES) {
    try {
      const st = await lstat(res.host(await res.resolve(c)));
      if (st.isFile()) return c;
    } catch {
      // next
    }
  }
  return null;
}

export function rpmNotVerifiedReason(db: string, why: string): string {
  return `rpm database ${db} found but not verified: ${why}`;
}

/** The query: one line per package, then one per file (the name last: it may hold a tab). */
export const RPM_QUERY_FORMAT =
  "P\\t%{NAME}\\t%{NVRA}\\n[F\\t%{=NAME}\\t%{=FILEDIGESTALGO}\\t%{FILEFLAGS}\\t%{FILESTATES}\\t%{FILEMODES}\\t%{FILEDIGESTS}\\t%{FILENAMES}\\n]";

export interface RpmListing {
  packages: number;
  files: PackageFile[];
  /** Every path a package lists (files, directories, links, ghosts, config). */
  owned: Map<string, string[]>;
  problems: string[];
}

/** Parse the output of `rpm -qa --qf RPM_QUERY_FORMAT`. */
export function parseRpmListing(text: string): RpmListing {
  const files: PackageFile[] = [];
  const owned = new Map<string, string[]>();
  const problems: string[] = [];
  let packages = 0;
  for (const line of text.split("\n")) {
    if (line === "") continue;
    if (line.startsWith("P\t")) {
      packages++;
      continue;
    }
    const f = line.split("\t");
    // A name with a newline splits its line: the pieces fail these checks and are reported.
    if (f[0] !== "F" || f.length < 8 || !f[7]!.startsWith("/")) {
      if (problems.length < 50)
        problems.push(`unreadable rpm file entry: ${JSON.stringify(line.slice(0, 200))}`);
      continue;
    }
    const [, pkg, algoId, flagsS, state, modeS, digest] = f as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ];
    const path = posix.normalize(f.slice(7).join("\t"));
    const owners = owned.get(path) ?? [];
    if (!owners.includes(pkg)) owners.push(pkg);
    owned.set(path, owners);
    const flags = Number(flagsS);
    const mode = Number(modeS);
    if ((mode & S_IFMT) !== S_IFREG) continue;
    if (flags & (RPMFILE_CONFIG | RPMFILE_GHOST)) continue;
    if (state !== STATE_NORMAL) continue;
    if (digest === "") continue;
    const algo = ALGOS[algoId];
    if (!algo || digest.length !== DIGEST_HEX[algo] || !/^[0-9a-f]+$/.test(digest)) {
      if (problems.length < 50)
        problems.push(`${pkg}: ${path}: digest algorithm ${algoId} / digest not understood`);
      continue;
    }
    files.push({ manager: "rpm", package: pkg, path, algo, expected: digest });
  }
  return { packages, files, owned, problems };
}

export interface ReadRpmOptions {
  env: Readonly<Record<string, string | undefined>>;
  /** Tests point this at another rpm. */
  executable?: string;
  timeoutMs?: number;
}

/** Copy the regular files of the database directory (not following links out of it). */
async function copyDbDir(from: string, to: string): Promise<void> {
  let total = 0;
  for (const name of await readdir(from)) {
    const st = await lstat(join(from, name));
    if (!st.isFile()) continue;
    total += st.size;
    if (total > MAX_DB_BYTES) throw new Error(`database directory over ${MAX_DB_BYTES} bytes`);
    await copyFile(join(from, name), join(to, name));
  }
}

/**
 * Read a root's rpm database with the host's rpm. Returns a PackageDb, or a reason why it could
 * not be read (no rpm on the host, NDB format, rpm failing): the caller reports it as a gap.
 */
export async function readRpmDb(
  root: string,
  opts: ReadRpmOptions,
): Promise<{ db: PackageDb } | { db: null; source: string; reason: string } | null> {
  const source = await findRpmDb(root);
  if (!source) return null;
  const fail = (reason: string) => ({ db: null, source, reason });
  if (source.endsWith("Packages.db"))
    return fail(
      "it is in rpm's NDB format, which Debian's rpm cannot read (run `rpm -Va` from trusted media)",
    );
  const exe = await findExecutable(opts.executable ?? "rpm", opts.env);
  if (!exe) return fail("the host has no rpm to read it (apt-get install rpm)");
  const dir = posix.dirname(source);
  const work = await mkdtemp(join(tmpdir(), "breachkit-rpmdb-"));
  try {
    const res = new RootResolver(root);
    await copyDbDir(res.host(await res.resolve(dir)), work);
    const backend = source.endsWith("rpmdb.sqlite") ? "sqlite" : "bdb_ro";
    const run = await runTool(
      exe,
      [
        "--dbpath",
        work,
        "--define",
        `_db_backend ${backend}`,
        "-qa",
        "--nosignature",
        "--nodigest",
        "--qf",
        RPM_QUERY_FORMAT,
      ],
      { timeoutMs: opts.timeoutMs ?? 300_000, env: opts.env, maxOutputBytes: 512 * 1024 * 1024 },
    );
    if (run.timedOut) return fail("rpm timed out reading it");
    if (run.truncated) return fail("rpm's listing was too large");
    if (run.exitCode !== 0)
      return fail(
        `rpm could not read it (exit ${run.exitCode}): ${
          run.stderr
            .trim()
            .split("\n")
            .filter((l) => !/use Alien|know what you are doing/.test(l))[0] ?? ""
        }`,
      );
    const listing = parseRpmListing(run.stdout);
    if (listing.packages === 0) return fail("rpm read no package from it");
    return {
      db: {
        manager: "rpm",
        source,
        packages: listing.packages,
        files: listing.files,
        owners: async () => listing.owned,
        problems: listing.problems,
      },
    };
  } catch (e) {
    return fail(errorMessage(e));
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
