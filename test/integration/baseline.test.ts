/**
 * Drift on the lab: save a baseline, then make one change of each kind the issue names, and
 * check that `baseline diff` reports each once, with its severity, and nothing else. Host files
 * (accounts, keys, cron, units, SUID) come from a test root (--root), so the test changes
 * nothing of the host; containers are the lab image's, labelled like the lab's (labDown
 * removes them whatever happens), removed by id.
 */
import { copyFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLabImage } from "../../lab/lab-core.js";
import type { BaselineDiffOutput, BaselineSaveOutput } from "../../src/model/baseline-output.js";
import { LAB_LABEL } from "../helpers/lab.js";

const BIN = join(process.cwd(), "dist/cli/bin.cjs");
const FIX = join(process.cwd(), "test/fixtures/accounts/ssh");
const TAG = "breachkit-drift-test:v1";

let dir: string;
let root: string;
let image: { id: string; ref: string };
const made: string[] = []; // container ids
let committed: string | null = null;

const docker = async (args: string[]) =>
  (await execa("docker", args, { stdin: "ignore", timeout: 60_000 })).stdout.trim();

async function run(name: string): Promise<string> {
  const id = await docker([
    "run",
    "-d",
    "--network",
    "none",
    "--label",
    `${LAB_LABEL}=1`,
    "--name",
    name,
    image.ref,
    "sleep",
    "600",
  ]);
  made.push(id);
  return id;
}

async function bk(args: string[]) {
  const r = await execa("node", [BIN, ...args], {
    reject: false,
    env: { NO_COLOR: "1" },
    timeout: 240_000,
  });
  return { code: r.exitCode, json: JSON.parse(r.stdout) as unknown, stderr: r.stderr };
}

beforeAll(async () => {
  await execa("npm", ["run", "build"]);
  image = await buildLabImage();
  dir = await mkdtemp(join(tmpdir(), "bk-baseline-it-"));
  root = join(dir, "root");
  await mkdir(join(root, "etc"), { recursive: true });
  await mkdir(join(root, "root/.ssh"), { recursive: true });
  await writeFile(
    join(root, "etc/passwd"),
    "root:x:0:0:root:/root:/bin/bash\nbob:x:1000:1000::/home/bob:/bin/bash\n",
  );
  await writeFile(
    join(root, "etc/crontab"),
    "17 * * * * root cd / && run-parts /etc/cron.hourly\n",
  );
  await copyFile(join(FIX, "k_ed25519.pub"), join(root, "root/.ssh/authorized_keys"));
  await docker(["tag", image.ref, TAG]);
  await run("bk-bl-web");
}, 300_000);

afterAll(async () => {
  for (const id of made) await execa("docker", ["rm", "--force", id], { reject: false });
  await execa("docker", ["rmi", TAG], { reject: false });
  if (committed) await execa("docker", ["rmi", committed], { reject: false });
  await rm(dir, { recursive: true, force: true });
}, 120_000);

describe("baseline save and diff on the lab", () => {
  it("reports each change once with its severity, and nothing else", async () => {
    const file = join(dir, "baseline.json");
    const saved = await bk(["baseline", "save", "--out", file, "--root", root, "--json"]);
    expect(saved.code, saved.stderr).toBe(0);
    const s = saved.json as BaselineSaveOutput;
    expect(s.seal).toMatch(/^[0-9a-f]{64}$/);
    expect(s.counts.key).toBe(1);

    // Nothing changed yet: nothing at or above medium in the places this test controls.
    const quiet = await bk(["baseline", "diff", file, "--json", "--fail-on", "medium"]);
    // Other test runs share this machine and its engine: their containers and image tags are
    // not this test's to assert on; every place and tag this test made is.
    const ours = new Set(["host", "bk-bl-web", "bk-bl-new"]);
    const mine = (o: BaselineDiffOutput) =>
      o.findings.filter(
        (f) =>
          f.severity !== "info" &&
          f.severity !== "low" &&
          ours.has(f.where) &&
          !(
            f.rule.startsWith("drift.image") &&
            !f.evidence[0]?.facts?.item?.startsWith("breachkit-drift-test:")
          ) &&
          // The host's programs and sockets belong to whoever else uses this machine (other
          // test runs): they are not this test's to assert on.
          !(
            f.where === "host" &&
            (f.rule.startsWith("drift.exe") || f.rule.startsWith("drift.listen"))
          ),
      );
    expect(mine(quiet.json as BaselineDiffOutput)).toEqual([]);

    // 1. a UID 0 account inside a container
    await docker([
      "exec",
      "bk-bl-web",
      "sh",
      "-c",
      "echo 'toor:x:0:0::/root:/bin/sh' >> /etc/passwd",
    ]);
    // 2. an authorized key on the host's (test) root
    const rsa = await execa("cat", [join(FIX, "k_rsa.pub")]);
    await writeFile(
      join(root, "root/.ssh/authorized_keys"),
      `${(await execa("cat", [join(FIX, "k_ed25519.pub")])).stdout}\n${rsa.stdout}\n`,
    );
    // 3. a listening socket (in the container's own network namespace)
    await docker(["exec", "-d", "bk-bl-web", "nc", "-l", "-p", "8088"]);
    // 4. a SUID file
    await docker([
      "exec",
      "bk-bl-web",
      "sh",
      "-c",
      "cp /bin/busybox /tmp/.suidsh && chmod 4755 /tmp/.suidsh",
    ]);
    // 5. a new container
    await run("bk-bl-new");
    // 6. a re-tagged image: the tag now names another image
    committed = await docker(["commit", "bk-bl-web"]);
    await docker(["tag", committed, TAG]);
    await new Promise((r) => setTimeout(r, 500)); // nc listening

    const d = await bk(["baseline", "diff", file, "--json", "--fail-on", "medium"]);
    expect(d.code, d.stderr).toBe(1);
    const out = d.json as BaselineDiffOutput;
    const got = mine(out).map(
      (f) => `${f.severity} ${f.rule} ${f.where} ${f.evidence[0]?.facts?.item}`,
    );
    const keyFp = (await execa("ssh-keygen", ["-l", "-f", join(FIX, "k_rsa.pub")])).stdout.split(
      " ",
    )[1];
    const listen = got.filter((g) => g.includes("drift.listen-new"));
    expect(listen).toHaveLength(1);
    expect(listen[0]).toMatch(/^medium drift\.listen-new bk-bl-web tcp6? (0\.0\.0\.0|::):8088$/);
    expect(got.filter((g) => !g.includes("drift.listen-new")).sort()).toEqual(
      [
        "critical drift.uid0-new bk-bl-web toor",
        `high drift.key-new host root ${keyFp}`,
        "high drift.suid-new bk-bl-web /tmp/.suidsh",
        "medium drift.container-new bk-bl-new bk-bl-new",
        `high drift.image-changed host ${TAG}`,
      ].sort(),
    );
  });
});
