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
  type ComposeInfo,
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
import {
  type CheckResult,
  checkUpdates,
  type LabelFilter,
  labelsOf,
} from "../../observe/registry/check.js";
import { RegistryClient } from "../../observe/registry/client.js";
import type { ComposeTool } from "../../observe/registry/compose-tool.js";
import { type DockerAuths, readDockerAuths } from "../../observe/registry/docker-config.js";
import { familiarName, parseImageRef } from "../../observe/registry/reference.js";
import { takeSnapshot } from "../../observe/snapshot.js";
import { BreachkitError, EXIT_ERROR, EXIT_FINDINGS, EXIT_OK } from "../../util/errors.js";
import { type Progress, silentProgress } from "../../util/progress.js";
import { redactInspect } from "../../util/redact.js";
import { errorMessage } from "../../util/result.js";
import { safeText } from "../../util/sanitize.js";
import { DockerActions } from "../docker-actions.js";
import {
  CONFIG_HASH_LABEL,
  type ComposeRun,
  composeConfigHash,
  composeFailure,
  composeUp,
  projectArgs,
} from "./compose.js";
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
  /** Inspect every container and its image (an update needs the whole configuration). */
  inspect?: boolean;
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
  /** Compose tool installed ("docker compose", "docker-compose"), found by the caller; null: none. */
  composeTool: ComposeTool | null;
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
      ...(opts.inspect ? { inspect: true } : {}),
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
  const checked = await runCheck({ ...opts, inspect: true });
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
        ? opts.composeTool.name
        : `engine-api (Compose project ${compose.project}: no Compose tool installed, recreated through the API with its Compose labels)`
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
    composeTool: opts.composeTool?.name ?? null,
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
  const composeTool = row.compose ? c.opts.composeTool : null;
  if (row.compose && composeTool) {
    const why = await composeRefusal(c, act, row.compose, composeTool);
    if (why) {
      result.outcome = "skipped";
      result.reason = `${why}; not touched`;
      return;
    }
  }

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
  if (row.compose && composeTool) {
    await updateWithCompose(c, act, row.compose, composeTool, newImage);
    return;
  }

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
      await preserveFailed(c, id);
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
  const settled = await settleNew(c, newId);
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

type Act = <T>(action: string, undo: string | null, fn: () => Promise<T>) => Promise<T>;

/** Before a failed new container goes: its inspect (redacted) and its logs into the bundle. */
async function preserveFailed(c: OneContext, id: string): Promise<void> {
  const { bundle, engine } = c;
  const dir = `update/${safeName(c.row.name)}`;
  await bundle.step("update", `preserve the failed container ${id.slice(0, 12)}`, async () => {
    const raw = await engine.inspectContainer(id);
    await bundle.writeJson(`${dir}/failed-inspect.json`, redactInspect(raw), {
      source: `docker:/containers/${id}/json`,
    });
    const logs = await engine.containerLogs(id, { timestamps: true });
    await bundle.writeStream(`${dir}/failed-logs.txt`, logs, {
      source: `docker:/containers/${id}/logs`,
      maxBytes: 16 * 1024 * 1024,
    });
  });
}

/** Health decides: wait for the new container to settle, recorded in the result and the log. */
async function settleNew(c: OneContext, id: string) {
  const settled = await waitSettled(c.engine, id, {
    settleMs: c.opts.settleSeconds * 1000,
    ...(c.opts.signal ? { signal: c.opts.signal } : {}),
  });
  c.result.health = { status: settled.status, waitedMs: settled.waitedMs, detail: settled.detail };
  c.bundle.log({
    step: "update",
    action: `wait for ${c.row.name} to settle`,
    result: settled.ok ? "ok" : "error",
    durationMs: settled.waitedMs,
    details: { ...settled },
  });
  return settled;
}

const shortId = (id: string) => id.replace(/^sha256:/, "").slice(0, 12);

/** Why a Compose-managed container cannot be updated through Compose (no host change yet). */
async function composeRefusal(
  c: OneContext,
  act: Act,
  info: ComposeInfo,
  tool: ComposeTool,
): Promise<string | null> {
  const located = projectArgs(info);
  if ("problem" in located)
    return `Compose project ${safeText(info.project, 80)}: ${located.problem}`;
  if (!labelsOf(c.inspect)[CONFIG_HASH_LABEL]) {
    return `Compose project ${safeText(info.project, 80)}: the container has no ${CONFIG_HASH_LABEL} label, so whether its Compose file changed since cannot be told`;
  }
  const siblings = (await c.engine.listContainers({ all: true })).filter(
    (x) =>
      x.Labels?.["com.docker.compose.project"] === info.project &&
      x.Labels?.["com.docker.compose.service"] === info.service,
  );
  if (siblings.length > 1) {
    return `service ${safeText(info.service, 80)} of Compose project ${safeText(info.project, 80)} has ${siblings.length} containers, which ${tool.name} would recreate together: update it with ${tool.name} up yourself`;
  }
  // The project's files must still describe the running container (with the tag on the
  // running image, as when Compose created it), or `up` would deploy their changes too.
  const { row, engine, docker } = c;
  const parsed = parseImageRef(row.image);
  if (!parsed.ok) return "the image reference cannot be followed";
  const repo = familiarName(parsed.value);
  const tag = parsed.value.tag ?? "latest";
  const taggedBefore = await engine.inspectImage(row.image).then(
    (i) => i.Id,
    () => null,
  );
  const restore = async () => {
    if (taggedBefore && taggedBefore !== row.imageId) {
      await act(`docker tag ${shortId(taggedBefore)} ${row.image}`, null, () =>
        docker.tagImage(taggedBefore, repo, tag),
      ).catch(() => {});
    }
  };
  try {
    if (taggedBefore !== row.imageId) {
      await act(
        `docker tag ${shortId(row.imageId)} ${row.image} (to compare the Compose configuration)`,
        taggedBefore ? `docker tag ${shortId(taggedBefore)} ${row.image}` : null,
        () => docker.tagImage(row.imageId, repo, tag),
      );
    }
    const { hash, run } = await composeConfigHash(tool, info, c.opts.env, 60_000);
    await c.bundle.writeJson(`update/${safeName(row.name)}/compose-config-hash.json`, run, {
      source: tool.name,
    });
    const want = labelsOf(c.inspect)[CONFIG_HASH_LABEL];
    if (hash === null) {
      await restore();
      return `${tool.name} could not read the Compose project: ${composeFailure(run)}`;
    }
    if (hash !== want) {
      await restore();
      return `the Compose project's configuration of service ${safeText(info.service, 80)} changed since the container was created (config hash ${hash.slice(0, 12)}, the container's ${String(want).slice(0, 12)}): ${tool.name} up would deploy that change too. Review it and run ${tool.name} up yourself`;
    }
  } catch (e) {
    await restore();
    return `the Compose project could not be compared: ${errorMessage(e)}`;
  }
  return null;
}

/**
 * Recreate a Compose-managed container through Compose, so that the project stays Compose's:
 * the tag is pointed at the pulled digest, `up --force-recreate SERVICE` recreates it, health
 * decides, and a rollback points the tag back at the old image id and recreates again. Compose
 * removes the old container itself (its evidence is already in the bundle).
 */
async function updateWithCompose(
  c: OneContext,
  act: Act,
  info: ComposeInfo,
  tool: ComposeTool,
  newImage: ImageInspect,
): Promise<void> {
  const { row, result, engine, docker, bundle, opts } = c;
  const env = opts.env;
  const name = row.name;
  const dir = `update/${safeName(name)}`;
  const parsed = parseImageRef(row.image);
  const ref = parsed.ok ? parsed.value : null;
  if (!ref) return;
  const repo = familiarName(ref);
  const tag = ref.tag ?? "latest";
  const oldShort = shortId(row.imageId);
  const newShort = shortId(newImage.Id);
  result.method = tool.name;
  let runs = 0;
  const keep = async (run: ComposeRun) => {
    runs++;
    await bundle.writeJson(`${dir}/compose-${runs}.json`, run, { source: tool.name });
  };
  const project = `-p ${info.project}`;
  const upText = `${tool.name} ${project} up -d --no-deps --no-build --force-recreate ${info.service}`;
  const pointTag = (id: string) =>
    act(`docker tag ${shortId(id)} ${row.image}`, null, () => docker.tagImage(id, repo, tag));
  const up = async (): Promise<void> => {
    const run = await composeUp(tool, info, env, opts.stopTimeoutSec);
    await keep(run);
    if (run.exitCode !== 0) throw new Error(composeFailure(run));
  };
  const current = async () => {
    const i = await engine.inspectContainer(name);
    return { id: i.Id, image: String((i as { Image?: unknown }).Image ?? "") };
  };
  const rollback = async (why: string, failedId: string | null): Promise<void> => {
    if (failedId) await preserveFailed(c, failedId);
    try {
      await pointTag(row.imageId);
      await act(`${upText} (on the old image ${oldShort})`, null, up);
      const now = await current();
      if (now.image !== row.imageId) {
        throw new Error(`${name} runs ${shortId(now.image)}, not the old ${oldShort}`);
      }
      const settled = await waitSettled(engine, now.id, {
        settleMs: opts.settleSeconds * 1000,
        ...(opts.signal ? { signal: opts.signal } : {}),
      });
      result.outcome = "rolled-back";
      result.reason = `${why}; rolled back through ${tool.name}: ${name} runs the old image ${oldShort} again (a new container, same Compose configuration), ${settled.status}`;
      result.after = { containerId: now.id, imageId: row.imageId, digest: row.localDigest };
    } catch (e) {
      result.outcome = "failed";
      result.reason = `${why}; the rollback failed too: ${errorMessage(e)}`;
    }
  };

  let newId: string | null = null;
  try {
    await act(`docker tag ${newShort} ${row.image}`, `docker tag ${oldShort} ${row.image}`, () =>
      docker.tagImage(newImage.Id, repo, tag),
    );
  } catch (e) {
    result.outcome = "failed";
    result.reason = `could not tag the new image: ${errorMessage(e)}; the container was not touched`;
    return;
  }
  try {
    await act(upText, `docker tag ${oldShort} ${row.image} && ${upText}`, up);
    const made = await current();
    newId = made.id === row.id ? null : made.id;
    if (made.id === row.id) throw new Error(`${tool.name} did not recreate ${name}`);
    if (made.image !== newImage.Id) {
      throw new Error(
        `the new container runs ${shortId(made.image)}, not the pulled ${newShort} (the tag moved meanwhile)`,
      );
    }
  } catch (e) {
    await rollback(`the new container could not be created or started: ${errorMessage(e)}`, newId);
    return;
  }
  if (newId === null) return;
  const id: string = newId;
  const settled = await settleNew(c, id);
  if (!settled.ok) {
    await rollback(
      `the new image ${newShort} did not settle: ${settled.status}${settled.detail ? ` (${settled.detail})` : ""}`,
      id,
    );
    return;
  }
  const after = await engine.inspectContainer(id);
  await bundle.writeJson(`${dir}/inspect-after.json`, redactInspect(after), {
    source: `docker:/containers/${id}/json`,
  });
  const diffs = configDifferences(
    c.inspect as Record<string, unknown>,
    after as Record<string, unknown>,
    ["Config.Image", "HostConfig.Binds", `Config.Labels.${CONFIG_HASH_LABEL}`],
  );
  result.outcome = "updated";
  result.reason = `now runs ${newShort} (${row.remoteDigest ?? "already pulled"}) through ${tool.name}, ${settled.status} after ${Math.round(settled.waitedMs / 100) / 10} s; the old image ${oldShort} is kept${
    diffs.length
      ? `; configuration differs in: ${diffs.slice(0, 10).join(", ")}`
      : "; configuration identical"
  }`;
  result.after = { containerId: id, imageId: newImage.Id, digest: row.remoteDigest };
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
