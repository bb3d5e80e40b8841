/**
 * Pack a bundle as `<dir>.tar.gz` beside it. The system `tar` does the packing (its gzip runs in
 * its own process, on another core); the archive's SHA-256 is computed here from the bytes as
 * they stream to disk, so the printed hash is of exactly what was written.
 */
import { constants } from "node:fs";
import { lstat, open, unlink } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { execa } from "execa";
import { BreachkitError } from "../util/errors.js";
import { errorMessage } from "../util/result.js";
import { MANIFEST_FILE } from "./bundle.js";
import { HashingSink, pumpStream } from "./hash.js";

export interface ArchiveResult {
  path: string;
  sha256: string;
  size: number;
}

export async function archiveBundle(
  dir: string,
  opts: { onBytes?: (n: number) => void } = {},
): Promise<ArchiveResult> {
  const abs = resolve(dir);
  try {
    if (!(await lstat(join(abs, MANIFEST_FILE))).isFile()) throw new Error("not a file");
  } catch {
    throw new BreachkitError(
      "BAD_INPUT",
      `${dir} is not a sealed evidence bundle (no ${MANIFEST_FILE}); not archived`,
      "archive a bundle directory made by breachkit collect",
    );
  }
  const out = `${abs}.tar.gz`;
  let fh: Awaited<ReturnType<typeof open>>;
  try {
    fh = await open(
      out,
      constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
      0o600,
    );
  } catch (e) {
    const exists = (e as NodeJS.ErrnoException).code === "EEXIST";
    throw new BreachkitError(
      exists ? "USAGE" : "IO",
      exists
        ? `${out} already exists; not overwritten`
        : `cannot create ${out}: ${errorMessage(e)}`,
      exists
        ? `check it with: breachkit verify ${out}`
        : "make room or pack the directory elsewhere with tar",
    );
  }
  // --sort=name: the same bundle always packs in the same order; --numeric-owner: no name lookups.
  const proc = execa(
    "tar",
    [
      "--create",
      "--gzip",
      "--file=-",
      "--format=gnu",
      "--sort=name",
      "--numeric-owner",
      "-C",
      dirname(abs),
      "--",
      basename(abs),
    ],
    { stdout: "pipe", stderr: "pipe", buffer: { stdout: false, stderr: true }, reject: false },
  );
  const sink = new HashingSink(fh);
  let pumpError: unknown;
  try {
    await pumpStream(proc.stdout, sink, { onBytes: opts.onBytes });
  } catch (e) {
    pumpError = e;
    proc.kill();
  }
  const res = await sink.finish();
  const done = await proc;
  let closeError: unknown;
  try {
    await fh.close();
  } catch (e) {
    closeError = e;
  }
  const error = res.writeError ?? closeError ?? pumpError;
  if (error !== undefined || done.exitCode !== 0) {
    // A half-written archive would fail verify later with a confusing message: remove our own file.
    await unlink(out).catch(() => undefined);
    const why =
      error !== undefined
        ? errorMessage(error)
        : `tar exited with ${done.exitCode ?? done.signal}: ${String(done.stderr).trim().slice(0, 500)}`;
    throw new BreachkitError(
      "IO",
      `could not archive ${abs}: ${why}`,
      "the bundle directory itself is intact; verify it with breachkit verify, then pack it with tar on a device with room",
    );
  }
  return { path: out, sha256: res.sha256, size: res.size };
}
