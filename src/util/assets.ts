/**
 * The package's own files (rules/, the hash worker, package.json), read from the package
 * directory, or from the executable's assets when breachkit runs as its single executable
 * (scripts/build-exe.mjs). A path under PACKAGE_ROOT goes to the assets there; any other path
 * (a user's --rules directory) is read from the file system as always.
 *
 * Every asset's SHA-256 was recorded in the asset `build-info.json` when the executable was
 * built; an asset is checked against it each time it is read, so an executable patched after
 * the build is refused with a message rather than run on altered rules.
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";
import { getAsset } from "node:sea";
import { BreachkitError } from "./errors.js";
import { IN_EXECUTABLE, PACKAGE_ROOT } from "./package-root.js";

/** What build-exe.mjs records in the asset `build-info.json`. */
export interface BuildInfo {
  format: "breachkit-exe-build";
  name: string;
  version: string;
  /** The git commit the executable was built from (with "-dirty" when the tree had changes). */
  commit: string;
  /** The Node.js it is built on, e.g. "24.22.3", and its platform ("linux-x64"). */
  node: string;
  platform: string;
  /** Every other asset's key (a path relative to the package root) and SHA-256. */
  assets: Record<string, string>;
}

export const BUILD_INFO_ASSET = "build-info.json";

const REFUSED_HINT =
  "the executable was changed after it was built: use a copy whose SHA-256 matches the published one (breachkit --version prints it), or rebuild it with npm run build:exe";

/** Whether `path` is one of the executable's assets (only when running as the executable). */
export function isAssetPath(path: string): boolean {
  return IN_EXECUTABLE && path.startsWith(PACKAGE_ROOT);
}

function assetBytes(key: string): Buffer | null {
  try {
    return Buffer.from(getAsset(key));
  } catch {
    return null;
  }
}

let buildInfoCache: BuildInfo | null = null;

/** The executable's build record; null when not running as the executable. */
export function buildInfo(): BuildInfo | null {
  if (!IN_EXECUTABLE) return null;
  if (buildInfoCache) return buildInfoCache;
  const bytes = assetBytes(BUILD_INFO_ASSET);
  let parsed: unknown = null;
  try {
    parsed = bytes ? JSON.parse(bytes.toString("utf8")) : null;
  } catch {
    parsed = null;
  }
  const info = parsed as Partial<BuildInfo> | null;
  if (
    info?.format !== "breachkit-exe-build" ||
    typeof info.assets !== "object" ||
    info.assets === null
  ) {
    throw new BreachkitError(
      "INTERNAL",
      `this executable holds no valid ${BUILD_INFO_ASSET}: it is not a breachkit executable as built, or it was altered`,
      REFUSED_HINT,
    );
  }
  buildInfoCache = info as BuildInfo;
  return buildInfoCache;
}

function notFound(path: string): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error(
    `ENOENT: no such file inside this executable, '${path}'`,
  );
  e.code = "ENOENT";
  e.path = path;
  return e;
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** An asset's bytes, checked against the digest recorded at build. */
function readAsset(path: string): Buffer {
  const key = path.slice(PACKAGE_ROOT.length);
  const want = buildInfo()?.assets[key];
  if (want === undefined) throw notFound(path);
  const bytes = assetBytes(key);
  if (bytes === null) {
    throw new BreachkitError(
      "INTERNAL",
      `${key} is missing from this executable, though its build recorded it`,
      REFUSED_HINT,
    );
  }
  if (sha256(bytes) !== want) {
    throw new BreachkitError(
      "INTERNAL",
      `${key} inside this executable does not match the SHA-256 recorded when it was built`,
      REFUSED_HINT,
    );
  }
  return bytes;
}

/** The names in a directory of assets (like readdir: names only, files and directories). */
function assetDir(path: string): string[] {
  const prefix = `${path.slice(PACKAGE_ROOT.length).replace(/\/+$/, "")}/`;
  const names = new Set<string>();
  for (const key of Object.keys(buildInfo()?.assets ?? {})) {
    if (key.startsWith(prefix)) names.add(key.slice(prefix.length).split("/")[0] as string);
  }
  if (names.size === 0) throw notFound(path);
  return [...names];
}

/** A text file (utf-8): an asset of the executable, or a file. */
export function readTextSync(path: string): string {
  return isAssetPath(path) ? readAsset(path).toString("utf8") : readFileSync(path, "utf8");
}

export async function readText(path: string): Promise<string> {
  return isAssetPath(path) ? readAsset(path).toString("utf8") : readFile(path, "utf8");
}

/** The names in a directory: of the executable's assets, or of the file system. */
export function readDirSync(path: string): string[] {
  return isAssetPath(path) ? assetDir(path) : readdirSync(path);
}

export async function readDir(path: string): Promise<string[]> {
  return isAssetPath(path) ? assetDir(path) : readdir(path);
}

/** Whether a file exists: an asset recorded at build, or a file. */
export function fileExists(path: string): boolean {
  if (!isAssetPath(path)) return existsSync(path);
  return buildInfo()?.assets[path.slice(PACKAGE_ROOT.length)] !== undefined;
}

export interface AssetCheck {
  /** Assets recorded at build. */
  recorded: number;
  /** Those found with the recorded SHA-256. */
  matching: number;
  /** One line per asset missing or altered. */
  problems: string[];
}

/** Every asset recorded at build, read and hashed: the self-check `--version` prints. */
export function checkAssets(): AssetCheck | null {
  const info = buildInfo();
  if (info === null) return null;
  const problems: string[] = [];
  let matching = 0;
  for (const [key, want] of Object.entries(info.assets)) {
    const bytes = assetBytes(key);
    if (bytes === null) problems.push(`${key}: missing`);
    else if (sha256(bytes) !== want) problems.push(`${key}: altered (SHA-256 ${sha256(bytes)})`);
    else matching++;
  }
  return { recorded: Object.keys(info.assets).length, matching, problems };
}
