/**
 * `breachkit update`: check, plan, preserve, then for each container: pull the registry's image
 * by digest, recreate it with the identical configuration, give it `settle` seconds to be
 * healthy, and otherwise roll back to the old container (kept stopped, under another name,
 * until the new one proved itself: same image id, same configuration, same writable layer).
 * Every change is logged in the bundle with its time and its undo. The old image is never
 * removed by breachkit.
 */
import { resolve as resolvePath } from "node:path";
import { createBundle } from "../../evidence/bundle.js";
import { collectEvidence, collectRefusePaths } from "../../evidence/collect.js";
import type { BundleWriter } from "../../evidence/types.js";
import { shippedLists } from "../../judge/rule-lists.js";
import type { Container } from "../../model/snapshot.js";
import {
  UPDATE_SCHEMA_VERSION,
  type UpdateAction,
  type UpdateCheckRow,
  type UpdateOutput,
  type UpdateResult,
  type UpdateRun,
} from "../../model/update-output.js";
import { DockerEngine } from "../../observe/docker/engine.js";
import { isEngineError, toBreachkitError } from "../../observe/docker/engine-error.js";
import type { ContainerInspect, ImageInspect } from "../../observe/docker/engine-types.js";
import { resolveContainer } from "../../observe/docker/resolve.js";
import { type CheckResult, checkUpdates, type LabelFilter } from "../../observe/registry/check.js";
import { RegistryClient } from "../../observe/registry/client.js";
import { type DockerAuths, readDockerAuths } from "../../observe/registry/docker-config.js";
import { familiarName, parseImageRef } from "../../observe/registry/reference.js";
import { takeSnapshot } from "../../observe/snapshot.js";
import { BreachkitError, EXIT_ERROR, EXIT_FINDINGS, EXIT_OK } from "../../util/errors.js";
import { type Progress, silentProgress } from "../../util/progress.js";
import { redactInspect } from "../../util/redact.js";
import { errorMessage } from "../../util/result.js";
import { safeText } from "../../util/sanitize.js";
import { DockerActions } from "../docker-actions.js";
import { configDifferences, recreateSpec } from "./recreate-spec.js";
import { waitSettled } from "./settle.js";

export const UPDATE_FILE = "update.json";

export interface RegistryOptions {
  insecureRegistries: readonly string[];
  /** Deadline of one registry request (default 5000 ms). */
  timeoutMs?: number;
  /** Registry requests in flight (default 8). */
  concurrency?: number;
}

export interface CheckRunOptions extends RegistryOptions {
  env: Readonly<Record<string, string | undefined>>;
  queries: readonly string[];
  labels: readonly LabelFilter[];
  tags?: boolean;
  progress?: Progress;
}

export interface UpdateOptions extends CheckRunOptions {
  all: boolean;
  dryRun: boolean;
  yes: boolean;
  interactive: boolean;
  confirm: (question: string) => Promise<boolean>;
  cwd: string;
  outDir: string;
  command: string;
  settleSeconds: number;
  stopTimeoutSec: number;
  signal?: AbortSignal;
  /** Shown before the confirmation. */
  onPlan?: (run: UpdateRun) => void;
  /** Compose tool on PATH ("docker compose", "docker-compose"), found by the caller; null: none. */
  composeTool: string | null;
}

export interface UpdateRunOutcome {
  output: Extract<UpdateOutput, { mode: "update" }>;
  exitCode: number;
}

function engineFromEnv(env: UpdateOptions["env"]): DockerEngine {
  try {
    return DockerEngine.fromEnv(env);
  } catch (e) {
    if (isEngineError(e)) throw toBreachkitError(e);
    throw e;
  }
}

async function ping(engine: DockerEngine): Promise<void> {
  try {
    await engine.ping();
  } catch (e) {
    if (isEngineError(e)) throw toBreachkitError(e);
    throw e;
  }
}

/** Resolve each query to exactly one container, as contain does: ambiguity is refused. */
async function resolveQueries(engine: DockerEngine, queries: readonly string[]): Promise<string[]> {
  const list = await engine.listContainers({ all: true });
  // resolveContainer reads the id, name and state only.
  const containers = list.map(
    (c) =>
      ({
        id: c.Id,
        name: (c.Names?.[0] ?? "").replace(/^\//, ""),
        state: c.State ?? "unknown",
      }) as unknown as Container,
  );
  const ids: string[] = [];
  for (const q of queries) {
    const r = resolveContainer(containers, q);
    const shown = safeText(q, 100);
    const list = (cs: readonly Container[]) =>
      cs
        .slice(0, 20)
        .map((c) => `${safeText(c.name, 100)} (${c.id.slice(0, 12)})`)
        .join(", ");
    if (!r.ok && r.error.kind === "ambiguous") {
      throw new BreachkitError(
        "AMBIGUOUS",
        `"${shown}" names ${r.error.candidates.length} containers: ${list(r.error.candidates)}; nothing was changed`,
        "Give the full container name, or a longer id prefix (docker ps --no-trunc shows full ids).",
      );
    }
    if (!r.ok) {
      throw new BreachkitError(
        "NOT_FOUND",
        `no container is named "${shown}" or has an id starting with it${
          r.error.candidates.length ? `; did you mean: ${list(r.error.candidates)}` : ""
        }; nothing was changed`,
        "List the containers with docker ps -a, and give an exact name or an id prefix of 4+ hex digits.",
      );
    }
    if (!ids.includes(r.value.id)) ids.push(r.value.id);
  }
  return ids;
}

export async function runCheck(
  opts: CheckRunOptions,
): Promise<CheckResult & { engine: DockerEngine; auths: DockerAuths }> {
  const engine = engineFromEnv(opts.env);
  await ping(engine);
  const ids = opts.queries.length ? await resolveQueries(engine, opts.queries) : undefined;
  const auths = await readDockerAuths(opts.env);
  const registry = new RegistryClient({
    auths,
    insecureHosts: opts.insecureRegistries,
    ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    ...(opts.concurrency ? { maxConcurrent: opts.concurrency } : {}),
  });
  try {
    const result = await checkUpdates({
      engine,
      registry,
      auths,
      ...(ids ? { ids } : {}),
      labels: opts.labels,
      ...(opts.tags !== undefined ? { tags: opts.tags } : {}),
      ...(opts.progress ? { progress: opts.progress } : {}),
    });
    return { ...result, engine, auths };
  } catch (e) {
    if (isEngineError(e)) throw toBreachkitError(e);
    throw e;
  } finally {
    registry.close();
  }
}

function skipReason(row: UpdateCheckRow): string | null {
  switch (row.status) {
    case "update-available":
    case "pulled-not-running":
      return row.state === "running"
        ? null
        : `not running (${row.state}): only running containers are updated, since health decides`;
    case "current":
      return "already runs the registry's image";
    case "pinned":
      return "pinned (label breachkit.update=false)";
    case "digest-pinned":
      return "the reference names a digest or an image id: it never moves";
    case "local-only":
      return "a local image (never pulled from a registry): nothing to update from";
    case "gap":
      return `the registry could not be checked: ${row.gap?.reason ?? "unknown"}`;
  }
}

function side(row: UpdateCheckRow) {
  return { containerId: row.id, imageId: row.imageId, digest: row.localDigest };
}

export async function runUpdate(opts: UpdateOptions): Promise<UpdateRunOutcome> {
  const progress = opts.progress ?? silentProgress;
  if (!opts.all && opts.queries.length === 0) {
    throw new BreachkitError(
      "USAGE",
      "name the containers to update, or pass --all",
      "breachkit update web db --dry-run, or breachkit update --all --dry-run (breachkit update --check lists what is out of date).",
    );
  }
  if (!opts.dryRun && !opts.yes && !opts.interactive) {
    throw new BreachkitError(
      "USAGE",
      "update changes the host and needs a confirmation, but there is no terminal to ask on; nothing was changed",
      "Run it on a terminal, or pass --yes (--dry-run shows the plan without changing anything).",
    );
  }
  const startedAt = new Date();
  const checked = await runCheck(opts);
  const { engine, auths } = checked;
  const docker = DockerActions.fromEnv(opts.env);
  const notes: string[] = [];
  if (auths.problem) notes.push(auths.problem);

  const results: UpdateResult[] = [];
  const planned: UpdateCheckRow[] = [];
  for (const row of checked.check.containers) {
    const reason = skipReason(row);
    const compose = row.compose;
    const method = compose
      ? opts.composeTool
        ? `engine-api (Compose project ${compose.project}: ${opts.composeTool} found, but breachkit recreates through the API to pin the digest and roll back)`
        : `engine-api (Compose project ${compose.project}: no compose tool installed)`
      : "engine-api";
    results.push({
      name: row.name,
      image: row.image,
      outcome: reason === null ? "planned" : "skipped",
      reason:
        reason ??
        (row.status === "pulled-not-running"
          ? `recreate on the already pulled ${row.newerPulled?.imageId.slice(7, 19) ?? "image"}`
          : `pull ${row.remoteDigest ?? "?"} and recreate`),
      method: reason === null ? method : null,
      before: side(row),
      after: null,
      health: null,
      actions: [],
    });
    if (reason === null) planned.push(row);
  }
  const run: UpdateRun = {
    dryRun: opts.dryRun,
    startedAt: startedAt.toISOString(),
    endedAt: new Date().toISOString(),
    host: "",
    settleSeconds: opts.settleSeconds,
    results,
    composeTool: opts.composeTool,
    notes,
    check: checked.check,
  };
  opts.onPlan?.(run);
  const finish = (
    bundle: string | null,
    seal: string | null,
    exitCode: number,
  ): UpdateRunOutcome => ({
    output: {
      schemaVersion: UPDATE_SCHEMA_VERSION,
      mode: "update",
      ...run,
      endedAt: new Date().toISOString(),
      bundle,
      manifestSha256: seal,
    },
    exitCode,
  });
  if (opts.dryRun || planned.length === 0) {
    if (planned.length === 0 && !opts.dryRun) notes.push("nothing to update: nothing was changed");
    return finish(null, null, EXIT_OK);
  }
  if (!opts.yes) {
    const names = safeText(planned.map((r) => r.name).join(", "), 400);
    const yes = await opts.confirm(`Update ${names} now?`).catch(() => false);
    if (!yes) {
      throw new BreachkitError(
        "USAGE",
        "not confirmed: nothing was changed",
        "Run it again and answer y, or pass --yes.",
      );
    }
  }

  // Preserve first: a snapshot and each container's evidence, sealed with the record.
  progress.update("update: snapshot before");
  const snap = await takeSnapshot({
    env: opts.env,
    intervalSeconds: null,
    containerAccounts: false,
  });
  run.host = snap.snapshot.host.hostname;
  const bundle = await createBundle({
    outDir: resolvePath(opts.cwd, opts.outDir),
    host: snap.snapshot.host.hostname,
    command: opts.command,
    now: startedAt,
    refuseInside: collectRefusePaths(snap.snapshot.engine.dockerRootDir),
  });
  try {
    const summary = await collectEvidence({
      bundle,
      snap,
      engine,
      containerIds: planned.map((r) => r.id),
      host: false,
      lists: shippedLists(),
      progress,
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    if (summary.stopped || opts.signal?.aborted) {
      const reason = summary.incompleteReason ?? "interrupted";
      for (const r of results)
        if (r.outcome === "planned") {
          r.outcome = "skipped";
          r.reason = `the evidence could not be preserved (${reason}): not touched`;
        }
      await writeRecord(bundle, finish(bundle.dir, null, EXIT_ERROR).output);
      await bundle.seal({ complete: false, reason });
      throw new BreachkitError(
        "INTERRUPTED",
        `the evidence could not be preserved (${reason}); nothing was changed`,
        `What was collected is in ${bundle.dir}. Free space or rerun.`,
      );
    }
    for (const row of planned) {
      if (opts.signal?.aborted) break;
      const result = results.find((r) => r.before.containerId === row.id);
      const inspect = checked.inspects.get(row.id);
      if (!result || !inspect) continue;
      progress.update(`update: ${safeText(row.name, 60)}`);
      await updateOne({
        row,
        result,
        inspect,
        oldImage: checked.images.get(row.imageId) ?? null,
        engine,
        docker,
        bundle,
        auths,
        opts,
      });
    }
    for (const r of results)
      if (r.outcome === "planned") {
        r.outcome = "skipped";
        r.reason = "interrupted before its turn: not touched";
      }
    const exitCode = results.some((r) => r.outcome === "failed")
      ? EXIT_ERROR
      : results.some((r) => r.outcome === "rolled-back")
        ? EXIT_FINDINGS
        : EXIT_OK;
    await writeRecord(bundle, finish(bundle.dir, null, exitCode).output);
    const sealed = await bundle.seal(
      summary.complete
        ? { complete: true }
        : { complete: false, reason: summary.incompleteReason ?? "evidence incomplete" },
    );
    progress.done();
    return finish(bundle.dir, sealed.manifestSha256, exitCode);
  } catch (e) {
    if (!bundle.sealed) {
      bundle.log({ step: "update", action: "stop", result: "error", error: errorMessage(e) });
      await writeRecord(bundle, finish(bundle.dir, null, EXIT_ERROR).output).catch(() => {});
      await bundle.seal({ complete: false, reason: errorMessage(e) }).catch(() => {});
    }
    throw e;
  }
}

async function writeRecord(bundle: BundleWriter, output: UpdateOutput): Promise<void> {
  await bundle.writeJson(UPDATE_FILE, output, { source: "breachkit update" });
}

interface OneContext {
  row: UpdateCheckRow;
  result: UpdateResult;
  inspect: ContainerInspect;
  oldImage: ImageInspect | null;
  engine: DockerEngine;
  docker: DockerActions;
  bundle: BundleWriter;
  auths: DockerAuths;
  opts: UpdateOptions;
}

/** X-Registry-Auth for a pull: base64url of {username, password, serveraddress}. */
function registryAuth(auths: DockerAuths, registry: string): string | undefined {
  const cred = auths.byHost.get(registry.toLowerCase());
  if (!cred) return undefined;
  const json = JSON.stringify(
    cred.identityToken
      ? { identitytoken: cred.identityToken, serveraddress: registry }
      : { username: cred.username, password: cred.password, serveraddress: registry },
  );
  return Buffer.from(json).toString("base64url");
}

async function updateOne(c: OneContext): Promise<void> {
  const { row, result, engine, docker, bundle } = c;
  const actions: UpdateAction[] = result.actions;
  /** Run one change: logged in the bundle with its time, result and undo. */
  const act = async <T>(action: string, undo: string | null, fn: () => Promise<T>): Promise<T> => {
    const time = new Date();
    try {
      const v = await fn();
      actions.push({
        time: time.toISOString(),
        action,
        ok: true,
        changedHost: true,
        undo,
        error: null,
      });
      bundle.log({
        step: "update",
        action,
        result: "ok",
        changedHost: true,
        durationMs: Date.now() - time.getTime(),
        details: { container: row.id, undo },
      });
      return v;
    } catch (e) {
      const error = errorMessage(e);
      actions.push({
        time: time.toISOString(),
        action,
        ok: false,
        changedHost: true,
        undo: null,
        error,
      });
      bundle.log({
        step: "update",
        action,
        result: "error",
        changedHost: true,
        durationMs: Date.now() - time.getTime(),
        error,
        details: { container: row.id },
      });
      throw e;
    }
  };
  const parsed = parseImageRef(row.image);
  if (!parsed.ok || parsed.value.tag === null) {
    result.outcome = "skipped";
    result.reason = "the image reference cannot be followed";
    return;
  }
  const ref = parsed.value;
  const repo = familiarName(ref);
  const name = row.name;
  const oldId = row.id;

  // 1. The new image, by digest.
  let newImage: ImageInspect;
  try {
    if (row.status === "pulled-not-running" && row.newerPulled) {
      newImage = await engine.inspectImage(row.newerPulled.imageId);
    } else {
      const digest = row.remoteDigest ?? "";
      const existed = await engine.inspectImage(`${repo}@${digest}`).then(
        () => true,
        () => false,
      );
      await act(
        `docker pull ${repo}@${digest}`,
        existed ? null : `docker rmi ${repo}@${digest}`,
        () => docker.pullImage(repo, digest, { registryAuth: registryAuth(c.auths, ref.registry) }),
      );
      newImage = await engine.inspectImage(`${repo}@${digest}`);
      if (!(newImage.RepoDigests ?? []).includes(`${repo}@${digest}`)) {
        throw new Error(`the pulled image does not carry the digest ${digest}`);
      }
    }
    if (newImage.Id === row.imageId) throw new Error("the new image is the one already running");
  } catch (e) {
    result.outcome = "failed";
    result.reason = `could not get the new image: ${errorMessage(e)}; the container was not touched`;
    return;
  }
  const newShort = newImage.Id.replace(/^sha256:/, "").slice(0, 12);
  const oldShort = row.imageId.replace(/^sha256:/, "").slice(0, 12);

  // 2. The tag follows the registry, as a pull by tag would have moved it.
  const taggedBefore = await engine.inspectImage(row.image).then(
    (i) => i.Id,
    () => null,
  );
  let retagged = false;
  if (taggedBefore !== newImage.Id) {
    try {
      await act(
        `docker tag ${newShort} ${row.image}`,
        taggedBefore
          ? `docker tag ${taggedBefore.replace(/^sha256:/, "").slice(0, 12)} ${row.image}`
          : null,
        () => docker.tagImage(newImage.Id, repo, ref.tag ?? "latest"),
      );
      retagged = true;
    } catch (e) {
      result.outcome = "failed";
      result.reason = `could not tag the new image: ${errorMessage(e)}; the container was not touched`;
      return;
    }
  }
  const restoreTag = async () => {
    if (retagged && taggedBefore) {
      await act(
        `docker tag ${taggedBefore.replace(/^sha256:/, "").slice(0, 12)} ${row.image}`,
        null,
        () => docker.tagImage(taggedBefore, repo, ref.tag ?? "latest"),
      ).catch(() => {});
    }
  };

  const spec = recreateSpec(
    c.inspect as Record<string, unknown>,
    (c.oldImage?.Config as Record<string, unknown> | undefined) ?? null,
    row.image,
  );
  await bundle.writeJson(`update/${safeName(name)}/create-request.json`, redactCreate(spec.body), {
    source: "breachkit update",
  });
  const parked = parkedName(name);

  // 3. Recreate: the old one stopped and set aside under another name, the new one in its place.
  let newId: string | null = null;
  const rollback = async (why: string): Promise<void> => {
    const problems: string[] = [];
    if (newId) {
      const id = newId;
      await bundle.step("update", `preserve the failed container ${id.slice(0, 12)}`, async () => {
        const raw = await engine.inspectContainer(id);
        await bundle.writeJson(`update/${safeName(name)}/failed-inspect.json`, redactInspect(raw), {
          source: `docker:/containers/${id}/json`,
        });
        const logs = await engine.containerLogs(id, { timestamps: true });
        await bundle.writeStream(`update/${safeName(name)}/failed-logs.txt`, logs, {
          source: `docker:/containers/${id}/logs`,
          maxBytes: 16 * 1024 * 1024,
        });
      });
      await act(`docker rm -f ${id.slice(0, 12)}`, null, () =>
        docker.removeContainer(id, { force: true }),
      ).catch((e) => problems.push(errorMessage(e)));
    }
    await act(`docker rename ${parked} ${name}`, null, () =>
      docker.renameContainer(oldId, name),
    ).catch((e) => problems.push(errorMessage(e)));
    await act(`docker start ${oldId.slice(0, 12)}`, `docker stop ${oldId.slice(0, 12)}`, () =>
      docker.start(oldId),
    ).catch((e) => problems.push(errorMessage(e)));
    await restoreTag();
    if (problems.length) {
      result.outcome = "failed";
      result.reason = `${why}; the rollback failed too: ${problems.join("; ")}`;
    } else {
      result.outcome = "rolled-back";
      result.reason = `${why}; rolled back to the old container (image ${oldShort}, same configuration)`;
      result.after = { containerId: oldId, imageId: row.imageId, digest: row.localDigest };
    }
  };

  try {
    await act(
      `docker stop -t ${c.opts.stopTimeoutSec} ${oldId.slice(0, 12)}`,
      `docker start ${oldId.slice(0, 12)}`,
      () => docker.stop(oldId, { timeoutSec: c.opts.stopTimeoutSec }),
    );
  } catch (e) {
    await docker.start(oldId).catch(() => {});
    await restoreTag();
    result.outcome = "failed";
    result.reason = `could not stop the old container: ${errorMessage(e)}`;
    return;
  }
  try {
    await act(`docker rename ${name} ${parked}`, `docker rename ${parked} ${name}`, () =>
      docker.renameContainer(oldId, parked),
    );
  } catch (e) {
    await docker.start(oldId).catch(() => {});
    await restoreTag();
    result.outcome = "failed";
    result.reason = `could not set the old container aside: ${errorMessage(e)}; it was started again`;
    return;
  }
  try {
    const created = await act(
      `docker create --name ${name} ${row.image} (the configuration of ${oldId.slice(0, 12)})`,
      null,
      () => docker.createContainer(name, spec.body),
    );
    newId = created.id;
    const last = actions.at(-1);
    if (last) last.undo = `docker rm -f ${created.id.slice(0, 12)}`;
    for (const extra of spec.extraNetworks) {
      await act(
        `docker network connect ${extra.network} ${created.id.slice(0, 12)}`,
        `docker network disconnect ${extra.network} ${created.id.slice(0, 12)}`,
        () => docker.connectNetworkWith(created.id, extra.network, extra.endpoint),
      );
    }
    const made = (await engine.inspectContainer(created.id)) as { Image?: string };
    if (made.Image !== newImage.Id) {
      throw new Error(
        `the new container runs ${String(made.Image).slice(7, 19)}, not the pulled ${newShort} (the tag moved meanwhile)`,
      );
    }
    await act(
      `docker start ${created.id.slice(0, 12)}`,
      `docker stop ${created.id.slice(0, 12)}`,
      () => docker.start(created.id),
    );
  } catch (e) {
    await rollback(`the new container could not be created or started: ${errorMessage(e)}`);
    return;
  }

  // 4. Health decides.
  const settled = await waitSettled(engine, newId, {
    settleMs: c.opts.settleSeconds * 1000,
    ...(c.opts.signal ? { signal: c.opts.signal } : {}),
  });
  result.health = { status: settled.status, waitedMs: settled.waitedMs, detail: settled.detail };
  bundle.log({
    step: "update",
    action: `wait for ${name} to settle`,
    result: settled.ok ? "ok" : "error",
    durationMs: settled.waitedMs,
    details: { ...settled },
  });
  if (!settled.ok) {
    await rollback(
      `the new image ${newShort} did not settle: ${settled.status}${settled.detail ? ` (${settled.detail})` : ""}`,
    );
    return;
  }

  // 5. Done: the old container goes (its image stays), and the configuration is compared.
  const id = newId;
  const after = await engine.inspectContainer(id);
  await bundle.writeJson(`update/${safeName(name)}/inspect-after.json`, redactInspect(after), {
    source: `docker:/containers/${id}/json`,
  });
  const diffs = configDifferences(
    c.inspect as Record<string, unknown>,
    after as Record<string, unknown>,
    ["Config.Image", "HostConfig.Binds"],
  );
  await act(
    `docker rm ${oldId.slice(0, 12)} (the old container; its image ${oldShort} is kept)`,
    `docker rm -f ${id.slice(0, 12)} && docker run <the configuration in containers/${safeName(name)}/inspect.json> ${oldShort}`,
    () => docker.removeContainer(oldId),
  ).catch(() => {
    result.reason += `; the old container is left stopped as ${parked}`;
  });
  result.outcome = "updated";
  result.reason = `now runs ${newShort} (${row.remoteDigest ?? "already pulled"}), ${settled.status} after ${Math.round(settled.waitedMs / 100) / 10} s${
    diffs.length
      ? `; configuration differs in: ${diffs.slice(0, 10).join(", ")}`
      : "; configuration identical"
  }${spec.notes.length ? `; ${spec.notes.join("; ")}` : ""}`;
  result.after = {
    containerId: id,
    imageId: newImage.Id,
    digest: row.remoteDigest,
  };
}

/** Docker's name alphabet, bounded: the old container's name while it waits. */
function parkedName(name: string): string {
  return `${name.slice(0, 200)}-bk-old-${Date.now().toString(36)}`;
}

function safeName(name: string): string {
  return name.replace(/[^A-Za-z0-9_.-]/g, "_").slice(0, 120) || "container";
}

/** The create request as recorded: environment values redacted like inspect's. */
function redactCreate(body: Record<string, unknown>): unknown {
  const r = redactInspect({ Id: "", Config: { Env: body.Env } }) as { Config?: { Env?: unknown } };
  return { ...body, Env: r.Config?.Env ?? null };
}
