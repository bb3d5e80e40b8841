/**
 * Alpine's apk database, `/lib/apk/db/installed`: one stanza per package (`P:` name, `V:`
 * version), then its files: `F:` a directory, `R:` a file in it, `Z:` that file's checksum,
 * `Q1` + base64 of its SHA-1 (`Q2`: SHA-256). For a symlink apk records the checksum of the
 * link's target text. Files without a `Z:` line cannot be verified and are only owned.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { DigestAlgo, PackageDb, PackageFile } from "./types.js";

export const APK_DB = "/lib/apk/db/installed";
const MAX_DB_FILE = 64 * 1024 * 1024;

/** `Q1...` (SHA-1) or `Q2...` (SHA-256) to an algorithm and hex, or null. */
export function decodeApkChecksum(z: string): { algo: DigestAlgo; hex: string } | null {
  const m = /^Q([12])([A-Za-z0-9+/=]+)$/.exec(z.trim());
  if (!m) return null;
  const bytes = Buffer.from(m[2]!, "base64");
  const algo: DigestAlgo = m[1] === "1" ? "sha1" : "sha256";
  if (bytes.length !== (algo === "sha1" ? 20 : 32)) return null;
  return { algo, hex: bytes.toString("hex") };
}

export interface ApkParse {
  packages: number;
  files: PackageFile[];
  owners: Map<string, string[]>;
  problems: string[];
}

export function parseApkInstalled(text: string): ApkParse {
  const files: PackageFile[] = [];
  const owners = new Map<string, string[]>();
  const problems: string[] = [];
  const own = (path: string, pkg: string) => {
    const o = owners.get(path);
    if (!o) owners.set(path, [pkg]);
    else if (!o.includes(pkg)) o.push(pkg);
  };
  let pkg = "";
  let packages = 0;
  let dir = "";
  let last: { path: string } | null = null;
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    if (line === "") {
      pkg = "";
      dir = "";
      last = null;
      continue;
    }
    const tag = line.slice(0, 2);
    const value = line.slice(2);
    if (tag === "P:") {
      pkg = value;
      packages++;
    } else if (tag === "F:") {
      dir = value.replace(/^\/+|\/+$/g, "");
      if (pkg) own(`/${dir}`, pkg);
      last = null;
    } else if (tag === "R:") {
      const path = `/${dir ? `${dir}/` : ""}${value}`;
      if (pkg) own(path, pkg);
      last = { path };
    } else if (tag === "Z:" && last) {
      const c = decodeApkChecksum(value);
      if (!c) problems.push(`line ${i + 1}: unreadable checksum for ${last.path}`);
      else
        files.push({
          manager: "apk",
          package: pkg,
          path: last.path,
          algo: c.algo,
          expected: c.hex,
        });
      last = null;
    }
  }
  return { packages, files, owners, problems };
}

/** The apk database under `root`, or null when there is none. */
export async function readApkDb(root: string): Promise<PackageDb | null> {
  let buf: Buffer;
  try {
    buf = await readFile(root === "/" ? APK_DB : join(root, APK_DB));
  } catch {
    return null;
  }
  if (buf.length > MAX_DB_FILE) {
    return {
      manager: "apk",
      source: APK_DB,
      packages: 0,
      files: [],
      owners: async () => new Map(),
      problems: [`${APK_DB} is larger than ${MAX_DB_FILE} bytes: not read`],
    };
  }
  const p = parseApkInstalled(buf.toString("utf8"));
  return { manager: "apk", source: APK_DB, ...p, owners: async () => p.owners };
}
