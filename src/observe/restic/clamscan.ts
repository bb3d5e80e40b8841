/**
 * ClamAV over a restored directory: one `clamscan -r` run (argv only, read-only) with the
 * signature directory named, hits parsed with the scanner module's record parser.
 */
import { parseRecord } from "../scanners/clamd-client.js";
import { databaseFiles } from "../scanners/clamd-daemon.js";
import { findExecutable, runTool } from "../scanners/run-tool.js";

export interface ClamscanResult {
  status: "clean" | "hits" | "error";
  hits: { path: string; signature: string }[];
  error: string | null;
}

export async function clamscanDir(
  dir: string,
  dbDir: string,
  env: Readonly<Record<string, string | undefined>>,
  timeoutMs: number,
): Promise<ClamscanResult> {
  const exe = await findExecutable("clamscan", env);
  if (!exe)
    return {
      status: "error",
      hits: [],
      error: "clamscan is not installed (apt-get install clamav)",
    };
  if ((await databaseFiles(dbDir)).length === 0)
    return {
      status: "error",
      hits: [],
      error: `no ClamAV signatures in ${dbDir} (--clamav-db DIR)`,
    };
  const run = await runTool(exe, ["-d", dbDir, "-r", "-i", "--no-summary", "--stdout", "--", dir], {
    env,
    timeoutMs,
  });
  const hits: ClamscanResult["hits"] = [];
  for (const line of run.stdout.split("\n")) {
    const r = parseRecord(line);
    if (r?.verdict.kind === "found" && !hits.some((h) => h.path === r.path))
      hits.push({ path: r.path, signature: r.verdict.signature });
  }
  if (hits.length > 0) return { status: "hits", hits, error: null };
  if (run.exitCode === 0) return { status: "clean", hits, error: null };
  return {
    status: "error",
    hits,
    error: run.timedOut
      ? "clamscan timed out"
      : `clamscan exit ${run.exitCode}: ${run.stderr.trim().split("\n").slice(-2).join(" ")}`,
  };
}
