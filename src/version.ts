import { readFileSync } from "node:fs";
import { packagePath } from "./util/package-root.js";

/** The package version, read once from the package's package.json. */
export const VERSION: string = (() => {
  try {
    const pkg = JSON.parse(readFileSync(packagePath("package.json"), "utf8")) as {
      version?: string;
    };
    return pkg.version ?? "0.0.0";
  } catch {
    return "0.0.0";
  }
})();

export const TOOL = { name: "breachkit", version: VERSION } as const;
