/**
 * `update --check`: for every container, its image against the registry the reference names.
 * Reads only: the engine (container and image inspect, GET) and the registry (HEAD, and GET of
 * a manifest when an update is indicated, so that the digest reported is proven by its bytes).
 * One registry question per distinct reference, however many containers share it; a registry
 * that fails is a gap on each of its rows, with its reason, never a crash.
 */
import type {
  ComposeInfo,
  UpdateCheck,
  UpdateCheckRow,
  UpdateStatus,
} from "../../model/update-output.js";
import { type Progress, silentProgress } from "../../util/progress.js";
import { errorMessage } from "../../util/result.js";
import type { DockerEngine } from "../docker/engine.js";
import { isEngineError } from "../docker/engine-error.js";
import type {
  ContainerInspect,
  ContainerSummary,
  ImageInspect,
  ImageSummary,
} from "../docker/engine-types.js";
import { type ManifestAnswer, type RegistryClient, RegistryError } from "./client.js";
import type { DockerAuths } from "./docker-config.js";
import {
  digestsFor,
  type ImageRef,
  newerSemverTags,
  parseImageRef,
  semverOf,
} from "./reference.js";

export const PIN_LABEL = "breachkit.update";

export interface LabelFilter {
  key: string;
  /** null: the label only has to be present. */
  value: string | null;
}

export interface CheckOptions {
  engine: DockerEngine;
  registry: RegistryClient;
  auths: DockerAuths;
  /** Only these containers (full ids); default every container. */
  ids?: readonly string[];
  /** Only containers carrying every one of these labels. */
  labels?: readonly LabelFilter[];
  /** Inspect every selected container and its image: an update recreates from them. */
  inspect?: boolean;
  /** Ask for the repository's tags to report newer semantic versions (default true). */
  tags?: boolean;
  progress?: Progress;
  now?: () => Date;
}

export interface CheckResult {
  check: UpdateCheck;
  /** The raw inspect of the rows' containers, by id (unredacted): every one with `inspect`. */
  inspects: Map<string, ContainerInspect>;
  /** With `inspect`: the inspect of each row's running image, by id. */
  images: Map<string, ImageInspect>;
}

interface ConfigLike {
  Image?: unknown;
  Labels?: unknown;
}

export function labelsOf(inspect: ContainerInspect): Record<string, string> {
  const labels = (inspect.Config as ConfigLike | undefined)?.Labels;
  if (typeof labels !== "object" || labels === null) return {};
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(labels)) if (typeof v === "string") out[k] = v;
  return out;
}

export function composeInfo(labels: Record<string, string>): ComposeInfo | null {
  const project = labels["com.docker.compose.project"];
  const service = labels["com.docker.compose.service"];
  if (!project || !service) return null;
  const files = labels["com.docker.compose.project.config_files"];
  return {
    project,
    service,
    workingDir: labels["com.docker.compose.project.working_dir"] ?? null,
    configFiles: files ? files.split(",").filter((f) => f !== "") : [],
  };
}

export function matchesLabels(
  labels: Record<string, string>,
  filters: readonly LabelFilter[],
): boolean {
  return filters.every((f) => (f.value === null ? f.key in labels : labels[f.key] === f.value));
}

function nameOf(inspect: ContainerInspect): string {
  const n = (inspect as { Name?: unknown }).Name;
  return typeof n === "string" ? n.replace(/^\//, "") : inspect.Id.slice(0, 12);
}

function stateOf(inspect: ContainerInspect): string {
  const s = (inspect as { State?: { Status?: unknown } }).State?.Status;
  return typeof s === "string" ? s : "unknown";
}

function imageIdOf(inspect: ContainerInspect): string {
  const i = (inspect as { Image?: unknown }).Image;
  return typeof i === "string" ? i : "";
}

function configuredImage(inspect: ContainerInspect): string {
  const i = (inspect.Config as ConfigLike | undefined)?.Image;
  return typeof i === "string" ? i : "";
}

function refKey(ref: ImageRef): string {
  return `${ref.registry}/${ref.repository}:${ref.tag ?? ""}`;
}

/** A selected container, from the list (or its inspect where the list cannot tell). */
interface Seen {
  id: string;
  name: string;
  state: string;
  /** The reference in its configuration. */
  image: string;
  imageId: string;
  labels: Record<string, string>;
}

/**
 * The reference a list row names, or null when the list shows the image id instead: the
 * engine does that when the reference no longer names the container's image (its tag moved
 * here), or when the container was created from an id; only an inspect tells which.
 */
export function listedImage(c: ContainerSummary): string | null {
  const image = c.Image ?? "";
  if (image === "" || image === c.ImageID || /^sha256:[a-f0-9]{64}$/.test(image)) return null;
  return image;
}

function createdOf(img: ImageSummary | undefined): string | null {
  const s = img?.Created;
  return typeof s === "number" && s > 0 ? new Date(s * 1000).toISOString() : null;
}

export async function checkUpdates(opts: CheckOptions): Promise<CheckResult> {
  const t0 = Date.now();
  const now = opts.now ?? (() => new Date());
  const progress = opts.progress ?? silentProgress;
  const { engine, registry } = opts;
  let engineVersion: string | null = null;
  let apiVersion: string | null = null;
  const versionP = engine.version().then(
    (v) => {
      engineVersion = v.Version;
      apiVersion = v.ApiVersion;
    },
    () => {},
  );

  progress.update("update check: listing containers and images");
  // Two list calls answer the check (names, states, labels, image ids; every image's tags and
  // digests): no per-container or per-image inspect, which is where the time of a check over
  // many containers went. Inspects are read only where the list cannot answer (a container
  // whose tag moved: the list then shows the image id instead of the reference), and for an
  // update, which needs the whole configuration.
  const [list, imageList] = await Promise.all([
    engine.listContainers({ all: true }),
    engine.listImages(),
  ]);
  const wanted = opts.ids ? new Set(opts.ids) : null;
  const summaries = list.filter(
    (c) =>
      (wanted === null || wanted.has(c.Id)) && matchesLabels(c.Labels ?? {}, opts.labels ?? []),
  );
  const imageSummaries = new Map<string, ImageSummary>();
  const taggedIds = new Map<string, string>();
  for (const img of imageList) {
    imageSummaries.set(img.Id, img);
    for (const t of img.RepoTags ?? []) {
      const r = parseImageRef(t);
      if (r.ok && r.value.tag !== null) taggedIds.set(refKey(r.value), img.Id);
    }
  }
  const inspects = new Map<string, ContainerInspect>();
  const seen = (
    await Promise.all(
      summaries.map(async (c): Promise<Seen | null> => {
        const listed = listedImage(c);
        if (opts.inspect || listed === null) {
          try {
            const inspect = await engine.inspectContainer(c.Id);
            if (!matchesLabels(labelsOf(inspect), opts.labels ?? [])) return null;
            inspects.set(c.Id, inspect);
            return {
              id: c.Id,
              name: nameOf(inspect),
              state: stateOf(inspect),
              image: configuredImage(inspect),
              imageId: imageIdOf(inspect),
              labels: labelsOf(inspect),
            };
          } catch (e) {
            // Removed between the list and the inspect: not a container any more.
            if (isEngineError(e, "NOT_FOUND")) return null;
            throw e;
          }
        }
        return {
          id: c.Id,
          // Its own name, not a link's alias ("/other/alias") listed beside it.
          name: (
            c.Names?.find((n) => n.lastIndexOf("/") === 0) ??
            c.Names?.[0] ??
            c.Id.slice(0, 12)
          ).replace(/^\//, ""),
          state: c.State ?? "unknown",
          image: listed,
          imageId: c.ImageID ?? "",
          labels: c.Labels ?? {},
        };
      }),
    )
  ).filter((x): x is Seen => x !== null);

  // An update recreates from the running image's configuration: inspected then only.
  const images = new Map<string, ImageInspect>();
  if (opts.inspect) {
    await Promise.all(
      [...new Set(seen.map((r) => r.imageId).filter((i) => i !== ""))].map(async (id) => {
        try {
          images.set(id, await engine.inspectImage(id));
        } catch (e) {
          if (!isEngineError(e, "NOT_FOUND")) throw e;
        }
      }),
    );
  }

  // The registry: one HEAD per reference; one GET (proof by bytes) per reference that differs.
  const heads = new Map<string, Promise<ManifestAnswer>>();
  const proofs = new Map<string, Promise<ManifestAnswer>>();
  const tagLists = new Map<string, Promise<string[]>>();
  const ask = <T>(cache: Map<string, Promise<T>>, key: string, f: () => Promise<T>) => {
    let p = cache.get(key);
    if (!p) {
      p = f();
      p.catch(() => {});
      cache.set(key, p);
    }
    return p;
  };

  let done = 0;
  const rows = await Promise.all(
    seen.map(async (c): Promise<UpdateCheckRow> => {
      const row = await checkOne(c);
      done++;
      progress.update(`update check: ${done}/${seen.length} containers`);
      return row;
    }),
  );

  async function checkOne(c: Seen): Promise<UpdateCheckRow> {
    const { labels, image, imageId } = c;
    const img = imageId ? imageSummaries.get(imageId) : undefined;
    const created = createdOf(img);
    const createdMs = created ? Date.parse(created) : Number.NaN;
    const row: UpdateCheckRow = {
      id: c.id,
      name: c.name,
      state: c.state,
      image,
      imageId,
      repoDigests: img?.RepoDigests ?? [],
      imageCreated: created,
      imageAgeDays: Number.isNaN(createdMs)
        ? null
        : Math.max(0, Math.round(((now().getTime() - createdMs) / 86_400_000) * 10) / 10),
      registry: null,
      repository: null,
      tag: null,
      localDigest: null,
      remoteDigest: null,
      remoteMediaType: null,
      remoteVerified: false,
      status: "gap",
      newerPulled: null,
      newerTags: [],
      compose: composeInfo(labels),
      gap: null,
      notes: [],
    };
    const finish = (status: UpdateStatus, note?: string) => {
      row.status = status;
      if (note) row.notes.push(note);
      return row;
    };
    const parsed = parseImageRef(image);
    if (!parsed.ok) {
      if (/^(sha256:)?[a-f0-9]{12,64}$/.test(image)) {
        return finish("digest-pinned", "the container runs an image by id: nothing to follow");
      }
      row.gap = {
        kind: "reference",
        reason: `the image reference cannot be read: ${parsed.error}`,
      };
      return finish("gap");
    }
    const ref = parsed.value;
    row.registry = ref.registry;
    row.repository = ref.repository;
    row.tag = ref.tag;
    const local = digestsFor(ref, row.repoDigests);
    row.localDigest = local[0] ?? null;
    if (labels[PIN_LABEL] === "false") {
      return finish("pinned", `labelled ${PIN_LABEL}=false: never updated`);
    }
    if (ref.digest !== null) {
      return finish("digest-pinned", "the reference names a digest: it never moves");
    }
    // The image the tag names here now, if another one.
    const taggedId = taggedIds.get(refKey(ref));
    const tagged = taggedId ? imageSummaries.get(taggedId) : undefined;
    if (tagged && tagged.Id !== imageId) {
      row.newerPulled = { imageId: tagged.Id, created: createdOf(tagged) };
    }
    if (row.repoDigests.length === 0 && !row.newerPulled) {
      return finish(
        "local-only",
        "the image was never pulled from or pushed to a registry (no RepoDigests): nothing to compare",
      );
    }
    try {
      const key = refKey(ref);
      let answer = await ask(heads, key, () => registry.manifest(ref, { verify: false }));
      if (!local.includes(answer.digest) && !answer.verified) {
        answer = await ask(proofs, key, () => registry.manifest(ref, { verify: true }));
      }
      row.remoteDigest = answer.digest;
      row.remoteMediaType = answer.mediaType || null;
      row.remoteVerified = answer.verified;
    } catch (e) {
      row.gap =
        e instanceof RegistryError
          ? { kind: e.kind, reason: e.message }
          : { kind: "error", reason: errorMessage(e) };
      return finish("gap");
    }
    if (opts.tags !== false && ref.tag !== null && semverOf(ref.tag)) {
      try {
        const tags = await ask(tagLists, `${ref.registry}/${ref.repository}`, () =>
          registry.tags(ref),
        );
        row.newerTags = newerSemverTags(ref.tag, tags);
      } catch (e) {
        row.notes.push(`newer tags not known: ${errorMessage(e)}`);
      }
    }
    if (local.includes(row.remoteDigest)) {
      if (row.newerPulled)
        row.notes.push(
          "the tag names another image locally, but the registry's is the one running",
        );
      return finish("current");
    }
    const taggedDigests = tagged ? digestsFor(ref, tagged.RepoDigests ?? []) : [];
    if (row.newerPulled && taggedDigests.includes(row.remoteDigest)) {
      return finish(
        "pulled-not-running",
        "the registry's image is already pulled; the container still runs the old one",
      );
    }
    return finish("update-available");
  }

  await versionP;
  progress.done();
  const counts: Record<string, number> = {};
  for (const r of rows) counts[r.status] = (counts[r.status] ?? 0) + 1;
  rows.sort((a, b) => a.name.localeCompare(b.name));
  return {
    check: {
      checkedAt: now().toISOString(),
      durationMs: Date.now() - t0,
      engine: { version: engineVersion, apiVersion },
      credentials: { configFile: opts.auths.path, problem: opts.auths.problem },
      containers: rows,
      counts,
    },
    inspects,
    images,
  };
}
