/**
 * Account rules over each `Accounts` entry (the host's and every container's): a second
 * UID 0, new accounts, recent password changes, service accounts given a shell, sudo
 * rights and authorized_keys changed recently or unknown to the baseline.
 *
 * "Recent" differs by place: on the host, within `recentDays` of ctx.now; in a container,
 * after the container was created. A container's files carry its image's build times, so
 * comparing with the clock would flag every freshly built image; nothing should change
 * accounts inside a running container at all.
 */
import type { Finding } from "../../model/finding.js";
import type { Accounts, Snapshot, User } from "../../model/snapshot.js";
import { type RuleContext, thresholdsOf } from "../context.js";
import { finding, indexOf, isRecent } from "../facts.js";

interface Scope {
  acc: Accounts;
  where: string;
  /** Baseline accounts of the same scope (matched by scope name: ids change on recreate). */
  base: Accounts | null;
  /** Is an ISO time or YYYY-MM-DD date "recent" for this scope? */
  recent: (when: string | null) => boolean;
  recentText: string;
}

function scopesOf(snap: Snapshot, ctx: RuleContext): Scope[] {
  const t = thresholdsOf(ctx);
  const idx = indexOf(snap);
  return snap.accounts.map((acc) => {
    const c = acc.containerId ? idx.containerById.get(acc.containerId) : undefined;
    const where = acc.containerId ? (c?.name ?? acc.scope) : "host";
    const base = ctx.baseline?.accounts.find((b) => b.scope === acc.scope) ?? null;
    if (acc.containerId) {
      const created = c?.createdAt ?? null;
      const createdDay = created?.slice(0, 10) ?? null;
      return {
        acc,
        where,
        base,
        recent: (when) => {
          if (!when || !created || !createdDay) return false;
          // A date-only value (shadow's lastChange) can only be later than the creation day.
          return when.length === 10 ? when > createdDay : Date.parse(when) > Date.parse(created);
        },
        recentText: "after the container was created",
      };
    }
    return {
      acc,
      where,
      base,
      recent: (when) => isRecent(ctx.now, when, t.recentDays),
      recentText: `in the last ${t.recentDays} days`,
    };
  });
}

function userEvidence(u: User) {
  return {
    text: `${u.name}:x:${u.uid}:${u.gid}:${u.gecos}:${u.home}:${u.shell}`,
    facts: { password: u.password, lastChange: u.lastChange ?? "unknown" },
  };
}

/** The day most accounts share as their last change: the install or image build, not an event. */
function bulkDay(users: readonly User[]): string | null {
  const counts = new Map<string, number>();
  for (const u of users)
    if (u.lastChange) counts.set(u.lastChange, (counts.get(u.lastChange) ?? 0) + 1);
  for (const [day, n] of counts) if (n >= 3 && n * 2 > users.length) return day;
  return null;
}

export function accountsRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const out: Finding[] = [];
  for (const s of scopesOf(snap, ctx)) {
    const { acc, where, base } = s;
    const baseUsers = new Map(base?.users.map((u) => [u.name, u]) ?? []);
    const bulk = bulkDay(acc.users);
    for (const u of acc.users) {
      const isNew = base !== null && !baseUsers.has(u.name);
      const baseUser = baseUsers.get(u.name);
      if (u.uid === 0 && u.name !== "root") {
        out.push(
          finding({
            rule: "account.uid0",
            severity: base && !baseUser ? "critical" : "high",
            confidence: "high",
            title: `second UID 0 account "${u.name}"${isNew ? " (not in the baseline)" : ""}`,
            where,
            containerId: acc.containerId,
            evidence: [userEvidence(u)],
            next: `A UID 0 account other than root is a classic backdoor: lock it (usermod -L ${u.name}; on a copy first) and find when /etc/passwd changed (${acc.fileTimes["/etc/passwd"] ?? "mtime unknown"}).`,
          }),
        );
      } else if (isNew) {
        const strong = u.loginShell || u.password === "set" || u.password === "empty";
        out.push(
          finding({
            rule: "account.new",
            severity: strong ? "high" : "medium",
            confidence: "high",
            title: `account "${u.name}" (uid ${u.uid}${u.loginShell ? `, shell ${u.shell}` : ""}) is not in the baseline`,
            where,
            containerId: acc.containerId,
            evidence: [userEvidence(u)],
            next: `Check who created ${u.name} (auth logs, package installs); lock it if nobody did.`,
          }),
        );
      } else if (u.lastChange && s.recent(u.lastChange) && u.lastChange !== bulk) {
        const strong = u.loginShell || u.uid === 0;
        out.push(
          finding({
            rule: "account.password-changed",
            severity: strong ? "medium" : "low",
            confidence: "low",
            title: `account "${u.name}" was created or had its password changed on ${u.lastChange} (${s.recentText})`,
            where,
            containerId: acc.containerId,
            evidence: [userEvidence(u)],
            next: `Confirm with the admins that ${u.name} was changed on purpose; if not, lock it and look for the login that did it.`,
          }),
        );
      }
      if (u.uid !== 0 && u.uid < 1000 && u.loginShell) {
        const gained = baseUser
          ? !baseUser.loginShell
          : // Service accounts that must never have a login shell (rules/nologin-services.json).
            ctx.lists.nologinServices.has(u.name) && base === null;
        if (gained) {
          out.push(
            finding({
              rule: "account.service-shell",
              severity: "high",
              confidence: baseUser ? "high" : "medium",
              title: `service account "${u.name}" (uid ${u.uid}) has login shell ${u.shell}${baseUser ? ` (was ${baseUser.shell})` : ""}`,
              where,
              containerId: acc.containerId,
              evidence: [userEvidence(u)],
              next: `Service accounts need no shell; attackers give one to keep access. Set it back: usermod -s /usr/sbin/nologin ${u.name}.`,
            }),
          );
        }
      }
    }
    out.push(...sudoFindings(s), ...keyFindings(s));
  }
  return out;
}

function sudoFindings(s: Scope): Finding[] {
  const { acc, where, base } = s;
  const out: Finding[] = [];
  const baseTexts = new Set(base?.sudo.map((r) => r.text.trim()) ?? []);
  const unknown = base ? acc.sudo.filter((r) => !baseTexts.has(r.text.trim())) : [];
  if (unknown.length) {
    out.push(
      finding({
        rule: "account.sudo-new",
        severity: "high",
        confidence: "high",
        title: `${unknown.length} sudo rule${unknown.length > 1 ? "s" : ""} not in the baseline (${[...new Set(unknown.map((r) => r.file))].join(", ")})`,
        where,
        containerId: acc.containerId,
        evidence: unknown.slice(0, 20).map((r) => ({
          file: r.file,
          line: r.line,
          text: r.text,
          facts: { mtime: r.fileMtime ?? "unknown" },
        })),
        next: "Check who granted these rights; remove them if nobody did (visudo -f <file>).",
      }),
    );
  }
  const shown = new Set(unknown);
  const recent = acc.sudo.filter((r) => !shown.has(r) && s.recent(r.fileMtime));
  const files = [...new Set(recent.map((r) => r.file))];
  for (const file of files) {
    const rules = recent.filter((r) => r.file === file);
    out.push(
      finding({
        rule: "account.sudo-recent",
        severity: "medium",
        confidence: "low",
        title: `sudo rules in ${file} changed ${s.recentText} (${rules[0]!.fileMtime})`,
        where,
        containerId: acc.containerId,
        evidence: rules.slice(0, 20).map((r) => ({
          file: r.file,
          line: r.line,
          text: r.text,
          facts: { mtime: r.fileMtime ?? "unknown" },
        })),
        next: `Review ${file}: who may run what as root, and whether that is new.`,
      }),
    );
  }
  return out;
}

/** Larger than any authorized_keys a person keeps (hundreds of RSA-4096 keys). */
const OVERSIZED_KEYS_BYTES = 1024 * 1024;

function keyFindings(s: Scope): Finding[] {
  const { acc, where, base } = s;
  const out: Finding[] = [];
  for (const f of acc.authorizedKeys) {
    const baseFile = base?.authorizedKeys.find((b) => b.user === f.user && b.path === f.path);
    const known = new Set(baseFile?.keys.map((k) => k.fingerprint) ?? []);
    const unknown = base ? f.keys.filter((k) => !known.has(k.fingerprint)) : [];
    const evidence = (keys: typeof f.keys) =>
      keys.slice(0, 20).map((k) => ({
        file: f.path,
        line: k.line,
        text: `${k.type} ${k.fingerprint} ${k.comment}`.trim(),
        facts: {
          ...(k.options ? { options: k.options } : {}),
          mtime: f.mtime ?? "unknown",
          ctime: f.ctime ?? "unknown",
        },
      }));
    // Real files hold a few keys (~100 bytes to 3 KB each); megabytes are padding meant to push a
    // key past what a reader looks at, or more keys than anyone can review.
    if (f.size > OVERSIZED_KEYS_BYTES) {
      out.push(
        finding({
          rule: "account.authorized-keys-oversized",
          severity: "high",
          confidence: "medium",
          title: `${f.path} of ${f.user} is ${f.size} bytes (${f.keys.length} key${f.keys.length === 1 ? "" : "s"} read): padded to hide keys?`,
          where,
          containerId: acc.containerId,
          evidence: evidence(f.keys.slice(-20)),
          next: `Read ${f.path} whole (grep -nv '^[[:space:]]*$' ${f.path}) and keep only keys you recognise for ${f.user}.`,
        }),
      );
    }
    if (unknown.length) {
      out.push(
        finding({
          rule: "account.authorized-keys-new",
          severity: "high",
          confidence: "high",
          title: `${unknown.length} SSH key${unknown.length > 1 ? "s" : ""} for ${f.user} not in the baseline (${f.path})`,
          where,
          containerId: acc.containerId,
          evidence: evidence(unknown),
          next: `Remove keys nobody recognises from ${f.path} (after collecting evidence) and rotate access for ${f.user}.`,
        }),
      );
      continue;
    }
    // ctime too: `touch -d` can backdate mtime, not ctime.
    const when = s.recent(f.mtime) ? f.mtime : s.recent(f.ctime) ? f.ctime : null;
    if (when) {
      out.push(
        finding({
          rule: "account.authorized-keys-recent",
          severity: "medium",
          confidence: "low",
          title: `${f.path} (${f.keys.length} key${f.keys.length === 1 ? "" : "s"}) changed ${s.recentText} (${when})`,
          where,
          containerId: acc.containerId,
          evidence: evidence(f.keys),
          next: `Check every key in ${f.path} against the people who should have access as ${f.user}.`,
        }),
      );
    }
  }
  return out;
}
