/**
 * What a package database says a root should hold: each file a package installed, with the
 * checksum the package recorded. Read from the root's own files (never by running dpkg, apk or
 * rpm inside it), so that the answer is the same for the host and for a container's filesystem
 * seen from the host.
 */

export type PackageManager = "dpkg" | "apk" | "rpm";
export type DigestAlgo = "md5" | "sha1" | "sha256";

export interface PackageFile {
  manager: PackageManager;
  /** As the database names it: "coreutils", "libc6:amd64", "busybox". */
  package: string;
  /** Absolute path inside the root, as the package lists it ("/usr/bin/ls"). */
  path: string;
  algo: DigestAlgo;
  /** Lowercase hex. */
  expected: string;
  /**
   * apk records a symlink's checksum as that of its target text: verify the link, not the
   * file it points to.
   */
  symlink?: boolean;
}

/** One package database read from a root. */
export interface PackageDb {
  manager: PackageManager;
  /** The database file(s) it was read from, inside the root. */
  source: string;
  packages: number;
  files: PackageFile[];
  /**
   * Every path a package owns (files, links, directories, conffiles), with its owners: the
   * basis of the "no package owns this executable" check, and of dpkg -S for debsums'
   * "owned by another package" rule.
   */
  owners: () => Promise<Map<string, string[]>>;
  /**
   * A changed file whose observed checksum is the one another package (that Replaces this
   * one) recorded for the same path is not a change (debsums' is_replaced).
   */
  replacedBy?: Map<string, Map<string, string>>;
  /** Paths that dpkg's path-exclude rules keep off this system: not "missing" when absent. */
  excluded?: (path: string) => boolean;
  /** Diverted paths (dpkg-divert): a changed file there is not reported (as debsums). */
  diverted?: Set<string>;
  /** Problems reading it: a bad line, an unreadable list. */
  problems: string[];
}
