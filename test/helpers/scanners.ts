import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";

/** The EICAR test file, byte-exact (68 bytes, no newline). */
export const EICAR_TEXT = [
  "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR",
  "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
].join("");

export const CLAMAV_TEST_DB = new URL("../fixtures/clamav-db/", import.meta.url).pathname;

/** SHA-256 of every file under a directory (recursive), by relative path: before/after checks. */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string, rel: string) => {
    for (const name of (await readdir(d)).sort()) {
      const p = join(d, name);
      const st = await stat(p);
      if (st.isDirectory()) await walk(p, `${rel}${name}/`);
      else if (st.isFile())
        out[`${rel}${name}`] = createHash("sha256")
          .update(await readFile(p))
          .digest("hex");
    }
  };
  await walk(dir, "");
  return out;
}
