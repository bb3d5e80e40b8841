/**
 * Traffic: a container or network namespace sending packets above a threshold (the
 * incident: `wate` turned the host into a DDoS source), far above its peers, or
 * talking to many destinations on one port (a flood or a scan).
 *
 * Loopback counts: the lab's flood goes to 127.0.0.1 inside a `--network none`
 * container. On the host's own namespace, loopback-only traffic is local chatter (a
 * database, a proxy) and is reported lower unless a suspicious process lives there.
 */
import type { Finding } from "../../model/finding.js";
import type { Process, Snapshot, Socket } from "../../model/snapshot.js";
import { type RuleContext, thresholdsOf } from "../context.js";
import { containAdvice, finding, indexOf, processEvidence } from "../facts.js";
import { isLocalOrUnspecified } from "../ioc/ip.js";
import { suspiciousProcesses } from "./process-traits.js";

interface Place {
  where: string;
  containerId: string | null;
  netns: number | null;
  tx: number;
  /** Packets/s sent on interfaces other than lo. */
  txOffLoopback: number;
  rx: number;
  host: boolean;
  procs: Process[];
}

function sum(xs: readonly number[]): number {
  return xs.reduce((a, b) => a + b, 0);
}

function median(xs: readonly number[]): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Every place with a measured rate: containers (own figures or their netns) and other namespaces. */
export function trafficPlaces(snap: Snapshot): Place[] {
  const places: Place[] = [];
  const claimed = new Set<number>();
  for (const c of snap.containers) {
    const ns = snap.netns.find((n) => n.containerIds.includes(c.id) && !n.host);
    const procs = snap.processes.filter((p) => p.containerId === c.id);
    if (ns) claimed.add(ns.inode);
    const nsRates = ns?.rates ?? [];
    if (c.traffic) {
      const offLo = sum(nsRates.filter((r) => r.name !== "lo").map((r) => r.txPacketsPerSec));
      places.push({
        where: c.name,
        containerId: c.id,
        netns: ns?.inode ?? null,
        tx: c.traffic.txPacketsPerSec,
        txOffLoopback: nsRates.length ? offLo : c.traffic.txPacketsPerSec,
        rx: c.traffic.rxPacketsPerSec,
        host: false,
        procs,
      });
    } else if (nsRates.length) {
      places.push({
        where: c.name,
        containerId: c.id,
        netns: ns!.inode,
        tx: sum(nsRates.map((r) => r.txPacketsPerSec)),
        txOffLoopback: sum(nsRates.filter((r) => r.name !== "lo").map((r) => r.txPacketsPerSec)),
        rx: sum(nsRates.map((r) => r.rxPacketsPerSec)),
        host: false,
        procs,
      });
    }
  }
  for (const ns of snap.netns) {
    if (claimed.has(ns.inode) || !ns.rates.length || ns.containerIds.length) continue;
    places.push({
      where: "host",
      containerId: null,
      netns: ns.inode,
      tx: sum(ns.rates.map((r) => r.txPacketsPerSec)),
      txOffLoopback: sum(ns.rates.filter((r) => r.name !== "lo").map((r) => r.txPacketsPerSec)),
      rx: sum(ns.rates.map((r) => r.rxPacketsPerSec)),
      host: ns.host,
      procs: snap.processes.filter((p) => !p.containerId && p.ns.net === ns.inode),
    });
  }
  return places;
}

function label(p: Place): string {
  if (p.containerId) return p.where;
  return p.host ? "the host" : `network namespace ${p.netns} on the host`;
}

/**
 * 12,345 like toLocaleString("en-US"), without it: its first call loads ICU's number formats,
 * 60-120 ms of every triage here (a CPU profile), for a comma every three digits.
 */
export function fmt(n: number): string {
  const r = Math.round(n);
  if (!Number.isSafeInteger(r) || r < 0 || Object.is(r, -0)) return r.toLocaleString("en-US");
  return String(r).replace(/\B(?=(\d{3})+$)/g, ",");
}

export function trafficRateRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const t = thresholdsOf(ctx);
  const suspicious = suspiciousProcesses(snap, ctx);
  const places = trafficPlaces(snap);
  const out: Finding[] = [];
  // Only a process holding a socket can send: a suspicious neighbour without one (a sandbox
  // run from a memfd) is not the sender. If no socket names its holders (the fd scan
  // failed), every suspicious process stays a candidate.
  const holders = new Set(snap.sockets.flatMap((s) => s.pids));
  for (const place of places) {
    const bad = place.procs.filter(
      (p) => suspicious.has(p.pid) && (holders.size === 0 || holders.has(p.pid)),
    );
    const facts = {
      tx: `${fmt(place.tx)} pkt/s`,
      txOffLoopback: `${fmt(place.txOffLoopback)} pkt/s`,
      rx: `${fmt(place.rx)} pkt/s`,
      ...(place.netns !== null ? { netns: String(place.netns) } : {}),
    };
    const udp = udpSocketsOf(snap, bad);
    const evidence = [
      { facts },
      ...bad
        .slice(0, 10)
        .map((p) => processEvidence(p, { why: suspicious.get(p.pid)!.join(", ") })),
      ...udp.slice(0, 5).map((s) => ({
        facts: {
          socket: `${s.proto} ${s.localAddress}:${s.localPort} -> ${s.remoteAddress}:${s.remotePort}`,
          pids: s.pids.join(","),
        },
      })),
    ];
    if (place.tx >= t.txPacketsPerSec) {
      const loopbackOnHost = place.host && place.txOffLoopback < t.txPacketsPerSec;
      const severity = bad.length ? "critical" : loopbackOnHost ? "medium" : "high";
      const what = udp.length ? "a UDP flood" : "a flood";
      out.push(
        finding({
          rule: "traffic.flood",
          severity,
          confidence: bad.length ? "high" : "medium",
          title: `${label(place)} sends ${fmt(place.tx)} packets/s${
            bad.length
              ? `: ${what} from ${bad
                  .map((p) => `${p.comm} (pid ${p.pid})`)
                  .slice(0, 3)
                  .join(", ")}`
              : ""
          }`,
          where: place.where,
          containerId: place.containerId,
          evidence,
          next: bad.length
            ? `${containAdvice(place.where)} Expect an abuse report from the hoster: note the time and rate.`
            : `Find the sender (per-process sockets, \`breachkit watch\`); if it is not a known bulk sender, ${place.where === "host" ? "isolate the host" : `contain ${place.where}`}.`,
        }),
      );
      continue;
    }
    const others = places.filter((o) => o !== place).map((o) => o.tx);
    if (
      others.length >= 2 &&
      place.tx >= t.peerMinPacketsPerSec &&
      place.tx >= t.peerFactor * Math.max(median(others), 1)
    ) {
      out.push(
        finding({
          rule: "traffic.outlier",
          severity: bad.length ? "high" : "medium",
          confidence: "low",
          title: `${label(place)} sends ${fmt(place.tx)} packets/s, far above its peers (median ${fmt(median(others))})`,
          where: place.where,
          containerId: place.containerId,
          evidence,
          next: "Watch it for a minute (`breachkit watch`) and find which process sends.",
        }),
      );
    }
  }
  return out;
}

function udpSocketsOf(snap: Snapshot, procs: readonly Process[]): Socket[] {
  if (!procs.length) return [];
  const pids = new Set(procs.map((p) => p.pid));
  return snap.sockets.filter((s) => s.proto.startsWith("udp") && s.pids.some((p) => pids.has(p)));
}

/** "host" or the container a socket belongs to (by its own id, else by a holder's). */
export function socketPlace(
  snap: Snapshot,
  s: Socket,
): { where: string; containerId: string | null } {
  const idx = indexOf(snap);
  let cid = s.containerId;
  if (!cid) {
    for (const pid of s.pids) {
      const p = idx.byPid.get(pid);
      if (p?.containerId) {
        cid = p.containerId;
        break;
      }
    }
  }
  if (!cid) return { where: "host", containerId: null };
  return { where: idx.containerById.get(cid)?.name ?? cid.slice(0, 12), containerId: cid };
}

export function destinationsPerPortRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const t = thresholdsOf(ctx);
  const groups = new Map<
    string,
    { where: string; containerId: string | null; port: number; socks: Socket[] }
  >();
  for (const s of snap.sockets) {
    if (s.state === "LISTEN" || s.remotePort === 0 || isLocalOrUnspecified(s.remoteAddress))
      continue;
    const place = socketPlace(snap, s);
    const key = `${place.where}\0${s.remotePort}`;
    let g = groups.get(key);
    if (!g) {
      g = { ...place, port: s.remotePort, socks: [] };
      groups.set(key, g);
    }
    g.socks.push(s);
  }
  const out: Finding[] = [];
  for (const g of groups.values()) {
    const dests = new Set(g.socks.map((s) => s.remoteAddress));
    if (dests.size < t.destinationsPerPort) continue;
    const synSent = g.socks.filter((s) => s.state === "SYN_SENT").length;
    const mostlySyn = synSent * 2 >= g.socks.length;
    const pids = [...new Set(g.socks.flatMap((s) => s.pids))];
    out.push(
      finding({
        rule: "traffic.many-destinations",
        severity: mostlySyn ? "high" : "medium",
        confidence: "medium",
        title: `${g.where === "host" ? "the host" : g.where} talks to ${dests.size} addresses on port ${g.port}${mostlySyn ? `, ${synSent} half-open (SYN flood or scan)` : ""}`,
        where: g.where,
        containerId: g.containerId,
        evidence: [
          {
            facts: {
              port: String(g.port),
              destinations: String(dests.size),
              sockets: String(g.socks.length),
              synSent: String(synSent),
              pids: pids.slice(0, 20).join(","),
            },
          },
          ...[...dests].slice(0, 10).map((d) => ({ text: `${d}:${g.port}` })),
        ],
        next: `Identify the process (pids ${pids.slice(0, 5).join(", ") || "unknown"}). ${containAdvice(g.where)}`,
      }),
    );
  }
  return out;
}
