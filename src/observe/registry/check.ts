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
import type { ContainerInspect, ImageInspect } from "../docker/engine-types.js";
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
  /** Ask for the repository's tags to report newer semantic versions (default true). */
  tags?: boolean;
  progress?: Progress;
  now?: () => Date;
}

export interface CheckResult {
  check: UpdateCheck;
  /** The raw inspect of every row's container, by id (unredacted). */
  inspects: Map<string, ContainerInspect>;
  /** Image inspects read, by id. */
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

  progress.update("update check: listing containers");
  // The label filter first on the list (it carries the labels), so only those are inspected.
  const ids =
    opts.ids ??
    (await engine.listContainers({ all: true }))
      .filter((c) => matchesLabels(c.Labels ?? {}, opts.labels ?? []))
      .map((c) => c.Id);
  const inspects = new Map<string, ContainerInspect>();
  await Promise.all(
    ids.map(async (id) => {
      try {
        inspects.set(id, await engine.inspectContainer(id));
      } catch (e) {
        // Removed between the list and the inspect: not a container any more.
        if (!isEngineError(e, "NOT_FOUND")) throw e;
      }
    }),
  );
  const selected = ids
    .map((id) => inspects.get(id))
    .filter((i): i is ContainerInspect => i !== undefined)
    .filter((i) => matchesLabels(labelsOf(i), opts.labels ?? []));

  // Images: each once, by id and by the reference the containers name.
  const images = new Map<string, ImageInspect>();
  const imageById = new Map<string, Promise<ImageInspect | null>>();
  const imageByRef = new Map<string, Promise<ImageInspect | null>>();
  const loadImage = (cache: Map<string, Promise<ImageInspect | null>>, key: string) => {
    let p = cache.get(key);
    if (!p) {
      p = engine.inspectImage(key).then(
        (img) => {
          images.set(img.Id, img);
          return img;
        },
        (e: unknown) => {
          if (isEngineError(e, "NOT_FOUND")) return null;
          throw e;
        },
      );
      cache.set(key, p);
    }
    return p;
  };

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
    selected.map(async (inspect): Promise<UpdateCheckRow> => {
      const row = await checkOne(inspect);
      done++;
      progress.update(`update check: ${done}/${selected.length} containers`);
      return row;
    }),
  );

  async function checkOne(inspect: ContainerInspect): Promise<UpdateCheckRow> {
    const labels = labelsOf(inspect);
    const image = configuredImage(inspect);
    const imageId = imageIdOf(inspect);
    const img = imageId ? await loadImage(imageById, imageId) : null;
    const created = typeof img?.Created === "string" ? img.Created : null;
    const createdMs = created ? Date.parse(created) : Number.NaN;
    const row: UpdateCheckRow = {
      id: inspect.Id,
      name: nameOf(inspect),
      state: stateOf(inspect),
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
    const tagged = await loadImage(imageByRef, image);
    if (tagged && tagged.Id !== imageId) {
      row.newerPulled = { imageId: tagged.Id, created: tagged.Created ?? null };
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
  const selectedIds = new Set(rows.map((r) => r.id));
  for (const id of [...inspects.keys()]) if (!selectedIds.has(id)) inspects.delete(id);
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
