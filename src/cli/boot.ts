// The built command's entry, dist/cli/bin.cjs (bundled on its own, see scripts/build.mjs):
// it loads the bundle dist/cli/main.cjs (every module of breachkit and its dependencies in
// one file) and runs the command line. Kept apart from the bundle so that `process` and the
// trace's last line are set up before anything else loads.

// BREACHKIT_TRACE=1: the trace's last line, what remains after the command's own steps
// (output, exit).
if (process.env.BREACHKIT_TRACE === "1") {
  process.once("exit", () => process.stderr.write(`[${performance.now().toFixed(0)} ms] exit\n`));
}
const bundle = require("./main.cjs") as { main?: () => void };
if (typeof bundle.main !== "function") {
  throw new Error(`${__dirname}/main.cjs is not breachkit's bundle: run npm run build`);
}
bundle.main();
