// Builds dist/ from src/ (npm run build; npm ci runs it too):
//   dist/cli/main.cjs        every module of breachkit and its dependencies, one CommonJS file
//   dist/cli/bin.cjs         its entry (src/cli/boot.ts): starts the native reader when the
//                            command reads processes, then runs main.cjs with the code cache
//   dist/cli/main.cjs.cache  V8's code cache for main.cjs, made by the training runs below
//   dist/native/procread     the native /proc reader, when a C compiler is there
//
// Why a bundle and a code cache: Node resolved, read and compiled about 150 modules on each
// run, which took as long as the snapshot's whole reading of /proc (measured by
// bench/snapshot-vs-ps.ts). One file with its compiled code cached starts in a third of that.
// The cache is made here by running the built command (help texts, and one snapshot to
// /dev/null): V8 then keeps the code of every function those runs compiled. A node that
// does not fit the cache (another version) ignores it; breachkit then only starts slower.
import { spawnSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync } from "node:fs";
import { build } from "esbuild";

const main = "dist/cli/main.cjs";
const cache = `${main}.cache`;

rmSync("dist", { recursive: true, force: true });
mkdirSync("dist/cli", { recursive: true });

const common = {
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
  legalComments: "inline",
  // vm.Script (how bin.cjs runs the bundle) has no loader for a real import(): a dynamic
  // import of a built-in module becomes require() (the bundle's own are inlined anyway).
  supported: { "dynamic-import": false },
  // One URL for every module of a bundle: that of the bundle itself, which sits as deep
  // under the package root as src/util/package-root.ts, the one module that uses it.
  define: { "import.meta.url": "__breachkitBundleUrl" },
  banner: { js: 'var __breachkitBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
};
await build({ ...common, entryPoints: ["src/cli/bin.ts"], outfile: main });
await build({ ...common, entryPoints: ["src/cli/boot.ts"], outfile: "dist/cli/bin.cjs" });

const native = spawnSync(process.execPath, ["scripts/build-native.mjs"], { stdio: "inherit" });
if (native.status !== 0) process.exit(native.status ?? 1);

// Training runs: each starts from the cache the one before left and adds what it compiled.
// A run that fails (no /proc access, say) still leaves a usable cache; none is an error.
const runs = [
  ["--help"],
  ["snapshot", "--help"],
  ["triage", "--help"],
  ["collect", "--help"],
  ["contain", "--help"],
  ["scan", "--help"],
  ["verify", "--help"],
  ["snapshot", "--json", "--no-hash-cache"],
];
const tmp = `${cache}.${process.pid}.tmp`;
let made = 0;
for (const args of runs) {
  const r = spawnSync(process.execPath, ["dist/cli/bin.cjs", ...args], {
    stdio: ["ignore", "ignore", "ignore"],
    env: { ...process.env, BREACHKIT_CODE_CACHE_OUT: tmp, NO_COLOR: "1" },
    timeout: 60_000,
  });
  try {
    renameSync(tmp, cache);
    made++;
  } catch {
    // This run wrote no cache (it was killed): the previous one stays.
  }
  if (r.error) break;
}
rmSync(tmp, { force: true });
if (made === 0) {
  console.error("breachkit: no code cache made; breachkit works, and starts slower");
}
