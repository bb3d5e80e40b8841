import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { makeRecord } from "../../../src/model/baseline.js";
import {
  cronLines,
  parseModules,
  readCron,
  readUnits,
  walkSuid,
} from "../../../src/observe/baseline/index.js";
import { parseBaselineRecord } from "../../../src/observe/baseline/record.js";

let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "bk-baseline-root-"));
  await mkdir(join(root, "etc/cron.d"), { recursive: true });
  await mkdir(join(root, "etc/cron.daily"), { recursive: true });
  await mkdir(join(root, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
  await mkdir(join(root, "usr/lib/systemd/system"), { recursive: true });
  await mkdir(join(root, "usr/bin"), { recursive: true });
  await mkdir(join(root, "tmp"), { recursive: true });
  await writeFile(
    join(root, "etc/crontab"),
    "# m h dom mon dow user command\nSHELL=/bin/sh\n17 *\t* * *\troot    cd / && run-parts --report /etc/cron.hourly\n\n",
  );
  await writeFile(join(root, "etc/cron.d/evil"), "* * * * * root /tmp/.x\n");
  await writeFile(
    join(root, "etc/cron.daily/logrotate"),
    "#!/bin/sh\nlogrotate /etc/logrotate.conf\n",
  );
  await writeFile(
    join(root, "usr/lib/systemd/system/ssh.service"),
    "[Service]\nExecStart=/usr/sbin/sshd -D\n",
  );
  await writeFile(join(root, "etc/systemd/system/evil.timer"), "[Timer]\nOnCalendar=hourly\n");
  await symlink(
    "/usr/lib/systemd/system/ssh.service",
    join(root, "etc/systemd/system/multi-user.target.wants/ssh.service"),
  );
  await writeFile(join(root, "usr/bin/passwd"), "not really passwd");
  await chmod(join(root, "usr/bin/passwd"), 0o4755);
  await writeFile(join(root, "tmp/.x"), "dropped");
  await chmod(join(root, "tmp/.x"), 0o2755);
  await writeFile(join(root, "usr/bin/plain"), "plain");
  // A symlink to a SUID file elsewhere is not followed.
  await symlink("/usr/bin/passwd", join(root, "tmp/link"));
});

afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("baseline host files", () => {
  it("keeps only the job lines of a crontab, blanks squashed", () => {
    expect(cronLines("# c\nMAILTO=root\n\n17 *\t* * *  root   x\n")).toEqual(["17 * * * * root x"]);
  });

  it("reads cron entries and run-parts scripts inside the root", async () => {
    const r = await readCron(root, "host");
    expect(r.items.map((i) => i.key).sort()).toEqual([
      "/etc/cron.d/evil: * * * * * root /tmp/.x",
      "/etc/cron.daily/logrotate",
      "/etc/crontab: 17 * * * * root cd / && run-parts --report /etc/cron.hourly",
    ]);
  });

  it("reads systemd units and the links that enable them", async () => {
    const r = await readUnits(root);
    const keys = r.items.map((i) => `${i.key} ${i.value.startsWith("/") ? i.value : "hash"}`);
    expect(keys.sort()).toEqual([
      "/etc/systemd/system/evil.timer hash",
      "/etc/systemd/system/multi-user.target.wants/ssh.service /usr/lib/systemd/system/ssh.service",
      "/usr/lib/systemd/system/ssh.service hash",
    ]);
  });

  it("walks SUID and SGID files, hashed, without following links", async () => {
    const r = await walkSuid(root);
    expect(r.files.map((f) => `${f.path} ${f.mode.toString(8)}`)).toEqual([
      "/tmp/.x 2755",
      "/usr/bin/passwd 4755",
    ]);
    expect(r.files[1]?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(r.gaps).toEqual([]);
  });

  it("stops at its bound and says so", async () => {
    const r = await walkSuid(root, { maxEntries: 3 });
    expect(r.gaps[0]?.message).toMatch(/stopped after 3 entries/);
  });

  it("parses /proc/modules", () => {
    expect(parseModules("overlay 151552 0 - Live 0x0\nbr_netfilter 32768 0 - Live 0x0\n")).toEqual([
      { name: "overlay", state: "Live" },
      { name: "br_netfilter", state: "Live" },
    ]);
  });

  it("refuses a baseline changed after it was saved", () => {
    const record = makeRecord(
      {
        takenAt: "2026-03-01T00:00:00.000Z",
        host: "h",
        root: "/",
        kinds: ["uid0"],
        placesRead: ["host"],
        items: [{ kind: "uid0", place: "host", key: "root", value: "", facts: {} }],
        gaps: [],
      },
      { name: "breachkit", version: "test" },
    );
    const text = JSON.stringify(record);
    expect(parseBaselineRecord(text, "b.json").seal).toBe(record.seal);
    const tampered = text.replace('"key":"root"', '"key":"toor"');
    expect(() => parseBaselineRecord(tampered, "b.json")).toThrow(/changed after it was saved/);
    expect(() => parseBaselineRecord("{}", "b.json")).toThrow(/not a breachkit baseline/);
    expect(() => parseBaselineRecord("", "b.json")).toThrow(/empty/);
  });
});
