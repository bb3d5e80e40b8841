// The entry of the single executable (scripts/build-exe.mjs): the same command line as
// dist/cli/bin.cjs, bundled with every module into the one script a Node single executable
// application runs (it can require nothing but Node's built-in modules). The package's files
// (rules, the hash worker) are its assets, read through util/assets.ts.
import { main } from "./bin.js";

main();
