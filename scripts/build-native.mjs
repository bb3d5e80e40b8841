// Compiles native/procread.c (the fast /proc reader) into dist/native/procread, when a C
// compiler is there. Without one, breachkit reads /proc with its JS reader: the same
// results, slower on busy hosts. Never fails the build for that; says it once.
import { spawnSync } from "node:child_process";
import { mkdirSync, renameSync, rmSync } from "node:fs";

const out = "dist/native/procread";
const tmp = `${out}.${process.pid}.tmp`;
const cc = process.env.CC || "cc";
mkdirSync("dist/native", { recursive: true });
const r = spawnSync(
  cc,
  ["-O2", "-pthread", "-Wall", "-Wextra", "-Werror", "-o", tmp, "native/procread.c"],
  { stdio: ["ignore", "inherit", "inherit"] },
);
if (r.error || r.status !== 0) {
  rmSync(tmp, { force: true });
  rmSync(out, { force: true });
  const why = r.error ? r.error.message : `${cc} exited ${r.status}`;
  console.error(
    `breachkit: native /proc reader not built (${why}); the JS reader will be used. Install gcc and run npm run build for the fast one.`,
  );
} else {
  renameSync(tmp, out);
}
