/**
 * Whether restored data may be handed over: no ClamAV hit, no file whose SHA-256 is one of the
 * incident's IOC hashes, and every check actually ran. Anything else marks the restore unsafe,
 * with the reasons.
 */
export interface RestoredFile {
  /** Relative to the restore target. */
  path: string;
  sha256: string;
  executable: boolean;
}

export interface SafetyInput {
  files: readonly RestoredFile[];
  iocs: ReadonlyMap<string, string>;
  clamav: {
    status: "clean" | "hits" | "error" | "skipped";
    hits: readonly { path: string; signature: string }[];
    error: string | null;
  };
  /** Files that could not be read for hashing. */
  unreadable: readonly string[];
}

export interface SafetyVerdict {
  safe: boolean;
  reasons: string[];
  iocHits: { path: string; sha256: string; origin: string }[];
}

export function judgeRestore(input: SafetyInput): SafetyVerdict {
  const reasons: string[] = [];
  const iocHits: SafetyVerdict["iocHits"] = [];
  for (const f of input.files) {
    const origin = input.iocs.get(f.sha256);
    if (origin !== undefined) iocHits.push({ path: f.path, sha256: f.sha256, origin });
  }
  for (const h of iocHits)
    reasons.push(`${h.path} has the SHA-256 of an incident IOC (${h.origin})`);
  for (const h of input.clamav.hits) reasons.push(`ClamAV: ${h.path}: ${h.signature}`);
  if (input.clamav.status === "error")
    reasons.push(`ClamAV could not check the files: ${input.clamav.error ?? "error"}`);
  if (input.unreadable.length > 0)
    reasons.push(`${input.unreadable.length} restored file(s) could not be hashed`);
  const safe =
    iocHits.length === 0 &&
    input.clamav.hits.length === 0 &&
    input.clamav.status !== "error" &&
    input.unreadable.length === 0;
  return { safe, reasons, iocHits };
}
