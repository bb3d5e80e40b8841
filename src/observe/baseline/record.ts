/**
 * Read a saved baseline (`baseline save`'s file), checked against its seal: a record changed
 * after it was saved is refused, with what to do.
 */
import { constants } from "node:fs";
import { open } from "node:fs/promises";
import {
  BASELINE_FORMAT,
  type BaselineRecord,
  BaselineRecordSchema,
  sealOf,
} from "../../model/baseline.js";
import { BreachkitError } from "../../util/errors.js";
import { errorMessage } from "../../util/result.js";
import { safeText } from "../../util/sanitize.js";

export const DEFAULT_BASELINE_PATH = "/var/lib/breachkit/baseline.json";
const MAX_BYTES = 512 * 1024 * 1024;

/** The text of a file, or null when it does not exist; bounded, regular files only. */
export async function readBounded(path: string, max = MAX_BYTES): Promise<string | null> {
  let fh: import("node:fs/promises").FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw e;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new Error("not a regular file");
    if (st.size > max) throw new Error(`larger than ${max} bytes`);
    return await fh.readFile("utf8");
  } finally {
    await fh.close();
  }
}

/** True when the JSON text looks like a baseline record (cheap test before a full parse). */
export function looksLikeBaseline(data: unknown): boolean {
  return (
    typeof data === "object" &&
    data !== null &&
    (data as { format?: unknown }).format === BASELINE_FORMAT
  );
}

export function parseBaselineRecord(text: string, where: string): BaselineRecord {
  const fail = (why: string): never => {
    throw new BreachkitError(
      "BAD_INPUT",
      `cannot use ${safeText(where, 300)} as a baseline: ${why}`,
      "save one on a known-good day: breachkit baseline save --out FILE",
    );
  };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return fail(text.trim() === "" ? "the file is empty" : "not JSON");
  }
  if (!looksLikeBaseline(data)) return fail("not a breachkit baseline (no format field)");
  const parsed = BaselineRecordSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return fail(
      `does not match the baseline schema (${safeText([...(issue?.path ?? [])].join("."), 100)}: ${safeText(issue?.message ?? "", 200)})`,
    );
  }
  const record = parsed.data;
  if (sealOf(record.state) !== record.seal) {
    throw new BreachkitError(
      "BAD_INPUT",
      `the baseline ${safeText(where, 300)} was changed after it was saved (its seal does not match)`,
      "do not trust it: save a new baseline on a known-good day (breachkit baseline save)",
    );
  }
  return record;
}

export async function readBaselineRecord(path: string): Promise<BaselineRecord> {
  let text: string | null;
  try {
    text = await readBounded(path);
  } catch (e) {
    throw new BreachkitError(
      "BAD_INPUT",
      `cannot read the baseline ${safeText(path, 300)}: ${safeText(errorMessage(e), 300)}`,
      "name a file that baseline save wrote",
    );
  }
  if (text === null) {
    throw new BreachkitError(
      "BAD_INPUT",
      `no baseline at ${safeText(path, 300)}`,
      "save one first on a known-good day: breachkit baseline save (or name one: breachkit baseline diff FILE)",
    );
  }
  return parseBaselineRecord(text, path);
}

/**
 * The baseline record at `path` when it is one (`triage --baseline` takes a record or a
 * snapshot); null for a directory or anything else, which the snapshot reader then judges.
 */
export async function baselineRecordIfAny(path: string): Promise<BaselineRecord | null> {
  let text: string | null;
  try {
    text = await readBounded(path);
  } catch {
    return null;
  }
  if (text === null || !text.includes(BASELINE_FORMAT)) return null;
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    return null;
  }
  return looksLikeBaseline(data) ? parseBaselineRecord(text, path) : null;
}
