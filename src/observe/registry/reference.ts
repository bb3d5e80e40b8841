/**
 * Image references as Docker reads them (distribution/reference's normalisation):
 * `nginx` is docker.io/library/nginx:latest; the first path component names a registry when it
 * holds a dot or a colon or is `localhost`; `@sha256:...` pins a digest. Everything here is a
 * pure parse: a reference read from a container's config is hostile text, so anything outside
 * Docker's grammar is refused, never guessed.
 */
import { err, ok, type Result } from "../../util/result.js";

export const DOCKER_HUB = "docker.io";
/** Where Docker Hub's registry API answers. */
export const DOCKER_HUB_API = "registry-1.docker.io";

export interface ImageRef {
  /** host[:port] as Docker names it ("docker.io" for Docker Hub). */
  registry: string;
  /** The repository path in that registry ("library/nginx" on Docker Hub). */
  repository: string;
  /** null when the reference names a digest only. */
  tag: string | null;
  digest: string | null;
  /** The reference as written in the container's configuration. */
  original: string;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
const HOST =
  /^(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*|\[[0-9a-fA-F:]+\])(?::[0-9]{1,5})?$/;

export function parseImageRef(text: string): Result<ImageRef, string> {
  if (text.length === 0 || text.length > 512) return err("not an image reference");
  if (/^(sha256:)?[a-f0-9]{64}$/.test(text)) return err("an image id, not a reference");
  let rest = text;
  let digest: string | null = null;
  const at = rest.indexOf("@");
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!DIGEST.test(digest)) return err(`unsupported digest "${digest}"`);
  }
  let tag: string | null = null;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) return err(`invalid tag "${tag}"`);
  }
  const parts = rest.split("/");
  let registry = DOCKER_HUB;
  const first = parts[0] ?? "";
  if (
    parts.length > 1 &&
    (first.includes(".") || first.includes(":") || first === "localhost" || /[A-Z]/.test(first))
  ) {
    if (!HOST.test(first)) return err(`invalid registry host "${first}"`);
    registry = first;
    parts.shift();
  }
  if (registry === "index.docker.io") registry = DOCKER_HUB;
  if (parts.length === 0 || !parts.every((p) => COMPONENT.test(p))) {
    return err(`invalid repository "${parts.join("/")}"`);
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift("library");
  if (tag === null && digest === null) tag = "latest";
  return ok({ registry, repository: parts.join("/"), tag, digest, original: text });
}

/** The name Docker writes in RepoDigests and RepoTags: `nginx`, `127.0.0.1:5000/app`. */
export function familiarName(ref: Pick<ImageRef, "registry" | "repository">): string {
  if (ref.registry === DOCKER_HUB) {
    return ref.repository.startsWith("library/") ? ref.repository.slice(8) : ref.repository;
  }
  return `${ref.registry}/${ref.repository}`;
}

/** The host the registry API answers on. */
export function apiHost(registry: string): string {
  return registry === DOCKER_HUB ? DOCKER_HUB_API : registry;
}

/**
 * The digests RepoDigests records for this repository (`name@sha256:...`), whatever spelling of
 * the name Docker used.
 */
export function digestsFor(ref: ImageRef, repoDigests: readonly string[]): string[] {
  const out: string[] = [];
  for (const rd of repoDigests) {
    const at = rd.lastIndexOf("@");
    if (at < 0) continue;
    const parsed = parseImageRef(rd);
    if (!parsed.ok) continue;
    if (parsed.value.registry === ref.registry && parsed.value.repository === ref.repository) {
      out.push(rd.slice(at + 1));
    }
  }
  return out;
}

/** A semantic version tag (`1.2.3`, `v1.2`, `1.2.3-alpine`): [major, minor, patch, suffix]. */
export function semverOf(tag: string): { nums: [number, number, number]; suffix: string } | null {
  const m = /^v?(\d{1,9})(?:\.(\d{1,9}))?(?:\.(\d{1,9}))?(-[A-Za-z0-9.-]+)?$/.exec(tag);
  if (!m) return null;
  return {
    nums: [Number(m[1]), Number(m[2] ?? 0), Number(m[3] ?? 0)],
    suffix: m[4] ?? "",
  };
}

/**
 * Tags newer than `current` in semantic-version order, with the same shape (same number of
 * dotted parts, same suffix, same "v"): `1.2.3` sees `1.2.4` and `1.10.0`, not `1.3` or
 * `1.2.4-alpine`. Reported, never switched to. Newest first, at most `max`.
 */
export function newerSemverTags(current: string, tags: readonly string[], max = 10): string[] {
  const cur = semverOf(current);
  if (!cur) return [];
  const shape = (t: string) =>
    `${t.startsWith("v") ? "v" : ""}${t.split("-")[0]?.split(".").length}`;
  const want = shape(current);
  const newer: { tag: string; nums: [number, number, number] }[] = [];
  for (const t of tags) {
    const v = semverOf(t);
    if (!v || v.suffix !== cur.suffix || shape(t) !== want) continue;
    if (compareNums(v.nums, cur.nums) > 0) newer.push({ tag: t, nums: v.nums });
  }
  newer.sort((a, b) => compareNums(b.nums, a.nums));
  return newer.slice(0, max).map((n) => n.tag);
}

function compareNums(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < 3; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}
