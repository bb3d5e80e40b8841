/**
 * A scheduled run executed by hand (`schedule run`, what the timer calls) against real
 * receivers on 127.0.0.1: an SMTP server (smtp-server) and an HTTP receiver; one more receiver
 * hangs and one port refuses. The first run sends one email and one webhook; an identical
 * second run sends nothing; the bad receivers are given up on in bounded time and recorded.
 */
import { chmod, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execa } from "execa";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunOutput } from "../../src/model/schedule-output.js";

const BIN = join(process.cwd(), "dist/cli/bin.cjs");

let dir: string;
let smtp: SMTPServer;
const mails: string[] = [];
let http: Server;
const hooks: string[] = [];
let hang: Server;
const hanging: IncomingMessage[] = [];

const listen = (s: { listen: (p: number, h: string, cb: () => void) => unknown }) =>
  new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
const portOf = (s: { address: () => unknown }) => (s.address() as AddressInfo).port;

beforeAll(async () => {
  await execa("npm", ["run", "build"]);
  dir = await mkdtemp(join(tmpdir(), "bk-schedule-it-"));
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, _s, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        mails.push(Buffer.concat(chunks).toString("utf8"));
        cb();
      });
    },
  });
  await listen(smtp.server);
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      hooks.push(Buffer.concat(chunks).toString("utf8"));
      res.writeHead(204).end();
    });
  });
  await listen(http);
  hang = createServer((req) => void hanging.push(req));
  await listen(hang);
}, 300_000);

afterAll(async () => {
  for (const r of hanging) r.socket.destroy();
  await new Promise<void>((r) => smtp.close(() => r()));
  await new Promise<void>((r) => http.close(() => r()));
  hang.closeAllConnections();
  await new Promise<void>((r) => hang.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

async function bk(args: string[]) {
  const r = await execa("node", [BIN, ...args], {
    reject: false,
    env: { NO_COLOR: "1" },
    timeout: 240_000,
  });
  let json: unknown = null;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    /* asserted by the caller */
  }
  return { code: r.exitCode, json, stderr: r.stderr, stdout: r.stdout };
}

describe("schedule run by hand", () => {
  it("notifies once, sends nothing the second time, and is not stopped by bad receivers", async () => {
    const root = join(dir, "root");
    await mkdir(join(root, "etc"), { recursive: true });
    await writeFile(join(root, "etc/passwd"), "root:x:0:0:root:/root:/bin/bash\n");
    const baseline = join(dir, "baseline.json");
    const saved = await bk([
      "baseline",
      "save",
      "--out",
      baseline,
      "--root",
      root,
      "--no-suid",
      "--json",
    ]);
    expect(saved.code, saved.stderr).toBe(0);
    // The drift to be told: a second UID 0 account.
    await writeFile(
      join(root, "etc/passwd"),
      "root:x:0:0:root:/root:/bin/bash\ntoor:x:0:0::/root:/bin/sh\n",
    );

    const config = join(dir, "config.json");
    await writeFile(
      config,
      JSON.stringify({
        notify: {
          threshold: "critical",
          // Bounded, with room for a loaded machine (the SMTP dialogue is several round trips).
          timeoutSeconds: 15,
          email: { to: "ops@example.org", smtp: { host: "127.0.0.1", port: portOf(smtp.server) } },
          webhooks: [
            { name: "receiver", shape: "json", url: `http://127.0.0.1:${portOf(http)}/hook` },
            { name: "hangs", shape: "slack", url: `http://127.0.0.1:${portOf(hang)}/` },
            { name: "refuses", shape: "ntfy", url: "http://127.0.0.1:9/" },
          ],
        },
      }),
    );
    // A config others may read is refused, with the fix.
    await chmod(config, 0o644);
    const refused = await bk(["schedule", "run", "--jobs", "triage", "--config", config, "--json"]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(`chmod 600 ${config}`);
    await chmod(config, 0o600);

    const args = [
      "schedule",
      "run",
      "--jobs",
      "triage,update-check",
      "--config",
      config,
      "--baseline",
      baseline,
      "--runs-dir",
      join(dir, "runs"),
      "--state-dir",
      join(dir, "state"),
      "--keep",
      "1",
      "--json",
    ];
    const t0 = Date.now();
    const first = await bk(args);
    const firstMs = Date.now() - t0;
    const o1 = first.json as RunOutput;
    expect(o1, first.stderr).not.toBeNull();
    expect(o1.jobs.find((j) => j.name === "triage")?.status).toBe("ok");
    const upd = o1.jobs.find((j) => j.name === "update-check")!;
    // update comes with another change: until then the job is skipped and the gap recorded.
    if (upd.status === "skipped")
      expect(o1.gaps.map((g) => g.source)).toContain("job:update-check");
    expect(o1.driftSinceBaseline).toBeGreaterThanOrEqual(1);
    expect(o1.notified.map((n) => n.title)).toContain("new UID 0 account: toor");
    expect(mails).toHaveLength(1);
    expect(mails[0]).toContain("new UID 0 account: toor");
    expect(hooks).toHaveLength(1);
    expect(JSON.parse(hooks[0]!).new.map((n: { title: string }) => n.title)).toContain(
      "new UID 0 account: toor",
    );
    const bad = o1.notifications
      .filter((n) => !n.ok)
      .map((n) => n.channel)
      .sort();
    expect(bad).toEqual(["hangs", "refuses"]);
    expect(o1.gaps.map((g) => g.source)).toEqual(
      expect.arrayContaining(["notify:hangs", "notify:refuses"]),
    );
    expect(firstMs).toBeLessThan(200_000);

    const second = await bk(args);
    const o2 = second.json as RunOutput;
    expect(o2.notified).toEqual([]);
    expect(mails).toHaveLength(1);
    expect(hooks).toHaveLength(1);
    expect(o2.newSincePrevious).toBe(0);
    expect(o2.previousRun).toBe(o1.dir);
    // --keep 1: the first run is gone, the second is there with its sealed bundle.
    expect(o2.pruned).toHaveLength(1);
    expect(await readdir(join(dir, "runs"))).toHaveLength(1);
    const bundle = (await readdir(o2.dir)).find((e) => e.startsWith("breachkit-"))!;
    const verify = await bk(["verify", join(o2.dir, bundle), "--json"]);
    expect(verify.code, verify.stdout).toBe(0);

    const status = await bk([
      "schedule",
      "status",
      "--runs-dir",
      join(dir, "runs"),
      "--state-dir",
      join(dir, "state"),
      "--json",
    ]);
    expect((status.json as { runs: unknown[] }).runs).toHaveLength(1);
  }, 600_000);
});
