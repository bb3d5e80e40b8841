/**
 * Parsers for /etc/passwd, /etc/shadow and /etc/group. They follow glibc's nss_files reader
 * (leading blanks skipped, `#` lines ignored, extra trailing fields ignored) so that a line
 * glibc would accept as an account is never missed here. Password hashes are classified and
 * dropped at once: no type below can hold one.
 */
import type { Group, User } from "../../model/snapshot.js";

export type PasswordState = User["password"];

export type PasswdEntry = Omit<User, "password" | "lastChange"> & {
  line: number;
  /** "shadow" when the field is "x"; otherwise the state of the (legacy) field itself. */
  passwdField: "shadow" | PasswordState;
};

export type ShadowEntry = {
  name: string;
  line: number;
  password: PasswordState;
  lastChange: string | null;
};

export type GroupEntry = Group & { line: number };

export type Parsed<T> = {
  entries: T[];
  /** Line numbers (1-based) of lines that are not blank, not comments and not valid entries. */
  invalid: number[];
};

const NON_LOGIN_SHELLS = new Set(["nologin", "false", "true", "sync", "halt", "shutdown"]);
const MAX_ID = 0xffff_ffff;
const DAY_MS = 86_400_000;

/**
 * Whether the shell gives an interactive login. An empty field is NOT a refusal: passwd(5)
 * says it defaults to /bin/sh, and sshd and login(1) honour that, so `evil::0:0:::` is a
 * root account with a shell.
 */
export function isLoginShell(shell: string): boolean {
  const trimmed = shell.trim();
  if (trimmed === "") return true;
  const base = trimmed.slice(trimmed.lastIndexOf("/") + 1);
  return !NON_LOGIN_SHELLS.has(base);
}

/** Classify a password field of passwd or shadow without keeping it. */
export function classifyPassword(field: string): PasswordState {
  if (field === "") return "empty";
  // "!" (passwd -l, also before a hash: "!$6$..."), "!!" (never set, RHEL), "*" and "*LK*".
  if (field.startsWith("!") || field.startsWith("*")) return "locked";
  if (/^\$[^$]+\$./.test(field)) return "set";
  if (/^[./0-9A-Za-z]{13}$/.test(field)) return "set";
  if (/^_[./0-9A-Za-z]{19}$/.test(field)) return "set";
  return "unknown";
}

/** shadow's day count since 1970-01-01 as YYYY-MM-DD; null for an empty or bad field. */
export function daysToDate(field: string): string | null {
  if (!/^\d{1,9}$/.test(field)) return null;
  const date = new Date(Number(field) * DAY_MS);
  return Number.isNaN(date.getTime()) ? null : date.toISOString().slice(0, 10);
}

function parseId(field: string | undefined): number | null {
  if (field === undefined || !/^\d{1,10}$/.test(field)) return null;
  const n = Number(field);
  return n <= MAX_ID ? n : null;
}

/** Split into [line number, fields] for the lines glibc would consider entries. */
function entryLines(text: string): Array<[number, string[]]> {
  const out: Array<[number, string[]]> = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!.trimStart();
    if (raw === "" || raw.startsWith("#")) continue;
    out.push([i + 1, raw.split(":")]);
  }
  return out;
}

export function parsePasswd(text: string): Parsed<PasswdEntry> {
  const entries: PasswdEntry[] = [];
  const invalid: number[] = [];
  for (const [line, f] of entryLines(text)) {
    const uid = parseId(f[2]);
    const gid = parseId(f[3]);
    const name = f[0] ?? "";
    if (f.length < 7 || uid === null || gid === null || name === "") {
      invalid.push(line);
      continue;
    }
    const pw = f[1] ?? "";
    const shell = f[6] ?? "";
    entries.push({
      name,
      uid,
      gid,
      gecos: f[4] ?? "",
      home: f[5] ?? "",
      shell,
      loginShell: isLoginShell(shell),
      line,
      passwdField: pw === "x" ? "shadow" : classifyPassword(pw),
    });
  }
  return { entries, invalid };
}

export function parseShadow(text: string): Parsed<ShadowEntry> {
  const entries: ShadowEntry[] = [];
  const invalid: number[] = [];
  for (const [line, f] of entryLines(text)) {
    const name = f[0] ?? "";
    if (f.length < 2 || name === "") {
      invalid.push(line);
      continue;
    }
    entries.push({
      name,
      line,
      password: classifyPassword(f[1] ?? ""),
      lastChange: daysToDate(f[2] ?? ""),
    });
  }
  return { entries, invalid };
}

export function parseGroup(text: string): Parsed<GroupEntry> {
  const entries: GroupEntry[] = [];
  const invalid: number[] = [];
  for (const [line, f] of entryLines(text)) {
    const name = f[0] ?? "";
    const gid = parseId(f[2]);
    if (f.length < 3 || gid === null || name === "") {
      invalid.push(line);
      continue;
    }
    const members = (f[3] ?? "")
      .split(",")
      .map((m) => m.trim())
      .filter((m) => m !== "");
    entries.push({ name, gid, members, line });
  }
  return { entries, invalid };
}

/**
 * Users with their shadow facts. `shadow` is null when it could not be read: every password
 * kept in shadow is then "unknown". As in pam_unix, a passwd field other than "x" is the
 * password itself and shadow is not consulted for it.
 */
export function mergeUsers(passwd: PasswdEntry[], shadow: ShadowEntry[] | null): User[] {
  const byName = new Map<string, ShadowEntry>();
  for (const s of shadow ?? []) if (!byName.has(s.name)) byName.set(s.name, s);
  return passwd.map((p) => {
    const s = byName.get(p.name);
    return {
      name: p.name,
      uid: p.uid,
      gid: p.gid,
      gecos: p.gecos,
      home: p.home,
      shell: p.shell,
      loginShell: p.loginShell,
      password: p.passwdField === "shadow" ? (s?.password ?? "unknown") : p.passwdField,
      lastChange: s?.lastChange ?? null,
    };
  });
}
