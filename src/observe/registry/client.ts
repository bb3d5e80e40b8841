/**
 * A read-only client of the registry HTTP API (distribution v2 / OCI), node:http(s) only:
 * - manifests by HEAD (the digest in Docker-Content-Digest), and by GET when the digest must be
 *   proven: then the digest is the SHA-256 of the bytes received, and the body must be a Docker
 *   v2 manifest, a manifest list, an OCI manifest or an OCI index, or the answer is a gap;
 * - the token flow of `WWW-Authenticate: Bearer realm=...,service=...,scope=...` (anonymous, or
 *   with the Docker config's credentials), and Basic challenges;
 * - TLS always verified; plain HTTP only to the hosts named by `--insecure-registry`;
 * - every request bounded in time (a deadline over connect, headers and body) and size, and at
 *   most `maxConcurrent` in flight, over keep-alive connections closed by `close()`.
 */
import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { Limiter } from "../../util/limiter.js";
import { z } from "../../util/zod.js";
import type { DockerAuths, RegistryCredential } from "./docker-config.js";
import { apiHost, type ImageRef } from "./reference.js";

export const MANIFEST_TYPES = [
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
] as const;

export type RegistryGapKind =
  | "unreachable"
  | "timeout"
  | "tls"
  | "unauthorized"
  | "not-found"
  | "server-error"
  | "http"
  | "malformed"
  | "refused";

export class RegistryError extends Error {
  readonly kind: RegistryGapKind;
  readonly status: number | null;
  constructor(kind: RegistryGapKind, message: string, status: number | null = null) {
    super(message);
    this.name = "RegistryError";
    this.kind = kind;
    this.status = status;
  }
}

export interface RegistryClientOptions {
  auths: DockerAuths;
  /** host[:port] spoken to over plain HTTP (`--insecure-registry`); every other host is HTTPS, verified. */
  insecureHosts: readonly string[];
  /** Deadline of one request, connect to last byte (default 5 s). */
  timeoutMs?: number;
  /** Requests in flight at once (default 8). */
  maxConcurrent?: number;
  /**
   * Docker's per-registry CA directory (default /etc/docker/certs.d): `<dir>/<host[:port]>/*.crt`
   * are trusted for that registry, beside Node's own roots, as the Docker engine does.
   */
  certsDir?: string | null;
}

export interface ManifestAnswer {
  digest: string;
  mediaType: string;
  /** true: the digest is the SHA-256 of the manifest bytes received in this run (GET). */
  verified: boolean;
}

const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const MAX_TAGS_BYTES = 2 * 1024 * 1024;
const MAX_TOKEN_BYTES = 256 * 1024;
const MAX_ERROR_BYTES = 16 * 1024;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

const TokenSchema = z.looseObject({
  token: z.string().nullish(),
  access_token: z.string().nullish(),
});
const TagsSchema = z.looseObject({ tags: z.array(z.string()).nullish() });
const ManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.string().nullish(),
  config: z.looseObject({ digest: z.string() }).nullish(),
  layers: z.array(z.looseObject({ digest: z.string() })).nullish(),
  manifests: z.array(z.looseObject({ digest: z.string() })).nullish(),
});

interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  body: Buffer;
}

/** The parameters of one WWW-Authenticate challenge. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/** `Bearer realm="https://auth",service="reg",scope="repository:a/b:pull"` -> scheme and params. */
export function parseChallenge(header: string): Challenge | null {
  const m = /^\s*([A-Za-z]+)\s*(.*)$/s.exec(header);
  if (!m?.[1]) return null;
  const params: Record<string, string> = {};
  const re = /([A-Za-z_]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/gy;
  const rest = m[2] ?? "";
  re.lastIndex = 0;
  while (re.lastIndex < rest.length) {
    const p = re.exec(rest);
    if (p === null) break;
    const key = (p[1] ?? "").toLowerCase();
    params[key] = p[2] !== undefined ? p[2].replace(/\\(.)/g, "$1") : (p[3] ?? "");
  }
  return { scheme: m[1].toLowerCase(), params };
}

/**
 * Check a manifest's bytes: JSON of a known kind, and (when the registry named one) hashing to
 * the digest it claimed. Returns the digest of the bytes and the media type.
 */
export function checkManifest(
  body: Buffer,
  contentType: string | undefined,
  claimedDigest: string | null,
): { digest: string; mediaType: string } {
  const digest = `sha256:${createHash("sha256").update(body).digest("hex")}`;
  if (claimedDigest !== null && claimedDigest !== digest) {
    throw new RegistryError(
      "malformed",
      `the manifest's bytes hash to ${digest}, not to the ${claimedDigest} the registry claimed`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(body.toString("utf8"));
  } catch {
    throw new RegistryError("malformed", "the manifest is not JSON");
  }
  const parsed = ManifestSchema.safeParse(json);
  if (!parsed.success) {
    throw new RegistryError("malformed", "the manifest is not a schema-2 image manifest or index");
  }
  const m = parsed.data;
  const ct = (contentType ?? "").split(";")[0]?.trim() ?? "";
  const mediaType =
    m.mediaType ??
    (MANIFEST_TYPES.includes(ct as (typeof MANIFEST_TYPES)[number])
      ? ct
      : m.manifests
        ? "application/vnd.oci.image.index.v1+json"
        : "application/vnd.oci.image.manifest.v1+json");
  if (!MANIFEST_TYPES.includes(mediaType as (typeof MANIFEST_TYPES)[number])) {
    throw new RegistryError(
      "malformed",
      `unsupported manifest media type "${mediaType.slice(0, 100)}"`,
    );
  }
  const isIndex = mediaType.endsWith("list.v2+json") || mediaType.endsWith("index.v1+json");
  if (isIndex ? !m.manifests : !(m.config && m.layers)) {
    throw new RegistryError("malformed", `the manifest lacks the fields of a ${mediaType}`);
  }
  const digests = [
    ...(m.manifests ?? []).map((x) => x.digest),
    ...(m.layers ?? []).map((x) => x.digest),
    ...(m.config ? [m.config.digest] : []),
  ];
  if (!digests.every((d) => DIGEST.test(d))) {
    throw new RegistryError("malformed", "the manifest names a malformed digest");
  }
  return { digest, mediaType };
}

export class RegistryClient {
  private readonly auths: DockerAuths;
  private readonly insecure: Set<string>;
  readonly timeoutMs: number;
  private readonly limiter: Limiter;
  private readonly httpAgent = new http.Agent({ keepAlive: true, maxSockets: 8 });
  private readonly httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 8 });
  /** An agent per registry host that has its own CA files in certs.d. */
  private readonly hostAgents = new Map<string, Promise<https.Agent>>();
  private readonly certsDir: string | null;
  /** Bearer tokens of this run by host and scope (never written anywhere). */
  private readonly tokens = new Map<string, string>();
  /** Hosts that asked for Basic auth. */
  private readonly basicHosts = new Set<string>();

  constructor(options: RegistryClientOptions) {
    this.auths = options.auths;
    this.insecure = new Set(options.insecureHosts.map((h) => h.toLowerCase()));
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.limiter = new Limiter(options.maxConcurrent ?? 8);
    this.certsDir = options.certsDir === undefined ? "/etc/docker/certs.d" : options.certsDir;
  }

  /** The HTTPS agent for a host: with its certs.d CA files when it has some. */
  private agentFor(host: string): Promise<https.Agent> {
    let p = this.hostAgents.get(host);
    if (!p) {
      p = this.caFiles(host).then((cas) =>
        cas.length
          ? new https.Agent({ keepAlive: true, maxSockets: 8, ca: [...rootCertificates, ...cas] })
          : this.httpsAgent,
      );
      this.hostAgents.set(host, p);
    }
    return p;
  }

  private async caFiles(host: string): Promise<string[]> {
    if (this.certsDir === null || !/^[A-Za-z0-9.:[\]-]+$/.test(host) || host.includes(".."))
      return [];
    const dir = join(this.certsDir, host);
    try {
      const names = (await readdir(dir)).filter((n) => n.endsWith(".crt")).sort();
      return await Promise.all(names.slice(0, 20).map((n) => readFile(join(dir, n), "utf8")));
    } catch {
      return [];
    }
  }

  isInsecure(registry: string): boolean {
    return (
      this.insecure.has(registry.toLowerCase()) ||
      this.insecure.has(apiHost(registry).toLowerCase())
    );
  }

  /** The registry's manifest for the tag: HEAD, and GET when `verify` or the digest is not in the header. */
  async manifest(ref: ImageRef, opts: { verify: boolean }): Promise<ManifestAnswer> {
    const reference = ref.digest ?? ref.tag ?? "latest";
    const path = `/v2/${ref.repository}/manifests/${encodeURIComponent(reference)}`;
    const headers = { Accept: MANIFEST_TYPES.join(", ") };
    if (!opts.verify) {
      const head = await this.call(ref, "HEAD", path, headers, 0);
      const d = head.headers["docker-content-digest"];
      if (typeof d === "string" && DIGEST.test(d)) {
        const ct = head.headers["content-type"];
        return { digest: d, mediaType: (ct ?? "").split(";")[0]?.trim() ?? "", verified: false };
      }
    }
    const got = await this.call(ref, "GET", path, headers, MAX_MANIFEST_BYTES);
    const claimed = got.headers["docker-content-digest"];
    const claimedDigest = typeof claimed === "string" && claimed !== "" ? claimed : null;
    if (claimedDigest !== null && !DIGEST.test(claimedDigest)) {
      throw new RegistryError("malformed", "the registry named a malformed digest");
    }
    const checked = checkManifest(got.body, got.headers["content-type"], claimedDigest);
    return { ...checked, verified: true };
  }

  /** The repository's tags (one page, bounded). */
  async tags(ref: ImageRef): Promise<string[]> {
    const got = await this.call(
      ref,
      "GET",
      `/v2/${ref.repository}/tags/list?n=1000`,
      {},
      MAX_TAGS_BYTES,
    );
    let json: unknown;
    try {
      json = JSON.parse(got.body.toString("utf8"));
    } catch {
      throw new RegistryError("malformed", "the tag list is not JSON");
    }
    const parsed = TagsSchema.safeParse(json);
    if (!parsed.success)
      throw new RegistryError("malformed", "the tag list has an unexpected shape");
    return (parsed.data.tags ?? []).slice(0, 10_000);
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
    for (const p of this.hostAgents.values())
      p.then(
        (a) => a.destroy(),
        () => {},
      );
  }

  private baseUrl(registry: string): string {
    const host = apiHost(registry);
    return `${this.isInsecure(registry) ? "http" : "https"}://${host}`;
  }

  private credential(registry: string): RegistryCredential | null {
    return this.auths.byHost.get(registry.toLowerCase()) ?? null;
  }

  /** One request, answering a 401 challenge once (token or Basic). */
  private async call(
    ref: ImageRef,
    method: "GET" | "HEAD",
    path: string,
    headers: Record<string, string>,
    max: number,
  ): Promise<Answer> {
    const url = `${this.baseUrl(ref.registry)}${path}`;
    const scope = `repository:${ref.repository}:pull`;
    const host = ref.registry.toLowerCase();
    const withAuth = (): Record<string, string> => {
      const token = this.tokens.get(`${host} ${scope}`);
      if (token) return { ...headers, Authorization: `Bearer ${token}` };
      const cred = this.credential(ref.registry);
      if (cred && this.basicHosts.has(host)) {
        return { ...headers, Authorization: `Basic ${basic(cred)}` };
      }
      return headers;
    };
    let answer = await this.request(method, url, withAuth(), max);
    if (answer.status === 401) {
      const header = answer.headers["www-authenticate"];
      const challenge = typeof header === "string" ? parseChallenge(header) : null;
      if (challenge?.scheme === "bearer") {
        const token = await this.fetchToken(ref, challenge, scope);
        this.tokens.set(`${host} ${scope}`, token);
        answer = await this.request(method, url, withAuth(), max);
      } else if (challenge?.scheme === "basic" && this.credential(ref.registry)) {
        this.basicHosts.add(host);
        answer = await this.request(method, url, withAuth(), max);
      }
    }
    return this.expectOk(answer, method, path, ref);
  }

  private expectOk(answer: Answer, method: string, path: string, ref: ImageRef): Answer {
    const s = answer.status;
    if (s >= 200 && s < 300) return answer;
    const what = `${method} ${path} on ${ref.registry}`;
    const detail = errorDetail(answer.body);
    if (s === 401 || s === 403) {
      const cred = this.credential(ref.registry);
      const helper =
        this.auths.helperHosts.has(ref.registry.toLowerCase()) || this.auths.credsStore !== null;
      throw new RegistryError(
        "unauthorized",
        `${what}: HTTP ${s}${detail}${
          cred
            ? " (with the credentials of the Docker config)"
            : helper
              ? " (its credentials are in a Docker credential helper, which breachkit does not run)"
              : " (no credentials for it in the Docker config: docker login)"
        }`,
        s,
      );
    }
    if (s === 404)
      throw new RegistryError(
        "not-found",
        `${what}: HTTP 404, no such manifest or repository${detail}`,
        s,
      );
    if (s === 429) throw new RegistryError("http", `${what}: HTTP 429, rate-limited${detail}`, s);
    if (s >= 500) throw new RegistryError("server-error", `${what}: HTTP ${s}${detail}`, s);
    throw new RegistryError("http", `${what}: HTTP ${s}${detail}`, s);
  }

  private async fetchToken(ref: ImageRef, challenge: Challenge, scope: string): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm)
      throw new RegistryError("unauthorized", `${ref.registry} asked for a token without a realm`);
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw new RegistryError("refused", `${ref.registry} named a token realm that is not a URL`);
    }
    if (
      url.protocol !== "https:" &&
      !(url.protocol === "http:" && this.insecure.has(url.host.toLowerCase()))
    ) {
      throw new RegistryError(
        "refused",
        `${ref.registry} sends for a token to ${url.protocol}//${url.host}, which is neither HTTPS nor a --insecure-registry host: refused`,
      );
    }
    if (challenge.params.service) url.searchParams.set("service", challenge.params.service);
    url.searchParams.set("scope", challenge.params.scope || scope);
    const cred = this.credential(ref.registry);
    const headers: Record<string, string> = {};
    let method: "GET" | "POST" = "GET";
    let body: string | undefined;
    if (cred?.identityToken) {
      method = "POST";
      const form = new URLSearchParams({
        grant_type: "refresh_token",
        refresh_token: cred.identityToken,
        service: challenge.params.service ?? "",
        scope: challenge.params.scope || scope,
        client_id: "breachkit",
      });
      body = form.toString();
      headers["Content-Type"] = "application/x-www-form-urlencoded";
    } else if (cred) {
      headers.Authorization = `Basic ${basic(cred)}`;
    }
    const answer = await this.request(method, url.toString(), headers, MAX_TOKEN_BYTES, body);
    if (answer.status < 200 || answer.status >= 300) {
      throw new RegistryError(
        "unauthorized",
        `the token service ${url.host} answered HTTP ${answer.status}${errorDetail(answer.body)}${cred ? "" : " (anonymous)"}`,
        answer.status,
      );
    }
    let json: unknown;
    try {
      json = JSON.parse(answer.body.toString("utf8"));
    } catch {
      throw new RegistryError("malformed", `the token service ${url.host} did not answer JSON`);
    }
    const parsed = TokenSchema.safeParse(json);
    const token = parsed.success ? (parsed.data.token ?? parsed.data.access_token) : null;
    if (!token || /[\r\n]/.test(token)) {
      throw new RegistryError("malformed", `the token service ${url.host} sent no usable token`);
    }
    return token;
  }

  private request(
    method: "GET" | "HEAD" | "POST",
    url: string,
    headers: Record<string, string>,
    max: number,
    body?: string,
  ): Promise<Answer> {
    const u = new URL(url);
    const isHttps = u.protocol === "https:";
    return this.limiter.run(async () => {
      const agent = isHttps ? await this.agentFor(u.host) : this.httpAgent;
      return new Promise<Answer>((resolve, reject) => {
        const mod = isHttps ? https : http;
        const req = mod.request(u, {
          method,
          agent,
          headers: {
            "User-Agent": "breachkit",
            ...headers,
            ...(body !== undefined ? { "Content-Length": Buffer.byteLength(body) } : {}),
          },
        });
        let settled = false;
        const fail = (e: RegistryError) => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          req.destroy();
          reject(e);
        };
        const timer = setTimeout(
          () =>
            fail(
              new RegistryError(
                "timeout",
                `${u.host} did not answer ${method} ${u.pathname} within ${this.timeoutMs / 1000} s`,
              ),
            ),
          this.timeoutMs,
        );
        req.on("error", (e: NodeJS.ErrnoException) => fail(networkError(e, u.host)));
        req.on("response", (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          const limit =
            res.statusCode && res.statusCode >= 200 && res.statusCode < 300 ? max : MAX_ERROR_BYTES;
          res.on("data", (c: Buffer) => {
            size += c.length;
            if (size > Math.max(limit, 0)) {
              fail(
                new RegistryError(
                  "malformed",
                  `${u.host}: the answer to ${method} ${u.pathname} exceeds ${limit} bytes`,
                ),
              );
              return;
            }
            chunks.push(c);
          });
          res.on("error", (e: NodeJS.ErrnoException) => fail(networkError(e, u.host)));
          res.on("end", () => {
            if (settled) return;
            settled = true;
            clearTimeout(timer);
            resolve({
              status: res.statusCode ?? 0,
              headers: res.headers,
              body: Buffer.concat(chunks, size),
            });
          });
        });
        req.end(body);
      });
    });
  }
}

function basic(cred: RegistryCredential): string {
  return Buffer.from(`${cred.username}:${cred.password}`).toString("base64");
}

function errorDetail(body: Buffer): string {
  try {
    const j = JSON.parse(body.toString("utf8")) as {
      errors?: { code?: string; message?: string }[];
    };
    const e = j.errors?.[0];
    if (e)
      return ` (${String(e.code ?? "")}${e.message ? `: ${String(e.message)}` : ""})`.slice(0, 200);
  } catch {}
  return "";
}

function networkError(e: NodeJS.ErrnoException, host: string): RegistryError {
  const code = e.code ?? "";
  if (
    code.startsWith("ERR_TLS") ||
    code.includes("CERT") ||
    code === "EPROTO" ||
    /SSL|TLS/i.test(e.message)
  ) {
    return new RegistryError(
      "tls",
      `${host}: TLS failed (${code || e.message}); breachkit verifies registry certificates (name it with --insecure-registry only if it really speaks plain HTTP)`,
    );
  }
  if (code.startsWith("HPE_"))
    return new RegistryError("malformed", `${host}: the answer is not HTTP (${code})`);
  return new RegistryError("unreachable", `${host}: cannot connect (${code || e.message})`);
}
