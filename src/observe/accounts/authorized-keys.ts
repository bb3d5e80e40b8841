/**
 * authorized_keys lines, read the way sshd reads them (auth2-pubkeyfile.c): blank and `#`
 * lines skipped; a line is first tried as "type blob [comment]", and only when that fails
 * as "options type blob [comment]", the options ending at the first blank outside double
 * quotes. A key counts only when its base64 blob decodes and names the same key type as the
 * line, which is what sshd checks too: a garbled line gives no access and is reported apart.
 */
import { createHash } from "node:crypto";
import type { z } from "zod";
import type { AuthorizedKeySchema } from "../../model/snapshot.js";

export type AuthorizedKey = z.infer<typeof AuthorizedKeySchema>;

export type AuthorizedKeysParse = {
  keys: AuthorizedKey[];
  invalid: Array<{ line: number; reason: string }>;
};

const KEY_TYPES = new Set([
  "ssh-ed25519",
  "ssh-rsa",
  "ssh-dss",
  "ecdsa-sha2-nistp256",
  "ecdsa-sha2-nistp384",
  "ecdsa-sha2-nistp521",
  "sk-ecdsa-sha2-nistp256@openssh.com",
  "sk-ssh-ed25519@openssh.com",
  "ssh-xmss@openssh.com",
  "ssh-ed25519-cert-v01@openssh.com",
  "ssh-rsa-cert-v01@openssh.com",
  "ssh-dss-cert-v01@openssh.com",
  "ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "ecdsa-sha2-nistp384-cert-v01@openssh.com",
  "ecdsa-sha2-nistp521-cert-v01@openssh.com",
  "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
  "sk-ssh-ed25519-cert-v01@openssh.com",
  "ssh-xmss-cert-v01@openssh.com",
]);

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** "SHA256:<unpadded base64 of sha256(blob)>", exactly as `ssh-keygen -l` prints it. */
export function sshFingerprint(blob: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** The key type named inside a public-key blob (its first SSH string), or null. */
export function blobKeyType(blob: Uint8Array): string | null {
  if (blob.length < 4) return null;
  const len = new DataView(blob.buffer, blob.byteOffset, blob.byteLength).getUint32(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return null;
  return Buffer.from(blob.subarray(4, 4 + len)).toString("latin1");
}

function isBlank(c: string | undefined): boolean {
  return c === " " || c === "\t";
}

function skipBlanks(s: string, i: number): number {
  let j = i;
  while (isBlank(s[j])) j++;
  return j;
}

function tokenEnd(s: string, i: number): number {
  let j = i;
  while (j < s.length && !isBlank(s[j])) j++;
  return j;
}

type KeyPart = { type: string; fingerprint: string; comment: string } | { error: string };

function readKey(s: string): KeyPart {
  const typeEnd = tokenEnd(s, 0);
  const type = s.slice(0, typeEnd);
  if (!KEY_TYPES.has(type)) return { error: `unknown key type` };
  const blobStart = skipBlanks(s, typeEnd);
  const blobEnd = tokenEnd(s, blobStart);
  const b64 = s.slice(blobStart, blobEnd);
  if (b64 === "" || !BASE64.test(b64) || b64.length % 4 === 1) {
    return { error: "key data is not base64" };
  }
  const blob = Buffer.from(b64, "base64");
  const inner = blobKeyType(blob);
  if (inner !== type)
    return { error: `key data is a ${inner ?? "malformed"} key, line says ${type}` };
  return { type, fingerprint: sshFingerprint(blob), comment: s.slice(blobEnd).trim() };
}

/** End of an options string: the first blank outside double quotes; -1 if a quote is open. */
function optionsEnd(s: string): number {
  let quoted = false;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quoted && c === "\\" && s[i + 1] === '"') i++;
    else if (c === '"') quoted = !quoted;
    else if (!quoted && isBlank(c)) return i;
  }
  return quoted ? -1 : s.length;
}

export function parseAuthorizedKeys(text: string): AuthorizedKeysParse {
  const keys: AuthorizedKey[] = [];
  const invalid: AuthorizedKeysParse["invalid"] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    let raw = lines[n]!;
    if (raw.endsWith("\r")) raw = raw.slice(0, -1);
    const s = raw.slice(skipBlanks(raw, 0));
    if (s === "" || s.startsWith("#")) continue;
    const line = n + 1;
    const bare = readKey(s);
    if ("type" in bare) {
      keys.push({ ...bare, options: "", line });
      continue;
    }
    const end = optionsEnd(s);
    if (end <= 0) {
      invalid.push({ line, reason: end < 0 ? "unterminated quote in options" : bare.error });
      continue;
    }
    const withOptions = readKey(s.slice(skipBlanks(s, end)));
    if ("type" in withOptions) {
      keys.push({ ...withOptions, options: s.slice(0, end), line });
    } else {
      // Report why the line failed as a plain key when it starts with a key type name.
      invalid.push({
        line,
        reason: KEY_TYPES.has(s.slice(0, tokenEnd(s, 0))) ? bare.error : withOptions.error,
      });
    }
  }
  return { keys, invalid };
}
