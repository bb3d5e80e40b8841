/**
 * breachkit's own files: the baseline, the runs under /var/lib/breachkit/runs/, the schedule's
 * record of what it installed, the notifications' state. Written whole to a temporary file
 * beside the target and renamed over it, so a reader never sees half a file and a crash
 * leaves the old one.
 */
import { randomBytes } from "node:crypto";
import { constants, promises as fsp } from "node:fs";
import path from "node:path";

/** Write `text` to `file` atomically, mode `mode` (default 0600), creating its directory 0700. */
export async function writeOwnFile(file: string, text: string, mode = 0o600): Promise<void> {
  const dir = path.dirname(file);
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await fsp.open(
    tmp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    mode,
  );
  try {
    await fh.writeFile(text, "utf8");
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => {});
    await fsp.rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await fsp.chmod(tmp, mode);
  await fsp.rename(tmp, file);
}

/** Remove a file this module wrote; true when it was there. */
export async function removeOwnFile(file: string): Promise<boolean> {
  try {
    await fsp.unlink(file);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return false;
    throw e;
  }
}

/** Make a directory of breachkit's own (0700), with its parents. */
export async function makeOwnDir(dir: string): Promise<void> {
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
}

/** Remove a directory tree breachkit made (a run's bundle past retention). */
export async function removeOwnTree(dir: string): Promise<void> {
  await fsp.rm(dir, { recursive: true, force: true });
}
