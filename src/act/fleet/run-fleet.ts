/**
 * A fleet run: every host of an inventory through ssh-host.ts, up to `forks` at a time, into
 * one case directory:
 *
 *   CASE/case.json                     hosts, states, bundle SEALs (the --json output)
 *   CASE/findings.json                 every host's findings and the fleet rule's, merged
 *   CASE/hosts/NAME/bundle/breachkit-…/ the host's bundle, verified here
 *   CASE/hosts/NAME/output.json        the command's --json output on that host
 *   CASE/exports/opensearch-bulk.ndjson  findings and timelines for OpenSearch/Elasticsearch
 *   CASE/exports/timesketch/NAME.jsonl   one Timesketch timeline per host
 */
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { safePathComponent } from "../../evidence/bundle.js";
import { verifyBundle } from "../../evidence/verify.js";
import { keptAltered, mergeFleetFindings } from "../../judge/fleet/merge.js";
import { type Finding, FindingSchema, sortFindings } from "../../model/finding.js";
import {
  FLEET_SCHEMA_VERSION,
  type FleetFinding,
  type FleetHost,
  type FleetOutput,
} from "../../model/fleet-output.js";
import { parseSnapshot, type Snapshot } from "../../model/snapshot.js";
import type { InventoryHost } from "../../observe/inventory/inventory.js";
import { errorMessage } from "../../util/result.js";
import { TOOL } from "../../version.js";
import { runHost, type SshSettings } from "./ssh-host.js";
import { CompressedOnce } from "./transfer.js";

/**
 * gzip's level for the copy (compressed once per run, in node's zlib). Measured on the 124.4 MiB
 * executable at load 5 on 2 cores: level 1 47.2 MiB in 3.5 s, level 3 45.8 MiB in 2.8 s,
 * level 6 43.5 MiB in 4.8 s, level 9 43.3 MiB in 16.2 s. The first hosts read the compressed
 * bytes as they are produced, so the compression's speed is their copy's speed: level 3.
 */
export const COPY_GZIP_LEVEL = 3;

export interface FleetRun {
  inventory: string;
  hosts: readonly InventoryHost[];
  command: string;
  args: readonly string[];
  exe: string;
  caseDir: string;
  forks: number;
  /** Copy the executable gzip-compressed (a host without gzip still gets the plain copy). */
  compress?: boolean;
  /**
   * --keep-exe: reuse a copy kept on each host (~/.cache/breachkit/exe/<SHA-256>), hashed on
   * the host in every run before it runs, and store a fresh verified copy there otherwise.
   */
  keep?: boolean;
  timeoutMs: number;
  ssh: SshSettings;
  /**
   * The export files (relative path under exports/, text), rendered by the caller (tell):
   * given the merged findings, each verified host's snapshot and folder name, and the time.
   */
  renderExports?: (
    findings: FleetOutput["findings"],
    hosts: { host: string; folder: string; snapshot: Snapshot | null }[],
    at: string,
  ) => { file: string; text: string }[];
  /** Interrupted: no new host is started; running ones stop and clean up. */
  signal?: AbortSignal;
  /** Called as each host ends (progress). */
  onHost?: (h: FleetHost, done: number, total: number) => void;
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
  }
  return hash.digest("hex");
}

const MAX_JSON = 512 * 1024 * 1024;

async function readBundleJson(dir: string, name: string): Promise<string | null> {
  try {
    const b = await readFile(join(dir, name));
    return b.length > MAX_JSON ? null : b.toString("utf8");
  } catch {
    return null;
  }
}

/** findings.json of a bundle: triage's {findings: [...]} or scan's [...]; bad entries dropped. */
function parseFindings(text: string | null): Finding[] {
  if (text === null) return [];
  try {
    const data: unknown = JSON.parse(text);
    const list = Array.isArray(data) ? data : (data as { findings?: unknown })?.findings;
    if (!Array.isArray(list)) return [];
    return list.flatMap((f) => {
      const r = FindingSchema.safeParse(f);
      return r.success ? [r.data] : [];
    });
  } catch {
    return [];
  }
}

/** Unique folder names for the hosts, safe as path components. */
function folderNames(hosts: readonly InventoryHost[]): Map<InventoryHost, string> {
  const used = new Set<string>();
  const out = new Map<InventoryHost, string>();
  for (const h of hosts) {
    let n = safePathComponent(h.name);
    for (let i = 2; used.has(n); i++) n = `${safePathComponent(h.name)}_${i}`;
    used.add(n);
    out.set(h, n);
  }
  return out;
}

function notStarted(host: InventoryHost): FleetHost {
  return {
    name: host.name,
    address: host.address,
    port: host.port,
    user: host.user,
    groups: host.groups,
    state: "command-failed",
    reason: "not started: the fleet run was interrupted",
    exitCode: null,
    stderrTail: [],
    remoteSha256: null,
    copy: null,
    keep: null,
    bundle: null,
    findings: 0,
    durationMs: 0,
    steps: [],
  };
}

export async function runFleet(run: FleetRun): Promise<FleetOutput> {
  const startedAt = new Date().toISOString();
  const exeSha256 = await sha256File(run.exe);
  // Once per run, for every host, read by the hosts as it is produced: the compressed copy.
  // Not evidence; the hosts' hashes are of the decompressed file. Started by the first host
  // that needs a copy: with --keep-exe most runs need none, and compressing 124 MiB for
  // nothing took the CPU the hosts' runs needed (on loopback, the same cores).
  let compressedOnce: CompressedOnce | null = null;
  const compressed =
    run.compress !== false && run.hosts.length > 0
      ? {
          stream: () => {
            compressedOnce ??= new CompressedOnce(run.exe, COPY_GZIP_LEVEL);
            return compressedOnce.stream();
          },
        }
      : null;
  await mkdir(join(run.caseDir, "hosts"), { recursive: true, mode: 0o700 });
  const folders = folderNames(run.hosts);
  const results: FleetHost[] = new Array(run.hosts.length);
  const data: { host: string; findings: Finding[]; snapshot: Snapshot | null }[] = [];
  const controlRoot = await mkdtemp(join(tmpdir(), "breachkit-ssh-"));
  const keepStamp = startedAt.replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  let next = 0;
  let done = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= run.hosts.length) return;
      const host = run.hosts[i] as InventoryHost;
      if (run.signal?.aborted) {
        results[i] = notStarted(host);
        continue;
      }
      const hostDir = join(run.caseDir, "hosts", folders.get(host) as string);
      await mkdir(hostDir, { recursive: true, mode: 0o700 });
      const controlDir = await mkdtemp(join(controlRoot, "h"));
      const t0 = Date.now();
      const o = await runHost({
        host,
        ssh: run.ssh,
        exe: run.exe,
        exeSha256,
        command: run.command,
        args: run.args,
        timeoutMs: run.timeoutMs,
        hostDir,
        controlDir,
        compressed,
        keep: run.keep === true,
        keepStamp,
        ...(run.signal ? { signal: run.signal } : {}),
      }).catch((e: unknown) => ({
        state: "command-failed" as const,
        exitCode: null,
        reason: `breachkit failed on this host: ${errorMessage(e)}`,
        stderrTail: [],
        remoteSha256: null,
        copy: null,
        keep: null,
        output: null,
        bundleDir: null,
        steps: [],
      }));
      let state: FleetHost["state"] = o.state;
      let reason = o.reason;
      let bundle: FleetHost["bundle"] = null;
      let findings: Finding[] = [];
      if (o.output !== null)
        await writeFile(join(hostDir, "output.json"), o.output, { mode: 0o600 });
      if (o.bundleDir !== null) {
        try {
          const v = await verifyBundle(o.bundleDir);
          bundle = {
            path: relative(run.caseDir, o.bundleDir),
            manifestSha256: v.manifestSha256,
            seal: v.seal,
            intact: v.intact,
            complete: v.complete,
            host: v.host,
          };
          if (!v.intact) {
            state = "bundle-not-intact";
            reason = `the bundle fetched is not intact (SEAL ${v.seal}, ${v.changed.length} changed, ${v.missing.length} missing, ${v.added.length} added)`;
          } else {
            findings = parseFindings(await readBundleJson(o.bundleDir, "findings.json"));
            let snapshot: Snapshot | null = null;
            const st = await readBundleJson(o.bundleDir, "snapshot.json");
            try {
              snapshot = st === null ? null : parseSnapshot(st);
            } catch {
              snapshot = null;
            }
            data.push({ host: host.name, findings, snapshot });
          }
        } catch (e) {
          state = "bundle-not-intact";
          reason = `the bundle fetched is not a readable bundle: ${errorMessage(e)}`;
        }
      }
      const r: FleetHost = {
        name: host.name,
        address: host.address,
        port: host.port,
        user: host.user,
        groups: host.groups,
        state,
        reason,
        exitCode: o.exitCode,
        stderrTail: o.stderrTail,
        remoteSha256: o.remoteSha256,
        copy: o.copy,
        keep: o.keep,
        bundle,
        findings: findings.length,
        durationMs: Date.now() - t0,
        steps: o.steps,
      };
      results[i] = r;
      done++;
      run.onHost?.(r, done, run.hosts.length);
      await rm(controlDir, { recursive: true, force: true });
    }
  };
  try {
    await Promise.all(
      Array.from({ length: Math.min(run.forks, run.hosts.length) }, () => worker()),
    );
  } finally {
    (compressedOnce as CompressedOnce | null)?.close();
    await rm(controlRoot, { recursive: true, force: true });
  }
  // Merged in inventory order, whatever order the hosts finished in.
  const order = new Map(run.hosts.map((h, i) => [h.name, i]));
  data.sort((a, b) => (order.get(a.host) ?? 0) - (order.get(b.host) ?? 0));
  const merged = sortFindings([
    ...mergeFleetFindings(data),
    ...keptAltered(results, exeSha256),
  ]) as FleetFinding[];
  const endedAt = new Date().toISOString();
  const counts: Record<string, number> = {};
  for (const h of results) counts[h.state] = (counts[h.state] ?? 0) + 1;
  const out: FleetOutput = {
    schemaVersion: FLEET_SCHEMA_VERSION,
    format: "breachkit-case",
    tool: { ...TOOL },
    inventory: run.inventory,
    command: run.command,
    args: [...run.args],
    case: run.caseDir,
    startedAt,
    endedAt,
    exeSha256,
    hosts: results,
    counts,
    findings: merged,
  };
  await writeFile(join(run.caseDir, "findings.json"), `${JSON.stringify(merged, null, 2)}\n`, {
    mode: 0o600,
  });
  if (run.renderExports) {
    const hostsOut = data.map((d) => ({
      host: d.host,
      folder: folders.get(run.hosts[order.get(d.host) ?? 0] as InventoryHost) as string,
      snapshot: d.snapshot,
    }));
    for (const f of run.renderExports(merged, hostsOut, endedAt)) {
      const path = join(run.caseDir, "exports", f.file);
      await mkdir(dirname(path), { recursive: true, mode: 0o700 });
      await writeFile(path, f.text, { mode: 0o600 });
    }
  }
  await writeFile(join(run.caseDir, "case.json"), `${JSON.stringify(out, null, 2)}\n`, {
    mode: 0o600,
  });
  return out;
}
