import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createBundle } from "../../src/evidence/bundle.js";

/** A fresh temp directory and a function that removes it. */
export async function tempDir(
  prefix = "bk-ev-",
): Promise<{ path: string; cleanup(): Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

export const isRoot = process.getuid?.() === 0;

/** Mount a tmpfs of `size` (e.g. "1m") at `dir`, read-only when asked. Needs root. */
export function mountTmpfs(dir: string, size: string, opts: { readOnly?: boolean } = {}): void {
  const o = `size=${size},mode=0755${opts.readOnly ? ",ro" : ""}`;
  execFileSync("mount", ["-t", "tmpfs", "-o", o, "tmpfs", dir]);
}

export function unmount(dir: string): void {
  try {
    execFileSync("umount", [dir], { stdio: "ignore" });
  } catch {
    // not mounted (the test failed before mounting)
  }
}

export async function sha256OfPath(path: string): Promise<string> {
  return createHash("sha256")
    .update(await readFile(path))
    .digest("hex");
}

/** An async iterable yielding `count` chunks of `size` bytes of a repeated byte. */
export async function* chunks(
  count: number,
  size: number,
  byte = 0x61,
): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < count; i++) yield Buffer.alloc(size, byte);
}

/** A sealed bundle with a few files, for verify tests. */
export async function makeSealedBundle(
  outDir: string,
  opts: { complete?: boolean; reason?: string } = {},
): Promise<string> {
  const b = await createBundle({ outDir, host: "web01", command: "collect --test" });
  await b.writeJson("snapshot.json", { processes: [] }, { source: "breachkit" });
  await b.writeFile("containers/bk-lab-gitlab/abc-json.log", '{"log":"GET /\\n"}\n', {
    source: "/var/lib/docker/containers/abc/abc-json.log",
  });
  await b.writeFile("host/etc/passwd", "root:x:0:0::/root:/bin/bash\n", { source: "/etc/passwd" });
  await b.seal(
    opts.complete === false
      ? { complete: false, reason: opts.reason ?? "SIGINT" }
      : { complete: true },
  );
  return b.dir;
}

/** One ustar header block for hand-made (hostile) archives. */
export function tarHeader(name: string, size: number, typeflag = "0", linkName = ""): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, "utf8");
  h.write("0000644\0", 100, "latin1");
  h.write("0000000\0", 108, "latin1");
  h.write("0000000\0", 116, "latin1");
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124, "latin1");
  h.write("00000000000\0", 136, "latin1");
  h.write(typeflag, 156, "latin1");
  h.write(linkName, 157, 100, "utf8");
  h.write("ustar\u000000", 257, "latin1");
  h.fill(0x20, 148, 156);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return h;
}

/** A tar stream of the given entries (data padded to 512), with the end-of-archive blocks. */
export function makeTar(
  entries: { name: string; data?: string; typeflag?: string; linkName?: string }[],
): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    const data = Buffer.from(e.data ?? "");
    parts.push(tarHeader(e.name, data.length, e.typeflag ?? "0", e.linkName ?? ""));
    parts.push(data, Buffer.alloc((512 - (data.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
