import type { InterfaceCounters } from "../../model/snapshot.js";

/**
 * Parse /proc/<pid>/net/dev: the interfaces of that process's network namespace. After two
 * header lines, each line is `name: 8 receive counters 8 transmit counters`. Interface
 * names cannot contain ':' or whitespace, but a long name and a large first counter may be
 * printed without a space between them (`veth1234567890a:123456`), so split at the colon.
 */
export function parseNetDev(text: string): InterfaceCounters[] {
  const out: InterfaceCounters[] = [];
  for (const line of text.split("\n")) {
    const colon = line.indexOf(":");
    if (colon < 0) continue;
    const name = line.slice(0, colon).trim();
    if (name === "" || /[\s|]/.test(name)) continue;
    const f = line
      .slice(colon + 1)
      .trim()
      .split(/\s+/);
    if (f.length < 16 || !f.slice(0, 16).every((x) => /^\d{1,20}$/.test(x))) continue;
    const n = f.map(Number);
    out.push({
      name,
      rxBytes: n[0] ?? 0,
      rxPackets: n[1] ?? 0,
      rxErrors: n[2] ?? 0,
      rxDrops: n[3] ?? 0,
      txBytes: n[8] ?? 0,
      txPackets: n[9] ?? 0,
      txErrors: n[10] ?? 0,
      txDrops: n[11] ?? 0,
    });
  }
  return out;
}
