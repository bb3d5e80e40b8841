/**
 * ClamAV hits judged: a signature family decides the severity (EICAR is a test, heuristic and
 * spam families misfire, the rest is malware; a running process executing it is critical),
 * and mail is judged apart: delivered malware in a mailbox is inert content, and an mbox is
 * one file, so one bad attachment flags the whole mailbox.
 */
import type { Finding, Severity } from "../../model/finding.js";
import type { ClamavHit } from "../../observe/scanners/types.js";

export type SignatureFamily = "test" | "heuristic" | "malware";

/** EICAR is the antivirus test file; heuristic, PUA, phishing and spam families misfire. */
export function signatureFamily(signature: string): SignatureFamily {
  const s = signature.replace(/\.UNOFFICIAL$/, "");
  if (/eicar/i.test(s)) return "test";
  if (
    /^(Heuristics\.|PUA\.)/i.test(s) ||
    /(^|[.\-_])(Phishing|Spam|Junk|Scam|Sanesecurity|Porcupine|Email\.Spam|Hdr|Fake)/i.test(s)
  )
    return "heuristic";
  return "malware";
}

export interface Mailbox {
  mailbox: string;
  format: "mbox" | "maildir";
}

/**
 * The mailbox a path (inside its host or container) belongs to, or null. Spool directories
 * hold mbox files (or per-user Maildirs); elsewhere a Maildir is recognised by its cur/new/tmp.
 */
export function mailboxOf(path: string, looksLikeMbox = false): Mailbox | null {
  const maildir = /^(.*\/Maildir(?:\/\.[^/]+)?)\/(?:cur|new|tmp)\/[^/]+$/.exec(path);
  if (maildir) return { mailbox: maildir[1]!, format: "maildir" };
  const spool = /^(\/var\/(?:spool\/)?mail|\/var\/vmail)\/([^/]+)(\/.*)?$/.exec(path);
  if (spool) {
    const top = `${spool[1]}/${spool[2]}`;
    const rest = spool[3];
    if (!rest) return { mailbox: top, format: "mbox" };
    const sub = /^(.*)\/(?:cur|new|tmp)\/[^/]+$/.exec(path);
    if (sub) return { mailbox: sub[1]!, format: "maildir" };
    return { mailbox: path, format: "mbox" };
  }
  if (looksLikeMbox && /\/(mail|Mail|mbox)(\/|$)/.test(path))
    return { mailbox: path, format: "mbox" };
  return null;
}

function locate(h: ClamavHit): string {
  const l = h.location;
  return l.where === "host" ? l.path : `${l.where}:${l.path}`;
}

function hitEvidence(h: ClamavHit) {
  return {
    path: h.location.path,
    text: h.signature,
    ...(h.location.pid !== null ? { pid: h.location.pid } : {}),
    ...(h.sha256 ? { sha256: h.sha256 } : {}),
    facts: {
      signature: h.signature,
      hostPath: h.location.hostPath,
      size: String(h.size),
      family: signatureFamily(h.signature),
    },
  };
}

/** Findings from hits: one per file outside mail, one per mailbox inside. */
export function clamavFindings(hits: readonly ClamavHit[]): Finding[] {
  const out: Finding[] = [];
  const mail = new Map<string, { box: Mailbox; hits: ClamavHit[] }>();
  for (const h of hits) {
    const box = h.location.pid === null ? mailboxOf(h.location.path, h.looksLikeMbox) : null;
    if (box) {
      const key = `${h.location.where}\0${box.mailbox}`;
      const g = mail.get(key) ?? { box, hits: [] };
      g.hits.push(h);
      mail.set(key, g);
      continue;
    }
    const family = signatureFamily(h.signature);
    const isProcess = h.location.pid !== null;
    let severity: Severity =
      family === "malware" ? "high" : family === "heuristic" ? "medium" : "low";
    if (isProcess && family === "malware") severity = "critical";
    const title =
      family === "test"
        ? `EICAR test signature (the antivirus test file, not malware) in ${locate(h)}`
        : isProcess
          ? `Running process ${h.location.pid} executes a file ClamAV flags as ${h.signature}: ${h.location.path}`
          : `ClamAV: ${h.signature} in ${locate(h)}`;
    out.push({
      rule:
        family === "test"
          ? "clamav.test-signature"
          : isProcess
            ? "clamav.process-exe"
            : "clamav.hit",
      severity,
      confidence: family === "malware" ? "high" : "medium",
      title,
      where: h.location.where,
      containerId: h.location.containerId,
      evidence: [hitEvidence(h)],
      next:
        family === "test"
          ? "Someone placed the EICAR test file here: harmless by design; find out who and why."
          : isProcess
            ? `Preserve the executable (breachkit collect reads /proc/${h.location.pid}/exe), then ${
                h.location.where === "host"
                  ? "isolate the host (firewall it off or unplug its uplink): the process runs outside all containers,"
                  : `contain it with \`breachkit contain ${h.location.where}\``
              } before stopping anything.`
            : "Preserve the file (copy with its hash) before removing it; find how it arrived (logs around its mtime).",
      source: "clamav",
      falsePositive: null,
    });
  }
  for (const { box, hits: group } of mail.values()) {
    const families = new Set(group.map((h) => signatureFamily(h.signature)));
    const onlyInert = !families.has("malware");
    const first = group[0]!;
    const sigs = [...new Set(group.map((h) => h.signature))];
    const where = first.location.where;
    const testOnly = families.size === 1 && families.has("test");
    out.push({
      rule: "clamav.mail",
      severity: onlyInert ? "low" : "medium",
      confidence: "medium",
      title: `Mail: ${group.length} flagged ${box.format === "maildir" ? "message(s)" : "hit(s)"} in mailbox ${box.mailbox}${where === "host" ? "" : ` (${where})`}: ${sigs.slice(0, 3).join(", ")}${sigs.length > 3 ? ", ..." : ""}${testOnly ? " (EICAR test signature)" : ""}`,
      where,
      containerId: first.location.containerId,
      evidence: group.slice(0, 50).map(hitEvidence),
      next: "Delivered mail is inert until opened: warn the mailbox owner, never delete or move the mailbox (it is evidence); a mail filter can quarantine future copies.",
      source: "clamav",
      falsePositive: null,
    });
  }
  return out;
}
