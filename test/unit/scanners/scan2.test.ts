/**
 * Scan, second pass: YARA's output parsed against the listed paths, busybox applets excused
 * by inode or hash (never by name), the order tools run in, the verified-file skip rule.
 */
import { describe, expect, it } from "vitest";
import { scanOrder } from "../../../src/cli/run-scan.js";
import {
  busyboxFalsePositive,
  chkrootkitFindings,
} from "../../../src/judge/scanners/chkrootkit.js";
import { yaraFindings } from "../../../src/judge/scanners/yara.js";
import type { BusyboxIdentity, ChkrootkitItem } from "../../../src/observe/scanners/chkrootkit.js";
import {
  alwaysScanned,
  parseYaraMeta,
  parseYaraOutput,
} from "../../../src/observe/scanners/yara.js";

// Recorded from yara 4.2.3 (Debian 12): yara -w -m -s -p 2 --scan-list wate.yar list
const YARA_OUT = `breachkit_lab_wate [description="breachkit lab trojan stand-in (wate), a UDP flooder",author="breachkit tests",severity="critical",reference="lab/wate.c"] /tmp/scan2/wa te
0x7a020:$payload: wate-lab-flood
0x7a004:$self: /proc/self/exe
breachkit_lab_wate [description="breachkit lab trojan stand-in (wate), a UDP flooder",author="breachkit tests",severity="critical",reference="lab/wate.c"] /proc/15113/exe
`;

describe("yara output", () => {
  it("maps each match to a listed path, with its metadata and strings", () => {
    const m = parseYaraOutput(
      YARA_OUT,
      new Set(["/tmp/scan2/wa te", "/proc/15113/exe", "/tmp/other"]),
    );
    expect(m.map((x) => x.path)).toEqual(["/tmp/scan2/wa te", "/proc/15113/exe"]);
    expect(m[0]?.meta).toEqual({
      description: "breachkit lab trojan stand-in (wate), a UDP flooder",
      author: "breachkit tests",
      severity: "critical",
      reference: "lab/wate.c",
    });
    expect(m[0]?.strings).toEqual([
      "0x7a020:$payload: wate-lab-flood",
      "0x7a004:$self: /proc/self/exe",
    ]);
  });

  it("ignores a line whose path was not listed (a name built to look like output)", () => {
    expect(parseYaraOutput("rule [a=1] /not/listed\n", new Set(["/x"]))).toEqual([]);
    expect(parseYaraMeta('a="x\\"y",n=3,b=true')).toEqual({ a: 'x"y', n: "3", b: "true" });
  });

  it("judges a match on a process executable critical, attributed to its container", () => {
    const f = yaraFindings(
      [
        {
          rule: "r",
          meta: { severity: "high", description: "d" },
          strings: [],
          location: {
            where: "bk-lab-gitlab",
            containerId: "abc",
            path: "/tmp/wate (deleted)",
            hostPath: "/proc/9/exe",
            pid: 9,
          },
        },
      ],
      "/rules.yar",
    );
    expect(f[0]).toMatchObject({
      severity: "critical",
      where: "bk-lab-gitlab",
      containerId: "abc",
      rule: "yara.process-exe",
    });
    expect(f[0]?.evidence[0]?.facts?.["meta.description"]).toBe("d");
  });
});

const bb: BusyboxIdentity = {
  path: "/bin/busybox",
  resolved: "/bin/busybox",
  dev: "66",
  ino: "1234",
  sha256: "a".repeat(64),
  inWritableLayer: false,
  packageVerified: null,
};
const item = (binary: BusyboxIdentity | null): ChkrootkitItem => ({
  check: "basename",
  status: "INFECTED",
  kind: "infected",
  lines: [],
  line: 3,
  binary,
});

describe("busybox applets in chkrootkit", () => {
  it("excuses an applet that is the image's busybox by inode", () => {
    const it1 = item({ ...bb, path: "/bin/basename" });
    expect(busyboxFalsePositive(it1, bb)).toMatch(/same inode/);
    const f = chkrootkitFindings([it1], "c", "id", "out", bb);
    expect(f[0]?.falsePositive).toMatch(/busybox applet/);
  });

  it("excuses by hash when the inode differs (a copy), never by name alone", () => {
    expect(busyboxFalsePositive(item({ ...bb, ino: "9", path: "/bin/date" }), bb)).toMatch(
      /same SHA-256/,
    );
    expect(
      busyboxFalsePositive(
        item({ ...bb, ino: "9", sha256: "b".repeat(64), path: "/bin/busybox" }),
        bb,
      ),
    ).toBeNull();
    expect(busyboxFalsePositive(item(null), bb)).toBeNull();
  });

  it("does not excuse a busybox changed in the writable layer or failing its apk checksum", () => {
    expect(busyboxFalsePositive(item(bb), { ...bb, inWritableLayer: true })).toBeNull();
    expect(
      busyboxFalsePositive(item({ ...bb, inWritableLayer: true }), {
        ...bb,
        inWritableLayer: true,
      }),
    ).toBeNull();
    expect(busyboxFalsePositive(item(bb), { ...bb, packageVerified: false })).toBeNull();
  });
});

describe("scan order and skipping", () => {
  it("runs packages first, and adds it for ClamAV or YARA unless --all-files", () => {
    expect(scanOrder(["clamav"], false)).toEqual(["packages", "clamav"]);
    expect(scanOrder(["clamav"], true)).toEqual(["clamav"]);
    expect(scanOrder(["yara", "chkrootkit"], false)).toEqual(["packages", "chkrootkit", "yara"]);
    expect(scanOrder(["rkhunter"], false)).toEqual(["rkhunter"]);
  });

  it("always scans temp dirs, mail, web roots and homes", () => {
    for (const p of ["/tmp/x", "/var/www/html/a.php", "/var/mail/root", "/home/u/.x", "/dev/shm/y"])
      expect(alwaysScanned(p)).toBe(true);
    expect(alwaysScanned("/usr/bin/ls")).toBe(false);
    expect(alwaysScanned("/tmpfoo")).toBe(false);
  });
});
