/**
 * Drift: what the current state holds that the baseline did not, each with a severity. Pure,
 * and linear in the number of items (one index of the baseline, one pass over the present).
 *
 * - Only kinds observed in both are compared (triage's snapshot has no SUID walk, for one).
 * - A container new since the baseline is one finding: its accounts, sockets, files and
 *   programs come with it, counted in its facts, not listed one by one.
 * - A container that was not running when the baseline was saved had no inside read: what is
 *   in it now is summed up in one info finding, not reported as new.
 * - What went away is counted (`removed`), not a finding: drift is about what was added.
 */
import type { BaselineItem, BaselineKind, BaselineState } from "../../model/baseline.js";
import {
  isLoopback,
  isWildcard,
  itemsFromSnapshot,
  SNAPSHOT_KINDS,
} from "../../model/baseline-items.js";
import type { Finding, Severity } from "../../model/finding.js";
import { sortFindings } from "../../model/finding.js";
import type { Snapshot } from "../../model/snapshot.js";

/** What a diff needs of the present: the state, or the part a snapshot gives. */
export type DriftInput = Pick<BaselineState, "kinds" | "placesRead" | "items">;

export interface DriftOptions {
  /**
   * Containers whose image change breachkit update recorded: an image change there is
   * expected (info), not drift.
   */
  updatedContainers?: ReadonlySet<string>;
}

export interface DriftResult {
  findings: Finding[];
  compared: BaselineKind[];
  /** Items in the baseline that are gone now, by kind. */
  removed: Partial<Record<BaselineKind, number>>;
  itemsBefore: number;
  itemsNow: number;
}

const idOf = (i: Pick<BaselineItem, "kind" | "place" | "key">) =>
  `${i.kind}\u0000${i.place}\u0000${i.key}`;

const NEXT: Record<BaselineKind, string> = {
  uid0: "A second root account is a classic backdoor: find who added it (auth.log, wtmp), lock it (usermod -L) and collect evidence before removing it.",
  sudo: "Check who added this sudo right and why (file mtime, auth.log); remove it if nobody can explain it.",
  key: "An SSH key nobody can name is a way back in: identify its owner; remove it from the file if unknown.",
  listen:
    "Find the program behind this port (breachkit triage lists it) and whether it should listen at all.",
  suid: "A new or changed SUID/SGID file is a way to root: compare its hash with the package's (dpkg --verify) and remove the bit if it is not from a package.",
  container:
    "Check who started or changed this container (docker events, the deploy log) and with which options.",
  image:
    "An image tag that names another image without an update record may be a swapped image: check its digest and history (docker image history).",
  cron: "A new cron entry is the commonest persistence: read what it runs and who added it.",
  unit: "A new or changed systemd unit can start a program at every boot: read its ExecStart and who installed it.",
  module:
    "A kernel module loaded since the baseline can hide processes and files: check it with modinfo and the package that ships it.",
  exe: "A program that was not running on the known-good day: check what started it (breachkit triage shows the parent) and its hash.",
};

function severityNew(i: BaselineItem): Severity {
  const host = i.place === "host";
  switch (i.kind) {
    case "uid0":
      return "critical";
    case "sudo":
    case "key":
    case "suid":
    case "cron":
    case "module":
      return "high";
    case "listen": {
      const a = i.facts.address ?? "";
      if (!host) return "medium";
      if (isLoopback(a)) return "low";
      return isWildcard(a) ? "high" : "medium";
    }
    case "container": {
      const f = i.facts;
      if (f.privileged === "true" || /docker\.sock/.test(f.mounts ?? "")) return "high";
      return "medium";
    }
    case "image":
      return "low";
    case "unit":
      return i.key.startsWith("/etc/") || i.key.startsWith("/run/") ? "high" : "medium";
    case "exe":
      return host ? "low" : "medium";
  }
}

function severityChanged(i: BaselineItem): Severity {
  switch (i.kind) {
    case "image":
    case "suid":
    case "cron":
      return "high";
    case "exe":
      return i.place === "host" ? "medium" : "high";
    default:
      return "medium";
  }
}

const LABEL: Record<BaselineKind, string> = {
  uid0: "UID 0 account",
  sudo: "sudo rule",
  key: "SSH key",
  listen: "listening socket",
  suid: "SUID/SGID file",
  container: "container",
  image: "image tag",
  cron: "cron entry",
  unit: "systemd unit",
  module: "kernel module",
  exe: "program running",
};

function finding(
  i: BaselineItem,
  change: "new" | "changed",
  severity: Severity,
  title: string,
  containerIds: ReadonlyMap<string, string>,
  extra: Record<string, string> = {},
): Finding {
  const facts: Record<string, string> = { ...i.facts, kind: i.kind, item: i.key, ...extra };
  if (i.value !== "") facts.value = i.value;
  return {
    rule: `drift.${i.kind}-${change}`,
    severity,
    confidence: "high",
    title,
    where: i.place,
    containerId: i.place === "host" ? null : (containerIds.get(i.place) ?? null),
    evidence: [
      {
        ...(i.kind === "suid" || i.kind === "exe" || i.kind === "unit" ? { path: i.key } : {}),
        ...(i.facts.sha256
          ? { sha256: i.facts.sha256 }
          : i.kind === "exe" && i.value
            ? { sha256: i.value }
            : {}),
        facts,
      },
    ],
    next: NEXT[i.kind],
    source: "baseline",
    falsePositive: null,
  };
}

function containerChanges(
  before: BaselineItem,
  now: BaselineItem,
  updated: ReadonlySet<string>,
): { what: string; severity: Severity; from: string; to: string }[] {
  const out: { what: string; severity: Severity; from: string; to: string }[] = [];
  const b = before.facts;
  const n = now.facts;
  if (b.privileged !== "true" && n.privileged === "true")
    out.push({ what: "privileged turned on", severity: "critical", from: "false", to: "true" });
  if (before.value !== now.value) {
    const byUpdate = updated.has(now.place);
    out.push({
      what: byUpdate
        ? "image changed by breachkit update"
        : "image changed without an update record",
      severity: byUpdate ? "info" : "high",
      from: before.value,
      to: now.value,
    });
  }
  for (const [field, label] of [
    ["mounts", "mounts changed"],
    ["ports", "published ports changed"],
    ["capAdd", "added capabilities changed"],
    ["networkMode", "network mode changed"],
    ["pidMode", "pid mode changed"],
  ] as const) {
    if ((b[field] ?? "") !== (n[field] ?? ""))
      out.push({ what: label, severity: "medium", from: b[field] ?? "", to: n[field] ?? "" });
  }
  return out;
}

export function diffBaseline(
  base: DriftInput,
  now: DriftInput,
  opts: DriftOptions = {},
): DriftResult {
  const updated = opts.updatedContainers ?? new Set<string>();
  const nowKinds = new Set(now.kinds);
  const compared = base.kinds.filter((k) => nowKinds.has(k));
  const kinds = new Set(compared);
  const index = new Map<string, BaselineItem[]>();
  const baseContainers = new Set<string>();
  for (const i of base.items) {
    if (i.kind === "container") baseContainers.add(i.place);
    if (!kinds.has(i.kind)) continue;
    const id = idOf(i);
    const list = index.get(id);
    if (list) list.push(i);
    else index.set(id, [i]);
  }
  const containerIds = new Map<string, string>();
  for (const i of now.items)
    if (i.kind === "container" && i.facts.id) containerIds.set(i.place, i.facts.id);
  const basePlacesRead = new Set(base.placesRead);

  const findings: Finding[] = [];
  const newPlaces = new Map<string, Map<BaselineKind, number>>();
  const unreadPlaces = new Map<string, Map<BaselineKind, number>>();
  const uid0InNew = new Map<string, string[]>();
  const present = new Set<string>();
  const newContainers: BaselineItem[] = [];

  for (const i of now.items) {
    if (!kinds.has(i.kind)) continue;
    const id = idOf(i);
    present.add(id);
    const isContainerPlace = i.place !== "host";
    if (i.kind !== "container" && i.kind !== "image" && isContainerPlace) {
      // Inside a container that is new, or that was not running at the baseline: summed up.
      const bucket = !baseContainers.has(i.place)
        ? newPlaces
        : !basePlacesRead.has(i.place)
          ? unreadPlaces
          : null;
      if (bucket) {
        const counts = bucket.get(i.place) ?? new Map<BaselineKind, number>();
        counts.set(i.kind, (counts.get(i.kind) ?? 0) + 1);
        bucket.set(i.place, counts);
        if (i.kind === "uid0" && bucket === newPlaces)
          uid0InNew.set(i.place, [...(uid0InNew.get(i.place) ?? []), i.key]);
        continue;
      }
    }
    const before = index.get(id);
    if (!before) {
      if (i.kind === "container") {
        newContainers.push(i);
        continue;
      }
      findings.push(
        finding(i, "new", severityNew(i), `new ${LABEL[i.kind]}: ${i.key}`, containerIds),
      );
      continue;
    }
    if (i.kind === "container") {
      const b = before[0] as BaselineItem;
      for (const c of containerChanges(b, i, updated)) {
        findings.push(
          finding(i, "changed", c.severity, `container ${i.place}: ${c.what}`, containerIds, {
            change: c.what,
            before: c.from,
            now: c.to,
          }),
        );
      }
      continue;
    }
    if (before.some((b) => b.value === i.value)) continue;
    findings.push(
      finding(
        i,
        "changed",
        severityChanged(i),
        `${LABEL[i.kind]} changed: ${i.key}`,
        containerIds,
        { before: before.map((b) => b.value).join(" | ") },
      ),
    );
  }

  const summary = (counts: Map<BaselineKind, number> | undefined) =>
    Object.fromEntries([...(counts ?? new Map())].map(([k, v]) => [`${k}Count`, String(v)]));
  for (const c of newContainers) {
    const base = severityNew(c);
    const roots = (uid0InNew.get(c.place) ?? []).filter((n) => n !== "root");
    findings.push(
      finding(
        c,
        "new",
        roots.length > 0 ? "critical" : base,
        `new container: ${c.place} (image ${c.facts.image ?? c.value})`,
        containerIds,
        {
          ...summary(newPlaces.get(c.place)),
          ...(roots.length > 0 ? { extraUid0: roots.join(",") } : {}),
        },
      ),
    );
  }
  for (const [place, counts] of unreadPlaces) {
    findings.push({
      rule: "drift.container-unread",
      severity: "info",
      confidence: "high",
      title: `container ${place} was not running when the baseline was saved: its inside is not compared`,
      where: place,
      containerId: containerIds.get(place) ?? null,
      evidence: [{ facts: { kind: "container", item: place, ...summary(counts) } }],
      next: "Save a new baseline while it runs, once you know its state is good.",
      source: "baseline",
      falsePositive: null,
    });
  }

  const removed: Partial<Record<BaselineKind, number>> = {};
  for (const i of base.items) {
    if (!kinds.has(i.kind) || present.has(idOf(i))) continue;
    removed[i.kind] = (removed[i.kind] ?? 0) + 1;
  }
  return {
    findings: sortFindings(findings),
    compared,
    removed,
    itemsBefore: base.items.length,
    itemsNow: now.items.length,
  };
}

/** A finding's identity across runs: the same drift has the same fingerprint. */
export function driftKey(f: Finding): string {
  const facts = f.evidence[0]?.facts ?? {};
  return [f.rule, f.where, facts.item ?? f.title, facts.value ?? "", facts.change ?? ""].join(
    "\u0000",
  );
}

/**
 * Drift of a snapshot against a saved baseline (`triage --baseline FILE`): the kinds a
 * snapshot holds only (accounts, sockets, containers, programs running).
 */
export function driftOfSnapshot(base: BaselineState, snapshot: Snapshot): DriftResult {
  const { items, placesRead } = itemsFromSnapshot(snapshot);
  return diffBaseline(base, { kinds: [...SNAPSHOT_KINDS], placesRead, items });
}
