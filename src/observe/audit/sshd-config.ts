/**
 * sshd_config read the way OpenSSH's sshd (9.x) reads it, for where sshd itself cannot be run
 * (`--root` on a dead server's disk, a container's filesystem): keywords case-insensitive,
 * the first value obtained wins, `Include` expanded in place (globs sorted, relative paths
 * under /etc/ssh, at most 16 levels deep), and `Match` blocks evaluated for one connection
 * (user, host, address) the way `sshd -T -C user=,host=,addr=` does:
 *
 * - the global pass reads every line outside Match blocks (a Match line makes what follows
 *   inactive);
 * - the connection pass reads only the lines of Match blocks that match it, first value wins;
 * - a value the connection pass set replaces the global one (lists like AllowUsers replaced
 *   whole), and what neither set takes sshd's default (OPENSSH_DEFAULTS, recorded from
 *   `sshd -T` on an empty file);
 * - a Match inside an included file ends with that file; a file included inside a Match that
 *   does not apply never matches anything.
 *
 * A test runs Debian's real sshd -T on the same files and compares the answers key by key.
 * Files are read through RootFs (symlinks stay inside the root) with sizes bounded.
 */
import { posix } from "node:path";
import { describeFailure, type RootFs } from "../accounts/root-fs.js";

export const SSHD_CONFIG_PATH = "/etc/ssh/sshd_config";
/** sshd's own limit on nested Include (SERVCONF_MAX_DEPTH). */
export const MAX_INCLUDE_DEPTH = 16;
const MAX_FILE_BYTES = 1024 * 1024;
/** Lines walked in one pass, all files and repetitions together. */
const MAX_WALKED = 500_000;
const MAX_FILES = 2_000;

/** One connection: sshd -T -C user=U,host=H,addr=A (and the user's groups for Match Group). */
export interface MatchContext {
  user: string;
  host: string;
  addr: string;
  groups?: readonly string[];
  laddr?: string;
  lport?: number;
}

export interface ConfigLine {
  kind: "option";
  key: string;
  args: string[];
  file: string;
  line: number;
}
interface MatchLine {
  kind: "match";
  criteria: string[];
  file: string;
  line: number;
}
interface IncludeLine {
  kind: "include";
  files: ConfigFile[];
  file: string;
  line: number;
}
type Entry = ConfigLine | MatchLine | IncludeLine;

export interface ConfigFile {
  path: string;
  entries: Entry[];
}

export interface SshdConfigTree {
  root: ConfigFile | null;
  /** Every file read, with its size. */
  files: { path: string; size: number }[];
  /** What makes sshd refuse this configuration (it would not start): null when none. */
  fatal: string | null;
  /** What could not be read but does not stop sshd (a missing Include target is fine). */
  gaps: string[];
}

/** Where a value came from: a file and line, or sshd's default. */
export interface ValueOrigin {
  file: string;
  line: number;
  /** The Match line that made it apply, when it came from a Match block. */
  match?: string;
}

export interface EffectiveSshd {
  context: MatchContext;
  /** Lower-case keyword -> values as sshd -T prints them (one entry per printed line). */
  values: Record<string, string[]>;
  /** Keyword -> where it was set; absent: the default. */
  origins: Record<string, ValueOrigin>;
  source: "sshd -T" | "parser";
}

/** Keywords whose values add up over several lines (sshd keeps them all). */
const ACCUMULATE = new Set([
  "allowusers",
  "denyusers",
  "allowgroups",
  "denygroups",
  "acceptenv",
  "hostkey",
  "hostcertificate",
  "listenaddress",
  "port",
  "subsystem",
]);

/** Old and new names of the same keyword, as sshd -T prints it. */
const ALIASES: Record<string, string> = {
  challengeresponseauthentication: "kbdinteractiveauthentication",
  pubkeyacceptedkeytypes: "pubkeyacceptedalgorithms",
  hostbasedacceptedkeytypes: "hostbasedacceptedalgorithms",
  skeyauthentication: "kbdinteractiveauthentication",
};

const LIST_PRINTED_ONE_PER_LINE = new Set(["allowusers", "denyusers", "allowgroups", "denygroups"]);

/** Algorithm lists that accept +, - and ^ against the default. */
const ALGORITHM_KEYS = new Set([
  "ciphers",
  "macs",
  "kexalgorithms",
  "hostkeyalgorithms",
  "pubkeyacceptedalgorithms",
  "casignaturealgorithms",
  "hostbasedacceptedalgorithms",
]);

/**
 * What OpenSSH 9.2p1 (Debian 12) prints for the keywords breachkit checks when the file sets
 * nothing (`sshd -T -f /dev/null`). A unit test runs the installed sshd on an empty file and
 * compares.
 */
export const OPENSSH_DEFAULTS: Readonly<Record<string, readonly string[]>> = {
  passwordauthentication: ["yes"],
  kbdinteractiveauthentication: ["yes"],
  pubkeyauthentication: ["yes"],
  authenticationmethods: ["any"],
  permitemptypasswords: ["no"],
  permitrootlogin: ["without-password"],
  maxauthtries: ["6"],
  x11forwarding: ["no"],
  allowtcpforwarding: ["yes"],
  allowagentforwarding: ["yes"],
  disableforwarding: ["no"],
  usepam: ["no"],
  permituserenvironment: ["no"],
  hostbasedauthentication: ["no"],
  ignorerhosts: ["yes"],
  logingracetime: ["120"],
  ciphers: [
    "chacha20-poly1305@openssh.com,aes128-ctr,aes192-ctr,aes256-ctr,aes128-gcm@openssh.com,aes256-gcm@openssh.com",
  ],
  macs: [
    "umac-64-etm@openssh.com,umac-128-etm@openssh.com,hmac-sha2-256-etm@openssh.com,hmac-sha2-512-etm@openssh.com,hmac-sha1-etm@openssh.com,umac-64@openssh.com,umac-128@openssh.com,hmac-sha2-256,hmac-sha2-512,hmac-sha1",
  ],
  kexalgorithms: [
    "sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ecdh-sha2-nistp384,ecdh-sha2-nistp521,diffie-hellman-group-exchange-sha256,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group14-sha256",
  ],
};

/** The keywords breachkit compares between sshd -T and this parser. */
export const CHECKED_KEYS = Object.keys(OPENSSH_DEFAULTS).concat([
  "allowusers",
  "allowgroups",
  "denyusers",
  "denygroups",
]);

// ---------------------------------------------------------------- reading

/** sshd's tokeniser: blanks separate, double quotes group, a token starting with # ends the line. */
export function splitArgs(text: string): string[] | null {
  const out: string[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && (text[i] === " " || text[i] === "\t")) i++;
    if (i >= text.length) break;
    if (text[i] === "#") break;
    let tok = "";
    let quoted = false;
    while (i < text.length) {
      const c = text[i]!;
      if (c === '"') {
        quoted = !quoted;
        i++;
        continue;
      }
      if (!quoted && (c === " " || c === "\t")) break;
      if (c === "\\" && i + 1 < text.length && (text[i + 1] === '"' || text[i + 1] === "\\")) {
        tok += text[i + 1];
        i += 2;
        continue;
      }
      tok += c;
      i++;
    }
    if (quoted) return null;
    out.push(tok);
  }
  return out;
}

/** Keyword and arguments of one line ("Key value", "Key=value"); null for blank and comments. */
export function splitLine(raw: string): { key: string; args: string[] } | { error: string } | null {
  const line = raw.replace(/\r$/, "").replace(/^[ \t]+/, "");
  if (line === "" || line.startsWith("#")) return null;
  const m = /^([^ \t=]+)[ \t]*=?[ \t]*(.*)$/.exec(line);
  if (!m) return { error: "no keyword" };
  const args = splitArgs(m[2] ?? "");
  if (args === null) return { error: "unterminated quote" };
  return { key: m[1]!.toLowerCase(), args };
}

function globToRegExp(pattern: string): RegExp {
  let re = "^";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 2);
      if (end < 0) re += "\\[";
      else {
        let body = pattern.slice(i + 1, end);
        if (body.startsWith("!")) body = `^${body.slice(1)}`;
        re += `[${body.replace(/\\/g, "\\\\")}]`;
        i = end;
      }
    } else re += c.replace(/[.+^${}()|\\]/g, "\\$&");
  }
  return new RegExp(`${re}$`);
}

/** glob(3) inside the root: wildcards in any component, results sorted, dot files only by name. */
async function expandGlob(fs: RootFs, pattern: string): Promise<string[]> {
  const parts = pattern.split("/").filter((p) => p !== "");
  let current = ["/"];
  for (let idx = 0; idx < parts.length; idx++) {
    const part = parts[idx]!;
    const next: string[] = [];
    const wild = /[*?[]/.test(part);
    for (const dir of current) {
      if (!wild) {
        next.push(posix.join(dir, part));
        continue;
      }
      const listed = await fs.list(dir);
      if (!listed.ok) continue;
      const re = globToRegExp(part);
      for (const name of listed.value.names) {
        if (name.startsWith(".") && !part.startsWith(".")) continue;
        if (re.test(name)) next.push(posix.join(dir, name));
      }
    }
    current = next;
    if (current.length === 0) return [];
  }
  const existing: string[] = [];
  for (const p of current) if ((await fs.stat(p)).ok) existing.push(p);
  return existing.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

interface ReadState {
  fs: RootFs;
  cache: Map<string, Promise<string | { error: string }>>;
  files: Map<string, number>;
  globs: Map<string, string[]>;
  /** A file read at a depth: the same tree again (10,000 Include lines of one file). */
  trees: Map<string, ConfigFile | null>;
  fatal: string | null;
  gaps: string[];
  entries: number;
}

async function readText(st: ReadState, path: string): Promise<string | { error: string }> {
  let p = st.cache.get(path);
  if (!p) {
    p = (async () => {
      const r = await st.fs.read(path, { maxBytes: MAX_FILE_BYTES });
      if (!r.ok) return { error: describeFailure(r.error) };
      st.files.set(path, r.value.size);
      if (r.value.truncated) return { error: `larger than ${MAX_FILE_BYTES} bytes` };
      return r.value.bytes.toString("utf8");
    })();
    st.cache.set(path, p);
  }
  return p;
}

async function readFileTree(
  st: ReadState,
  path: string,
  depth: number,
  required: boolean,
): Promise<ConfigFile | null> {
  const key = `${depth}\0${path}`;
  if (st.trees.has(key)) return st.trees.get(key)!;
  const tree = await readFileTreeOnce(st, path, depth, required);
  st.trees.set(key, tree);
  return tree;
}

async function readFileTreeOnce(
  st: ReadState,
  path: string,
  depth: number,
  required: boolean,
): Promise<ConfigFile | null> {
  const text = await readText(st, path);
  if (typeof text !== "string") {
    if (required) st.fatal ??= `${path}: ${text.error}`;
    else st.gaps.push(`${path}: ${text.error}`);
    return null;
  }
  const entries: Entry[] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length && st.fatal === null; n++) {
    const parsed = splitLine(lines[n]!);
    if (parsed === null) continue;
    const line = n + 1;
    if ("error" in parsed) {
      st.fatal = `${path} line ${line}: ${parsed.error}`;
      break;
    }
    if (++st.entries > MAX_WALKED) {
      st.fatal = `more than ${MAX_WALKED} configuration lines with includes: not read further`;
      break;
    }
    const key = ALIASES[parsed.key] ?? parsed.key;
    if (key === "match") {
      entries.push({ kind: "match", criteria: parsed.args, file: path, line });
    } else if (key === "include") {
      if (depth + 1 > MAX_INCLUDE_DEPTH) {
        st.fatal = `${path} line ${line}: Include nested more than ${MAX_INCLUDE_DEPTH} deep (an Include loop?): sshd refuses this`;
        break;
      }
      if (parsed.args.length === 0) {
        st.fatal = `${path} line ${line}: Include without a file`;
        break;
      }
      const inc: IncludeLine = { kind: "include", files: [], file: path, line };
      for (const arg of parsed.args) {
        const pattern = arg.startsWith("/") ? arg : posix.join("/etc/ssh", arg);
        let matched = st.globs.get(pattern);
        if (!matched) {
          matched = await expandGlob(st.fs, pattern);
          st.globs.set(pattern, matched);
        }
        for (const m of matched) {
          if (st.files.size > MAX_FILES) {
            st.fatal = `more than ${MAX_FILES} included files: not read further`;
            break;
          }
          const sub = await readFileTree(st, m, depth + 1, false);
          if (sub) inc.files.push(sub);
          if (st.fatal !== null) break;
        }
      }
      entries.push(inc);
    } else {
      entries.push({ kind: "option", key, args: parsed.args, file: path, line });
    }
  }
  return { path, entries };
}

/** Read sshd_config (and what it includes) from a root: "/", /proc/<pid>/root or a disk. */
export async function readSshdConfig(
  fs: RootFs,
  path: string = SSHD_CONFIG_PATH,
): Promise<SshdConfigTree> {
  const st: ReadState = {
    fs,
    cache: new Map(),
    files: new Map(),
    globs: new Map(),
    trees: new Map(),
    fatal: null,
    gaps: [],
    entries: 0,
  };
  const root = await readFileTree(st, path, 0, true);
  return {
    root: st.fatal === null ? root : null,
    files: [...st.files].map(([p, size]) => ({ path: p, size })),
    fatal: st.fatal,
    gaps: st.gaps,
  };
}

// ---------------------------------------------------------------- matching

/** OpenSSH match_pattern: `*` and `?` wildcards. */
export function matchPattern(s: string, pattern: string): boolean {
  let re = "^";
  for (const c of pattern) {
    if (c === "*") re += ".*";
    else if (c === "?") re += ".";
    else re += c.replace(/[.+^${}()|[\]\\]/g, "\\$&");
  }
  return new RegExp(`${re}$`, "s").test(s);
}

/** OpenSSH match_pattern_list: 1 match, 0 none, -1 a negated pattern matched. */
export function matchPatternList(s: string, list: string, lower: boolean): 1 | 0 | -1 {
  const subject = lower ? s.toLowerCase() : s;
  let got: 1 | 0 = 0;
  for (let p of list.split(",")) {
    let negated = false;
    if (p.startsWith("!")) {
      negated = true;
      p = p.slice(1);
    }
    if (lower) p = p.toLowerCase();
    if (matchPattern(subject, p)) {
      if (negated) return -1;
      got = 1;
    }
  }
  return got;
}

function ipv4Bytes(a: string): number[] | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(a);
  if (!m) return null;
  const b = m.slice(1).map(Number);
  return b.every((x) => x <= 255) ? b : null;
}

function ipv6Bytes(a: string): number[] | null {
  if (!a.includes(":")) return null;
  let text = a;
  let tail: number[] = [];
  const v4 = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = ipv4Bytes(v4[1]!);
    if (!b) return null;
    tail = b;
    text = `${text.slice(0, v4.index)}:0:0`;
  }
  const halves = text.split("::");
  if (halves.length > 2) return null;
  const head = halves[0] ? halves[0].split(":") : [];
  const rest = halves.length === 2 && halves[1] ? halves[1].split(":") : [];
  const fill = halves.length === 2 ? 8 - head.length - rest.length : 0;
  const all = [...head, ...Array(Math.max(0, fill)).fill("0"), ...rest];
  if (all.length !== 8 || !all.every((g) => /^[0-9a-f]{1,4}$/i.test(g))) return null;
  const bytes = all.flatMap((g) => {
    const v = Number.parseInt(g, 16);
    return [v >> 8, v & 255];
  });
  if (tail.length) bytes.splice(12, 4, ...tail);
  return bytes;
}

function ipBytes(a: string): number[] | null {
  return ipv4Bytes(a) ?? ipv6Bytes(a);
}

/** addr within CIDR `net/bits`; null when `pattern` is no CIDR. */
function cidrMatch(addr: string, pattern: string): boolean | null {
  const slash = pattern.indexOf("/");
  const net = ipBytes(slash < 0 ? pattern : pattern.slice(0, slash));
  if (!net) return null;
  const bits = slash < 0 ? net.length * 8 : Number(pattern.slice(slash + 1));
  if (!Number.isInteger(bits) || bits < 0 || bits > net.length * 8) return null;
  const a = ipBytes(addr);
  if (!a || a.length !== net.length) return false;
  for (let i = 0; i < bits; i++) {
    const byte = i >> 3;
    const mask = 0x80 >> (i & 7);
    if ((a[byte]! & mask) !== (net[byte]! & mask)) return false;
  }
  return true;
}

/** OpenSSH addr_match_list: CIDR or wildcard entries, `!` negates. */
export function addrMatchList(addr: string, list: string): 1 | 0 | -1 {
  let got: 1 | 0 = 0;
  for (let p of list.split(",")) {
    let negated = false;
    if (p.startsWith("!")) {
      negated = true;
      p = p.slice(1);
    }
    const c = /^[0-9a-fA-F:.]+(\/\d+)?$/.test(p) ? cidrMatch(addr, p) : null;
    const hit = c ?? matchPattern(addr, p);
    if (hit) {
      if (negated) return -1;
      got = 1;
    }
  }
  return got;
}

/** Whether a Match line's criteria all hold for the connection. */
export function matchApplies(criteria: readonly string[], ctx: MatchContext): boolean {
  for (let i = 0; i < criteria.length; i++) {
    const what = criteria[i]!.toLowerCase();
    if (what === "all") continue;
    const arg = criteria[++i];
    if (arg === undefined) return false;
    let ok: boolean;
    switch (what) {
      case "user":
        ok = matchPatternList(ctx.user, arg, false) === 1;
        break;
      case "group": {
        const groups = ctx.groups ?? [];
        ok =
          groups.some((g) => matchPatternList(g, arg, false) === 1) &&
          !groups.some((g) => matchPatternList(g, arg, false) === -1);
        break;
      }
      case "host":
        ok = matchPatternList(ctx.host, arg, true) === 1;
        break;
      case "address":
        ok = addrMatchList(ctx.addr, arg) === 1;
        break;
      case "localaddress":
        ok = ctx.laddr !== undefined && addrMatchList(ctx.laddr, arg) === 1;
        break;
      case "localport":
        ok = ctx.lport !== undefined && matchPatternList(String(ctx.lport), arg, false) === 1;
        break;
      default:
        ok = false;
    }
    if (!ok) return false;
  }
  return true;
}

// ---------------------------------------------------------------- effective values

interface Setting {
  args: string[];
  origin: ValueOrigin;
}

function walk(
  file: ConfigFile,
  ctx: MatchContext | null,
  state: { active: boolean; inMatch: boolean; matchText: string | undefined },
  neverMatch: boolean,
  out: Map<string, Setting[]>,
): void {
  for (const e of file.entries) {
    if (e.kind === "match") {
      state.inMatch = true;
      state.active = ctx !== null && !neverMatch && matchApplies(e.criteria, ctx);
      state.matchText = `${e.file}:${e.line} Match ${e.criteria.join(" ")}`;
    } else if (e.kind === "include") {
      const saved = { ...state };
      const childNever = neverMatch || (state.inMatch && !state.active);
      for (const f of e.files) walk(f, ctx, state, childNever, out);
      Object.assign(state, saved);
    } else if (state.active) {
      const list = out.get(e.key);
      const setting: Setting = {
        args: e.args,
        origin: {
          file: e.file,
          line: e.line,
          ...(state.inMatch && state.matchText ? { match: state.matchText } : {}),
        },
      };
      if (!list) out.set(e.key, [setting]);
      else if (ACCUMULATE.has(e.key)) list.push(setting);
    }
  }
}

/** The algorithm list after +, - and ^ against the default, as sshd -T prints it. */
export function assembleAlgorithms(value: string, def: string): string {
  const defaults = def.split(",").filter(Boolean);
  if (value.startsWith("+")) {
    const add = value.slice(1).split(",").filter(Boolean);
    return [...defaults, ...add.filter((a) => !defaults.includes(a))].join(",");
  }
  if (value.startsWith("-")) {
    const drop = value.slice(1);
    return defaults.filter((a) => matchPatternList(a, drop, false) !== 1).join(",");
  }
  if (value.startsWith("^")) {
    const first = value.slice(1).split(",").filter(Boolean);
    return [...first, ...defaults.filter((a) => !first.includes(a))].join(",");
  }
  return value;
}

function printed(key: string, settings: Setting[]): string[] {
  if (LIST_PRINTED_ONE_PER_LINE.has(key)) return settings.flatMap((s) => s.args);
  const args = settings[0]!.args;
  const first = (args[0] ?? "").toLowerCase();
  switch (key) {
    case "permitrootlogin":
      return [first === "prohibit-password" ? "without-password" : first];
    case "allowtcpforwarding":
      return [first === "all" ? "yes" : first];
    case "authenticationmethods":
      return [args.join(" ")];
    default:
      if (ALGORITHM_KEYS.has(key)) {
        const def = OPENSSH_DEFAULTS[key]?.[0];
        return [def ? assembleAlgorithms(args[0] ?? "", def) : (args[0] ?? "")];
      }
      if (/^(yes|no|true|false)$/i.test(first)) return [first];
      return [args.join(" ")];
  }
}

/** The effective configuration for one connection, as `sshd -T -C` would print it. */
export function effectiveSshd(tree: SshdConfigTree, ctx: MatchContext): EffectiveSshd {
  const values: Record<string, string[]> = {};
  const origins: Record<string, ValueOrigin> = {};
  for (const [k, v] of Object.entries(OPENSSH_DEFAULTS)) values[k] = [...v];
  if (!tree.root) return { context: ctx, values, origins, source: "parser" };
  const global = new Map<string, Setting[]>();
  walk(tree.root, null, { active: true, inMatch: false, matchText: undefined }, false, global);
  const matched = new Map<string, Setting[]>();
  walk(tree.root, ctx, { active: false, inMatch: false, matchText: undefined }, false, matched);
  const keys = new Set([...global.keys(), ...matched.keys()]);
  for (const key of keys) {
    const settings = matched.get(key) ?? global.get(key)!;
    values[key] = printed(key, settings);
    origins[key] = settings[0]!.origin;
  }
  return { context: ctx, values, origins, source: "parser" };
}

/** Parse `sshd -T` output ("keyword value" lines) into the same shape. */
export function parseSshdT(stdout: string): Record<string, string[]> {
  const values: Record<string, string[]> = {};
  for (const raw of stdout.split("\n")) {
    const line = raw.trim();
    if (line === "") continue;
    const sp = line.indexOf(" ");
    const key = (sp < 0 ? line : line.slice(0, sp)).toLowerCase();
    const value = sp < 0 ? "" : line.slice(sp + 1);
    const list = values[key] ?? [];
    list.push(value);
    values[key] = list;
  }
  return values;
}
