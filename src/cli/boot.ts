// The built command's entry, dist/cli/bin.cjs (bundled on its own, see scripts/build.mjs).
//
// 1. For a command that reads every process as it starts (a live snapshot), it takes the
//    reading bin/breachkit's launcher started before node (procread --launch), or else
//    starts the native reader first of all: the reader then works on the other cores while
//    this process loads breachkit. A launched reading no such command takes is closed.
// 2. It runs the bundle dist/cli/main.cjs (every module of breachkit and its dependencies
//    in one file) with the V8 code cache the build made for it, main.cjs.cache: compiling
//    breachkit's modules would otherwise take about as long as a snapshot's reading of /proc.
//    The cache starts with the SHA-256 of the bundle it was made from and is used only with
//    that bundle (V8 itself checks the node and the flags, but of the source only its
//    length: a patched bundle of the same length would run the old code). A cache that does
//    not fit is ignored: it changes only how fast breachkit starts, never what it does.
//    Nothing is written here at run time but by the build (BREACHKIT_CODE_CACHE_OUT).
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setFlagsFromString } from "node:v8";
import { Script } from "node:vm";
import {
  type EarlyReader,
  startEarlyReader,
  takeLaunchedReader,
} from "../observe/proc/prefetch.js";
import { startsReading } from "./early.js";

const launched = takeLaunchedReader(process.env);
let early: EarlyReader | null = null;
if (startsReading(process.argv.slice(2))) early = launched ?? startEarlyReader(process.env);
else launched?.discard();
const trace = process.env.BREACHKIT_TRACE === "1";
if (trace && early !== null) {
  const by = early === launched ? "by the launcher" : "by the entry";
  process.stderr.write(`[${performance.now().toFixed(0)} ms] native reader started ${by}\n`);
}

// The trace's last line: what remains after the snapshot's own steps (output, exit).
if (trace) {
  process.once("exit", () => process.stderr.write(`[${performance.now().toFixed(0)} ms] exit\n`));
}
const main = join(__dirname, "main.cjs");
const bytes = readFileSync(main);
// Loaded only now, after the reader's start: loading node:crypto takes about 3 ms.
const { createHash } = require("node:crypto") as typeof import("node:crypto");
const digest = createHash("sha256").update(bytes).digest();
const source = bytes.toString("utf8");
let cachedData: Buffer | undefined;
let state = "none";
try {
  const file = readFileSync(`${main}.cache`);
  if (file.length > digest.length && file.subarray(0, digest.length).equals(digest)) {
    cachedData = file.subarray(digest.length);
  } else {
    state = "not made from this bundle";
  }
} catch {
  // not built (or not readable): compiled as usual
}
const script = new Script(
  `(function (exports, require, module, __filename, __dirname) {${source}\n})`,
  { filename: main, ...(cachedData === undefined ? {} : { cachedData }) },
);
if (trace) {
  if (cachedData !== undefined) state = script.cachedDataRejected ? "rejected" : "used";
  process.stderr.write(`[${performance.now().toFixed(0)} ms] code cache: ${state}\n`);
}
const out = process.env.BREACHKIT_CODE_CACHE_OUT;
if (out !== undefined && out !== "") {
  // The build's training runs: the cache then holds every function these runs compiled.
  process.once("exit", () => {
    // Under the flags the cache is checked with (V8 writes them into it): a live snapshot
    // turned the optimizing compiler off (CliIo.briefRun).
    setFlagsFromString("--opt");
    writeFileSync(out, Buffer.concat([digest, script.createCachedData()]));
  });
}
const mod: { exports: { main?: (early: unknown) => void } } = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void)(
  mod.exports,
  require,
  mod,
  main,
  __dirname,
);
if (typeof mod.exports.main !== "function") {
  throw new Error(`${main} is not breachkit's bundle: run npm run build`);
}
mod.exports.main(early);
