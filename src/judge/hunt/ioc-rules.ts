/**
 * IOCs as hunting rules, so the same fast scanner finds them in logs: names and paths
 * as words, hashes, IP addresses, and CIDR blocks by their fixed leading octets (checked
 * exactly after the line is found). Regex IOCs have no literal to search for: they are
 * matched against processes only. IPv6 CIDRs (many textual forms) likewise.
 */

import type { IocEntry, IocSet } from "../ioc/ioc-set.js";
import { cidrContains, ipv4Text, isIpv4Mapped, parseCidr, parseIp } from "../ioc/ip.js";
import { type CompilableRule, type CompiledRuleSet, compileRules } from "./compile.js";

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
}

/** Every IOC hunted in logs is the rule `ioc.log`; its key tells the indicators apart. */
export const IOC_LOG_RULE = "ioc.log";

function base(e: IocEntry): Omit<CompilableRule, "literals" | "patterns"> {
  return {
    id: IOC_LOG_RULE,
    key: `${IOC_LOG_RULE}:${e.kind}:${e.value}`,
    title: `IOC ${e.kind}:${e.value.length > 40 ? `${e.value.slice(0, 40)}…` : e.value} (${e.origin})`,
    severity: "high",
    confidence: e.kind === "name" ? "medium" : "high",
    applies: "any",
    next: "The log of {where} mentions a known indicator: read the lines around it and contain {where} if it shows activity.",
    description: "",
    flags: "",
    threshold: 1,
    examples: [],
    counterExamples: [],
    references: [],
    file: e.origin,
  };
}

const IPV4_IN_TEXT = /(?<![\d.])(\d{1,3}(?:\.\d{1,3}){3})(?![\d.])/g;

export function iocHuntRules(iocs: IocSet): CompilableRule[] {
  const out: CompilableRule[] = [];
  for (const e of iocs.entries) {
    switch (e.kind) {
      case "name":
      case "path":
        if (Buffer.byteLength(e.value) < 3) continue;
        out.push({
          ...base(e),
          literals: [e.value],
          patterns: [`(?<![\\w.-])${escapeRe(e.value)}(?![\\w-])`],
        });
        break;
      case "sha256":
        out.push({
          ...base(e),
          literals: [e.value, e.value.toUpperCase()],
          patterns: [e.value],
          flags: "i",
        });
        break;
      case "ip": {
        const v4 = ipv4Text(e.value);
        const text = v4 ?? e.value;
        // A port may follow ("203.0.113.9:4444"), another digit or octet may not.
        const after = v4 ? "(?!\\d|\\.\\d)" : "(?![0-9A-Fa-f:])";
        out.push({
          ...base(e),
          literals: [text],
          patterns: [`(?<![\\w.:])${escapeRe(text)}${after}`],
        });
        break;
      }
      case "cidr": {
        const c = parseCidr(e.value)!;
        if (!isIpv4Mapped(c.bytes)) continue;
        const fixed = Math.floor((c.prefix - 96) / 8);
        const lead = Array.from(c.bytes.subarray(12, 12 + fixed)).join(".");
        // A /0-/7 block has no fixed octet: any IPv4 is a candidate; the literal "." is too
        // common, so such wide blocks are left to the socket matcher.
        if (fixed === 0) continue;
        out.push({
          ...base(e),
          literals: [`${lead}.`],
          patterns: [`(?<![\\d.])${escapeRe(lead)}\\.`],
          verify: (line) => {
            for (const m of line.matchAll(IPV4_IN_TEXT)) {
              const b = parseIp(m[1]!);
              if (b && cidrContains(c, b)) return true;
            }
            return false;
          },
        });
        break;
      }
      case "url":
        out.push({ ...base(e), literals: [e.value], patterns: [escapeRe(e.value)] });
        break;
      case "domain":
        // As a whole name: "evil.com" is not in "notevil.com"; a subdomain is its own IOC.
        out.push({
          ...base(e),
          literals: [e.value, e.value.toUpperCase()],
          patterns: [`(?<![\\w.-])${escapeRe(e.value)}(?![\\w-])`],
          flags: "i",
        });
        break;
      case "regex":
        break;
    }
  }
  return out;
}

/** The compiled hunting rules for an IOC set (empty set for no IOCs). */
export function compileIocRules(iocs: IocSet | undefined): CompiledRuleSet {
  return compileRules(iocs ? iocHuntRules(iocs) : []);
}
