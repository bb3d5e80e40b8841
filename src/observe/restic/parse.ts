/**
 * restic's JSON, parsed: `backup --json` (status lines, errors and the summary), `snapshots
 * --json`, `forget --json`, trees (`cat blob`), indexes (`cat index`), and its fatal errors in
 * words. Recorded outputs of restic 0.14.0 are in test/fixtures/restic/.
 */
import type { ResticSummary, SnapshotRef } from "../../model/backup-output.js";
import { err, ok, type Result } from "../../util/result.js";
import { z } from "../../util/zod.js";

/** breachkit's tags on a snapshot: `container=NAME`, `image=DIGEST`, `host=HOST`, `breachkit`. */
export const BREACHKIT_TAG = "breachkit";

/** restic splits --tag values on commas; a tag holds no comma and no control character. */
export function tagValue(s: string): string {
  return s.replace(/[,\u0000-\u001f\u007f]/g, "_").slice(0, 200);
}

export function snapshotTags(container: string, image: string, host: string): string[] {
  return [
    BREACHKIT_TAG,
    `container=${tagValue(container)}`,
    `image=${tagValue(image)}`,
    `host=${tagValue(host)}`,
  ];
}

export function tagOf(tags: readonly string[], key: string): string | null {
  const prefix = `${key}=`;
  const t = tags.find((x) => x.startsWith(prefix));
  return t === undefined ? null : t.slice(prefix.length);
}

const SummaryLine = z.looseObject({
  message_type: z.literal("summary"),
  files_new: z.number(),
  files_changed: z.number(),
  files_unmodified: z.number(),
  data_added: z.number(),
  total_files_processed: z.number(),
  total_bytes_processed: z.number(),
  total_duration: z.number(),
  snapshot_id: z.string(),
});

const StatusLine = z.looseObject({
  message_type: z.literal("status"),
  percent_done: z.number().optional(),
  total_bytes: z.number().optional(),
  bytes_done: z.number().optional(),
});

const ErrorLine = z.looseObject({
  message_type: z.literal("error"),
  error: z.unknown().optional(),
  during: z.string().optional(),
  item: z.string().optional(),
});

export type BackupLine =
  | { kind: "summary"; summary: ResticSummary }
  | { kind: "status"; percent: number; bytesDone: number; totalBytes: number }
  | { kind: "error"; text: string }
  | { kind: "other"; text: string };

/** One line of `restic backup --json` (stdout). */
export function parseBackupLine(line: string): BackupLine | null {
  const t = line.trim();
  if (t === "") return null;
  let v: unknown;
  try {
    v = JSON.parse(t);
  } catch {
    return { kind: "other", text: t };
  }
  const s = SummaryLine.safeParse(v);
  if (s.success)
    return {
      kind: "summary",
      summary: {
        snapshotId: s.data.snapshot_id,
        filesNew: s.data.files_new,
        filesChanged: s.data.files_changed,
        filesUnmodified: s.data.files_unmodified,
        dataAdded: s.data.data_added,
        totalFilesProcessed: s.data.total_files_processed,
        totalBytesProcessed: s.data.total_bytes_processed,
        totalDuration: s.data.total_duration,
      },
    };
  const st = StatusLine.safeParse(v);
  if (st.success)
    return {
      kind: "status",
      percent: st.data.percent_done ?? 0,
      bytesDone: st.data.bytes_done ?? 0,
      totalBytes: st.data.total_bytes ?? 0,
    };
  const e = ErrorLine.safeParse(v);
  if (e.success) {
    const detail =
      typeof e.data.error === "object" && e.data.error !== null
        ? String((e.data.error as { message?: unknown }).message ?? JSON.stringify(e.data.error))
        : String(e.data.error ?? "");
    return {
      kind: "error",
      text: [e.data.during, e.data.item, detail].filter((x) => x && x !== "").join(": "),
    };
  }
  return { kind: "other", text: t };
}

const SnapshotJson = z.looseObject({
  time: z.string(),
  paths: z.array(z.string()).nullish(),
  hostname: z.string().nullish(),
  tags: z.array(z.string()).nullish(),
  id: z.string().regex(/^[0-9a-f]{64}$/),
  short_id: z.string().nullish(),
  tree: z.string().nullish(),
});

export type Snapshot = SnapshotRef & { tree: string | null; timeMs: number };

function toSnapshot(s: z.infer<typeof SnapshotJson>): Snapshot {
  return {
    id: s.id,
    shortId: s.short_id ?? s.id.slice(0, 8),
    time: s.time,
    timeMs: Date.parse(s.time),
    hostname: s.hostname ?? "",
    paths: s.paths ?? [],
    tags: s.tags ?? [],
    tree: s.tree ?? null,
  };
}

/** `restic snapshots --json`: oldest first, as restic lists them. */
export function parseSnapshots(text: string): Result<Snapshot[], string> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return err(`restic snapshots --json is not JSON: ${(e as Error).message}`);
  }
  // restic prints `null` for an empty repository in some versions.
  if (v === null) return ok([]);
  const parsed = z.array(SnapshotJson).safeParse(v);
  if (!parsed.success)
    return err(`restic snapshots --json: ${parsed.error.issues[0]?.message ?? "unexpected shape"}`);
  return ok(parsed.data.map(toSnapshot).sort((a, b) => a.timeMs - b.timeMs));
}

const ForgetGroup = z.looseObject({
  tags: z.array(z.string()).nullish(),
  host: z.string().nullish(),
  keep: z.array(SnapshotJson).nullish(),
  remove: z.array(SnapshotJson).nullish(),
});

export interface ForgetGroupResult {
  tags: string[];
  host: string;
  keep: Snapshot[];
  remove: Snapshot[];
}

/** `restic forget --json`: its first line is the JSON (prune's text may follow). */
export function parseForget(text: string): Result<ForgetGroupResult[], string> {
  const line = text.split("\n").find((l) => l.trim().startsWith("[") || l.trim() === "null");
  if (line === undefined) return err("restic forget --json printed no JSON");
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (e) {
    return err(`restic forget --json is not JSON: ${(e as Error).message}`);
  }
  if (v === null) return ok([]);
  const parsed = z.array(ForgetGroup).safeParse(v);
  if (!parsed.success)
    return err(`restic forget --json: ${parsed.error.issues[0]?.message ?? "unexpected shape"}`);
  return ok(
    parsed.data.map((g) => ({
      tags: g.tags ?? [],
      host: g.host ?? "",
      keep: (g.keep ?? []).map(toSnapshot),
      remove: (g.remove ?? []).map(toSnapshot),
    })),
  );
}

const LsNode = z.looseObject({
  struct_type: z.literal("node"),
  name: z.string(),
  type: z.string(),
  path: z.string(),
  size: z.number().nullish(),
});

export interface LsNode {
  path: string;
  type: string;
  size: number;
}

/** `restic ls --json ID`: the snapshot line first, then one node per line. */
export function parseLs(text: string): Result<LsNode[], string> {
  const out: LsNode[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "") continue;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch {
      return err(`restic ls --json: not JSON: ${line.slice(0, 80)}`);
    }
    const n = LsNode.safeParse(v);
    if (n.success) out.push({ path: n.data.path, type: n.data.type, size: n.data.size ?? 0 });
  }
  return ok(out);
}

const TreeNode = z.looseObject({
  name: z.string(),
  type: z.string(),
  size: z.number().nullish(),
  mode: z.number().nullish(),
  content: z.array(z.string()).nullish(),
  subtree: z.string().nullish(),
});
export type TreeNode = {
  name: string;
  type: string;
  size: number;
  mode: number;
  content: string[];
  subtree: string | null;
};

/** A tree blob (`restic cat blob TREE`): the nodes of one directory. */
export function parseTree(text: string): Result<TreeNode[], string> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return err(`tree is not JSON: ${(e as Error).message}`);
  }
  const parsed = z.looseObject({ nodes: z.array(TreeNode).nullable() }).safeParse(v);
  if (!parsed.success) return err(`tree: ${parsed.error.issues[0]?.message ?? "unexpected"}`);
  return ok(
    (parsed.data.nodes ?? []).map((n) => ({
      name: n.name,
      type: n.type,
      size: n.size ?? 0,
      mode: n.mode ?? 0,
      content: n.content ?? [],
      subtree: n.subtree ?? null,
    })),
  );
}

const IndexJson = z.looseObject({
  packs: z
    .array(
      z.looseObject({
        blobs: z.array(
          z.looseObject({
            id: z.string(),
            type: z.string(),
            length: z.number(),
            uncompressed_length: z.number().nullish(),
          }),
        ),
      }),
    )
    .nullable(),
});

/** Plaintext bytes an encrypted, uncompressed blob carries beside its data (IV and MAC). */
const CRYPTO_OVERHEAD = 32;

/**
 * An index file (`restic cat index ID`): each data blob's id and its plaintext length (repository
 * format 2 names it when the blob is compressed; otherwise the stored length less IV and MAC).
 */
export function parseIndex(text: string, into: Map<string, number>): Result<number, string> {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return err(`index is not JSON: ${(e as Error).message}`);
  }
  const parsed = IndexJson.safeParse(v);
  if (!parsed.success) return err(`index: ${parsed.error.issues[0]?.message ?? "unexpected"}`);
  let n = 0;
  for (const p of parsed.data.packs ?? []) {
    for (const b of p.blobs) {
      if (b.type !== "data") continue;
      const len =
        b.uncompressed_length && b.uncompressed_length > 0
          ? b.uncompressed_length
          : b.length - CRYPTO_OVERHEAD;
      into.set(b.id, len);
      n++;
    }
  }
  return ok(n);
}

/** Why restic failed, in words, and what to do: from its stderr. */
export function explainResticError(
  stderr: string,
  exitCode: number | null,
): {
  reason: string;
  hint: string;
} {
  const text = stderr.trim();
  const fatal =
    text
      .split("\n")
      .reverse()
      .find((l) => l.startsWith("Fatal:")) ?? text.split("\n").filter(Boolean).slice(-1)[0];
  const line = (fatal ?? `exit ${exitCode}`).replace(/^Fatal:\s*/, "");
  if (/wrong password|no key found/i.test(text))
    return {
      reason: `wrong password for the repository (${line})`,
      hint: "check the password file: it must hold the password the repository was initialised with",
    };
  if (/unable to open config file|Is there a repository at the following location/i.test(text))
    return {
      reason: `no restic repository at that location (${line})`,
      hint: "check --repo / backup.repo, or create it once with: restic init (RESTIC_REPOSITORY and RESTIC_PASSWORD_FILE set)",
    };
  if (/no space left on device|ENOSPC|disk quota exceeded/i.test(text))
    return {
      reason: `the repository's disk is full (${line})`,
      hint: "free space where the repository lives (or run breachkit backup prune), then back up again",
    };
  if (/repository is already locked|unable to create lock/i.test(text))
    return {
      reason: `the repository is locked by another restic run (${line})`,
      hint: "wait for the other run to end; if none runs, restic unlock removes a stale lock",
    };
  if (/permission denied/i.test(text))
    return { reason: `permission denied (${line})`, hint: "run breachkit as root" };
  return {
    reason: line,
    hint: "see restic's message above; run the same restic command by hand to see more",
  };
}
