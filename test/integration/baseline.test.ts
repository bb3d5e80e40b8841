/**
 * Drift on the lab: save a baseline, then make one change of each kind the issue names, and
 * check that `baseline diff` reports each once, with its severity, and nothing else. Host files
 * (accounts, keys, cron, units, SUID) come from a test root (--root), so the test changes
 * nothing of the host; containers are the lab image's, labelled like the lab's (labDown
 * removes them whatever happens), removed by id.
 */
import { copyFile, cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildLabImage } from "../../lab/lab-core.js";
import type { BaselineDiffOutput, BaselineSaveOutput } from "../../src/model/baseline-output.js";
import { LAB_LABEL } from "../helpers/lab.js";
import { buildImage, type LocalRegistry, startRegistry } from "../helpers/registry.js";

const BIN = join(process.cwd(), "dist/cli/bin.cjs");
const FIX = join(process.cwd(), "test/fixtures/accounts/ssh");
const TAG = "breachkit-drift-test:v1";

let dir: string;
let root: string;
let image: { id: string; ref: string };
const made: string[] = []; // container ids
let committed: string | null = null;
let reg: LocalRegistry | null = null;
const images = new Set<string>(); // image ids the update test made

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
  for (const id of images) await execa("docker", ["rmi", "--force", id], { reject: false });
  await reg?.stop();
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

  it("an image change a verified update record explains is info naming the record; a tampered record is named and explains nothing", async () => {
    reg = await startRegistry();
    const ref = `${reg.host}/bk-drift/app:1`;
    const v1 = await buildImage(ref, { version: "1", healthy: true });
    images.add(v1);
    await docker(["push", ref]);
    const name = "bk-bl-upd";
    made.push(
      await docker([
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        `${LAB_LABEL}=1`,
        "--name",
        name,
        ref,
      ]),
    );
    const file = join(dir, "baseline-upd.json");
    const saved = await bk([
      "baseline",
      "save",
      "--out",
      file,
      "--root",
      root,
      "--no-suid",
      "--json",
    ]);
    expect(saved.code, saved.stderr).toBe(0);

    // The registry's tag moves to v2; the host keeps v1 under the tag, so update pulls for real.
    const v2 = await buildImage(ref, { version: "2", healthy: true });
    images.add(v2);
    await docker(["push", ref]);
    await docker(["tag", v1, ref]);
    const upd = join(dir, "updates");
    const u = await bk([
      "update",
      name,
      "--yes",
      "--json",
      "--out",
      upd,
      "--insecure-registry",
      reg.host,
      "--settle",
      "2",
      "--stop-timeout",
      "3",
    ]);
    const res = (
      u.json as {
        results: {
          name: string;
          outcome: string;
          after: { containerId: string; imageId: string } | null;
        }[];
      }
    ).results.find((r) => r.name === name);
    expect(res?.outcome, u.stderr).toBe("updated");
    made.push(res?.after?.containerId ?? "");
    images.add(res?.after?.imageId ?? "");
    const [bundleName] = await readdir(upd);
    const bundle = join(upd, bundleName ?? "");

    // A copy whose update.json was changed after sealing: it must not be trusted.
    const bad = join(dir, "updates-bad");
    await mkdir(bad, { mode: 0o700 });
    const copy = join(bad, bundleName ?? "");
    await cp(bundle, copy, { recursive: true });
    const text = await readFile(join(copy, "update.json"), "utf8");
    const forged = `${JSON.stringify({ ...JSON.parse(text), settleSeconds: 600 })}\n`;
    expect(forged).not.toBe(text);
    await writeFile(join(copy, "update.json"), forged);

    const ofMine = (o: BaselineDiffOutput) =>
      o.findings
        .filter(
          (f) =>
            f.where === name ||
            (f.rule.startsWith("drift.image") && f.evidence[0]?.facts?.item === ref),
        )
        .map((f) => ({
          s: f.severity,
          rule: f.rule,
          title: f.title,
          facts: f.evidence[0]?.facts ?? {},
        }));

    const tampered = await bk(["baseline", "diff", file, "--no-suid", "--updates", bad, "--json"]);
    const t = tampered.json as BaselineDiffOutput;
    expect(t.updateRecords.used).toEqual([]);
    expect(t.updateRecords.rejected.map((r) => r.bundle)).toEqual([copy]);
    expect(t.updateRecords.rejected[0]?.reason).toMatch(
      /does not verify \(update\.json: (content|size) differs\)/,
    );
    const tf = ofMine(t);
    expect(tf.map((f) => `${f.s} ${f.rule}`).sort()).toEqual([
      "high drift.container-changed",
      "high drift.image-changed",
    ]);
    expect(tf.find((f) => f.rule === "drift.container-changed")?.title).toContain(
      `without a verified update record (${copy}: does not verify`,
    );

    const good = await bk(["baseline", "diff", file, "--no-suid", "--updates", upd, "--json"]);
    const g = good.json as BaselineDiffOutput;
    expect(g.updateRecords.rejected).toEqual([]);
    expect(g.updateRecords.used.map((x) => [x.container, x.fromImageId, x.toImageId])).toEqual([
      [name, v1, res?.after?.imageId],
    ]);
    const gf = ofMine(g);
    expect(gf.map((f) => `${f.s} ${f.rule}`).sort()).toEqual([
      "info drift.container-updated",
      "info drift.image-updated",
    ]);
    for (const f of gf) expect(f.facts.updateRecord).toBe(bundle);
  });
});
