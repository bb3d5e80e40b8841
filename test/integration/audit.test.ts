/**
 * breachkit audit against the real engine: the lab's mail container (Docker socket mounted)
 * is flagged 5.32 with its fix; a container created with bad settings is flagged, its fixed
 * twin is not; a GitLab-shaped container (the lab image plus /opt/gitlab/version-manifest.txt)
 * is critical for CVE-2021-22205 at 13.10.2 and not at 13.10.3, read from its own files;
 * a 1 MB label breaks nothing; the SARIF file validates against the SARIF 2.1.0 schema;
 * --out seals audit.json; --root on a copy of the engine's own config.v2.json/hostconfig.json
 * finds the same socket mount.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import AjvModule from "ajv-draft-04";

// A CommonJS module: under NodeNext its class is the default export's .default.
const Ajv = AjvModule.default;

import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLabImage } from "../../lab/lab-core.js";
import { tarArchive } from "../../lab/tar.js";
import type { AuditOutput } from "../../src/model/audit-output.js";
import type { Finding } from "../../src/model/finding.js";
import { type LabInfo, labDown, labUp } from "../helpers/lab.js";

const BIN = join(process.cwd(), "dist/cli/bin.cjs");
const tag = randomBytes(3).toString("hex");
const created: string[] = [];
let out: string;
let lab: LabInfo;
let result: { code: number | undefined; json: AuditOutput | null; stderr: string };

async function docker(args: string[], input?: Uint8Array): Promise<string> {
  const r = await execa("docker", args, input ? { input } : { stdin: "ignore" });
  return String(r.stdout).trim();
}

/** POST /containers/create through the socket: a 1 MB label does not fit in one argv string. */
function createWithApi(name: string, body: unknown): Promise<string> {
  return new Promise((resolve, reject) => {
    const data = Buffer.from(JSON.stringify(body));
    const req = http.request(
      {
        socketPath: "/var/run/docker.sock",
        method: "POST",
        path: `/containers/create?name=${name}`,
        headers: { "content-type": "application/json", "content-length": data.length },
      },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () =>
          res.statusCode === 201 ? resolve(JSON.parse(text).Id) : reject(new Error(text)),
        );
      },
    );
    req.on("error", reject);
    req.end(data);
  });
}

async function gitlabShaped(name: string, version: string, image: string): Promise<string> {
  const id = await docker([
    "create",
    "--name",
    name,
    "--label",
    "breachkit.lab=1",
    "--network",
    "none",
    "--log-driver",
    "json-file",
    image,
    "/bin/sleep",
    "300",
  ]);
  created.push(id);
  const manifest = `gitlab-ce ${version}\n\nComponent  Installed Version  Version GUID\n`;
  await docker(
    ["cp", "-", `${id}:/`],
    tarArchive(
      [
        { type: "dir", path: "opt", mode: 0o755 },
        { type: "dir", path: "opt/gitlab", mode: 0o755 },
        {
          type: "file",
          path: "opt/gitlab/version-manifest.txt",
          mode: 0o644,
          data: Buffer.from(manifest),
        },
      ],
      Math.floor(Date.now() / 1000),
    ),
  );
  await docker(["start", id]);
  return id;
}

async function audit(args: string[]) {
  const r = await execa("node", [BIN, "audit", "--json", ...args], {
    reject: false,
    env: { NO_COLOR: "1" },
  });
  let json: AuditOutput | null = null;
  try {
    json = JSON.parse(r.stdout) as AuditOutput;
  } catch {
    /* asserted */
  }
  return { code: r.exitCode, json, stderr: r.stderr };
}

const inPlace = (name: string) => (f: Finding) => f.where === name;

beforeAll(async () => {
  await execa("npm", ["run", "build"]);
  out = await mkdtemp(join(tmpdir(), "bk-audit-"));
  lab = await labUp({ scenario: "contained", trojanSeconds: 120 });
  const image = (await buildLabImage()).ref;
  await gitlabShaped(`bk-audit-gl-old-${tag}`, "13.10.2", image);
  await gitlabShaped(`bk-audit-gl-new-${tag}`, "13.10.3", image);
  // Bad settings, created only (no process, no port opened): inspect holds what it would run with.
  created.push(
    await createWithApi(`bk-audit-bad-${tag}`, {
      Image: image,
      Cmd: ["/bin/sleep", "300"],
      Labels: { "breachkit.lab": "1", huge: "x".repeat(1024 * 1024) },
      HostConfig: {
        CapAdd: ["SYS_ADMIN"],
        SecurityOpt: ["seccomp=unconfined"],
        PidMode: "host",
        Binds: ["/etc:/host-etc:ro"],
        PortBindings: { "80/tcp": [{ HostIp: "", HostPort: "18081" }] },
        RestartPolicy: { Name: "always" },
      },
    }),
  );
  created.push(
    await createWithApi(`bk-audit-good-${tag}`, {
      Image: image,
      Cmd: ["/bin/sleep", "300"],
      User: "1000:1000",
      Labels: { "breachkit.lab": "1" },
      Healthcheck: { Test: ["CMD", "/bin/true"], Interval: 30_000_000_000 },
      HostConfig: {
        CapDrop: ["ALL"],
        SecurityOpt: ["no-new-privileges:true"],
        Memory: 64 * 1024 * 1024,
        NanoCpus: 500_000_000,
        PidsLimit: 64,
        ReadonlyRootfs: true,
        NetworkMode: "none",
        RestartPolicy: { Name: "on-failure", MaximumRetryCount: 3 },
      },
    }),
  );
  result = await audit([
    "--sarif",
    join(out, "audit.sarif"),
    "--out",
    out,
    "--fail-on",
    "critical",
  ]);
}, 300_000);

afterAll(async () => {
  for (const id of created) await execa("docker", ["rm", "-f", id], { reject: false });
  await labDown();
  await rm(out, { recursive: true, force: true });
});

describe("audit on the live host with the lab", () => {
  it("prints valid JSON and exits 1 with critical findings at --fail-on critical", () => {
    expect(result.json, result.stderr).not.toBeNull();
    expect(result.json!.schemaVersion).toBe(1);
    expect(result.code).toBe(1);
    expect(result.json!.atOrAboveThreshold).toBeGreaterThan(0);
    const areas = result.json!.scores.filter((s) => s.checked).map((s) => s.area);
    expect(areas).toEqual(
      expect.arrayContaining(["ssh", "daemon", "containers", "images", "prevention"]),
    );
  });

  it("flags the lab's mail container for the Docker socket (CIS 5.32) with its fix", () => {
    const f = result.json!.findings.find(
      (x) => x.where === lab.containers.mail.name && x.rule === "audit.container.docker-socket",
    );
    expect(f).toBeDefined();
    expect(f!.severity).toBe("critical");
    expect(f!.evidence[0]!.facts!.cis).toBe("5.32");
    expect(f!.evidence[0]!.facts!.fix).toMatch(
      /remove -v \/var\/run\/docker.sock:\/var\/run\/docker.sock:ro/,
    );
    expect(f!.evidence[0]!.facts!.cost).toMatch(/recreated/);
  });

  it("flags each bad setting, and none of them on the fixed container", () => {
    const bad = result.json!.findings.filter(inPlace(`bk-audit-bad-${tag}`)).map((f) => f.rule);
    expect(bad).toEqual(
      expect.arrayContaining([
        "audit.container.cap-add",
        "audit.container.seccomp-unconfined",
        "audit.container.host-pid",
        "audit.container.sensitive-mount",
        "audit.container.ports-all-addresses",
        "audit.container.restart-policy",
        "audit.container.memory",
        "audit.container.pids-limit",
        "audit.container.root-user",
      ]),
    );
    const good = result.json!.findings.filter(inPlace(`bk-audit-good-${tag}`)).map((f) => f.rule);
    expect(good).toEqual([]);
  });

  it("reads GitLab's version from the container's own file: 13.10.2 critical, 13.10.3 not", () => {
    const old = result.json!.findings.filter(inPlace(`bk-audit-gl-old-${tag}`));
    const cve = old.find((f) => f.rule === "audit.image.known-exploited.CVE-2021-22205");
    expect(cve?.severity).toBe("critical");
    expect(cve?.evidence[0]?.path).toBe("/opt/gitlab/version-manifest.txt");
    expect(cve?.evidence[0]?.facts?.version).toBe("13.10.2");
    const fixed = result.json!.findings.filter(inPlace(`bk-audit-gl-new-${tag}`));
    expect(fixed.some((f) => f.rule.startsWith("audit.image.known-exploited"))).toBe(false);
  });

  it("writes SARIF 2.1.0 that validates against the official schema, with stable ids", () => {
    const schema = JSON.parse(
      readFileSync(join(process.cwd(), "test/fixtures/audit/sarif-2.1.0-rtm.5.json"), "utf8"),
    );
    const ajv = new Ajv({
      allErrors: true,
      strict: false,
      validateFormats: false,
      unicodeRegExp: false,
    });
    const validate = ajv.compile(schema);
    const sarif = JSON.parse(readFileSync(join(out, "audit.sarif"), "utf8"));
    expect(validate(sarif), JSON.stringify(validate.errors?.slice(0, 3))).toBe(true);
    const results = sarif.runs[0].results as {
      ruleId: string;
      partialFingerprints: Record<string, string>;
    }[];
    expect(results.length).toBe(result.json!.findings.length);
    expect(results.some((r) => r.ruleId === "audit.container.docker-socket")).toBe(true);
  });

  it("seals audit.json in the --out bundle, and verify accepts it", async () => {
    expect(result.json!.bundle).not.toBeNull();
    const saved = JSON.parse(await readFile(join(result.json!.bundle!.path, "audit.json"), "utf8"));
    expect(saved.findings.length).toBe(result.json!.findings.length);
    const v = await execa("node", [BIN, "verify", result.json!.bundle!.path], { reject: false });
    expect(v.exitCode).toBe(0);
  });

  it("audits a dead server's disk (--root): the engine's own config.v2.json and hostconfig.json", async () => {
    const disk = join(out, "disk");
    const id = lab.containers.mail.id;
    const dir = join(disk, "var/lib/docker/containers", id);
    await mkdir(dir, { recursive: true });
    for (const f of ["config.v2.json", "hostconfig.json"])
      await copyFile(join("/var/lib/docker/containers", id, f), join(dir, f));
    await mkdir(join(disk, "etc/docker"), { recursive: true });
    await writeFile(join(disk, "etc/docker/daemon.json"), "{ not json");
    await mkdir(join(disk, "etc/ssh"), { recursive: true });
    await writeFile(
      join(disk, "etc/ssh/sshd_config"),
      "PermitRootLogin yes\nPasswordAuthentication yes\n",
    );
    const r = await audit(["--root", disk]);
    expect(r.json, r.stderr).not.toBeNull();
    const rules = r.json!.findings.map((f) => `${f.where}:${f.rule}`);
    expect(rules).toContain(`${lab.containers.mail.name}:audit.container.docker-socket`);
    expect(rules).toContain("host:audit.daemon.daemon-json-invalid");
    expect(rules).toContain("disk:audit.ssh.password-auth");
    expect(rules).toContain("disk:audit.ssh.root-password");
  });
});
