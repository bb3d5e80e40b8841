/**
 * Notifications against real receivers on 127.0.0.1: an SMTP server (smtp-server, the package
 * nodemailer's authors keep) and HTTP servers that answer, hang or are not there.
 */

import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SMTPServer } from "smtp-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NotifyItem, notify } from "../../../src/act/notify/send.js";
import { NotifyConfigSchema } from "../../../src/model/notify-config.js";

interface Mail {
  from: string;
  to: string[];
  data: string;
}
interface Hook {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

let dir: string;
let smtp: SMTPServer;
let smtpPort: number;
const mails: Mail[] = [];
let http: Server;
let httpPort: number;
const hooks: Hook[] = [];
let hang: Server;
let hangPort: number;
const hanging: IncomingMessage[] = [];

function listen(server: { listen: (port: number, host: string, cb: () => void) => unknown }) {
  return new Promise<void>((res) => server.listen(0, "127.0.0.1", res));
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "bk-notify-"));
  smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : "",
          to: session.envelope.rcptTo.map((r) => r.address),
          data: Buffer.concat(chunks).toString("utf8"),
        });
        cb();
      });
    },
  });
  await listen(smtp.server);
  smtpPort = (smtp.server.address() as AddressInfo).port;
  http = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      hooks.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString("utf8"),
      });
      res.writeHead(200, { "content-type": "application/json" }).end("{}");
    });
  });
  await listen(http);
  httpPort = (http.address() as AddressInfo).port;
  // Takes the request and never answers.
  hang = createServer((req) => {
    hanging.push(req);
  });
  await listen(hang);
  hangPort = (hang.address() as AddressInfo).port;
});

afterAll(async () => {
  for (const r of hanging) r.socket.destroy();
  await new Promise<void>((r) => smtp.close(() => r()));
  await new Promise<void>((r) => http.close(() => r()));
  hang.closeAllConnections();
  await new Promise<void>((r) => hang.close(() => r()));
  await rm(dir, { recursive: true, force: true });
});

const item = (n: string, severity: NotifyItem["severity"] = "critical"): NotifyItem => ({
  fingerprint: `fp-${n}`,
  severity,
  title: `new UID 0 account: ${n}\u001b[31m<script>`,
  where: "bk-lab-web",
  rule: "drift.uid0-new",
  next: "lock it",
});
const ctx = {
  host: "web01",
  runDir: "/var/lib/breachkit/runs/x",
  threshold: "high" as const,
  time: "2026-12-02T03:00:00Z",
};

describe("notify", () => {
  it("sends once by email and by each webhook shape; an identical second run sends nothing", async () => {
    const cfg = NotifyConfigSchema.parse({
      // Generous: a loaded machine (load 30 seen) slows the SMTP dialogue; the bound is tested below.
      timeoutSeconds: 30,
      email: {
        to: "ops@example.org",
        from: "bk@web01.example.org",
        smtp: { host: "127.0.0.1", port: smtpPort },
      },
      webhooks: [
        { shape: "json", url: `http://127.0.0.1:${httpPort}/json`, token: "s3cret" },
        { shape: "ntfy", url: `http://127.0.0.1:${httpPort}/ntfy` },
        { shape: "slack", url: `http://127.0.0.1:${httpPort}/slack` },
        {
          shape: "matrix",
          url: `http://127.0.0.1:${httpPort}/_matrix/client/v3/rooms/r/send/m.room.message`,
        },
      ],
    });
    const statePath = join(dir, "state-1.json");
    const open = [item("toor"), item("low-one", "low")];
    const first = await notify(cfg, ctx, open, { statePath });
    expect(first.results.map((r) => `${r.channel} ${r.ok}`).sort()).toEqual([
      `email (SMTP 127.0.0.1:${smtpPort}) true`,
      "json webhook true",
      "matrix webhook true",
      "ntfy webhook true",
      "slack webhook true",
    ]);
    expect(first.sent.map((s) => s.fingerprint)).toEqual(["fp-toor"]); // low is under the threshold
    expect(mails).toHaveLength(1);
    expect(mails[0]!.to).toEqual(["ops@example.org"]);
    expect(mails[0]!.data).toMatch(
      /Subject: \[breachkit\] web01: 1 new finding \(worst: critical\)/,
    );
    expect(mails[0]!.data).toContain("new UID 0 account: toor");
    expect(mails[0]!.data).not.toContain("\u001b");
    const json = hooks.find((h) => h.url === "/json")!;
    expect(json.headers.authorization).toBe("Bearer s3cret");
    expect(JSON.parse(json.body).new.map((n: { fingerprint: string }) => n.fingerprint)).toEqual([
      "fp-toor",
    ]);
    const ntfy = hooks.find((h) => h.url === "/ntfy")!;
    expect(ntfy.headers.priority).toBe("urgent");
    expect(ntfy.body).toContain("new UID 0 account: toor");
    expect(JSON.parse(hooks.find((h) => h.url === "/slack")!.body).text).toContain("toor");
    const matrix = hooks.find((h) => h.url.startsWith("/_matrix"))!;
    expect(matrix.method).toBe("PUT");
    expect(JSON.parse(matrix.body).msgtype).toBe("m.text");

    const again = await notify(cfg, ctx, open, { statePath });
    expect(again.results).toEqual([]);
    expect(again.sent).toEqual([]);
    expect(mails).toHaveLength(1);
    expect(hooks).toHaveLength(4);

    // Something new: sent, with the old one in the digest; what was fixed is forgotten.
    const third = await notify(cfg, ctx, [item("toor"), item("evil")], { statePath });
    expect(third.sent.map((s) => s.fingerprint)).toEqual(["fp-evil"]);
    expect(mails[1]!.data).toMatch(/Still open \(already notified\): 1/);
  });

  it("gives up on a receiver that hangs or refuses, records it, and tries again next run", async () => {
    const cfg = NotifyConfigSchema.parse({
      timeoutSeconds: 1,
      webhooks: [
        { name: "hangs", url: `http://127.0.0.1:${hangPort}/` },
        { name: "refuses", url: "http://127.0.0.1:9/" },
      ],
      email: { to: "ops@example.org", smtp: { host: "127.0.0.1", port: hangPort } },
    });
    const statePath = join(dir, "state-2.json");
    const t0 = Date.now();
    const r = await notify(cfg, ctx, [item("toor")], { statePath });
    expect(Date.now() - t0).toBeLessThan(4000);
    expect(r.results.every((x) => !x.ok)).toBe(true);
    expect(r.results.map((x) => x.channel).sort()).toEqual([
      `email (SMTP 127.0.0.1:${hangPort})`,
      "hangs",
      "refuses",
    ]);
    expect(r.results.find((x) => x.channel === "hangs")!.detail).toMatch(
      /no answer within 1000 ms/,
    );
    expect(r.sent).toEqual([]);
    const retry = await notify(cfg, ctx, [item("toor")], { statePath });
    expect(retry.results).toHaveLength(3); // not marked as sent: tried again
  });
});
