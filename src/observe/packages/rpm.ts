/**
 * rpm's database. Current rpm (4.16 and later: Fedora 33+, RHEL 9, openSUSE) keeps it in
 * SQLite, `/var/lib/rpm/rpmdb.sqlite` (or /usr/lib/sysimage/rpm/), older ones in Berkeley DB
 * (`Packages`) or NDB (`Packages.db`). Each row is an rpm header blob whose file digests
 * (RPMTAG_FILEDIGESTS) would verify files, but reading SQLite's pages needs an SQLite library
 * (node:sqlite arrives with Node 22.5; breachkit runs on Node 20), and running `rpm -V` inside
 * a suspect root would trust its binaries. So an rpm database is found and reported as not
 * verified, never silently passed.
 */
import { access } from "node:fs/promises";
import { join } from "node:path";

const CANDIDATES = [
  "/var/lib/rpm/rpmdb.sqlite",
  "/usr/lib/sysimage/rpm/rpmdb.sqlite",
  "/var/lib/rpm/Packages.db",
  "/var/lib/rpm/Packages",
];

/** The rpm database file under `root`, or null. */
export async function findRpmDb(root: string): Promise<string | null> {
  for (const c of CANDIDATES) {
    try {
      await access(root === "/" ? c : join(root, c));
      return c;
    } catch {
      // next
    }
  }
  return null;
}

export function rpmNotVerifiedReason(db: string): string {
  return `rpm database ${db} found but not verified: reading it needs an SQLite/Berkeley DB reader (Node 20 has none built in; node:sqlite needs Node 22.5); run \`rpm -Va\` from trusted media`;
}
