/**
 * SSH checks on the effective configuration (one per connection: root, each login account,
 * an outside address) and on authorized_keys: the playbook's "SSH keys only, restricted
 * accounts". Pure: takes what observe/audit/ssh.ts read.
 */
import type { AuditKey, SshContextValues, SshObservation } from "../../model/audit-output.js";
import type { Evidence, Finding, Severity } from "../../model/finding.js";
import { auditFinding } from "./common.js";

const RELOAD =
  "reload sshd after `sshd -t` passes (systemctl reload ssh); keep your current session open until a new login works";

/** Weak algorithms: broken (medium) or dated (low). */
const WEAK: Record<
  "ciphers" | "macs" | "kexalgorithms",
  { re: RegExp; severity: Severity; why: string }[]
> = {
  ciphers: [
    {
      re: /-cbc$|^3des|^arcfour|^blowfish|^cast128|^rijndael/,
      severity: "medium",
      why: "CBC mode, 3DES or RC4",
    },
  ],
  macs: [
    { re: /md5|ripemd|-96/, severity: "medium", why: "MD5, RIPEMD or a 96-bit tag" },
    {
      re: /^hmac-sha1|^umac-64/,
      severity: "low",
      why: "SHA-1 or a 64-bit tag (still OpenSSH's default)",
    },
  ],
  kexalgorithms: [
    {
      re: /group1-sha1|group14-sha1|group-exchange-sha1|gss-.*sha1/,
      severity: "medium",
      why: "SHA-1 key exchange",
    },
  ],
};

const STRONG: Record<keyof typeof WEAK, string> = {
  ciphers:
    "chacha20-poly1305@openssh.com,aes256-gcm@openssh.com,aes128-gcm@openssh.com,aes256-ctr,aes192-ctr,aes128-ctr",
  macs: "hmac-sha2-512-etm@openssh.com,hmac-sha2-256-etm@openssh.com,umac-128-etm@openssh.com",
  kexalgorithms:
    "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512",
};

function v(ctx: SshContextValues, key: string): string {
  return (ctx.values[key] ?? []).join(" ");
}

function evidenceFor(obs: SshObservation, ctx: SshContextValues, key: string): Evidence {
  const o = ctx.origins[key];
  const facts: Record<string, string> = {
    setting: `${key} ${v(ctx, key)}`,
    connection: `user=${ctx.user},addr=${ctx.addr}`,
    read: ctx.source,
  };
  if (o?.match) facts.match = o.match;
  if (o) return { file: o.file, line: o.line, facts };
  return {
    file: obs.configFiles[0] ?? "/etc/ssh/sshd_config",
    facts: { ...facts, origin: "OpenSSH default (not set in the file)" },
  };
}

/** Where the fix line goes: a drop-in read first when the file includes sshd_config.d, else the top of sshd_config. */
function placeFix(
  obs: SshObservation,
  lines: string[],
  origin?: { file: string; line: number; match?: string },
): string {
  if (origin?.match) {
    return `in the Match block ${origin.match}, change line ${origin.file}:${origin.line} to:\n  ${lines.join("\n  ")}`;
  }
  const dropIn =
    obs.configFiles.some((f) => f.startsWith("/etc/ssh/sshd_config.d/")) ||
    obs.configFiles.length > 0;
  const where = dropIn
    ? "/etc/ssh/sshd_config.d/00-breachkit.conf (read first: the first value sshd reads wins), or at the top of /etc/ssh/sshd_config before any Include"
    : "the top of /etc/ssh/sshd_config";
  const also = origin ? ` and remove or change ${origin.file}:${origin.line}` : "";
  return `${lines.join("\n")}\n(put in ${where}${also})`;
}

interface Hit {
  ctx: SshContextValues;
  key: string;
}

/** One finding per problem, with every connection it applies to. */
function group(hits: Hit[]): Map<string, Hit[]> {
  const by = new Map<string, Hit[]>();
  for (const h of hits) {
    const o = h.ctx.origins[h.key];
    const id = `${h.key}|${v(h.ctx, h.key)}|${o ? `${o.file}:${o.line}` : "default"}`;
    by.set(id, [...(by.get(id) ?? []), h]);
  }
  return by;
}

function users(hits: Hit[]): string {
  const names = [...new Set(hits.map((h) => h.ctx.user))];
  return names.length > 6
    ? `${names.slice(0, 6).join(", ")} and ${names.length - 6} more`
    : names.join(", ");
}

function passwordUsable(ctx: SshContextValues): boolean {
  const methods = v(ctx, "authenticationmethods");
  return (
    v(ctx, "passwordauthentication") === "yes" &&
    (methods === "any" || /\bpassword\b/.test(methods))
  );
}

/**
 * Keyboard-interactive asks for a password only through PAM on Linux (OpenSSH portable has no
 * other device there): with UsePAM no it cannot be used.
 */
function kbdUsable(ctx: SshContextValues): boolean {
  const methods = v(ctx, "authenticationmethods");
  return (
    v(ctx, "kbdinteractiveauthentication") === "yes" &&
    v(ctx, "usepam") === "yes" &&
    (methods === "any" || /keyboard-interactive/.test(methods))
  );
}

export function sshConfigFindings(obs: SshObservation): Finding[] {
  const out: Finding[] = [];
  const base = { area: "ssh" as const, where: obs.where, containerId: obs.containerId };
  if (obs.fatal) {
    out.push(
      auditFinding({
        ...base,
        rule: "audit.ssh.config-invalid",
        severity: "high",
        title: "sshd would refuse this configuration: a restart of sshd would lock everyone out",
        evidence: [{ file: obs.configFiles[0] ?? "/etc/ssh/sshd_config", text: obs.fatal }],
        fix: `repair it until \`sshd -t\` passes: ${obs.fatal}`,
        cost: "none until sshd is restarted; then sshd does not start",
      }),
    );
    return out;
  }
  if (obs.contexts.length === 0) return out;

  const each = (pred: (c: SshContextValues) => boolean, key: string): Hit[] =>
    obs.contexts.filter(pred).map((ctx) => ({ ctx, key }));

  for (const [, hits] of group(each(passwordUsable, "passwordauthentication"))) {
    const h = hits[0]!;
    out.push(
      auditFinding({
        ...base,
        rule: "audit.ssh.password-auth",
        severity: "high",
        title: `SSH accepts passwords (for ${users(hits)}): keys only is the playbook's first rule`,
        evidence: [evidenceFor(obs, h.ctx, "passwordauthentication")],
        fix: placeFix(obs, ["PasswordAuthentication no"], h.ctx.origins.passwordauthentication),
        cost: RELOAD,
      }),
    );
  }
  for (const [, hits] of group(each(kbdUsable, "kbdinteractiveauthentication"))) {
    const h = hits[0]!;
    out.push(
      auditFinding({
        ...base,
        rule: "audit.ssh.kbd-interactive",
        severity: "high",
        title: `SSH keyboard-interactive authentication is on with PAM: passwords are asked that way (for ${users(hits)})`,
        evidence: [evidenceFor(obs, h.ctx, "kbdinteractiveauthentication")],
        fix: placeFix(
          obs,
          ["KbdInteractiveAuthentication no"],
          h.ctx.origins.kbdinteractiveauthentication,
        ),
        cost: RELOAD,
      }),
    );
  }
  for (const [, hits] of group(
    each((c) => v(c, "pubkeyauthentication") === "no", "pubkeyauthentication"),
  )) {
    const h = hits[0]!;
    out.push(
      auditFinding({
        ...base,
        rule: "audit.ssh.pubkey-off",
        severity: "medium",
        title: `SSH public key authentication is off (for ${users(hits)}): keys only is impossible`,
        evidence: [evidenceFor(obs, h.ctx, "pubkeyauthentication")],
        fix: placeFix(obs, ["PubkeyAuthentication yes"], h.ctx.origins.pubkeyauthentication),
        cost: RELOAD,
      }),
    );
  }
  for (const [, hits] of group(
    each((c) => v(c, "permitemptypasswords") === "yes", "permitemptypasswords"),
  )) {
    const h = hits[0]!;
    const empty = obs.users.filter((u) => u.password === "empty").map((u) => u.name);
    out.push(
      auditFinding({
        ...base,
        rule: "audit.ssh.empty-passwords",
        severity: empty.length > 0 ? "critical" : "high",
        title: `SSH permits empty passwords (for ${users(hits)})${empty.length ? `; accounts with an empty password: ${empty.join(", ")}` : ""}`,
        evidence: [evidenceFor(obs, h.ctx, "permitemptypasswords")],
        fix: placeFix(obs, ["PermitEmptyPasswords no"], h.ctx.origins.permitemptypasswords),
        cost: RELOAD,
      }),
    );
  }
  const rootCtx = obs.contexts.filter((c) => c.user === "root");
  for (const [, hits] of group(
    rootCtx
      .filter((c) => v(c, "permitrootlogin") === "yes")
      .map((ctx) => ({ ctx, key: "permitrootlogin" })),
  )) {
    const h = hits[0]!;
    const withPassword = passwordUsable(h.ctx) || kbdUsable(h.ctx);
    out.push(
      auditFinding({
        ...base,
        rule: withPassword ? "audit.ssh.root-password" : "audit.ssh.root-login",
        severity: withPassword ? "high" : "low",
        title: withPassword
          ? "root can log in over SSH with a password"
          : "PermitRootLogin yes (passwords are off now, but one setting away)",
        evidence: [evidenceFor(obs, h.ctx, "permitrootlogin")],
        fix: placeFix(
          obs,
          ["PermitRootLogin prohibit-password   # or: no"],
          h.ctx.origins.permitrootlogin,
        ),
        cost: RELOAD,
      }),
    );
  }
  const logins = obs.users.filter((u) => u.loginShell);
  const anyCtx = obs.contexts.find((c) => !c.origins.allowusers?.match) ?? obs.contexts[0]!;
  if (
    logins.length > 1 &&
    obs.contexts.every((c) => !c.values.allowusers?.length && !c.values.allowgroups?.length)
  ) {
    const keyed = [...new Set(obs.keys.map((k) => k.user))];
    out.push(
      auditFinding({
        ...base,
        rule: "audit.ssh.no-allow-list",
        severity: "medium",
        title: `No AllowUsers or AllowGroups with ${logins.length} accounts that have a login shell (${logins
          .slice(0, 8)
          .map((u) => u.name)
          .join(", ")})`,
        evidence: [
          {
            ...evidenceFor(obs, anyCtx, "allowusers"),
            facts: { loginAccounts: logins.map((u) => u.name).join(",") },
          },
        ],
        fix: placeFix(obs, [
          `AllowUsers ${(keyed.length ? keyed : logins.map((u) => u.name)).slice(0, 8).join(" ")}   # only those who need SSH`,
        ]),
        cost: RELOAD,
      }),
    );
  }
  for (const [, hits] of group(each((c) => Number(v(c, "maxauthtries")) > 4, "maxauthtries"))) {
    const h = hits[0]!;
    out.push(
      auditFinding({
        ...base,
        rule: "audit.ssh.max-auth-tries",
        severity: "low",
        title: `MaxAuthTries ${v(h.ctx, "maxauthtries")} (more than 4 guesses per connection)`,
        evidence: [evidenceFor(obs, h.ctx, "maxauthtries")],
        fix: placeFix(obs, ["MaxAuthTries 3"], h.ctx.origins.maxauthtries),
        cost: RELOAD,
      }),
    );
  }
  for (const [, hits] of group(
    each(
      (c) => v(c, "x11forwarding") === "yes" && v(c, "disableforwarding") !== "yes",
      "x11forwarding",
    ),
  )) {
    const h = hits[0]!;
    out.push(
      auditFinding({
        ...base,
        rule: "audit.ssh.x11-forwarding",
        severity: "low",
        title: `X11 forwarding is on (for ${users(hits)})`,
        evidence: [evidenceFor(obs, h.ctx, "x11forwarding")],
        fix: placeFix(obs, ["X11Forwarding no"], h.ctx.origins.x11forwarding),
        cost: RELOAD,
      }),
    );
  }
  for (const [, hits] of group(
    each(
      (c) => v(c, "allowtcpforwarding") !== "no" && v(c, "disableforwarding") !== "yes",
      "allowtcpforwarding",
    ),
  )) {
    const h = hits[0]!;
    out.push(
      auditFinding({
        ...base,
        rule: "audit.ssh.tcp-forwarding",
        severity: "low",
        title: `TCP forwarding is allowed (for ${users(hits)}): an SSH login can tunnel into the Docker networks`,
        evidence: [evidenceFor(obs, h.ctx, "allowtcpforwarding")],
        fix: placeFix(
          obs,
          ["AllowTcpForwarding no   # or in a Match block for those who need tunnels"],
          h.ctx.origins.allowtcpforwarding,
        ),
        cost: RELOAD,
      }),
    );
  }
  for (const key of ["ciphers", "macs", "kexalgorithms"] as const) {
    for (const [, hits] of group(each((c) => weakIn(key, v(c, key)).length > 0, key))) {
      const h = hits[0]!;
      const weak = weakIn(key, v(h.ctx, key));
      const severity = weak.some((w) => w.severity === "medium") ? "medium" : "low";
      const keyword =
        key === "kexalgorithms" ? "KexAlgorithms" : key === "macs" ? "MACs" : "Ciphers";
      out.push(
        auditFinding({
          ...base,
          rule: `audit.ssh.weak-${key}`,
          severity,
          title: `Weak SSH ${keyword}: ${weak.map((w) => w.name).join(", ")} (${[...new Set(weak.map((w) => w.why))].join("; ")})`,
          evidence: [evidenceFor(obs, h.ctx, key)],
          fix: placeFix(obs, [`${keyword} ${STRONG[key]}`], h.ctx.origins[key]),
          cost: `${RELOAD}; clients older than OpenSSH 6.5 may no longer connect`,
        }),
      );
    }
  }
  return out;
}

function weakIn(
  key: keyof typeof WEAK,
  list: string,
): { name: string; severity: Severity; why: string }[] {
  const out: { name: string; severity: Severity; why: string }[] = [];
  for (const name of list.split(",").filter(Boolean)) {
    const rule = WEAK[key].find((w) => w.re.test(name));
    if (rule) out.push({ name, severity: rule.severity, why: rule.why });
  }
  return out;
}

/** authorized_keys hygiene: DSA, short RSA, keys of accounts without a shell, root keys without from=, duplicates. */
export function sshKeyFindings(obs: SshObservation): Finding[] {
  const out: Finding[] = [];
  const base = { area: "ssh" as const, where: obs.where, containerId: obs.containerId };
  const users = new Map(obs.users.map((u) => [u.name, u]));
  const ev = (k: AuditKey): Evidence => ({
    file: k.path,
    line: k.line,
    facts: {
      user: k.user,
      type: k.type,
      fingerprint: k.fingerprint,
      ...(k.bits ? { bits: String(k.bits) } : {}),
    },
  });
  const removeLine = (k: AuditKey) =>
    `delete line ${k.line} of ${k.path} (the key ${k.fingerprint})`;
  for (const k of obs.keys) {
    if (k.type.startsWith("ssh-dss")) {
      out.push(
        auditFinding({
          ...base,
          rule: "audit.ssh.key-dsa",
          severity: "medium",
          title: `DSA key in ${k.user}'s authorized_keys (1024-bit, disabled since OpenSSH 7.0)`,
          evidence: [ev(k)],
          fix: `${removeLine(k)}; its owner makes a new key: ssh-keygen -t ed25519`,
          cost: "the key's owner needs a new key",
        }),
      );
    } else if (k.type.startsWith("ssh-rsa") && k.bits !== null && k.bits < 3072) {
      out.push(
        auditFinding({
          ...base,
          rule: "audit.ssh.key-rsa-short",
          severity: k.bits < 2048 ? "medium" : "low",
          title: `${k.bits}-bit RSA key in ${k.user}'s authorized_keys (below 3072 bits)`,
          evidence: [ev(k)],
          fix: `${removeLine(k)} after its owner adds a new key: ssh-keygen -t ed25519 (or -t rsa -b 4096)`,
          cost: "the key's owner needs a new key",
        }),
      );
    }
    const u = users.get(k.user);
    if (u && !u.loginShell) {
      out.push(
        auditFinding({
          ...base,
          rule: "audit.ssh.key-no-shell",
          severity: "medium",
          title: `authorized key for ${k.user}, an account without a login shell (${u.shell}): it still opens tunnels`,
          evidence: [ev(k)],
          fix: `${removeLine(k)}, or restrict it: restrict,command="/bin/false" ${k.type} ...`,
          cost: "whatever uses this key for port forwarding stops working",
        }),
      );
    }
    if (k.user === "root" && !/(^|,)\s*from=/i.test(k.options)) {
      out.push(
        auditFinding({
          ...base,
          rule: "audit.ssh.root-key-no-from",
          severity: "low",
          title: "root's authorized key works from any address (no from=)",
          evidence: [ev(k)],
          fix: `prefix line ${k.line} of ${k.path} with from="ADMIN-IP/32" (the addresses you log in from), e.g.: from="198.51.100.7" ${k.type} ...`,
          cost: "logins as root from other addresses stop working",
        }),
      );
    }
  }
  const byFp = new Map<string, AuditKey[]>();
  for (const k of obs.keys) byFp.set(k.fingerprint, [...(byFp.get(k.fingerprint) ?? []), k]);
  for (const [fp, ks] of byFp) {
    const owners = [...new Set(ks.map((k) => k.user))];
    if (owners.length < 2) continue;
    out.push(
      auditFinding({
        ...base,
        rule: "audit.ssh.key-duplicate",
        severity: "medium",
        title: `The same key (${fp}) opens ${owners.length} accounts: ${owners.join(", ")}`,
        evidence: ks.slice(0, 10).map(ev),
        fix: `keep the key only in the account it belongs to; ${ks.slice(1).map(removeLine).join("; ")}`,
        cost: "the key's holder logs in only to its own account",
      }),
    );
  }
  return out;
}

export function sshFindings(obs: SshObservation): Finding[] {
  return [...sshConfigFindings(obs), ...sshKeyFindings(obs)];
}
