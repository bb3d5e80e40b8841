import { createHash } from "node:crypto";
import { lstat, readdir, readFile } from "node:fs/promises";

/** The EICAR test file, byte-exact (68 bytes, no newline). */
export const EICAR_TEXT = [
  "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR",
  "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
].join("");

export const CLAMAV_TEST_DB = new URL("../fixtures/clamav-db/", import.meta.url).pathname;

/**
 * SHA-256 of every regular file under a directory, by relative path (names read as raw bytes
 * and keyed in hex where they are not UTF-8): for before/after checks.
 */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: Buffer, rel: string) => {
    const names = (await readdir(d, { encoding: "buffer" })) as Buffer[];
    for (const name of names.sort(Buffer.compare)) {
      const p = Buffer.concat([d, Buffer.from("/"), name]);
      const st = await lstat(p);
      const key = `${rel}${name.toString("hex")}`;
      if (st.isDirectory()) await walk(p, `${key}/`);
      else if (st.isFile())
        out[key] = createHash("sha256")
          .update(await readFile(p))
          .digest("hex");
    }
  };
  await walk(Buffer.from(dir), "");
  return out;
}
