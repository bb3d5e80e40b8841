/**
 * The `backup` section of breachkit's config (/etc/breachkit/config.json, read through
 * observe/config.ts): where the restic repository is, the password file, and the retention.
 * audit reads `backup.repo` and `backup.passwordFile` too: keep those names.
 *
 * {"backup": {"repo": "/srv/restic", "passwordFile": "/root/.restic-pass",
 *             "keep": {"daily": 7, "weekly": 4, "monthly": 6}}}
 */
import { z } from "../util/zod.js";

export const DEFAULT_KEEP = { daily: 7, weekly: 4, monthly: 6 } as const;

const count = z.number().int().min(0).max(10_000);

export const KeepPolicySchema = z.object({
  daily: count.default(DEFAULT_KEEP.daily),
  weekly: count.default(DEFAULT_KEEP.weekly),
  monthly: count.default(DEFAULT_KEEP.monthly),
});
export type KeepPolicy = z.infer<typeof KeepPolicySchema>;

export const BackupConfigSchema = z.object({
  /** Any restic location: a local path, sftp:host:/path, rest:http://... */
  repo: z.string().min(1).optional(),
  /** A file holding the repository's password; must be mode 0600 (or stricter). */
  passwordFile: z.string().min(1).optional(),
  keep: KeepPolicySchema.optional(),
});
export type BackupConfig = z.infer<typeof BackupConfigSchema>;
