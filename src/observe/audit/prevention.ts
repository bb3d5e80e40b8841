/**
 * What keeps the next breach away, read only: breachkit's own schedules (systemd timers, cron),
 * unattended upgrades for the host, restic backups named in breachkit's config (their newest
 * snapshot), the firewall's input rules (iptables-save, or nft -j list ruleset), and what
 * listens on every address.
 */
import { readFile } from "node:fs/promises";
import type { PreventionObservation } from "../../model/audit-output.js";
import { errorMessage } from "../../util/result.js";
import { z } from "../../util/zod.js";
import { RootFs } from "../accounts/root-fs.js";
import { configSection, loadConfig } from "../config.js";
import { findExecutable, runTool } from "../scanners/run-tool.js";

const SCHEDULE_DIRS = [
  "/etc/systemd/system",
  "/etc/cron.d",
  "/var/spool/cron/crontabs",
  "/etc/cron.daily",
  "/etc/cron.hourly",
  "/etc/cron.weekly",
];
const MAX_FILES_PER_DIR = 500;

export const BackupSectionSchema = z.looseObject({
  repo: z.string().min(1),
  passwordFile: z.string().min(1),
});

async function schedules(fs: RootFs): Promise<PreventionObservation["schedules"]> {
  const out: PreventionObservation["schedules"] = [];
  const files = ["/etc/crontab"];
  for (const d of SCHEDULE_DIRS) {
    const l = await fs.list(d);
    if (l.ok) for (const n of l.value.names.slice(0, MAX_FILES_PER_DIR)) files.push(`${d}/${n}`);
  }
  for (const f of files) {
    const r = await fs.read(f, { maxBytes: 256 * 1024 });
    if (!r.ok) continue;
    const lines = r.value.bytes.toString("utf8").split("\n");
    lines.forEach((text, i) => {
      if (/breachkit/.test(text) && !/^\s*#/.test(text))
        out.push({ file: f, line: i + 1, text: text.slice(0, 300) });
    });
  }
  return out;
}

async function unattended(fs: RootFs): Promise<PreventionObservation["unattended"]> {
  const apt = (await fs.stat("/etc/apt")).ok;
  const installed = (await fs.stat("/usr/bin/unattended-upgrade")).ok;
  let enabled = false;
  let file: string | null = null;
  let line: number | null = null;
  const dir = await fs.list("/etc/apt/apt.conf.d");
  for (const n of dir.ok ? dir.value.names : []) {
    const p = `/etc/apt/apt.conf.d/${n}`;
    const r = await fs.read(p, { maxBytes: 256 * 1024 });
    if (!r.ok) continue;
    const lines = r.value.bytes.toString("utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      const m = /^\s*APT::Periodic::Unattended-Upgrade\s+"(\d+)"/.exec(lines[i]!);
      if (m) {
        // Later files override earlier ones, as apt reads them in order.
        enabled = m[1] !== "0";
        file = p;
        line = i + 1;
      }
    }
  }
  return { apt, installed, enabled, file, line };
}

async function backup(
  env: Readonly<Record<string, string | undefined>>,
  configFile: string | undefined,
): Promise<PreventionObservation["backup"]> {
  const none = { configured: false, repo: null, latest: null, error: null, configError: null };
  const cfg = await loadConfig(env, configFile);
  if (!cfg.ok)
    return { ...none, configError: `${cfg.error.path} ${cfg.error.message} (${cfg.error.fix})` };
  const sec = configSection(cfg.value, "backup", BackupSectionSchema);
  if (!sec.ok) return { ...none, configError: `${sec.error.message} (${sec.error.fix})` };
  if (!sec.value) return none;
  const { repo, passwordFile } = sec.value;
  const restic = await findExecutable("restic", env);
  if (!restic)
    return {
      ...none,
      configured: true,
      repo,
      error: "restic is not installed (apt-get install restic)",
    };
  try {
    const run = await runTool(restic, ["snapshots", "--json", "--latest", "1", "--no-lock"], {
      timeoutMs: 60_000,
      env: {
        PATH: env.PATH,
        HOME: env.HOME,
        RESTIC_REPOSITORY: repo,
        RESTIC_PASSWORD_FILE: passwordFile,
        RESTIC_CACHE_DIR: undefined,
      },
      maxOutputBytes: 16 * 1024 * 1024,
    });
    if (run.exitCode !== 0)
      return {
        ...none,
        configured: true,
        repo,
        error: `restic snapshots failed: ${run.stderr.trim().split("\n").slice(-1)[0]?.slice(0, 300) ?? `exit ${run.exitCode}`}`,
      };
    const list = z.array(z.looseObject({ time: z.string() })).parse(JSON.parse(run.stdout || "[]"));
    const latest =
      list
        .map((s) => s.time)
        .sort()
        .pop() ?? null;
    return { ...none, configured: true, repo, latest };
  } catch (e) {
    return {
      ...none,
      configured: true,
      repo,
      error: `restic snapshots: ${errorMessage(e).slice(0, 300)}`,
    };
  }
}

async function firewall(
  env: Readonly<Record<string, string | undefined>>,
): Promise<PreventionObservation["firewall"]> {
  const save = await findExecutable("iptables-save", env);
  if (save) {
    try {
      const run = await runTool(save, [], {
        timeoutMs: 15_000,
        env,
        maxOutputBytes: 32 * 1024 * 1024,
      });
      if (run.exitCode === 0) {
        let table = "";
        let policy: string | null = null;
        let rules = 0;
        for (const l of run.stdout.split("\n")) {
          if (l.startsWith("*")) table = l.slice(1);
          else if (table === "filter" && l.startsWith(":INPUT ")) policy = l.split(" ")[1] ?? null;
          else if (table === "filter" && l.startsWith("-A INPUT ")) rules++;
        }
        return { tool: "iptables-save", inputRules: rules, inputPolicy: policy, error: null };
      }
    } catch {
      // try nft
    }
  }
  const nft = await findExecutable("nft", env);
  if (!nft)
    return {
      tool: null,
      inputRules: 0,
      inputPolicy: null,
      error: "neither iptables-save nor nft is installed",
    };
  try {
    const run = await runTool(nft, ["-j", "list", "ruleset"], {
      timeoutMs: 15_000,
      env,
      maxOutputBytes: 32 * 1024 * 1024,
    });
    if (run.exitCode !== 0)
      return {
        tool: "nft",
        inputRules: 0,
        inputPolicy: null,
        error: run.stderr.trim().slice(0, 300),
      };
    const doc = JSON.parse(run.stdout) as { nftables?: Record<string, Record<string, unknown>>[] };
    const inputChains = new Set<string>();
    let policy: string | null = null;
    let rules = 0;
    for (const item of doc.nftables ?? []) {
      const ch = item.chain;
      if (ch && ch.hook === "input") {
        inputChains.add(`${ch.family}/${ch.table}/${ch.name}`);
        policy = String(ch.policy ?? policy ?? "accept");
      }
      const r = item.rule;
      if (r && inputChains.has(`${r.family}/${r.table}/${r.chain}`)) rules++;
    }
    return { tool: "nft", inputRules: rules, inputPolicy: policy, error: null };
  } catch (e) {
    return { tool: "nft", inputRules: 0, inputPolicy: null, error: errorMessage(e).slice(0, 300) };
  }
}

/** TCP sockets in LISTEN state on 0.0.0.0 or :: in the host's network namespace. */
export function parseListeners(text: string, v6: boolean): { port: number; address: string }[] {
  const out: { port: number; address: string }[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4 || f[3] !== "0A") continue;
    const [addr, port] = (f[1] ?? "").split(":");
    if (!addr || !port) continue;
    if (/^0+$/.test(addr))
      out.push({ port: Number.parseInt(port, 16), address: v6 ? "::" : "0.0.0.0" });
  }
  return out;
}

export interface ObservePreventionOptions {
  root: string;
  live: boolean;
  env: Readonly<Record<string, string | undefined>>;
  configFile?: string;
}

export async function observePrevention(
  opts: ObservePreventionOptions,
): Promise<PreventionObservation> {
  const fs = new RootFs(opts.root);
  const [sched, unatt, back, fw] = await Promise.all([
    schedules(fs),
    unattended(fs),
    opts.live
      ? backup(opts.env, opts.configFile)
      : { configured: false, repo: null, latest: null, error: null, configError: null },
    opts.live ? firewall(opts.env) : null,
  ]);
  const listeners: PreventionObservation["listeners"] = [];
  if (opts.live) {
    for (const [p, v6] of [
      ["/proc/net/tcp", false],
      ["/proc/net/tcp6", true],
    ] as const) {
      // procfs files report size 0: read them whole, not through RootFs's sized read.
      const text = await readFile(p, "utf8").catch(() => "");
      listeners.push(...parseListeners(text, v6));
    }
  }
  return { schedules: sched, unattended: unatt, backup: back, firewall: fw, listeners };
}
