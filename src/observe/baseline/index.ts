/**
 * Observe everything a baseline holds: a snapshot (accounts of the host and of every running
 * container, listening sockets, containers, executables running), then what a snapshot does not
 * read: SUID/SGID files of the host and of each running container's filesystem, cron entries,
 * systemd units, kernel modules and the engine's image tags. Read-only.
 */
import { BASELINE_KINDS, type BaselineItem, type BaselineState } from "../../model/baseline.js";
import { itemsFromSnapshot } from "../../model/baseline-items.js";
import type { Gap, Snapshot } from "../../model/snapshot.js";
import { errorMessage } from "../../util/result.js";
import { readAccounts } from "../accounts/index.js";
import { takeSnapshot } from "../snapshot.js";
import { readCron, readModules, readUnits } from "./host-files.js";
import { readImageTags } from "./images.js";
import { walkSuid } from "./suid-walk.js";

export { cronLines, parseModules, readCron, readModules, readUnits } from "./host-files.js";
export { readImageTags } from "./images.js";
export { type SuidFile, walkSuid } from "./suid-walk.js";

export interface ObserveBaselineOptions {
  env: Readonly<Record<string, string | undefined>>;
  /**
   * Read the host's files (accounts, SUID, cron, systemd units) from this directory instead of
   * "/" (a mounted disk, a test root); processes, sockets, containers and modules stay live.
   */
  root?: string;
  /** Walk filesystems for SUID/SGID files (default true). */
  suid?: boolean;
  /** A snapshot taken already in this run (schedule run reuses triage's). */
  snapshot?: Snapshot;
  onStep?: (step: string) => void;
  now?: () => Date;
}

export async function observeBaseline(opts: ObserveBaselineOptions): Promise<BaselineState> {
  const step = opts.onStep ?? (() => {});
  const root = opts.root ?? "/";
  const gaps: Gap[] = [];
  step("snapshot");
  const snapshot =
    opts.snapshot ??
    (await takeSnapshot({ env: opts.env, intervalSeconds: null, onStep: step })).snapshot;
  gaps.push(...snapshot.gaps);
  const fromSnap = itemsFromSnapshot(snapshot);
  let items: BaselineItem[] = fromSnap.items;
  if (root !== "/") {
    // The host's accounts come from the root given, not from the live "/".
    step(`accounts of ${root}`);
    items = items.filter(
      (i) => !(i.place === "host" && (i.kind === "uid0" || i.kind === "sudo" || i.kind === "key")),
    );
    const acc = await readAccounts({ root, scope: "host", containerId: null });
    gaps.push(...acc.gaps);
    const own = itemsFromSnapshot({
      ...snapshot,
      accounts: [acc.accounts],
      sockets: [],
      containers: [],
      processes: [],
    });
    items.push(...own.items);
  }

  const running = snapshot.containers.filter((c) => c.running && c.pid !== null);
  // Cron, units, modules, each container's cron and the image tags read different things: at
  // the same time (the thread pool and the engine's socket), their items kept in this order.
  step("cron, systemd units, modules, image tags");
  const [cron, units, modules, inContainers, images] = await Promise.all([
    readCron(root, "host"),
    readUnits(root),
    readModules(),
    Promise.all(
      running.map((c) =>
        readCron(`/proc/${c.pid}/root`, c.name).catch((e: unknown) => {
          gaps.push({ source: `cron:${c.name}`, message: errorMessage(e) });
          return null;
        }),
      ),
    ),
    snapshot.engine.available
      ? readImageTags(opts.env).catch((e: unknown) => {
          gaps.push({ source: "docker:images", message: errorMessage(e) });
          return [];
        })
      : Promise.resolve([]),
  ]);
  items.push(...cron.items, ...units.items, ...modules.items);
  gaps.push(...cron.gaps, ...units.gaps, ...modules.gaps);
  for (const r of inContainers) {
    if (r) {
      items.push(...r.items);
      gaps.push(...r.gaps);
    }
  }
  items.push(...images);

  const kinds = new Set(BASELINE_KINDS);
  if (!snapshot.engine.available) kinds.delete("image");
  if (opts.suid === false) kinds.delete("suid");
  else {
    const dataRoot = snapshot.engine.dockerRootDir ?? "/var/lib/docker";
    const places: { place: string; dir: string; skip: string[] }[] = [
      {
        place: "host",
        dir: root,
        skip: root === "/" ? [dataRoot, "/proc", "/sys", "/dev", "/run"] : [],
      },
      ...running.map((c) => ({
        place: c.name,
        dir: `/proc/${c.pid}/root`,
        skip: ["/proc", "/sys", "/dev"],
      })),
    ];
    for (const p of places) {
      step(`SUID/SGID files: ${p.place}`);
      const r = await walkSuid(p.dir, {
        skip: p.skip,
        onProgress: (n) => step(`SUID/SGID files: ${p.place}: ${n} entries`),
      });
      gaps.push(...r.gaps);
      for (const f of r.files) {
        items.push({
          kind: "suid",
          place: p.place,
          key: f.path,
          // Mode, owner and bytes: a chmod, a chown or a replaced binary all change it.
          value: `${f.mode.toString(8).padStart(4, "0")} ${f.uid}:${f.gid} ${f.sha256 ?? "unread"}`,
          facts: {
            sha256: f.sha256 ?? "",
            mode: f.mode.toString(8).padStart(4, "0"),
            owner: `${f.uid}:${f.gid}`,
            size: String(f.size),
          },
        });
      }
    }
  }

  return {
    takenAt: (opts.now?.() ?? new Date()).toISOString(),
    host: snapshot.host.hostname,
    root,
    kinds: [...kinds],
    placesRead: fromSnap.placesRead,
    items,
    gaps,
  };
}
