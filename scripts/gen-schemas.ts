/**
 * Write schemas/<name>.schema.json for every JSON output, generated from its zod model
 * (src/model/output-schemas.ts). Run after changing a model: `npm run schemas`. The files
 * ship in the package; test/unit/cli-schema.test.ts fails when they differ from the models.
 */
import { mkdir, readdir, rm, writeFile } from "node:fs/promises";
import { jsonSchemaText, OUTPUT_NAMES } from "../src/model/output-schemas.js";
import { packagePath } from "../src/util/package-root.js";

const dir = packagePath("schemas");
await mkdir(dir, { recursive: true });
// A schema of an output that no longer exists must not linger in the package.
for (const f of await readdir(dir)) {
  if (f.endsWith(".schema.json")) await rm(`${dir}/${f}`);
}
for (const name of OUTPUT_NAMES) {
  await writeFile(`${dir}/${name}.schema.json`, jsonSchemaText(name));
}
console.log(`wrote ${OUTPUT_NAMES.length} schemas to ${dir}`);
