/**
 * The baseline items a snapshot already holds: UID 0 accounts, sudo rules, authorized keys,
 * listening sockets, containers and the executables running. Pure: `baseline save` adds what a
 * snapshot does not read (SUID files, cron, systemd units, kernel modules, image tags), and
 * `triage --baseline` compares these kinds only.
 */
import type { BaselineItem, BaselineKind } from "./baseline.js";
import type { Snapshot } from "./snapshot.js";

export const SNAPSHOT_KINDS: readonly BaselineKind[] = [
  "uid0",
  "sudo",
  "key",
  "listen",
  "container",
  "exe",
];

const WILDCARD = new Set(["0.0.0.0", "::", "0000:0000:0000:0000:0000:0000:0000:0000"]);

/** One rule's text with runs of blanks made one space, so re-indenting is no drift. */
export function squash(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** A loopback address: 127.0.0.0/8 or ::1 (IPv4-mapped too). */
export function isLoopback(address: string): boolean {
  const a = address.toLowerCase().replace(/^::ffff:/, "");
  return a.startsWith("127.") || a === "::1";
}

export function isWildcard(address: string): boolean {
  return WILDCARD.has(address);
}

export interface SnapshotItems {
  items: BaselineItem[];
  placesRead: string[];
}

export function itemsFromSnapshot(s: Snapshot): SnapshotItems {
  const items: BaselineItem[] = [];
  const placesRead = new Set<string>(["host"]);
  const nameOf = new Map(s.containers.map((c) => [c.id, c.name]));
  const placeOf = (containerId: string | null): string =>
    containerId === null ? "host" : (nameOf.get(containerId) ?? containerId.slice(0, 12));

  for (const acc of s.accounts) {
    placesRead.add(acc.scope);
    for (const u of acc.users) {
      if (u.uid !== 0) continue;
      items.push({
        kind: "uid0",
        place: acc.scope,
        key: u.name,
        value: "",
        facts: { shell: u.shell, home: u.home, password: u.password },
      });
    }
    for (const r of acc.sudo) {
      items.push({
        kind: "sudo",
        place: acc.scope,
        key: `${r.file}: ${squash(r.text)}`,
        value: "",
        facts: { file: r.file, line: String(r.line) },
      });
    }
    for (const f of acc.authorizedKeys) {
      for (const k of f.keys) {
        items.push({
          kind: "key",
          place: acc.scope,
          key: `${f.user} ${k.fingerprint}`,
          value: "",
          facts: { user: f.user, path: f.path, type: k.type, comment: k.comment },
        });
      }
    }
  }

  const hostNs = new Set(s.netns.filter((n) => n.host).map((n) => n.inode));
  const seen = new Set<string>();
  for (const so of s.sockets) {
    const tcp = so.proto === "tcp" || so.proto === "tcp6";
    const udp = so.proto === "udp" || so.proto === "udp6";
    const listening = (tcp && so.state === "LISTEN") || (udp && so.remotePort === 0);
    if (!listening) continue;
    // A socket of a namespace that is neither the host's nor a container's (a sandbox of some
    // program) has no stable place to compare by.
    if (so.containerId === null && so.netns !== null && hostNs.size > 0 && !hostNs.has(so.netns))
      continue;
    const place = placeOf(so.containerId);
    const key = `${so.proto} ${so.localAddress}:${so.localPort}`;
    const id = `${place}\u0000${key}`;
    if (seen.has(id)) continue;
    seen.add(id);
    items.push({
      kind: "listen",
      place,
      key,
      value: "",
      facts: {
        address: so.localAddress,
        port: String(so.localPort),
        proto: so.proto,
        uid: String(so.uid),
        pids: so.pids.slice(0, 10).join(","),
      },
    });
  }

  for (const c of s.containers) {
    if (c.running) placesRead.add(c.name);
    items.push({
      kind: "container",
      place: c.name,
      key: c.name,
      value: c.imageId,
      facts: {
        id: c.id,
        image: c.image,
        imageId: c.imageId,
        privileged: String(c.privileged),
        mounts: c.mounts
          .map((m) => `${m.source}:${m.destination}:${m.rw ? "rw" : "ro"}`)
          .sort()
          .join(" "),
        ports: c.ports
          .filter((p) => p.hostPort !== null)
          .map((p) => `${p.hostIp ?? ""}:${p.hostPort}->${p.containerPort}/${p.protocol}`)
          .sort()
          .join(" "),
        capAdd: [...c.capAdd].sort().join(","),
        networkMode: c.networkMode,
        pidMode: c.pidMode,
      },
    });
  }

  const exeSeen = new Set<string>();
  for (const p of s.processes) {
    if (p.kernelThread || p.self || p.exe.path === null) continue;
    const place = placeOf(p.containerId);
    const key = p.exe.deleted && !p.exe.memfd ? `${p.exe.path} (deleted)` : p.exe.path;
    const value = p.exe.sha256 ?? "";
    const id = `${place}\u0000${key}\u0000${value}`;
    if (exeSeen.has(id)) continue;
    exeSeen.add(id);
    items.push({
      kind: "exe",
      place,
      key,
      value,
      facts: { pid: String(p.pid), comm: p.comm, user: p.user ?? String(p.uid) },
    });
  }
  return { items, placesRead: [...placesRead] };
}
