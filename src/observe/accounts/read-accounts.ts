/**
 * Accounts and logins of one root filesystem: the live host ("/"), a running container
 * (/proc/<pid>/root) or a mounted disk image (--root DIR). Every path is resolved inside that
 * root (see root-fs.ts), every read is bounded, and a file that is missing or unreadable is a
 * gap, not an error: containers rarely have wtmp, shadow or sudo at all.
 */
import path from "node:path";
import type { Accounts, AuthorizedKeysFile, Gap, LoginRecord, User } from "../../model/snapshot.js";
import { errorMessage } from "../../util/result.js";
import { decodeUtf8 } from "../../util/sanitize.js";
import { parseAuthorizedKeys } from "./authorized-keys.js";
import { LASTLOG_RECORD_SIZE, type LastlogRecord, parseLastlog } from "./lastlog.js";
import { type GroupEntry, mergeUsers, parseGroup, parsePasswd, parseShadow } from "./passwd.js";
import { describeFailure, type FsFailure, RootFs, type RootHandle } from "./root-fs.js";
import { readSudoers } from "./sudoers.js";
import { parseUtmp, UTMP_RECORD_SIZE } from "./utmp.js";

export type ReadAccountsOptions = {
  /** Directory read as "/": "/", "/proc/<pid>/root" or a mounted image. */
  root: string;
  /** "host", or the container's name. */
  scope: string;
  containerId: string | null;
  /** Newest records kept per login file (wtmp, btmp, utmp); default 5,000. */
  maxLogins?: number;
  /** Only login records at or after this time (lastlog is kept whole: one entry per user). */
  since?: Date;
  /** The time records are checked against (a record later than a day after it is corrupt). */
  now?: Date;
  /** Bytes of each authorized_keys file read (default 256 MiB); the rest is a gap. */
  maxKeysFileBytes?: number;
};

const TEXT_MAX_BYTES = 16 * 1024 * 1024;
const LOG_MAX_BYTES = 64 * 1024 * 1024;
/**
 * authorized_keys is streamed whole up to here, in chunks, with bounded memory: an attacker pads
 * the file to push a key past whatever a reader looks at. Past it the rest is a gap, and the
 * judge flags any file this big (account.authorized-keys-oversized).
 */
const KEYS_MAX_BYTES = 256 * 1024 * 1024;
const KEYS_CHUNK_BYTES = 1024 * 1024;
/** A longer line is no key sshd would take (an RSA-16384 line is ~3 KB): reported, not kept. */
const KEY_LINE_MAX_BYTES = 64 * 1024;
/** lastlog is read whole up to here (uids below ~14,000, deleted accounts included) ... */
const LASTLOG_DENSE_BYTES =
  Math.floor((4 * 1024 * 1024) / LASTLOG_RECORD_SIZE) * LASTLOG_RECORD_SIZE;
/** ... and beyond that only at the entries of uids in passwd. */
const DEFAULT_MAX_LOGINS = 5_000;
const CLOCK_SKEW_MS = 86_400_000;
const FILE_TIMES = ["/etc/passwd", "/etc/shadow", "/etc/group", "/etc/sudoers", "/etc/sudoers.d"];

type Report = (message: string) => void;

type LoginOptions = { maxLogins: number; since: Date | undefined; maxTime: Date };

function lineList(lines: number[]): string {
  const shown = lines.slice(0, 10).join(", ");
  return lines.length > 10 ? `${shown} and ${lines.length - 10} more` : shown;
}

async function readText(fs: RootFs, inner: string, report: Report): Promise<string | null> {
  const r = await fs.read(inner, { maxBytes: TEXT_MAX_BYTES });
  if (!r.ok) {
    report(`${inner}: ${describeFailure(r.error)}`);
    return null;
  }
  if (r.value.truncated)
    report(`${inner}: larger than ${TEXT_MAX_BYTES} bytes, only the start read`);
  return decodeUtf8(r.value.bytes);
}

async function readLogins(
  fs: RootFs,
  inner: string,
  source: string,
  opts: LoginOptions,
  report: Report,
  onMissing: (f: FsFailure) => boolean = () => false,
): Promise<LoginRecord[]> {
  const r = await fs.read(inner, {
    maxBytes: LOG_MAX_BYTES,
    fromEnd: true,
    align: UTMP_RECORD_SIZE,
  });
  if (!r.ok) {
    if (!onMissing(r.error)) report(`${inner}: ${describeFailure(r.error)}`);
    return [];
  }
  if (r.value.offset > 0) {
    report(`${inner}: ${r.value.size} bytes, only the last ${r.value.bytes.length} read`);
  }
  const p = parseUtmp(r.value.bytes, { source, maxTime: opts.maxTime });
  if (p.skipped > 0) {
    report(`${inner}: ${p.skipped} corrupt records skipped (${p.zeroed} of them all zero bytes)`);
  }
  if (p.trailingBytes > 0) report(`${inner}: ends with ${p.trailingBytes} bytes of a cut record`);
  const since = opts.since?.getTime();
  let records =
    since === undefined ? p.records : p.records.filter((x) => Date.parse(x.time) >= since);
  if (records.length > opts.maxLogins) {
    report(`${inner}: ${records.length} records, only the newest ${opts.maxLogins} kept`);
    records = records.slice(-opts.maxLogins);
  }
  return records;
}

/** utmp lives in /run on current systems and in /var/run on old ones. */
async function readUtmp(fs: RootFs, opts: LoginOptions, report: Report): Promise<LoginRecord[]> {
  let missing = false;
  const first = await readLogins(fs, "/run/utmp", "utmp", opts, report, (f) => {
    missing = f.code === "ENOENT" || f.code === "ENOTDIR";
    return missing;
  });
  return missing ? readLogins(fs, "/var/run/utmp", "utmp", opts, report) : first;
}

async function readLastlog(
  fs: RootFs,
  uids: number[],
  maxTime: Date,
  report: Report,
): Promise<LastlogRecord[]> {
  const inner = "/var/log/lastlog";
  const o = await fs.open(inner);
  if (!o.ok) {
    report(`${inner}: ${describeFailure(o.error)}`);
    return [];
  }
  const { handle, size } = o.value;
  try {
    const records: LastlogRecord[] = [];
    let skipped = 0;
    const take = async (offset: number, length: number) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buf, 0, length, offset);
      const p = parseLastlog(buf.subarray(0, bytesRead), offset / LASTLOG_RECORD_SIZE, { maxTime });
      records.push(...p.records);
      skipped += p.skipped;
    };
    const dense = Math.min(LASTLOG_DENSE_BYTES, size - (size % LASTLOG_RECORD_SIZE));
    if (dense > 0) await take(0, dense);
    const sparse = [...new Set(uids)]
      .filter((uid) => uid * LASTLOG_RECORD_SIZE >= dense)
      .filter((uid) => (uid + 1) * LASTLOG_RECORD_SIZE <= size)
      .sort((a, b) => a - b);
    for (const uid of sparse) await take(uid * LASTLOG_RECORD_SIZE, LASTLOG_RECORD_SIZE);
    if (skipped > 0) report(`${inner}: ${skipped} entries with an impossible time skipped`);
    return records;
  } catch (e) {
    report(`${inner}: ${errorMessage(e)}`);
    return [];
  } finally {
    await handle.close().catch(() => {});
  }
}

type StreamedKeys = {
  keys: AuthorizedKeysFile["keys"];
  invalid: number[];
  longLines: number[];
  readBytes: number;
};

/** Parse an authorized_keys file chunk by chunk: memory holds one chunk and one line at most. */
async function streamKeys(
  handle: RootHandle,
  size: number,
  maxBytes: number,
): Promise<StreamedKeys> {
  const out: StreamedKeys = { keys: [], invalid: [], longLines: [], readBytes: 0 };
  const limit = Math.min(size, maxBytes);
  const buf = Buffer.alloc(KEYS_CHUNK_BYTES);
  let carry: Buffer[] = [];
  let carryBytes = 0;
  let tooLong = false;
  let lineNo = 0;
  const take = (line: Buffer) => {
    lineNo++;
    if (tooLong || line.length > KEY_LINE_MAX_BYTES) {
      out.longLines.push(lineNo);
      tooLong = false;
      return;
    }
    const p = parseAuthorizedKeys(decodeUtf8(line));
    for (const k of p.keys) out.keys.push({ ...k, line: lineNo });
    if (p.invalid.length > 0) out.invalid.push(lineNo);
  };
  while (out.readBytes < limit) {
    const { bytesRead } = await handle.read(
      buf,
      0,
      Math.min(buf.length, limit - out.readBytes),
      out.readBytes,
    );
    if (bytesRead === 0) break;
    out.readBytes += bytesRead;
    let chunk = buf.subarray(0, bytesRead);
    for (let nl = chunk.indexOf(10); nl >= 0; nl = chunk.indexOf(10)) {
      const piece = chunk.subarray(0, nl);
      take(carryBytes === 0 ? piece : Buffer.concat([...carry, piece]));
      carry = [];
      carryBytes = 0;
      chunk = chunk.subarray(nl + 1);
    }
    if (!tooLong && carryBytes + chunk.length > KEY_LINE_MAX_BYTES) {
      tooLong = true;
      carry = [];
      carryBytes = 0;
    }
    if (!tooLong && chunk.length > 0) {
      carry.push(Buffer.from(chunk));
      carryBytes += chunk.length;
    }
  }
  if (carryBytes > 0 || tooLong) take(Buffer.concat(carry));
  return out;
}

async function readKeysFile(
  fs: RootFs,
  user: string,
  inner: string,
  maxBytes: number,
  report: Report,
): Promise<AuthorizedKeysFile | null> {
  const r = await fs.open(inner);
  // A planted symlink is worth a word either way; a missing file is the common case.
  const link = r.ok || r.error.code === "ENOENT" ? await fs.linkTarget(inner) : null;
  if (!r.ok) {
    if (link !== null) {
      report(`${inner}: a symlink to ${link}, which does not exist inside the root`);
    } else if (r.error.code !== "ENOENT" && r.error.code !== "ENOTDIR") {
      report(`${inner}: ${describeFailure(r.error)}`);
    }
    return null;
  }
  const f = r.value;
  let parsed: StreamedKeys;
  try {
    parsed = await streamKeys(f.handle, f.size, maxBytes);
  } catch (e) {
    report(`${inner}: ${errorMessage(e)}`);
    return null;
  } finally {
    await f.handle.close().catch(() => {});
  }
  if (parsed.readBytes < f.size) {
    report(`${inner}: ${f.size} bytes, only the first ${parsed.readBytes} read`);
  }
  if (link !== null) {
    report(`${inner}: a symlink to ${link}, read as ${f.innerPath} inside the root`);
  }
  if (parsed.invalid.length > 0) {
    report(`${inner}: lines ${lineList(parsed.invalid)} are not valid keys`);
  }
  if (parsed.longLines.length > 0) {
    report(
      `${inner}: lines ${lineList(parsed.longLines)} longer than ${KEY_LINE_MAX_BYTES} bytes, not keys`,
    );
  }
  return {
    user,
    path: inner,
    mtime: f.mtime.toISOString(),
    ctime: f.ctime.toISOString(),
    size: f.size,
    keys: parsed.keys,
  };
}

async function readAuthorizedKeys(
  fs: RootFs,
  users: User[],
  maxBytes: number,
  report: Report,
): Promise<AuthorizedKeysFile[]> {
  const homes: Array<{ user: string; home: string }> = users
    .filter((u) => u.home.startsWith("/"))
    .map((u) => ({ user: u.name, home: u.home }));
  // An unreadable or doctored passwd must not hide the keys most worth seeing: root's.
  if (!users.some((u) => u.name === "root")) homes.unshift({ user: "root", home: "/root" });
  // Every user is checked: the list is bounded by the passwd read (16 MiB), and a cap here
  // would let an attacker hide a key behind 10,000 padding accounts.
  const seen = new Set<string>();
  const jobs: Array<{ user: string; inner: string }> = [];
  for (const { user, home } of homes) {
    for (const name of ["authorized_keys", "authorized_keys2"]) {
      const inner = path.posix.join(home, ".ssh", name);
      const key = `${user}\0${inner}`;
      if (seen.has(key)) continue;
      seen.add(key);
      jobs.push({ user, inner });
    }
  }
  const out: Array<AuthorizedKeysFile | null> = new Array(jobs.length).fill(null);
  // A few at a time: a passwd of thousands of users must not open thousands of files at once.
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const i = next++;
      const job = jobs[i]!;
      out[i] = await readKeysFile(fs, job.user, job.inner, maxBytes, report);
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return out.filter((f): f is AuthorizedKeysFile => f !== null);
}

export async function readAccounts(
  opts: ReadAccountsOptions,
): Promise<{ accounts: Accounts; gaps: Gap[] }> {
  const fs = new RootFs(opts.root);
  const gaps: Gap[] = [];
  const source = `accounts:${opts.scope}`;
  const report: Report = (message) => void gaps.push({ source, message });
  const now = opts.now ?? new Date();
  const loginOpts: LoginOptions = {
    maxLogins: opts.maxLogins ?? DEFAULT_MAX_LOGINS,
    since: opts.since,
    maxTime: new Date(now.getTime() + CLOCK_SKEW_MS),
  };

  const [passwdText, shadowText, groupText, sudo, wtmp, btmp, utmp, times] = await Promise.all([
    readText(fs, "/etc/passwd", report),
    readText(fs, "/etc/shadow", report),
    readText(fs, "/etc/group", report),
    readSudoers(fs),
    readLogins(fs, "/var/log/wtmp", "wtmp", loginOpts, report),
    readLogins(fs, "/var/log/btmp", "btmp", loginOpts, report),
    readUtmp(fs, loginOpts, report),
    Promise.all(FILE_TIMES.map(async (p) => [p, await fs.stat(p)] as const)),
  ]);

  const passwd = parsePasswd(passwdText ?? "");
  if (passwd.invalid.length > 0) {
    report(`/etc/passwd: lines ${lineList(passwd.invalid)} are not valid entries`);
  }
  const shadow = shadowText === null ? null : parseShadow(shadowText);
  if (shadow && shadow.invalid.length > 0) {
    report(`/etc/shadow: lines ${lineList(shadow.invalid)} are not valid entries`);
  }
  const group = parseGroup(groupText ?? "");
  if (group.invalid.length > 0) {
    report(`/etc/group: lines ${lineList(group.invalid)} are not valid entries`);
  }
  for (const problem of sudo.problems) report(problem);

  const users = mergeUsers(passwd.entries, shadow?.entries ?? null);
  const names = usersByUid({ users });
  const [authorizedKeys, lastlog] = await Promise.all([
    readAuthorizedKeys(fs, users, opts.maxKeysFileBytes ?? KEYS_MAX_BYTES, report),
    readLastlog(
      fs,
      users.map((u) => u.uid),
      loginOpts.maxTime,
      report,
    ),
  ]);

  const fileTimes: Record<string, string> = {};
  for (const [p, st] of times) if (st.ok) fileTimes[p] = st.value.mtime.toISOString();
  Object.assign(fileTimes, sudo.times);

  const accounts: Accounts = {
    scope: opts.scope,
    containerId: opts.containerId,
    root: opts.root,
    users,
    groups: group.entries.map(({ name, gid, members }: GroupEntry) => ({ name, gid, members })),
    sudo: sudo.rules,
    authorizedKeys,
    logins: [...wtmp, ...btmp, ...utmp],
    lastlog: lastlog.map((l) => ({ ...l, user: names.get(l.uid) ?? null })),
    fileTimes,
  };
  return { accounts, gaps };
}

/** uid -> user name; the first passwd entry wins, as getpwuid(3) answers. */
export function usersByUid(accounts: Pick<Accounts, "users">): Map<number, string> {
  const map = new Map<number, string>();
  for (const u of accounts.users) if (!map.has(u.uid)) map.set(u.uid, u.name);
  return map;
}
