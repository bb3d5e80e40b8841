/**
 * SSH in one place (the live host, a --root disk, a container's filesystem): the effective
 * sshd configuration for each connection worth asking about (root, every account with a login
 * shell or authorized keys, from an outside address), and every authorized key with its size.
 *
 * On the live host sshd itself answers (`sshd -T -C`), and the parser's answers are compared
 * with it (any difference is reported); elsewhere the parser answers.
 */

import type {
  AuditKey,
  AuditUser,
  SshContextValues,
  SshObservation,
} from "../../model/audit-output.js";
import { readAccounts } from "../accounts/read-accounts.js";
import { RootFs } from "../accounts/root-fs.js";
import {
  CHECKED_KEYS,
  effectiveSshd,
  type MatchContext,
  readSshdConfig,
  SSHD_CONFIG_PATH,
} from "./sshd-config.js";
import { runSshdT } from "./sshd-t.js";

/** An address from TEST-NET-3 (RFC 5737): "somebody on the internet". */
export const OUTSIDE_ADDR = "203.0.113.10";
const MAX_CONTEXTS = 50;

export interface ObserveSshOptions {
  root: string;
  where: string;
  containerId: string | null;
  /** Ask the installed sshd (-T) too: only for the live host. */
  live: boolean;
  env: Readonly<Record<string, string | undefined>>;
  configFile?: string;
  hostKeys?: readonly string[];
  sshdExecutable?: string;
}

/** Bits of an RSA modulus, DSA p, or the ECDSA curve; null when the blob does not say. */
export function keyBits(type: string, blob: Buffer): number | null {
  const strings: Buffer[] = [];
  let off = 0;
  while (off + 4 <= blob.length && strings.length < 4) {
    const len = blob.readUInt32BE(off);
    if (off + 4 + len > blob.length) return null;
    strings.push(blob.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  const mpBits = (b: Buffer | undefined) => {
    if (!b) return null;
    let i = 0;
    while (i < b.length && b[i] === 0) i++;
    if (i >= b.length) return 0;
    return (b.length - i - 1) * 8 + (32 - Math.clz32(b[i]!));
  };
  if (type === "ssh-rsa") return mpBits(strings[2]);
  if (type === "ssh-dss") return mpBits(strings[1]);
  const ec = /nistp(\d+)/.exec(type);
  if (ec) return Number(ec[1]);
  if (type.includes("ed25519")) return 256;
  return null;
}

function blobOfLine(line: string, type: string): Buffer | null {
  const toks = line.trim().split(/[ \t]+/);
  for (let i = 0; i < toks.length - 1; i++) {
    if (toks[i] === type || toks[i]!.endsWith(` ${type}`)) {
      const b = Buffer.from(toks[i + 1]!, "base64");
      if (b.length > 4) return b;
    }
  }
  return null;
}

export async function observeSsh(
  opts: ObserveSshOptions,
): Promise<{ obs: SshObservation; gaps: string[] }> {
  const fs = new RootFs(opts.root);
  const gaps: string[] = [];
  const configFile = opts.configFile ?? SSHD_CONFIG_PATH;
  const sshdInstalled = (await fs.stat("/usr/sbin/sshd")).ok;
  const tree = await readSshdConfig(fs, configFile);
  gaps.push(...tree.gaps.map((g) => `sshd_config: ${g}`));
  const noConfig = tree.fatal !== null && tree.files.length === 0;
  const { accounts, gaps: accountGaps } = await readAccounts({
    root: opts.root,
    scope: opts.where,
    containerId: opts.containerId,
    maxLogins: 1,
  });
  gaps.push(...accountGaps.map((g) => g.message));
  const users: AuditUser[] = accounts.users.map((u) => ({
    name: u.name,
    uid: u.uid,
    shell: u.shell,
    loginShell: u.loginShell,
    password: u.password,
  }));
  const keys: AuditKey[] = [];
  for (const file of accounts.authorizedKeys) {
    const read = await fs.read(file.path, { maxBytes: 16 * 1024 * 1024 });
    const lines = read.ok ? read.value.bytes.toString("utf8").split("\n") : [];
    for (const k of file.keys) {
      const blob = blobOfLine(lines[k.line - 1] ?? "", k.type);
      keys.push({
        user: file.user,
        path: file.path,
        line: k.line,
        type: k.type,
        bits: blob ? keyBits(k.type.replace(/-cert-v01@openssh\.com$/, ""), blob) : null,
        fingerprint: k.fingerprint,
        options: k.options,
      });
    }
  }
  const obs: SshObservation = {
    where: opts.where,
    containerId: opts.containerId,
    configFiles: tree.files.map((f) => f.path),
    sshdInstalled,
    fatal: noConfig ? null : tree.fatal,
    contexts: [],
    users,
    keys,
    disagreements: [],
  };
  if (noConfig) {
    if (sshdInstalled)
      gaps.push(`sshd is installed but ${configFile} cannot be read: ${tree.fatal}`);
    return { obs, gaps };
  }

  const groupsOf = (name: string, gid: number) =>
    accounts.groups.filter((g) => g.gid === gid || g.members.includes(name)).map((g) => g.name);
  const wanted = new Set<string>(["root"]);
  for (const u of users) if (u.loginShell) wanted.add(u.name);
  for (const k of keys) wanted.add(k.user);
  const contexts: MatchContext[] = [...wanted].slice(0, MAX_CONTEXTS).map((name) => {
    const u = accounts.users.find((x) => x.name === name);
    return {
      user: name,
      host: OUTSIDE_ADDR,
      addr: OUTSIDE_ADDR,
      groups: u ? groupsOf(name, u.gid) : [],
    };
  });
  if (wanted.size > MAX_CONTEXTS)
    gaps.push(
      `sshd: ${wanted.size} accounts; the effective configuration was asked for the first ${MAX_CONTEXTS}`,
    );

  let useSshd = opts.live && !tree.fatal;
  for (const ctx of contexts) {
    const parsed = effectiveSshd(tree, ctx);
    let values = parsed.values;
    let source: SshContextValues["source"] = "parser";
    if (useSshd) {
      const real = await runSshdT(ctx, {
        env: opts.env,
        configFile,
        ...(opts.hostKeys ? { hostKeys: opts.hostKeys } : {}),
        ...(opts.sshdExecutable ? { executable: opts.sshdExecutable } : {}),
      });
      if (real.ok) {
        values = real.effective.values;
        source = "sshd -T";
        for (const key of CHECKED_KEYS) {
          const a = (real.effective.values[key] ?? []).join(" ");
          const b = (parsed.values[key] ?? []).join(" ");
          if (a !== b)
            obs.disagreements.push(
              `user=${ctx.user} ${key}: sshd -T says "${a}", the parser "${b}"`,
            );
        }
      } else {
        useSshd = false;
        gaps.push(`sshd -T could not run (${real.error}); the configuration was parsed instead`);
      }
    }
    obs.contexts.push({
      user: ctx.user,
      host: ctx.host,
      addr: ctx.addr,
      source,
      values,
      origins: parsed.origins,
    });
  }
  if (tree.fatal && opts.live) {
    // sshd refuses it as well: nothing to compare.
    gaps.push(`sshd_config: ${tree.fatal}`);
  }
  return { obs, gaps };
}
