// Builds dist/ from src/ (npm run build; npm ci runs it too, through `prepare`):
//   dist/cli/main.cjs         every module of breachkit and its dependencies, one CommonJS file
//   dist/cli/bin.cjs          its entry (src/cli/boot.ts)
//   dist/cli/proc-worker.cjs  the thread that hashes executables and reads part of /proc
//                             beside the main thread (src/observe/proc/proc-worker.ts)
//   dist/cli/memory-scan-worker.cjs  the thread that reads a memory dump's strings while the
//                             main thread hashes and writes it (src/act/memory-scan-worker.ts)
//
// Why a bundle: Node resolved, read and compiled about 150 modules on each run, which took
// as long as a snapshot's whole reading of /proc (measured by bench/snapshot-vs-ps.ts).
// The build only compiles: it runs nothing it built, and reads nothing of the host it is
// installed on (installing breachkit on a breached host must not read its processes).
import { mkdirSync, rmSync } from "node:fs";
import { build } from "esbuild";

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist/cli", { recursive: true });

const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
  legalComments: "inline",
  // One URL for every module of a bundle: that of the bundle itself, which sits as deep
  // under the package root as src/util/package-root.ts, the one module that uses it.
  define: { "import.meta.url": "__breachkitBundleUrl" },
  banner: { js: 'var __breachkitBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
};
await build({ ...common, entryPoints: ["src/cli/bin.ts"], outfile: "dist/cli/main.cjs" });
await build({
  ...common,
  entryPoints: ["src/cli/boot.ts"],
  outfile: "dist/cli/bin.cjs",
  // The bundle is loaded as the file it is, not inlined a second time.
  external: ["./main.cjs"],
});
await build({
  ...common,
  entryPoints: ["src/observe/proc/proc-worker.ts"],
  outfile: "dist/cli/proc-worker.cjs",
});
await build({
  ...common,
  entryPoints: ["src/act/memory-scan-worker.ts"],
  outfile: "dist/cli/memory-scan-worker.cjs",
});
