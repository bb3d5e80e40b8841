/** Socket rules: raw sockets in containers, unpublished listeners, mining-pool ports. */
import type { Evidence, Finding } from "../../model/finding.js";
import type { Container, Snapshot, Socket } from "../../model/snapshot.js";
import type { RuleContext } from "../context.js";
import { containAdvice, finding, indexOf } from "../facts.js";
import { isLocalOrUnspecified, isUnspecified } from "../ioc/ip.js";
import { suspiciousProcesses } from "./process-traits.js";
import { socketPlace } from "./traffic.js";

function sockText(s: Socket): string {
  const remote = s.remotePort ? ` -> ${s.remoteAddress}:${s.remotePort}` : "";
  return `${s.proto} ${s.localAddress}:${s.localPort}${remote} ${s.state}`;
}

function holders(snap: Snapshot, s: Socket): string {
  const idx = indexOf(snap);
  return s.pids.map((pid) => `${idx.byPid.get(pid)?.comm ?? "?"}(${pid})`).join(", ") || "unknown";
}

function socketEvidence(snap: Snapshot, s: Socket, extra?: Record<string, string>): Evidence {
  const ev: Evidence = {
    text: sockText(s),
    facts: { holders: holders(snap, s), inode: String(s.inode), ...extra },
  };
  if (s.pids[0] !== undefined) ev.pid = s.pids[0];
  return ev;
}

function heldBySuspicious(s: Socket, suspicious: ReadonlyMap<number, string[]>): boolean {
  return s.pids.some((p) => suspicious.has(p));
}

function groupByPlace(snap: Snapshot, socks: readonly Socket[]) {
  const groups = new Map<string, { where: string; containerId: string | null; socks: Socket[] }>();
  for (const s of socks) {
    const place = socketPlace(snap, s);
    let g = groups.get(place.where);
    if (!g) {
      g = { ...place, socks: [] };
      groups.set(place.where, g);
    }
    g.socks.push(s);
  }
  return [...groups.values()];
}

export function rawSocketRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const suspicious = suspiciousProcesses(snap, ctx);
  const raw = snap.sockets.filter((s) => s.proto.startsWith("raw"));
  return groupByPlace(snap, raw)
    .filter((g) => g.containerId !== null)
    .map((g) => {
      const bad = g.socks.some((s) => heldBySuspicious(s, suspicious));
      return finding({
        rule: "socket.raw-in-container",
        severity: bad ? "high" : "medium",
        confidence: "medium",
        title: `${g.where} holds ${g.socks.length} raw socket${g.socks.length > 1 ? "s" : ""} (${g.socks.map((s) => holders(snap, s)).join("; ")})`,
        where: g.where,
        containerId: g.containerId,
        evidence: g.socks.slice(0, 20).map((s) => socketEvidence(snap, s)),
        next: `Raw sockets forge packets (SYN floods, spoofing). A ping is harmless; anything else: ${containAdvice(g.where)} Drop CAP_NET_RAW from this container.`,
      });
    });
}

function isListening(s: Socket): boolean {
  if (s.proto.startsWith("tcp")) return s.state === "LISTEN";
  // An unconnected UDP socket is its listener; the kernel prints state 07 (CLOSE) for it.
  return s.proto.startsWith("udp") && s.remotePort === 0;
}

function declares(c: Container, s: Socket): boolean {
  const proto = s.proto.replace(/6$/, "");
  return c.ports.some((p) => p.containerPort === s.localPort && p.protocol.toLowerCase() === proto);
}

export function unpublishedListenerRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const suspicious = suspiciousProcesses(snap, ctx);
  const idx = indexOf(snap);
  const candidates = snap.sockets.filter((s) => {
    if (!isListening(s) || !isUnspecified(s.localAddress)) return false;
    const cid = socketPlace(snap, s).containerId;
    const c = cid ? idx.containerById.get(cid) : undefined;
    // On the host network there is nothing to publish: container.host-network covers it.
    return c !== undefined && c.networkMode !== "host" && !declares(c, s);
  });
  return groupByPlace(snap, candidates).map((g) => {
    const bad = g.socks.some((s) => heldBySuspicious(s, suspicious));
    const ports = [...new Set(g.socks.map((s) => `${s.localPort}/${s.proto.replace(/6$/, "")}`))];
    return finding({
      rule: "socket.unpublished-listener",
      severity: bad ? "high" : "low",
      confidence: bad ? "medium" : "low",
      title: `${g.where} listens on all interfaces on ${ports.join(", ")}, which its config neither publishes nor exposes`,
      where: g.where,
      containerId: g.containerId,
      evidence: g.socks.slice(0, 20).map((s) => socketEvidence(snap, s)),
      next: bad
        ? `A suspicious process listens: a bind shell or a backdoor. ${containAdvice(g.where)}`
        : "Check which program listens and why; other containers on its networks can reach it.",
    });
  });
}

export function miningPortRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const suspicious = suspiciousProcesses(snap, ctx);
  const hits = snap.sockets.filter(
    (s) =>
      // rules/mining-ports.json
      ctx.lists.miningPorts.has(s.remotePort) &&
      s.state !== "LISTEN" &&
      !isLocalOrUnspecified(s.remoteAddress),
  );
  return groupByPlace(snap, hits).map((g) => {
    const bad = g.socks.some((s) => heldBySuspicious(s, suspicious));
    return finding({
      rule: "socket.mining-port",
      severity: "high",
      confidence: bad ? "high" : "medium",
      title: `${g.where === "host" ? "the host" : g.where} connects to mining-pool port${g.socks.length > 1 ? "s" : ""} ${[...new Set(g.socks.map((s) => `${s.remoteAddress}:${s.remotePort}`))].slice(0, 3).join(", ")}`,
      where: g.where,
      containerId: g.containerId,
      evidence: g.socks.slice(0, 20).map((s) => socketEvidence(snap, s)),
      next: `Stratum pools use these ports (4444 is also Metasploit's). Identify the process (${g.socks.map((s) => holders(snap, s)).join("; ")}). ${containAdvice(g.where)}`,
    });
  });
}
