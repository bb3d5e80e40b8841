/**
 * The compact human summary of a snapshot: what a tired admin reads instead of
 * `ps aux`, `docker ps` and `last`. Renders only what it is given.
 */

import type { Snapshot } from "../model/snapshot.js";
import type { Colors } from "../util/colors.js";
import { safeText } from "../util/sanitize.js";

function rate(n: number | undefined): string {
  if (n === undefined) return "-";
  if (n >= 1_000_000) return `${(n / 1_000_000).toFixed(1)}M`;
  if (n >= 10_000) return `${Math.round(n / 1000)}k`;
  if (n >= 1000) return `${(n / 1000).toFixed(1)}k`;
  return n.toFixed(0);
}

function pad(s: string, n: number): string {
  return s.length >= n ? s : s + " ".repeat(n - s.length);
}

const DAY = 86_400_000;

export function renderSnapshotSummary(
  snap: Snapshot,
  c: Colors,
  opts: { recentDays?: number } = {},
) {
  const lines: string[] = [];
  const h = snap.host;
  lines.push(
    `${c.bold(safeText(h.hostname))}  kernel ${safeText(h.kernel)}  booted ${h.bootTime ?? "?"}  snapshot ${snap.takenAt} (${snap.durationMs} ms)`,
  );
  const e = snap.engine;
  lines.push(
    e.available
      ? `Docker ${e.version ?? "?"} (API ${e.apiVersion ?? "?"}, ${e.storageDriver ?? "?"}) at ${e.endpoint}`
      : c.yellow(`Docker engine not answering at ${e.endpoint}: ${safeText(e.error ?? "")}`),
  );
  const host = snap.processes.filter((p) => p.containerId === null);
  lines.push(
    `${snap.processes.length} processes (${host.length} on the host, ${snap.processes.length - host.length} in containers), ${snap.sockets.length} sockets in ${snap.netns.length} network namespaces`,
  );

  if (snap.containers.length > 0) {
    lines.push("", c.bold("Containers"));
    const withRates = snap.intervalSeconds !== null;
    lines.push(
      c.dim(
        `  ${pad("NAME", 24)} ${pad("STATE", 10)} ${pad("PROCS", 6)} ${withRates ? `${pad("TX pkt/s", 9)} ${pad("RX pkt/s", 9)} ` : ""}NOTES`,
      ),
    );
    for (const ct of snap.containers) {
      const procs = snap.processes.filter((p) => p.containerId === ct.id);
      const notes: string[] = [];
      if (ct.privileged) notes.push(c.red("privileged"));
      if (ct.mounts.some((m) => m.dockerSocket)) notes.push(c.red("docker socket"));
      if (ct.networkMode === "host") notes.push(c.yellow("host network"));
      if (ct.pidMode === "host") notes.push(c.yellow("host pid"));
      const deleted = procs.filter((p) => p.exe.deleted && !p.kernelThread);
      if (deleted.length > 0) notes.push(c.red(`${deleted.length} deleted executable(s)`));
      const image = safeText(ct.image, 40);
      notes.push(c.dim(image));
      lines.push(
        `  ${pad(safeText(ct.name, 24), 24)} ${pad(ct.state, 10)} ${pad(String(procs.length), 6)} ${
          withRates
            ? `${pad(rate(ct.traffic?.txPacketsPerSec), 9)} ${pad(rate(ct.traffic?.rxPacketsPerSec), 9)} `
            : ""
        }${notes.join(", ")}`,
      );
    }
  }

  const now = Date.parse(snap.takenAt);
  const recentDays = opts.recentDays ?? 7;
  const accountNotes: string[] = [];
  for (const a of snap.accounts) {
    for (const u of a.users) {
      const changed = u.lastChange ? Date.parse(u.lastChange) : Number.NaN;
      const recent = Number.isFinite(changed) && now - changed < recentDays * DAY;
      if (u.uid === 0 && u.name !== "root") {
        accountNotes.push(`  ${c.red("uid 0")} ${safeText(u.name)} in ${safeText(a.scope)}`);
      } else if (recent && a.scope === "host") {
        accountNotes.push(
          `  ${safeText(u.name)} (uid ${u.uid}) password changed ${u.lastChange} in ${safeText(a.scope)}`,
        );
      }
    }
    const sudoers = a.groups
      .filter((g) => g.name === "sudo" || g.name === "wheel" || g.name === "admin")
      .flatMap((g) => g.members);
    if (sudoers.length > 0 && a.scope === "host") {
      accountNotes.push(`  sudo group: ${sudoers.map((m) => safeText(m)).join(", ")}`);
    }
  }
  if (accountNotes.length > 0) {
    lines.push("", c.bold("Accounts"), ...accountNotes.slice(0, 20));
  }

  const logins = snap.accounts
    .flatMap((a) => a.logins.map((l) => ({ ...l, scope: a.scope })))
    .filter((l) => l.type === "USER_PROCESS")
    .sort((a, b) => b.time.localeCompare(a.time))
    .slice(0, 8);
  if (logins.length > 0) {
    lines.push("", c.bold("Recent logins"));
    for (const l of logins) {
      lines.push(
        `  ${l.time}  ${pad(safeText(l.user, 16), 16)} ${pad(safeText(l.tty, 8), 8)} ${safeText(l.host || l.address || "", 40)}${l.scope === "host" ? "" : c.dim(` (${safeText(l.scope)})`)}`,
      );
    }
  }
  if (snap.gaps.length > 0) {
    lines.push(
      "",
      c.dim(`${snap.gaps.length} things could not be read (see --json "gaps"), e.g.:`),
      ...snap.gaps
        .slice(0, 3)
        .map((g) => c.dim(`  ${safeText(g.source)}: ${safeText(g.message, 160)}`)),
    );
  }
  return `${lines.join("\n")}\n`;
}
