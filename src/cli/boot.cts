// The built command's entry, dist/cli/bin.cjs: runs the bundle dist/cli/main.cjs (every
// module of breachkit and its dependencies in one file, see scripts/build.mjs) with the V8
// code cache the build made for it, dist/cli/main.cjs.cache. Compiling breachkit's modules
// would otherwise take about as long as a snapshot's reading of /proc. V8 checks that a
// cache fits this node and this bundle and ignores one that does not: the cache changes
// only how fast breachkit starts, never what it does. Nothing is written here at run time
// but by the build (BREACHKIT_CODE_CACHE_OUT).
import fs = require("node:fs");
import path = require("node:path");
import vm = require("node:vm");

const main = path.join(__dirname, "main.cjs");
const source = fs.readFileSync(main, "utf8");
let cachedData: Buffer | undefined;
try {
  cachedData = fs.readFileSync(`${main}.cache`);
} catch {
  cachedData = undefined; // not built (or not readable): compiled as usual
}
const script = new vm.Script(
  `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
  { filename: main, ...(cachedData === undefined ? {} : { cachedData }) },
);
if (process.env.BREACHKIT_TRACE === "1") {
  const state = cachedData === undefined ? "none" : script.cachedDataRejected ? "rejected" : "used";
  process.stderr.write(`[${performance.now().toFixed(0)} ms] code cache: ${state}\n`);
}
const out = process.env.BREACHKIT_CODE_CACHE_OUT;
if (out !== undefined && out !== "") {
  // The build's training runs: the cache then holds every function these runs compiled.
  process.once("exit", () => fs.writeFileSync(out, script.createCachedData()));
}
const mod = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(
  mod.exports,
  require,
  mod,
  main,
  __dirname,
);
