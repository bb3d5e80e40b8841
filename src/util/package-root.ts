import { join } from "node:path";
import { isSea } from "node:sea";
import { fileURLToPath } from "node:url";

/**
 * True when breachkit runs as its single executable (scripts/build-exe.mjs): the package's
 * files are then assets inside the executable, read through util/assets.ts.
 */
export const IN_EXECUTABLE: boolean = isSea();

/**
 * The package's root directory: where package.json, rules/ and dist/ are. This module
 * is two levels under it in every form breachkit runs in: src/util/package-root.ts (tsx,
 * vitest) and dist/cli/main.cjs, the bundle, whose build defines `import.meta.url` as the
 * bundle's own URL. The only module that may use `import.meta.url` (a unit test checks):
 * in the bundle every module shares one URL, so paths relative to it would be wrong.
 *
 * In the single executable it is `/proc/self/exe/`: a path under a file, so no real file
 * can ever be found there (ENOTDIR); util/assets.ts reads such paths from the executable's
 * own assets.
 */
export const PACKAGE_ROOT: string = IN_EXECUTABLE
  ? "/proc/self/exe/"
  : fileURLToPath(new URL("../../", import.meta.url));

/** A path inside the package. */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}
