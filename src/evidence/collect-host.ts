/**
 * Evidence of the host itself, least volatile last: the Docker daemon's logs, auth and system
 * logs, login records, cron tables, recently changed systemd units, shell histories, account
 * and sudo and sshd configuration, authorized_keys. Files are copied raw under `host/`, with
 * their host path mirrored (each component made safe). Symlinks are recorded, never followed.
 * Shadow files and private host keys are never copied: the bundle leaves the host, and password
 * hashes or host keys would spread the breach.
 */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, lstat, readdir, readlink, realpath } from "node:fs/promises";
import { join } from "node:path";
import type { Snapshot } from "../model/snapshot.js";
import { errorMessage } from "../util/result.js";
import type { Collector } from "./collect-step.js";
import { safePathComponent } from "./paths.js";

const STEP = "host";
/** Host files are cut here unless --max-file-size says otherwise. */
export const DEFAULT_HOST_MAX_BYTES = 1024 * 1024 * 1024;
/** lastlog is sparse, indexed by uid: a uid near 2^32 makes it look like a terabyte. */
const LASTLOG_MAX_BYTES = 64 * 1024 * 1024;
/** Units and timers changed within this many days are copied; all are listed. */
export const RECENT_UNIT_DAYS = 30;
const MAX_WALK_DEPTH = 6;
const MAX_WALK_ENTRIES = 20_000;
const MAX_HOMES = 2_000;

/** Logs at the top of /var/log, with rotations: auth.log.1, syslog.2.gz, secure-20240101. */
const VAR_LOG =
  /^(auth\.log|syslog|messages|secure|kern\.log|daemon\.log|docker\.log|wtmp|btmp|lastlog|faillog|cron|cron\.log)([.-]\d{1,8})?(\.(gz|xz|bz2|zst))?$/;
/** .bash_history, .zsh_history, .python_history, .mysql_history, .psql_history ... */
const HISTORY = /^\.[A-Za-z0-9_.-]{0,40}(history|histfile)$/;

export function isHostLogName(name: string): boolean {
  return VAR_LOG.test(name);
}

export function isHistoryName(name: string): boolean {
  return HISTORY.test(name);
}

/** Never copied: password hashes (shadow, gshadow and their backups) and private host keys. */
export function isForbiddenHostPath(path: string): boolean {
  const base = path.slice(path.lastIndexOf("/") + 1);
  if (/shadow/i.test(base)) return true;
  if (/^ssh_host_.*_key$/.test(base)) return true;
  return false;
}

/** `host/` + the host path with each component made safe: /etc/passwd -> host/etc/passwd. */
export function hostRel(path: string): string {
  const parts = path.split("/").filter((p) => p !== "");
  return ["host", ...parts.map(safePathComponent)].join("/");
}

/** Changed within `days` of `now`, by mtime or ctime (ctime cannot be set back with touch). */
export function changedWithin(
  st: { mtimeMs: number; ctimeMs: number },
  now: Date,
  days: number,
): boolean {
  const since = now.getTime() - days * 86_400_000;
  return Math.max(st.mtimeMs, st.ctimeMs) >= since;
}

/** Home directories to look in: /root, /home/*, and every home in the host's passwd. */
export function homeDirs(snapshot: Snapshot, homeEntries: readonly string[]): string[] {
  const homes = new Set<string>(["/root", ...homeEntries.map((n) => `/home/${n}`)]);
  for (const acc of snapshot.accounts) {
    if (acc.scope !== "host") continue;
    for (const u of acc.users) {
      if (u.home.startsWith("/") && u.home !== "/" && !/[\u0000-\u001f]/.test(u.home)) {
        homes.add(u.home.replace(/\/+$/, ""));
      }
    }
  }
  return [...homes].filter((h) => h !== "").slice(0, MAX_HOMES);
}

export interface HostCollectOptions {
  snapshot: Snapshot;
  /** Host files and directories (ending with "/") to copy; rules/host-files.json by default. */
  hostFiles: readonly string[];
  since: Date | undefined;
  maxFileBytes: number | undefined;
  now: Date;
}

export async function collectHost(col: Collector, opts: HostCollectOptions): Promise<void> {
  const max = opts.maxFileBytes ?? DEFAULT_HOST_MAX_BYTES;
  const copy = (path: string, limit = max) => copyHostFile(col, path, limit);
  const { since } = opts;

  // The Docker daemon's log and the auth log, from the journal where there is one.
  if (await hasJournal()) {
    const sinceArgs = since ? [`--since=@${Math.floor(since.getTime() / 1000)}`] : [];
    await journal(
      col,
      "host/journal/docker.service.txt",
      ["-u", "docker.service", ...sinceArgs],
      max,
    );
    // auth (4) and authpriv (10): sshd and sudo on hosts without rsyslog.
    await journal(
      col,
      "host/journal/auth.txt",
      ["SYSLOG_FACILITY=4", "SYSLOG_FACILITY=10", ...sinceArgs],
      max,
    );
  } else {
    col.skip(STEP, "journalctl", "no systemd journal on this host");
  }

  if (since) {
    col.note(STEP, "logs under /var/log", {
      since: since.toISOString(),
      why: "log files are copied whole (they are the evidence); rotated files last written before --since are left out",
    });
  }
  for (const dir of ["/var/log", "/var/log/audit"]) {
    const names = (await list(col, dir)).sort();
    for (const name of names) {
      if (!(isHostLogName(name) || (dir === "/var/log/audit" && /^audit\.log(\.\d+)?$/.test(name))))
        continue;
      const path = `${dir}/${name}`;
      const rotated = /[.-]\d+(\.(gz|xz|bz2|zst))?$/.test(name);
      if (since && rotated) {
        const st = await lstat(path).catch(() => null);
        if (st && st.mtime < since) {
          col.skip(STEP, `copy ${path}`, `last written ${st.mtime.toISOString()}, before --since`);
          continue;
        }
      }
      await copy(path, name === "lastlog" ? Math.min(max, LASTLOG_MAX_BYTES) : max);
    }
  }

  // Accounts, privileges, remote access and persistence: rules/host-files.json, files first.
  const hostFiles = opts.hostFiles;
  for (const path of hostFiles.filter((p) => !p.endsWith("/"))) {
    await copyIfPresent(col, path, max);
  }
  for (const dir of hostFiles.filter((p) => p.endsWith("/"))) {
    await walk(col, dir.slice(0, -1), async (path) => {
      await copy(path);
    });
  }

  await collectUnits(col, opts.now, max);

  const homeNames = await list(col, "/home", true);
  for (const home of homeDirs(opts.snapshot, homeNames)) {
    const names = await readdir(home).catch(() => [] as string[]);
    for (const name of names.sort()) {
      if (isHistoryName(name)) await copy(`${home}/${name}`);
    }
    for (const keys of ["authorized_keys", "authorized_keys2"]) {
      await copyIfPresent(col, `${home}/.ssh/${keys}`, max);
    }
  }
}

/** Units and timers: every one listed with its times, those changed recently copied. */
async function collectUnits(col: Collector, now: Date, max: number): Promise<void> {
  const seen = new Set<string>();
  const index: Record<string, unknown>[] = [];
  for (const root of [
    "/etc/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
    "/run/systemd/system",
    "/etc/systemd/user",
    "/usr/lib/systemd/user",
  ]) {
    // On merged-/usr hosts /lib is /usr/lib: walk each real directory once.
    const real = await realpath(root).catch(() => null);
    if (real === null || seen.has(real)) continue;
    seen.add(real);
    await walk(
      col,
      root,
      async (path, st) => {
        const recent = changedWithin(st, now, RECENT_UNIT_DAYS);
        const item: Record<string, unknown> = {
          path,
          type: st.isSymbolicLink() ? "symlink" : "file",
          size: st.size,
          mtime: st.mtime.toISOString(),
          ctime: st.ctime.toISOString(),
          recent,
        };
        if (st.isSymbolicLink()) item.target = await readlink(path).catch((e) => errorMessage(e));
        else if (recent) item.file = await copyHostFile(col, path, max);
        index.push(item);
      },
      { symlinks: true },
    );
  }
  await col.run(STEP, "write host/systemd-units.json", () =>
    col.writeJson(
      "host/systemd-units.json",
      index,
      "breachkit: listing of systemd unit directories",
    ),
  );
}

type Stat = import("node:fs").Stats;

/**
 * Depth-first over a directory, calling `onFile` for regular files (and symlinks when asked).
 * Symlinked directories are not entered; sizes of the walk are bounded.
 */
async function walk(
  col: Collector,
  root: string,
  onFile: (path: string, st: Stat) => Promise<void>,
  opts: { symlinks?: boolean } = {},
): Promise<void> {
  let count = 0;
  const visit = async (dir: string, depth: number): Promise<void> => {
    const names = await list(col, dir, depth === 0);
    for (const name of names.sort()) {
      if (++count > MAX_WALK_ENTRIES) {
        if (count === MAX_WALK_ENTRIES + 1) {
          col.fail(
            STEP,
            `walk ${root}`,
            `more than ${MAX_WALK_ENTRIES} entries: the rest left out`,
          );
        }
        return;
      }
      const path = join(dir, name);
      const st = await lstat(path).catch(() => null);
      if (st === null) continue;
      if (st.isDirectory()) {
        if (depth < MAX_WALK_DEPTH) await visit(path, depth + 1);
      } else if (st.isFile() || (opts.symlinks && st.isSymbolicLink())) {
        await onFile(path, st);
      } else if (st.isSymbolicLink()) {
        col.skip(STEP, `copy ${path}`, "a symlink: not followed", {
          target: await readlink(path).catch(() => null),
        });
      }
    }
  };
  await visit(root, 0);
}

/** Names in a directory; a missing directory is an expected gap, other failures are errors. */
async function list(col: Collector, dir: string, quietIfMissing = true): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      if (!quietIfMissing) col.skip(STEP, `list ${dir}`, "not present");
      return [];
    }
    col.fail(STEP, `list ${dir}`, errorMessage(e));
    return [];
  }
}

async function copyIfPresent(col: Collector, path: string, max: number): Promise<void> {
  const st = await lstat(path).catch(() => null);
  if (st === null) return;
  if (st.isSymbolicLink()) {
    col.skip(STEP, `copy ${path}`, "a symlink: not followed", {
      target: await readlink(path).catch(() => null),
    });
    return;
  }
  await copyHostFile(col, path, max);
}

/** Copy one host file to host/<path>; returns the bundle path, or null when not copied. */
async function copyHostFile(col: Collector, path: string, max: number): Promise<string | null> {
  if (isForbiddenHostPath(path)) {
    col.skip(STEP, `copy ${path}`, "password hashes and private keys are never collected");
    return null;
  }
  const rel = hostRel(path);
  const entry = await col.run(STEP, `copy ${path}`, () =>
    col.copyFile(rel, path, { maxBytes: max }),
  );
  return entry ? rel : null;
}

async function hasJournal(): Promise<boolean> {
  const exists = (p: string) =>
    access(p, constants.F_OK).then(
      () => true,
      () => false,
    );
  if (!(await exists("/usr/bin/journalctl")) && !(await exists("/bin/journalctl"))) return false;
  if (await exists("/run/systemd/journal/socket")) return true;
  const persisted = await readdir("/var/log/journal").catch(() => [] as string[]);
  return persisted.length > 0;
}

/** journalctl's output streamed into the bundle (argv only, never a shell). */
async function journal(col: Collector, rel: string, args: string[], max: number): Promise<void> {
  const argv = ["--no-pager", "--output=short-iso-precise", ...args];
  await col.run(STEP, `journalctl ${argv.join(" ")}`, async () => {
    const child = spawn("journalctl", argv, {
      stdio: ["ignore", "pipe", "pipe"],
      env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", LANG: "C.UTF-8", SYSTEMD_COLORS: "0" },
    });
    let stderr = "";
    child.stderr.on("data", (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString("utf8");
    });
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (code) => resolve(code));
    });
    exited.catch(() => undefined);
    try {
      await col.writeStream(rel, child.stdout, {
        source: `journalctl ${argv.join(" ")}`,
        maxBytes: max,
      });
    } finally {
      // Our own child, by its handle: stop it if the copy ended early (size limit, disk full).
      if (child.exitCode === null) child.kill("SIGTERM");
    }
    const code = await exited;
    if (code !== 0 && code !== null) {
      throw new Error(`journalctl exited with ${code}: ${stderr.trim().slice(0, 500)}`);
    }
  });
}
