/**
 * Send notifications: email (nodemailer, over SMTP or the local sendmail) and webhooks (a JSON
 * POST; ntfy, Slack and Matrix shapes). Only findings not sent before on that channel are sent
 * (by fingerprint), with a digest of what is still open; a channel that fails is tried again
 * next run. Every channel is bounded in time: a receiver that hangs or refuses is recorded and
 * the run goes on.
 *
 * The state (what each channel was sent) is a JSON file in breachkit's state directory.
 */
import { createHash, randomBytes } from "node:crypto";
import { severityRank } from "../../model/finding.js";
import type { NotifyConfig, WebhookConfig } from "../../model/notify-config.js";
import type { NotificationResult } from "../../model/schedule-output.js";
import { readBounded } from "../../observe/baseline/record.js";
import { errorMessage } from "../../util/result.js";
import { safeText } from "../../util/sanitize.js";
import { writeOwnFile } from "../schedule/files.js";
import { type NotifyContext, type NotifyItem, subjectOf, textOf, worst } from "./message.js";

export type { NotifyContext, NotifyItem } from "./message.js";

interface NotifyState {
  schemaVersion: 1;
  /** channel id -> fingerprint -> when first sent. */
  channels: Record<string, Record<string, string>>;
}

export interface NotifyOutcome {
  results: NotificationResult[];
  /** Findings sent for the first time on at least one channel. */
  sent: NotifyItem[];
}

interface Channel {
  id: string;
  label: string;
  send: (fresh: NotifyItem[], open: NotifyItem[], signal: AbortSignal) => Promise<string>;
}

async function readState(path: string): Promise<NotifyState> {
  try {
    const text = await readBounded(path, 64 * 1024 * 1024);
    if (text === null) return { schemaVersion: 1, channels: {} };
    const data = JSON.parse(text) as NotifyState;
    if (data?.schemaVersion === 1 && typeof data.channels === "object" && data.channels !== null)
      return data;
  } catch {
    /* a corrupt state is replaced: at worst something is sent twice */
  }
  return { schemaVersion: 1, channels: {} };
}

function emailChannel(
  cfg: NonNullable<NotifyConfig["email"]>,
  ctx: NotifyContext,
  timeoutMs: number,
): Channel {
  const to = Array.isArray(cfg.to) ? cfg.to : [cfg.to];
  const id = `email:${cfg.smtp ? `smtp://${cfg.smtp.host}:${cfg.smtp.port}` : `sendmail:${cfg.sendmail}`}:${to.join(",")}`;
  return {
    id,
    label: cfg.smtp ? `email (SMTP ${cfg.smtp.host}:${cfg.smtp.port})` : "email (sendmail)",
    send: async (fresh, open, signal) => {
      // Loaded here only: nodemailer is heavy and only a run that sends mail needs it.
      const nodemailer = (await import("nodemailer")).default;
      const transport = cfg.smtp
        ? nodemailer.createTransport({
            host: cfg.smtp.host,
            port: cfg.smtp.port,
            secure: cfg.smtp.secure,
            requireTLS: cfg.smtp.requireTls,
            ...(cfg.smtp.user
              ? { auth: { user: cfg.smtp.user, pass: cfg.smtp.password ?? "" } }
              : {}),
            connectionTimeout: timeoutMs,
            greetingTimeout: timeoutMs,
            socketTimeout: timeoutMs,
            dnsTimeout: timeoutMs,
          })
        : nodemailer.createTransport({ sendmail: true, path: cfg.sendmail, newline: "unix" });
      const abort = new Promise<never>((_, reject) => {
        signal.addEventListener("abort", () => reject(new Error(`gave up after ${timeoutMs} ms`)), {
          once: true,
        });
      });
      try {
        const info = await Promise.race([
          transport.sendMail({
            from:
              cfg.from ??
              `breachkit <root@${ctx.host.replace(/[^A-Za-z0-9.-]/g, "_") || "localhost"}>`,
            to,
            subject: subjectOf(ctx, fresh, cfg.subjectPrefix),
            text: textOf(ctx, fresh, open),
          }),
          abort,
        ]);
        return safeText(String((info as { response?: unknown }).response ?? "sent"), 200);
      } finally {
        transport.close();
      }
    },
  };
}

function matrixTxn(): string {
  return `bk${Date.now()}${randomBytes(4).toString("hex")}`;
}

function webhookChannel(w: WebhookConfig, ctx: NotifyContext): Channel {
  const label = w.name ?? `${w.shape} webhook`;
  return {
    id: `webhook:${w.shape}:${w.url}`,
    label,
    send: async (fresh, open, signal) => {
      const headers: Record<string, string> = {};
      if (w.token) headers.authorization = `Bearer ${w.token}`;
      const text = textOf(ctx, fresh, open);
      let body: string;
      let url = w.url;
      let method = "POST";
      switch (w.shape) {
        case "ntfy": {
          const top = worst(fresh);
          headers["content-type"] = "text/plain; charset=utf-8";
          // Header values: ASCII, no newlines (safeText escapes controls; non-ASCII dropped).
          headers.title = subjectOf(ctx, fresh, "breachkit").replace(/[^\x20-\x7e]/g, "?");
          headers.priority = top === "critical" ? "urgent" : top === "high" ? "high" : "default";
          headers.tags = "warning";
          body = text;
          break;
        }
        case "slack":
          headers["content-type"] = "application/json";
          body = JSON.stringify({ text });
          break;
        case "matrix":
          headers["content-type"] = "application/json";
          // Matrix sends a room message with PUT .../send/m.room.message/{txnId}.
          method = "PUT";
          url = `${w.url.replace(/\/+$/, "")}/${matrixTxn()}`;
          body = JSON.stringify({ msgtype: "m.text", body: text });
          break;
        default:
          headers["content-type"] = "application/json";
          body = JSON.stringify({
            schemaVersion: 1,
            source: "breachkit",
            host: ctx.host,
            time: ctx.time,
            threshold: ctx.threshold,
            run: ctx.runDir,
            new: fresh.map(({ fingerprint, severity, title, where, rule, next }) => ({
              fingerprint,
              severity,
              title,
              where,
              rule,
              next,
            })),
            stillOpen: open.length - fresh.length,
            text,
          });
      }
      const res = await fetch(url, { method, headers, body, signal, redirect: "manual" });
      await res.body?.cancel().catch(() => {});
      if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status}`);
      return `HTTP ${res.status}`;
    },
  };
}

export interface SendOptions {
  statePath: string;
  /** Only these channel kinds ("email", "webhook"); all configured when undefined. */
  channels?: readonly string[] | undefined;
}

/** A stable fingerprint of a finding's identity (rule, place, what). */
export function fingerprint(parts: readonly string[]): string {
  return createHash("sha256").update(parts.join("\u0000")).digest("hex").slice(0, 32);
}

export async function notify(
  cfg: NotifyConfig,
  ctx: NotifyContext,
  open: readonly NotifyItem[],
  opts: SendOptions,
): Promise<NotifyOutcome> {
  const timeoutMs = Math.round(cfg.timeoutSeconds * 1000);
  const want = (kind: string) => !opts.channels || opts.channels.includes(kind);
  const channels: Channel[] = [];
  if (cfg.email && want("email")) channels.push(emailChannel(cfg.email, ctx, timeoutMs));
  if (want("webhook")) for (const w of cfg.webhooks) channels.push(webhookChannel(w, ctx));
  const atOrAbove = open.filter((o) => severityRank(o.severity) >= severityRank(cfg.threshold));
  const openSet = new Set(atOrAbove.map((o) => o.fingerprint));
  const state = await readState(opts.statePath);
  const results: NotificationResult[] = [];
  const sent = new Map<string, NotifyItem>();
  await Promise.all(
    channels.map(async (ch) => {
      // Keyed by a hash: a webhook URL may carry a token.
      const key = fingerprint([ch.id]);
      const had = state.channels[key] ?? {};
      // What is no longer open is forgotten: if it comes back, it is new again.
      const kept: Record<string, string> = {};
      for (const [fp, when] of Object.entries(had)) if (openSet.has(fp)) kept[fp] = when;
      const fresh = atOrAbove.filter((o) => kept[o.fingerprint] === undefined);
      state.channels[key] = kept;
      if (fresh.length === 0) return;
      const t0 = Date.now();
      const signal = AbortSignal.timeout(timeoutMs);
      try {
        const detail = await ch.send(fresh, atOrAbove, signal);
        const now = new Date().toISOString();
        for (const f of fresh) {
          kept[f.fingerprint] = now;
          sent.set(f.fingerprint, f);
        }
        results.push({
          channel: ch.label,
          ok: true,
          detail,
          durationMs: Date.now() - t0,
          findings: fresh.length,
        });
      } catch (e) {
        // fetch says "fetch failed" and keeps the reason (ECONNREFUSED ...) in its cause.
        const cause = (e as { cause?: { code?: unknown; message?: unknown } }).cause;
        const detail =
          typeof cause?.code === "string"
            ? cause.code
            : typeof cause?.message === "string"
              ? cause.message
              : null;
        const why = signal.aborted
          ? `no answer within ${timeoutMs} ms`
          : `${errorMessage(e)}${detail ? ` (${detail})` : ""}`;
        results.push({
          channel: ch.label,
          ok: false,
          detail: safeText(why, 300),
          durationMs: Date.now() - t0,
          findings: fresh.length,
        });
      }
    }),
  );
  for (const id of Object.keys(state.channels)) {
    if (!channels.some((c) => fingerprint([c.id]) === id)) delete state.channels[id];
  }
  await writeOwnFile(opts.statePath, `${JSON.stringify(state)}\n`);
  return { results, sent: [...sent.values()] };
}
