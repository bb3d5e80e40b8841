/**
 * Logins: successful logins (wtmp USER_PROCESS) from addresses never seen before, and
 * bursts of failed logins (btmp) from one address, worse when that address later got in.
 */
import type { Finding } from "../../model/finding.js";
import type { Accounts, LoginRecord, Snapshot } from "../../model/snapshot.js";
import { type RuleContext, thresholdsOf } from "../context.js";
import { finding, indexOf } from "../facts.js";
import { isLocalOrUnspecified } from "../ioc/ip.js";

/** The remote a login came from, or null for a local one (console, X display, loopback). */
export function loginRemote(r: LoginRecord): string | null {
  const a = r.address && !isLocalOrUnspecified(r.address) ? r.address : null;
  if (a) return a;
  const h = r.host.trim();
  if (!h || h.startsWith(":") || h === "localhost" || isLocalOrUnspecified(h)) return null;
  // utmp's host field may carry the display ("10.0.0.5:S.0") or be cut at 256 bytes.
  return h.replace(/:S?\.?\d+(\.\d+)?$/, "");
}

function whereOfAccounts(snap: Snapshot, acc: Accounts): string {
  if (!acc.containerId) return "host";
  return indexOf(snap).containerById.get(acc.containerId)?.name ?? acc.scope;
}

const isSuccess = (r: LoginRecord) => r.source !== "btmp" && r.type === "USER_PROCESS";

export function newLoginAddressRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const t = thresholdsOf(ctx);
  const out: Finding[] = [];
  for (const acc of snap.accounts) {
    const where = whereOfAccounts(snap, acc);
    const logins = acc.logins.filter((r) => isSuccess(r) && loginRemote(r));
    if (!logins.length) continue;
    const base = ctx.baseline?.accounts.find((b) => b.scope === acc.scope) ?? null;
    let known: Set<string>;
    let fresh: LoginRecord[];
    let basis: string;
    if (base) {
      known = new Set(
        [
          ...base.logins.filter(isSuccess).map(loginRemote),
          ...base.lastlog.map((l) => l.host.trim()),
        ].filter((x): x is string => !!x),
      );
      fresh = logins.filter((r) => !known.has(loginRemote(r)!));
      basis = "not in the baseline";
    } else {
      // Without a baseline, the older part of wtmp is the baseline; a host whose wtmp
      // holds nothing older than the window has no history to compare with.
      const cutoff = ctx.now.getTime() - t.recentDays * 86_400_000;
      const older = logins.filter((r) => Date.parse(r.time) < cutoff);
      if (!older.length) continue;
      known = new Set(older.map((r) => loginRemote(r)!));
      fresh = logins.filter((r) => Date.parse(r.time) >= cutoff && !known.has(loginRemote(r)!));
      basis = `never seen before the last ${t.recentDays} days`;
    }
    const byAddr = new Map<string, LoginRecord[]>();
    for (const r of fresh) {
      const a = loginRemote(r)!;
      byAddr.set(a, [...(byAddr.get(a) ?? []), r]);
    }
    for (const [addr, recs] of byAddr) {
      const users = [...new Set(recs.map((r) => r.user))];
      const root = users.includes("root");
      out.push(
        finding({
          rule: "login.new-address",
          severity: root ? "high" : "medium",
          confidence: base ? "medium" : "low",
          title: `${recs.length} login${recs.length > 1 ? "s" : ""} as ${users.join(", ")} from ${addr} (${basis})`,
          where,
          containerId: acc.containerId,
          evidence: recs.slice(0, 10).map((r) => ({
            text: `${r.user} ${r.tty} ${r.host} ${r.time}`,
            facts: { source: r.source, address: addr, ...(r.pid ? { pid: String(r.pid) } : {}) },
          })),
          next: `Ask ${users.join(", ")} whether ${addr} was them; if not, the account is compromised: rotate its keys and passwords.`,
        }),
      );
    }
  }
  return out;
}

export function failedLoginBurstRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const t = thresholdsOf(ctx);
  const windowMs = t.failedLoginMinutes * 60_000;
  const out: Finding[] = [];
  for (const acc of snap.accounts) {
    const where = whereOfAccounts(snap, acc);
    const byAddr = new Map<string, LoginRecord[]>();
    for (const r of acc.logins) {
      if (r.source !== "btmp") continue;
      const a = loginRemote(r);
      if (!a || Number.isNaN(Date.parse(r.time))) continue;
      byAddr.set(a, [...(byAddr.get(a) ?? []), r]);
    }
    for (const [addr, recs] of byAddr) {
      recs.sort((a, b) => Date.parse(a.time) - Date.parse(b.time));
      let best = 0;
      let bestStart = 0;
      for (let i = 0, j = 0; j < recs.length; j++) {
        while (Date.parse(recs[j]!.time) - Date.parse(recs[i]!.time) > windowMs) i++;
        if (j - i + 1 > best) {
          best = j - i + 1;
          bestStart = i;
        }
      }
      if (best < t.failedLogins) continue;
      const start = Date.parse(recs[bestStart]!.time);
      const success = acc.logins.find(
        (r) => isSuccess(r) && loginRemote(r) === addr && Date.parse(r.time) >= start,
      );
      const users = [...new Set(recs.map((r) => r.user))];
      out.push(
        finding({
          rule: success ? "login.brute-force-success" : "login.failed-burst",
          severity: success ? "critical" : "medium",
          confidence: success ? "high" : "medium",
          title: success
            ? `${addr} got in as ${success.user} at ${success.time} after ${best} failed logins within ${t.failedLoginMinutes} min`
            : `${best} failed logins within ${t.failedLoginMinutes} min from ${addr} (${recs.length} in all; users ${users.slice(0, 5).join(", ")}${users.length > 5 ? " …" : ""})`,
          where,
          containerId: acc.containerId,
          evidence: [
            {
              facts: {
                address: addr,
                failed: String(recs.length),
                burst: String(best),
                first: recs[0]!.time,
                last: recs[recs.length - 1]!.time,
              },
            },
            ...(success
              ? [
                  {
                    text: `${success.user} ${success.tty} ${success.host} ${success.time}`,
                    facts: { source: success.source },
                  },
                ]
              : []),
            ...recs.slice(bestStart, bestStart + 5).map((r) => ({
              text: `${r.user} ${r.tty} ${r.host} ${r.time}`,
              facts: { source: "btmp" },
            })),
          ],
          next: success
            ? `Treat ${success.user} as compromised: end its sessions, rotate its credentials, look at what it ran. Block ${addr}.`
            : `Block ${addr} (fail2ban, firewall) and make sure SSH takes keys only.`,
        }),
      );
    }
  }
  return out;
}
