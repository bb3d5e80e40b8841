import { describe, expect, it } from "vitest";
import {
  clamavFindings,
  mailboxOf,
  signatureFamily,
} from "../../../../src/judge/scanners/clamav.js";
import {
  loadFalsePositives,
  markFalsePositives,
  parseFalsePositives,
} from "../../../../src/judge/scanners/false-positives.js";
import type { ClamavHit } from "../../../../src/observe/scanners/types.js";

function hit(where: string, path: string, signature: string, pid: number | null = null): ClamavHit {
  return {
    location: { where, containerId: where === "host" ? null : "c0ffee", path, hostPath: path, pid },
    signature,
    size: 68,
    sha256: null,
    looksLikeMbox: false,
  };
}

describe("ClamAV findings", () => {
  it("classifies signature families", () => {
    expect(signatureFamily("Eicar-Test-Signature.UNOFFICIAL")).toBe("test");
    expect(signatureFamily("Win.Test.EICAR_HDB-1")).toBe("test");
    expect(signatureFamily("Heuristics.Phishing.Email.SpoofedDomain")).toBe("heuristic");
    expect(signatureFamily("PUA.Win.Packer.Upx")).toBe("heuristic");
    expect(signatureFamily("Breachkit.Lab.Wate.UNOFFICIAL")).toBe("malware");
  });

  it("finds the mailbox of a path", () => {
    expect(mailboxOf("/var/mail/alice")).toEqual({ mailbox: "/var/mail/alice", format: "mbox" });
    expect(mailboxOf("/var/spool/mail/bob/new/123.host")).toEqual({
      mailbox: "/var/spool/mail/bob",
      format: "maildir",
    });
    expect(mailboxOf("/home/bob/Maildir/.Spam/cur/1:2,S")).toEqual({
      mailbox: "/home/bob/Maildir/.Spam",
      format: "maildir",
    });
    expect(mailboxOf("/tmp/wate")).toBeNull();
    expect(mailboxOf("/home/a/mail/inbox", true)).toEqual({
      mailbox: "/home/a/mail/inbox",
      format: "mbox",
    });
  });

  it("groups mail per mailbox at low severity, keeps malware on disk high, a process critical", () => {
    const f = clamavFindings([
      hit("bk-lab-mail", "/var/mail/alice", "Eicar-Test-Signature.UNOFFICIAL"),
      hit("bk-lab-mail", "/home/bob/Maildir/new/1", "Eicar-Test-Signature.UNOFFICIAL"),
      hit("bk-lab-mail", "/home/bob/Maildir/new/2", "Heuristics.Phishing.X"),
      hit(
        "bk-lab-mail",
        "/srv/files/lab-signature.bin",
        "Breachkit.Lab.Signature-7f3a9c1e.UNOFFICIAL",
      ),
      hit("bk-lab-gitlab", "/tmp/wate (deleted)", "Breachkit.Lab.Wate.UNOFFICIAL", 4242),
      hit("host", "/tmp/eicar.com", "Eicar-Test-Signature.UNOFFICIAL"),
    ]);
    const mail = f.filter((x) => x.rule === "clamav.mail");
    expect(mail).toHaveLength(2);
    expect(mail.every((m) => m.severity === "low")).toBe(true);
    expect(mail.find((m) => m.title.includes("/home/bob/Maildir"))!.evidence).toHaveLength(2);
    expect(mail.find((m) => m.title.includes("alice"))!.title).toMatch(/EICAR test signature/);
    const lab = f.find((x) => x.title.includes("lab-signature.bin"))!;
    expect([lab.severity, lab.where, lab.containerId]).toEqual(["high", "bk-lab-mail", "c0ffee"]);
    const proc = f.find((x) => x.rule === "clamav.process-exe")!;
    expect([proc.severity, proc.evidence[0]!.pid]).toEqual(["critical", 4242]);
    expect(f.find((x) => x.rule === "clamav.test-signature")!.title).toMatch(/not malware/);
  });

  it("tells to contain the container of a flagged process, and to isolate the host for a host one", () => {
    const [inCt, onHost] = clamavFindings([
      hit("bk-lab-gitlab", "/tmp/wate", "Breachkit.Lab.Wate.UNOFFICIAL", 4242),
      hit("host", "/tmp/bk-lab-x/kdevtmpfsd", "Breachkit.Lab.Wate.UNOFFICIAL", 5151),
    ]);
    expect(inCt!.next).toContain("breachkit contain bk-lab-gitlab");
    expect(onHost!.where).toBe("host");
    expect(onHost!.next).not.toContain("breachkit contain");
    expect(onHost!.next).toContain("solate the host");
  });

  it("marks root's mailbox and heuristic families as probable false positives, never drops them", () => {
    const f = markFalsePositives(
      clamavFindings([
        hit("host", "/var/mail/root", "Win.Trojan.X"),
        hit("host", "/tmp/a.zip", "Heuristics.Encrypted.Zip"),
      ]),
      loadFalsePositives(),
    );
    expect(f).toHaveLength(2);
    expect(f.every((x) => x.falsePositive !== null)).toBe(true);
  });

  it("rejects a rules file with a broken pattern, naming the rule", () => {
    const bad = JSON.stringify({
      format: "breachkit-false-positives/1",
      rules: [{ tool: "x", id: "bad.rule", pattern: "(", where: "any", reason: "r" }],
    });
    expect(() => parseFalsePositives(bad)).toThrow(/bad\.rule/);
  });
});
