/**
 * The `notify` section of /etc/breachkit/config.json (read through observe/config.ts, which
 * refuses a file others may read: it holds the SMTP password and webhook tokens).
 *
 *   "notify": {
 *     "threshold": "high",
 *     "timeoutSeconds": 10,
 *     "email": { "to": ["ops@example.org"], "from": "breachkit@web01",
 *                "smtp": { "host": "mail.example.org", "port": 587, "user": "u", "password": "p" } },
 *     "webhooks": [ { "shape": "ntfy", "url": "https://ntfy.example.org/web01", "token": "..." } ]
 *   }
 *
 * Email goes through SMTP when `smtp` is given, else through the local sendmail.
 */
import { z } from "../util/zod.js";
import { SeveritySchema } from "./finding.js";

export const WEBHOOK_SHAPES = ["json", "ntfy", "slack", "matrix"] as const;

export const SmtpConfigSchema = z.strictObject({
  host: z.string().min(1),
  port: z.number().int().min(1).max(65535).default(25),
  /** TLS from the start (port 465); otherwise STARTTLS when the server offers it. */
  secure: z.boolean().default(false),
  /** Refuse to send without STARTTLS (default: use it when offered). */
  requireTls: z.boolean().default(false),
  user: z.string().optional(),
  password: z.string().optional(),
});

export const EmailConfigSchema = z.strictObject({
  to: z.union([z.string().min(3), z.array(z.string().min(3)).min(1)]),
  from: z.string().min(3).optional(),
  subjectPrefix: z.string().max(100).default("[breachkit]"),
  smtp: SmtpConfigSchema.optional(),
  /** The sendmail program used when no smtp is given. */
  sendmail: z.string().startsWith("/").default("/usr/sbin/sendmail"),
});

export const WebhookConfigSchema = z.strictObject({
  name: z.string().max(60).optional(),
  shape: z.enum(WEBHOOK_SHAPES).default("json"),
  /** http(s) URL. For Matrix: .../_matrix/client/v3/rooms/ROOM/send/m.room.message (a transaction id is added). */
  url: z.string().regex(/^https?:\/\//, "an http:// or https:// URL"),
  /** Sent as "Authorization: Bearer TOKEN". */
  token: z.string().optional(),
});

export const NotifyConfigSchema = z.strictObject({
  threshold: SeveritySchema.default("high"),
  /** Per channel; a receiver that hangs is given up after this. */
  timeoutSeconds: z.number().positive().max(300).default(10),
  email: EmailConfigSchema.optional(),
  webhooks: z.array(WebhookConfigSchema).max(20).default([]),
});
export type NotifyConfig = z.infer<typeof NotifyConfigSchema>;
export type WebhookConfig = z.infer<typeof WebhookConfigSchema>;
export type EmailConfig = z.infer<typeof EmailConfigSchema>;
