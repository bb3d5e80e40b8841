/**
 * chkrootkit's items judged: INFECTED is high (its checks are string matches, so medium
 * confidence), a WARNING block medium, vulnerable-but-disabled and unexplained output low.
 */
import type { Finding, Severity } from "../../model/finding.js";
import type { BusyboxIdentity, ChkrootkitItem } from "../../observe/scanners/chkrootkit.js";

/**
 * chkrootkit reads busybox applets (basename, date, env, login, netstat ...) as infected: its
 * string checks match the one binary that holds every applet. Excused only when the file it
 * named IS the root's busybox (same device and inode, or the same SHA-256: never by name),
 * and that busybox is the image's own: not in the writable layer, and matching its apk
 * checksum where there is one.
 */
export function busyboxFalsePositive(
  it: ChkrootkitItem,
  busybox: BusyboxIdentity | null | undefined,
): string | null {
  const b = it.binary;
  if (it.kind !== "infected" || !b || !busybox) return null;
  const same = (b.dev === busybox.dev && b.ino === busybox.ino) || b.sha256 === busybox.sha256;
  if (!same || b.inWritableLayer || busybox.inWritableLayer || busybox.packageVerified === false)
    return null;
  return `busybox applet: ${b.path} is the image's own busybox ${busybox.resolved} (${
    b.dev === busybox.dev && b.ino === busybox.ino ? "same inode" : "same SHA-256"
  } ${busybox.sha256.slice(0, 16)}..., not changed in the writable layer${
    busybox.packageVerified ? ", matches its apk checksum" : ""
  }); chkrootkit's string checks misread busybox's applets`;
}

/** Items that become findings: infected, disabled-but-vulnerable, warnings, unexplained output. */
export function chkrootkitFindings(
  items: readonly ChkrootkitItem[],
  where: string,
  containerId: string | null,
  outputFile: string,
  busybox?: BusyboxIdentity | null,
): Finding[] {
  const out: Finding[] = [];
  for (const it of items) {
    let severity: Severity;
    let confidence: Finding["confidence"];
    if (it.kind === "infected") {
      severity = "high";
      confidence = "medium";
    } else if (it.kind === "warning") {
      severity = "medium";
      confidence = "low";
    } else if (it.kind === "disabled") {
      severity = "low";
      confidence = "low";
    } else if (
      it.kind === "other" ||
      (it.kind === "clean" && it.lines.some((l) => /Warning|Possible/i.test(l)))
    ) {
      severity = "low";
      confidence = "low";
    } else continue;
    const name = it.check ? `${it.check}: ` : "";
    const head = it.kind === "warning" ? it.status.replace(/^WARNING: /, "") : it.status;
    out.push({
      rule: `chkrootkit.${it.kind === "clean" ? "other" : it.kind}`,
      severity,
      confidence,
      title: `chkrootkit: ${name}${head.trim()}`.slice(0, 300),
      where,
      containerId,
      evidence: [
        {
          file: outputFile,
          line: it.line,
          text: (it.lines.length ? it.lines : [it.status]).slice(0, 200).join("\n"),
          ...(it.binary
            ? {
                path: it.binary.path,
                sha256: it.binary.sha256,
                facts: {
                  resolved: it.binary.resolved,
                  inode: `${it.binary.dev}:${it.binary.ino}`,
                  writableLayer: it.binary.inWritableLayer ? "yes" : "no",
                },
              }
            : {}),
        },
      ],
      next:
        it.kind === "infected"
          ? "Compare the named binary with its package (dpkg --verify, debsums) from a trusted system, and preserve it before changing anything."
          : "Read the listed lines: chkrootkit is noisy; a path or process you cannot explain deserves a look.",
      source: "chkrootkit",
      falsePositive: busyboxFalsePositive(it, busybox),
    });
  }
  return out;
}
