/**
 * The audit command through runCli on a dead server's disk (--root): the JSON validates
 * against its registered schema, --fail-on decides the exit code, --sarif writes the file,
 * a missing --root is a clear error (exit 2).
 */
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/main.js";
import { AuditOutputSchema } from "../../../src/model/audit-output.js";
import { memoryIo } from "../../helpers/memory-io.js";

let disk: string;

beforeAll(async () => {
  disk = await mkdtemp(join(tmpdir(), "bk-audit-cli-"));
  await mkdir(join(disk, "etc/ssh"), { recursive: true });
  await mkdir(join(disk, "etc/docker"), { recursive: true });
  await writeFile(join(disk, "etc/hostname"), "dead-server\n");
  await writeFile(join(disk, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
  await writeFile(
    join(disk, "etc/ssh/sshd_config"),
    "PasswordAuthentication no\nKbdInteractiveAuthentication no\nMaxAuthTries 3\nAllowTcpForwarding no\nMACs hmac-sha2-256-etm@openssh.com\n",
  );
  await writeFile(
    join(disk, "etc/docker/daemon.json"),
    '{\n  "icc": false,\n  "live-restore": true\n}\n',
  );
});

afterAll(async () => rm(disk, { recursive: true, force: true }));

describe("breachkit audit --root", () => {
  it("prints JSON of its schema; exit 0 under --fail-on critical, 1 under --fail-on low", async () => {
    const m = memoryIo();
    const code = await runCli(
      [
        "audit",
        "--root",
        disk,
        "--json",
        "--fail-on",
        "critical",
        "--sarif",
        join(disk, "out.sarif"),
      ],
      m.io,
    );
    expect(code, m.stderr()).toBe(0);
    const out = AuditOutputSchema.parse(JSON.parse(m.stdout()));
    expect(out.host).toBe("dead-server");
    expect(out.root).toBe(disk);
    expect(out.ssh[0]!.contexts[0]!.source).toBe("parser");
    expect(out.findings.some((f) => f.rule === "audit.ssh.password-auth")).toBe(false);
    const daemonRules = out.findings
      .filter((f) => f.evidence[0]?.facts?.area === "daemon")
      .map((f) => f.rule);
    expect(daemonRules).not.toContain("audit.daemon.icc");
    expect(daemonRules).not.toContain("audit.daemon.live-restore");
    expect(daemonRules).toContain("audit.daemon.log-max-size");
    const sarif = JSON.parse(await readFile(join(disk, "out.sarif"), "utf8"));
    expect(sarif.version).toBe("2.1.0");

    const low = memoryIo();
    expect(await runCli(["audit", "--root", disk, "--json", "--fail-on", "low"], low.io)).toBe(1);
  });

  it("says what to do when --root cannot be read (exit 2)", async () => {
    const m = memoryIo();
    expect(await runCli(["audit", "--root", join(disk, "nope")], m.io)).toBe(2);
    expect(m.stderr()).toMatch(/cannot read .*nope/);
    expect(m.stderr()).toMatch(/mount -o ro/);
  });
});
