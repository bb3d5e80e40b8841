import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { buildInfo, checkAssets, readTextSync } from "./util/assets.js";
import { packagePath } from "./util/package-root.js";
import { errorMessage } from "./util/result.js";

/**
 * The package version: recorded at build in the single executable, else read once from
 * the package's package.json.
 */
export const VERSION: string = (() => {
  try {
    const exe = buildInfo();
    if (exe) return exe.version;
    const pkg = JSON.parse(readTextSync(packagePath("package.json"))) as { version?: string };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
})();

export const TOOL = { name: "breachkit", version: VERSION } as const;

/** The file a running executable was started from (Linux: its bytes, even if replaced). */
const SELF_EXE = "/proc/self/exe";

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

export interface VersionReport {
  text: string;
  /** False when the executable's self-check found an asset missing or altered. */
  intact: boolean;
}

/**
 * What `--version` prints. From the npm package: the version alone (as always). From the
 * single executable: the version, the commit it was built from, the SHA-256 of the running
 * executable (computed from its bytes now, through /proc/self/exe), and a self-check of every
 * asset against the digest recorded at build.
 */
export async function versionReport(): Promise<VersionReport> {
  let info: ReturnType<typeof buildInfo>;
  try {
    info = buildInfo();
  } catch (e) {
    return {
      text: `breachkit ${VERSION}\nself-check: FAILED: ${errorMessage(e)}\n`,
      intact: false,
    };
  }
  if (info === null) return { text: `${VERSION}\n`, intact: true };
  let exeHash: string;
  try {
    exeHash = await sha256File(SELF_EXE);
  } catch (e) {
    exeHash = `unknown (cannot read ${SELF_EXE}: ${errorMessage(e)}; is /proc mounted?)`;
  }
  const check = checkAssets() ?? { recorded: 0, matching: 0, problems: [] };
  const intact = check.problems.length === 0;
  const lines = [
    `breachkit ${info.version}`,
    `commit      ${info.commit}`,
    `node        ${info.node} (${info.platform}, single executable)`,
    `sha256      ${exeHash}`,
    intact
      ? `self-check  ok: ${check.matching} of ${check.recorded} assets match the SHA-256 recorded at build`
      : `self-check  FAILED: ${check.problems.length} of ${check.recorded} assets missing or altered since the build`,
    ...check.problems.map((p) => `  ${p}`),
  ];
  if (!intact) {
    lines.push(
      "this executable was changed after it was built: do not trust its results; use a copy whose SHA-256 matches the published one",
    );
  }
  return { text: `${lines.join("\n")}\n`, intact };
}
