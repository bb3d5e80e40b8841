/**
 * The persistence places of one root filesystem that a snapshot does not read: cron entries
 * and systemd units (timers, services, sockets, paths and the links that enable them), and the
 * host's loaded kernel modules. Every file is read through RootFs (resolved inside the root,
 * bounded, regular files only); what cannot be read is a gap.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import type { BaselineItem } from "../../model/baseline.js";
import { squash } from "../../model/baseline-items.js";
import type { Gap } from "../../model/snapshot.js";
import { errorMessage } from "../../util/result.js";
import { decodeUtf8 } from "../../util/sanitize.js";
import { describeFailure, RootFs } from "../accounts/root-fs.js";

const TEXT_MAX = 1024 * 1024;
const CRON_FILES = ["/etc/crontab", "/etc/anacrontab"];
const CRON_DIRS = ["/etc/cron.d", "/var/spool/cron/crontabs", "/var/spool/cron"];
const CRON_SCRIPT_DIRS = [
  "/etc/cron.hourly",
  "/etc/cron.daily",
  "/etc/cron.weekly",
  "/etc/cron.monthly",
];
const UNIT_DIRS = [
  "/etc/systemd/system",
  "/run/systemd/system",
  "/usr/lib/systemd/system",
  "/lib/systemd/system",
  "/usr/local/lib/systemd/system",
];
const UNIT_SUFFIX = /\.(service|timer|socket|path|mount|automount|target)$/;
const ENV_LINE = /^[A-Za-z_][A-Za-z0-9_]*\s*=/;

/** The job lines of a crontab (comments, blank lines and VAR=value lines left out). */
export function cronLines(text: string): string[] {
  const out: string[] = [];
  for (const raw of text.split("\n")) {
    const line = squash(raw);
    if (line === "" || line.startsWith("#") || ENV_LINE.test(line)) continue;
    out.push(line);
  }
  return out;
}

async function readText(fs: RootFs, inner: string, gaps: Gap[]): Promise<string | null> {
  const r = await fs.read(inner, { maxBytes: TEXT_MAX });
  if (!r.ok) {
    if (r.error.code !== "ENOENT" && r.error.code !== "ENOTREG")
      gaps.push({ source: `${fs.root}:${inner}`, message: describeFailure(r.error) });
    return null;
  }
  if (r.value.truncated) gaps.push({ source: inner, message: `larger than ${TEXT_MAX} bytes` });
  return decodeUtf8(r.value.bytes);
}

async function names(fs: RootFs, dir: string): Promise<string[]> {
  const r = await fs.list(dir);
  return r.ok ? r.value.names : [];
}

export async function readCron(
  root: string,
  place: string,
): Promise<{ items: BaselineItem[]; gaps: Gap[] }> {
  const fs = new RootFs(root);
  const gaps: Gap[] = [];
  const items: BaselineItem[] = [];
  const files = [...CRON_FILES];
  for (const d of CRON_DIRS) {
    for (const n of await names(fs, d)) {
      if (n.startsWith(".") || n === "crontabs") continue;
      files.push(`${d}/${n}`);
    }
  }
  for (const f of files) {
    const text = await readText(fs, f, gaps);
    if (text === null) continue;
    for (const line of cronLines(text)) {
      items.push({ kind: "cron", place, key: `${f}: ${line}`, value: "", facts: { file: f } });
    }
  }
  // run-parts directories: each script is an entry, its content its value.
  for (const d of CRON_SCRIPT_DIRS) {
    for (const n of await names(fs, d)) {
      if (n.startsWith(".")) continue;
      const r = await fs.read(`${d}/${n}`, { maxBytes: TEXT_MAX });
      if (!r.ok) continue;
      items.push({
        kind: "cron",
        place,
        key: `${d}/${n}`,
        value: createHash("sha256").update(r.value.bytes).digest("hex"),
        facts: { file: `${d}/${n}` },
      });
    }
  }
  return { items, gaps };
}

export async function readUnits(root: string): Promise<{ items: BaselineItem[]; gaps: Gap[] }> {
  const fs = new RootFs(root);
  const gaps: Gap[] = [];
  const items: BaselineItem[] = [];
  const seen = new Set<string>();
  for (const dir of UNIT_DIRS) {
    // /lib is /usr/lib on a merged-/usr system: the same files once.
    const resolved = await fs.resolve(dir);
    if (!resolved.ok) continue;
    if (seen.has(resolved.value.innerPath)) continue;
    seen.add(resolved.value.innerPath);
    for (const n of await names(fs, dir)) {
      const p = `${dir}/${n}`;
      if (n.endsWith(".wants") || n.endsWith(".requires")) {
        // Enabling a unit is a link here: the link is the drift.
        for (const l of await names(fs, p)) {
          const target = await fs.linkTarget(`${p}/${l}`);
          items.push({
            kind: "unit",
            place: "host",
            key: `${p}/${l}`,
            value: target ?? "",
            facts: { enabledBy: n, target: target ?? "" },
          });
        }
        continue;
      }
      if (!UNIT_SUFFIX.test(n)) continue;
      const link = await fs.linkTarget(p);
      if (link !== null) {
        items.push({ kind: "unit", place: "host", key: p, value: `-> ${link}`, facts: { link } });
        continue;
      }
      const r = await fs.read(p, { maxBytes: TEXT_MAX });
      if (!r.ok) {
        if (r.error.code !== "ENOTREG")
          gaps.push({ source: `${root}:${p}`, message: describeFailure(r.error) });
        continue;
      }
      items.push({
        kind: "unit",
        place: "host",
        key: p,
        value: createHash("sha256").update(r.value.bytes).digest("hex"),
        facts: { type: n.slice(n.lastIndexOf(".") + 1) },
      });
    }
  }
  return { items, gaps };
}

/** Names of /proc/modules lines ("name size refcount deps state offset"). */
export function parseModules(text: string): { name: string; state: string }[] {
  const out: { name: string; state: string }[] = [];
  for (const line of text.split("\n")) {
    const f = line.trim().split(/\s+/);
    if (!f[0]) continue;
    out.push({ name: f[0], state: f[4] ?? "" });
  }
  return out;
}

export async function readModules(
  procModules = "/proc/modules",
): Promise<{ items: BaselineItem[]; gaps: Gap[] }> {
  try {
    const text = await readFile(procModules, "utf8");
    return {
      items: parseModules(text).map((m) => ({
        kind: "module" as const,
        place: "host",
        key: m.name,
        value: "",
        facts: { state: m.state },
      })),
      gaps: [],
    };
  } catch (e) {
    return { items: [], gaps: [{ source: procModules, message: errorMessage(e) }] };
  }
}
