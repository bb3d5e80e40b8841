/**
 * What drift needs of `breachkit update`'s records (update.json in an update bundle): which
 * container (and which tag) went from which image to which, when, and in which bundle, so an
 * image change a verified record explains is reported as explained, not as drift. Who reads
 * and verifies the bundles: evidence/update-records.ts; who uses them: judge/baseline/diff.ts.
 */
import { z } from "../util/zod.js";

/** One image change an update recorded: the container `name` (and its tag `ref`) went from -> to. */
export const UpdateTransitionSchema = z.object({
  container: z.string(),
  /** The image reference, normalized as the engine names tags (repo:tag), or null (a digest). */
  ref: z.string().nullable(),
  fromImageId: z.string(),
  toImageId: z.string(),
  /** When the update run ended (ISO 8601). */
  at: z.string(),
  /** The bundle directory the record is in. */
  bundle: z.string(),
  /** SHA-256 of its manifest (what its SEAL holds). */
  manifestSha256: z.string().nullable(),
});
export type UpdateTransition = z.infer<typeof UpdateTransitionSchema>;

/** An update record that could not be trusted, and why (it explains nothing). */
export const RejectedUpdateSchema = z.object({
  bundle: z.string(),
  reason: z.string(),
  /** The containers it names (so a drift finding can say a record exists but does not verify). */
  containers: z.array(z.string()),
  /** The image tags it names (repo:tag), likewise. */
  refs: z.array(z.string()),
});
export type RejectedUpdate = z.infer<typeof RejectedUpdateSchema>;

export const UpdateRecordsSchema = z.object({
  /** Directories searched for update bundles. */
  searched: z.array(z.string()),
  /** Verified records within the window, one transition per container updated. */
  used: z.array(UpdateTransitionSchema),
  rejected: z.array(RejectedUpdateSchema),
});
export type UpdateRecords = z.infer<typeof UpdateRecordsSchema>;

/**
 * An image reference as the engine lists its tags: "nginx" -> "nginx:latest",
 * "docker.io/library/nginx:1" -> "nginx:1", "127.0.0.1:5000/app" -> "127.0.0.1:5000/app:latest";
 * a reference by digest has no tag: null.
 */
export function tagOfReference(ref: string): string | null {
  if (ref.includes("@") || ref === "") return null;
  let r = ref;
  for (const p of [
    "docker.io/library/",
    "index.docker.io/library/",
    "docker.io/",
    "index.docker.io/",
  ]) {
    if (r.startsWith(p)) {
      r = r.slice(p.length);
      break;
    }
  }
  const last = r.slice(r.lastIndexOf("/") + 1);
  return last.includes(":") ? r : `${r}:latest`;
}
