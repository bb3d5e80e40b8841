/**
 * Parser for the socket tables /proc/<pid>/net/{tcp,tcp6,udp,udp6,raw,raw6}, which show the
 * sockets of that process's network namespace.
 */

export type NetProto = "tcp" | "tcp6" | "udp" | "udp6" | "raw" | "raw6";

export const NET_PROTOS: readonly NetProto[] = ["tcp", "tcp6", "udp", "udp6", "raw", "raw6"];

export interface NetTableEntry {
  proto: NetProto;
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  state: string;
  txQueue: number;
  rxQueue: number;
  uid: number;
  inode: number;
}

/**
 * The kernel prints every protocol's state with the TCP state numbers (include/net/tcp_states.h).
 * An unconnected UDP or raw socket shows 07 (CLOSE); a connected one 01 (ESTABLISHED).
 */
const STATES: Readonly<Record<number, string>> = {
  1: "ESTABLISHED",
  2: "SYN_SENT",
  3: "SYN_RECV",
  4: "FIN_WAIT1",
  5: "FIN_WAIT2",
  6: "TIME_WAIT",
  7: "CLOSE",
  8: "CLOSE_WAIT",
  9: "LAST_ACK",
  10: "LISTEN",
  11: "CLOSING",
  12: "NEW_SYN_RECV",
};

export function tcpStateName(code: number): string {
  return STATES[code] ?? `UNKNOWN(${code.toString(16).toUpperCase().padStart(2, "0")})`;
}

const HEX8 = /^[0-9A-Fa-f]{8}$/;
const HEX32 = /^[0-9A-Fa-f]{32}$/;

/** The bytes of one 32-bit word printed by the kernel as a host-order (little-endian) number. */
function wordBytes(hex: string): number[] {
  const v = Number.parseInt(hex, 16);
  return [v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff];
}

/** 8 hex digits of /proc/net/tcp (`0100007F`) to dotted IPv4 (`127.0.0.1`); null if malformed. */
export function hexToIpv4(hex: string): string | null {
  if (!HEX8.test(hex)) return null;
  return wordBytes(hex).join(".");
}

/** Canonical RFC 5952 text of 16 address bytes: lowercase, longest zero run as "::". */
export function formatIpv6(bytes: readonly number[]): string {
  if (
    bytes.length === 16 &&
    bytes.slice(0, 10).every((b) => b === 0) &&
    bytes[10] === 0xff &&
    bytes[11] === 0xff
  ) {
    return `::ffff:${bytes.slice(12).join(".")}`;
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // Find the longest run of zero groups (length >= 2; the first one on ties).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(":");
  const head = hex.slice(0, bestStart).join(":");
  const tail = hex.slice(bestStart + bestLen).join(":");
  return `${head}::${tail}`;
}

/**
 * 32 hex digits of /proc/net/tcp6 to IPv6 text. The kernel prints the address as four
 * 32-bit words, each in host byte order: on little-endian machines every group of 8 hex
 * digits is byte-reversed (`00000000000000000000000001000000` is ::1).
 */
export function hexToIpv6(hex: string): string | null {
  if (!HEX32.test(hex)) return null;
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) bytes.push(...wordBytes(hex.slice(w * 8, w * 8 + 8)));
  return formatIpv6(bytes);
}

function endpoint(field: string | undefined, v6: boolean): [string, number] | null {
  if (field === undefined) return null;
  const [addrHex, portHex] = field.split(":");
  if (addrHex === undefined || portHex === undefined || !/^[0-9A-Fa-f]{4}$/.test(portHex)) {
    return null;
  }
  const addr = v6 ? hexToIpv6(addrHex) : hexToIpv4(addrHex);
  return addr === null ? null : [addr, Number.parseInt(portHex, 16)];
}

function queues(field: string | undefined): [number, number] | null {
  const m = /^([0-9A-Fa-f]{8}):([0-9A-Fa-f]{8})$/.exec(field ?? "");
  if (m?.[1] === undefined || m[2] === undefined) return null;
  return [Number.parseInt(m[1], 16), Number.parseInt(m[2], 16)];
}

function decimal(field: string | undefined): number | null {
  if (field === undefined || !/^\d{1,15}$/.test(field)) return null;
  return Number(field);
}

/**
 * Parse one table. Lines that do not have the expected shape (a header, a truncated last
 * line, garbage) are skipped: one bad line never costs the others.
 */
export function parseNetTable(text: string, proto: NetProto): NetTableEntry[] {
  const v6 = proto.endsWith("6");
  const out: NetTableEntry[] = [];
  for (const line of text.split("\n")) {
    // sl, local, remote, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode, ...
    const f = line.trim().split(/\s+/);
    if (!/^\d+:$/.test(f[0] ?? "")) continue;
    const local = endpoint(f[1], v6);
    const remote = endpoint(f[2], v6);
    const st = /^[0-9A-Fa-f]{2}$/.test(f[3] ?? "") ? Number.parseInt(f[3] ?? "", 16) : null;
    const q = queues(f[4]);
    const uid = decimal(f[7]);
    const inode = decimal(f[9]);
    if (local === null || remote === null || st === null || q === null) continue;
    if (uid === null || inode === null) continue;
    out.push({
      proto,
      localAddress: local[0],
      localPort: local[1],
      remoteAddress: remote[0],
      remotePort: remote[1],
      state: tcpStateName(st),
      txQueue: q[0],
      rxQueue: q[1],
      uid,
      inode,
    });
  }
  return out;
}
