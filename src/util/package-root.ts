import { join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * The package's root directory: where package.json, rules/ and dist/ are. This module
 * is two levels under it in every form breachkit runs in: src/util/package-root.ts (tsx,
 * vitest) and dist/cli/main.cjs, the bundle, whose build defines `import.meta.url` as the
 * bundle's own URL. The only module that may use `import.meta.url` (a unit test checks):
 * in the bundle every module shares one URL, so paths relative to it would be wrong.
 */
export const PACKAGE_ROOT: string = fileURLToPath(new URL("../../", import.meta.url));

/** A path inside the package. */
export function packagePath(...parts: string[]): string {
  return join(PACKAGE_ROOT, ...parts);
}
