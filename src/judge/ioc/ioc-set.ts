/**
 * Indicators of compromise: the names, paths, hashes, addresses and patterns an admin
 * already knows from the incident (the hoster's abuse mail, a vendor advisory).
 *
 * File format (rules/README.md): one `kind:value` per line, `#` starts a comment line,
 * blank lines are ignored. Kinds: name, path, sha256, ip, cidr, regex, url, domain. A trailing `#`
 * is NOT a comment (a regex or a path may hold one).
 */
import type { Process } from "../../model/snapshot.js";
import { err, ok, type Result } from "../../util/result.js";
import { type Cidr, cidrContains, parseCidr, parseIp, sameIp } from "./ip.js";

export type IocKind = "name" | "path" | "sha256" | "ip" | "cidr" | "regex" | "url" | "domain";
export const IOC_KINDS: readonly IocKind[] = [
  "name",
  "path",
  "sha256",
  "ip",
  "cidr",
  "regex",
  "url",
  "domain",
];

export interface IocEntry {
  kind: IocKind;
  /** Normalised: sha256 lower-case, regex as its source. */
  value: string;
  /** Where it came from: "iocs.txt:3" or "--ioc". */
  origin: string;
}

export interface IocSet {
  entries: readonly IocEntry[];
  names: ReadonlyMap<string, IocEntry>;
  paths: ReadonlyMap<string, IocEntry>;
  sha256: ReadonlyMap<string, IocEntry>;
  ips: readonly { bytes: Uint8Array; entry: IocEntry }[];
  cidrs: readonly { cidr: Cidr; entry: IocEntry }[];
  regexes: readonly { re: RegExp; entry: IocEntry }[];
}

export interface IocParseError {
  line: number;
  message: string;
}

const MAX_LINE = 4096;
const HEX64 = /^[0-9a-fA-F]{64}$/;
const DOMAIN = /^(?=.{4,253}$)(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}$/;

/** Build the lookup tables of a set from its entries (entries already validated). */
export function iocSetOf(entries: readonly IocEntry[]): IocSet {
  const names = new Map<string, IocEntry>();
  const paths = new Map<string, IocEntry>();
  const sha256 = new Map<string, IocEntry>();
  const ips: { bytes: Uint8Array; entry: IocEntry }[] = [];
  const cidrs: { cidr: Cidr; entry: IocEntry }[] = [];
  const regexes: { re: RegExp; entry: IocEntry }[] = [];
  for (const e of entries) {
    switch (e.kind) {
      case "name":
        names.set(e.value, e);
        break;
      case "path":
        paths.set(e.value, e);
        break;
      case "sha256":
        sha256.set(e.value, e);
        break;
      case "ip":
        ips.push({ bytes: parseIp(e.value)!, entry: e });
        break;
      case "cidr":
        cidrs.push({ cidr: parseCidr(e.value)!, entry: e });
        break;
      case "regex": {
        const r = parseRegex(e.value);
        if (r.ok) regexes.push({ re: r.value, entry: e });
        break;
      }
      case "url":
      case "domain":
        // Hunted in logs only (judge/hunt/ioc-rules.ts): no table of their own.
        break;
    }
  }
  return { entries, names, paths, sha256, ips, cidrs, regexes };
}

export const EMPTY_IOCS: IocSet = iocSetOf([]);

export function mergeIocs(...sets: readonly (IocSet | undefined)[]): IocSet {
  return iocSetOf(sets.flatMap((s) => s?.entries ?? []));
}

/** `/source/flags` or a bare source. Only the flags i, m, s and u make sense here. */
export function parseRegex(value: string): Result<RegExp, string> {
  let source = value;
  let flags = "";
  const m = /^\/(.*)\/([a-z]*)$/s.exec(value);
  if (m) {
    source = m[1]!;
    flags = m[2]!;
    const bad = flags.replace(/[imsu]/g, "");
    if (bad) return err(`regex flag "${bad}" is not allowed (use i, m, s or u)`);
    if (new Set(flags).size !== flags.length) return err(`regex flags "${flags}" repeat a flag`);
  }
  if (source === "") return err("empty regex");
  try {
    return ok(new RegExp(source, flags));
  } catch (e) {
    return err(`invalid regex: ${e instanceof Error ? e.message : String(e)}`);
  }
}

/** Validate one `kind:value`; returns the normalised entry or a message. */
export function parseIocLine(
  kindText: string,
  rawValue: string,
  origin: string,
): Result<IocEntry, string> {
  const kind = kindText.trim().toLowerCase();
  const value = rawValue.trim();
  if (!(IOC_KINDS as readonly string[]).includes(kind)) {
    return err(`unknown kind "${kind}" (expected one of: ${IOC_KINDS.join(", ")})`);
  }
  if (value === "") return err(`"${kind}:" needs a value`);
  switch (kind as IocKind) {
    case "name":
      if (value.includes("/")) return err(`a name has no "/" (use path:${value} for a path)`);
      return ok({ kind: "name", value, origin });
    case "path":
      if (!value.startsWith("/")) return err(`a path must be absolute, got "${value}"`);
      return ok({ kind: "path", value, origin });
    case "sha256":
      if (!HEX64.test(value)) {
        return err(`a sha256 is 64 hex digits, got ${value.length} characters`);
      }
      return ok({ kind: "sha256", value: value.toLowerCase(), origin });
    case "ip":
      if (!parseIp(value)) return err(`"${value}" is not an IPv4 or IPv6 address`);
      return ok({ kind: "ip", value, origin });
    case "cidr":
      if (!value.includes("/") || !parseCidr(value)) {
        return err(`"${value}" is not a CIDR block like 203.0.113.0/24 or 2001:db8::/32`);
      }
      return ok({ kind: "cidr", value, origin });
    case "regex": {
      const r = parseRegex(value);
      return r.ok ? ok({ kind: "regex", value, origin }) : err(r.error);
    }
    case "url":
      if (!/^[a-z][a-z0-9+.-]*:\/\/\S+$/i.test(value)) {
        return err(`a url is scheme://rest with no spaces, got "${value}"`);
      }
      return ok({ kind: "url", value, origin });
    case "domain":
      if (!DOMAIN.test(value)) return err(`"${value}" is not a domain name like c2.example.net`);
      return ok({ kind: "domain", value: value.toLowerCase(), origin });
  }
}

/** Parse an IOC file; the first bad line stops it, with its 1-based number and why. */
export function parseIocFile(text: string, fileName: string): Result<IocSet, IocParseError> {
  const entries: IocEntry[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = lines[i]!.replace(/\r$/, "");
    const trimmed = line.trim();
    if (trimmed === "" || trimmed.startsWith("#")) continue;
    if (line.length > MAX_LINE) {
      return err({
        line: lineNo,
        message: `${fileName}:${lineNo}: line longer than ${MAX_LINE} characters`,
      });
    }
    const colon = trimmed.indexOf(":");
    if (colon <= 0) {
      return err({
        line: lineNo,
        message: `${fileName}:${lineNo}: expected "kind:value" (kinds: ${IOC_KINDS.join(", ")})`,
      });
    }
    const r = parseIocLine(
      trimmed.slice(0, colon),
      trimmed.slice(colon + 1),
      `${fileName}:${lineNo}`,
    );
    if (!r.ok) return err({ line: lineNo, message: `${fileName}:${lineNo}: ${r.error}` });
    entries.push(r.value);
  }
  return ok(iocSetOf(entries));
}

/**
 * `--ioc VALUE` on the command line: 64 hex digits are a hash, an address or CIDR is an
 * address, an absolute path is a path, `kind:value` is taken as written, else a name.
 */
export function iocFromArgs(
  values: readonly string[],
): Result<IocSet, { arg: string; message: string }> {
  const entries: IocEntry[] = [];
  for (const raw of values) {
    const v = raw.trim();
    let r: Result<IocEntry, string>;
    const kindPrefix = /^([a-z0-9]+):(.*)$/s.exec(v);
    if (HEX64.test(v)) r = parseIocLine("sha256", v, "--ioc");
    else if (parseIp(v)) r = parseIocLine("ip", v, "--ioc");
    else if (v.includes("/") && parseCidr(v) && !v.startsWith("/"))
      r = parseIocLine("cidr", v, "--ioc");
    else if (kindPrefix && (IOC_KINDS as readonly string[]).includes(kindPrefix[1]!)) {
      r = parseIocLine(kindPrefix[1]!, kindPrefix[2]!, "--ioc");
    } else if (v.startsWith("/")) r = parseIocLine("path", v, "--ioc");
    else r = parseIocLine("name", v, "--ioc");
    if (!r.ok) return err({ arg: raw, message: `--ioc ${JSON.stringify(raw)}: ${r.error}` });
    entries.push(r.value);
  }
  return ok(iocSetOf(entries));
}

function basename(p: string): string {
  const i = p.lastIndexOf("/");
  return i === -1 ? p : p.slice(i + 1);
}

export interface IocMatch {
  entry: IocEntry;
  /** What matched: "sha256", "exe path", "comm", "argv[0]", "exe name", "command line". */
  field: string;
}

/** Every IOC a process matches: hash, exe path, names (comm, argv[0], exe basename), regexes. */
export function matchProcess(iocs: IocSet, p: Process): IocMatch[] {
  const out: IocMatch[] = [];
  const hit = (entry: IocEntry | undefined, field: string) => {
    if (entry && !out.some((m) => m.entry === entry)) out.push({ entry, field });
  };
  if (p.exe.sha256) hit(iocs.sha256.get(p.exe.sha256), "sha256");
  if (p.exe.path) {
    hit(iocs.paths.get(p.exe.path), "exe path");
    hit(iocs.names.get(basename(p.exe.path)), "exe name");
  }
  hit(iocs.names.get(p.comm), "comm");
  const argv0 = p.argv[0];
  if (argv0) {
    hit(iocs.paths.get(argv0), "argv[0]");
    hit(iocs.names.get(basename(argv0)), "argv[0]");
  }
  if (iocs.regexes.length) {
    const cmdline = p.argv.join(" ");
    for (const { re, entry } of iocs.regexes) {
      re.lastIndex = 0;
      if (cmdline && re.test(cmdline.slice(0, 8192))) hit(entry, "command line");
      else if (p.exe.path && re.test(p.exe.path)) hit(entry, "exe path");
    }
  }
  return out;
}

/** The IOC (ip or cidr) an address matches, if any. */
export function matchAddress(iocs: IocSet, address: string): IocEntry | null {
  if (!iocs.ips.length && !iocs.cidrs.length) return null;
  const b = parseIp(address);
  if (!b) return null;
  for (const { bytes, entry } of iocs.ips) if (sameIp(bytes, b)) return entry;
  for (const { cidr, entry } of iocs.cidrs) if (cidrContains(cidr, b)) return entry;
  return null;
}

/** "sha256:abc… (iocs.txt:3)", for evidence. */
export function describeIoc(e: IocEntry): string {
  const v = e.kind === "sha256" ? `${e.value.slice(0, 16)}…` : e.value;
  return `${e.kind}:${v} (${e.origin})`;
}
