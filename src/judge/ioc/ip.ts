/**
 * IP addresses and CIDR blocks as 16 bytes (IPv4 as IPv4-mapped IPv6), so one comparison
 * covers "1.2.3.4", "::ffff:1.2.3.4" (how a dual-stack socket shows an IPv4 peer) and v6.
 */

export interface Cidr {
  /** As written in the IOC, for evidence. */
  text: string;
  bytes: Uint8Array;
  /** Prefix length over the 128-bit form (an IPv4 /24 is 120). */
  prefix: number;
}

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseV4(s: string): number[] | null {
  const m = V4.exec(s);
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((n, i) => n > 255 || (m[i + 1]!.length > 1 && m[i + 1]!.startsWith("0")))) {
    return null;
  }
  return parts;
}

/** Parse an IPv4 or IPv6 address (no zone, no brackets); null when invalid. */
export function parseIp(input: string): Uint8Array | null {
  const s = input.trim();
  const v4 = parseV4(s);
  if (v4) return Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, ...v4]);
  if (!s.includes(":") || s.length > 45) return null;
  let head = s;
  let tailV4: number[] | null = null;
  const lastColon = s.lastIndexOf(":");
  if (s.slice(lastColon + 1).includes(".")) {
    tailV4 = parseV4(s.slice(lastColon + 1));
    if (!tailV4) return null;
    head = `${s.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return null;
  const parseGroups = (part: string): number[] | null => {
    if (part === "") return [];
    const out: number[] = [];
    for (const g of part.split(":")) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(Number.parseInt(g, 16));
    }
    return out;
  };
  const left = parseGroups(halves[0]!);
  const right = halves.length === 2 ? parseGroups(halves[1]!) : [];
  if (!left || !right) return null;
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const groups = [...left, ...new Array<number>(missing).fill(0), ...right];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => {
    bytes[i * 2] = g >> 8;
    bytes[i * 2 + 1] = g & 0xff;
  });
  if (tailV4) bytes.set(tailV4, 12);
  return bytes;
}

export function isIpv4Mapped(b: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (b[i] !== 0) return false;
  return b[10] === 0xff && b[11] === 0xff;
}

/** Parse "a.b.c.d/n" or "v6/n"; a bare address is a /32 or /128. Null when invalid. */
export function parseCidr(input: string): Cidr | null {
  const text = input.trim();
  const slash = text.indexOf("/");
  const addr = slash === -1 ? text : text.slice(0, slash);
  const bytes = parseIp(addr);
  if (!bytes) return null;
  const v4 = !addr.includes(":");
  const max = v4 ? 32 : 128;
  let prefix = max;
  if (slash !== -1) {
    const p = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(p)) return null;
    prefix = Number(p);
    if (prefix > max) return null;
  }
  return { text, bytes, prefix: v4 ? prefix + 96 : prefix };
}

export function cidrContains(cidr: Cidr, ip: Uint8Array): boolean {
  let bits = cidr.prefix;
  for (let i = 0; i < 16 && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((cidr.bytes[i]! & mask) !== (ip[i]! & mask)) return false;
  }
  return true;
}

export function sameIp(a: Uint8Array, b: Uint8Array): boolean {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Loopback (127/8, ::1), unspecified (0.0.0.0, ::): never a remote peer worth matching. */
export function isLocalOrUnspecified(address: string): boolean {
  const b = parseIp(address);
  if (!b) return false;
  if (isIpv4Mapped(b))
    return b[12] === 127 || (b[12] === 0 && b[13] === 0 && b[14] === 0 && b[15] === 0);
  const zeroHead = b.subarray(0, 15).every((x) => x === 0);
  return zeroHead && (b[15] === 0 || b[15] === 1);
}

/** 0.0.0.0, :: or ::ffff:0.0.0.0: bound on every interface. */
export function isUnspecified(address: string): boolean {
  const b = parseIp(address);
  if (!b) return false;
  const from = isIpv4Mapped(b) ? 12 : 0;
  for (let i = from; i < 16; i++) if (b[i] !== 0) return false;
  return true;
}

/** The IPv4 dotted form of an address (mapped or plain), else null. */
export function ipv4Text(address: string): string | null {
  const b = parseIp(address);
  return b && isIpv4Mapped(b) ? `${b[12]}.${b[13]}.${b[14]}.${b[15]}` : null;
}
