/**
 * `breachkit update` for a person: the check table, the plan, and each container's outcome with
 * its actions and undo. Every string from the host or a registry goes through safeText.
 */
import type { UpdateCheck, UpdateRun } from "../model/update-output.js";
import type { Colors } from "../util/colors.js";
import { safeText } from "../util/sanitize.js";

const STATUS_TEXT: Record<string, string> = {
  current: "current",
  "update-available": "UPDATE AVAILABLE",
  "pulled-not-running": "PULLED, NOT RUNNING",
  pinned: "pinned",
  "digest-pinned": "digest-pinned",
  "local-only": "local image",
  gap: "GAP",
};

function short(digest: string | null): string {
  if (!digest) return "-";
  return digest.replace(/^sha256:/, "").slice(0, 12);
}

export function formatCheck(check: UpdateCheck, c: Colors): string {
  const lines: string[] = [];
  lines.push(
    c.bold(
      `Update check: ${check.containers.length} container(s) in ${(check.durationMs / 1000).toFixed(1)} s (engine ${safeText(check.engine.version ?? "?", 40)}, API ${safeText(check.engine.apiVersion ?? "?", 20)})`,
    ),
  );
  if (check.credentials.problem)
    lines.push(c.yellow(`  note: ${safeText(check.credentials.problem, 300)}`));
  for (const r of check.containers) {
    const status = STATUS_TEXT[r.status] ?? r.status;
    const colored =
      r.status === "update-available" || r.status === "pulled-not-running"
        ? c.yellow(status)
        : r.status === "gap"
          ? c.red(status)
          : c.green(status);
    lines.push(`\n${c.bold(safeText(r.name, 80))}  ${colored}`);
    lines.push(
      `  image    ${safeText(r.image, 200)}  (id ${short(r.imageId)}${r.imageAgeDays !== null ? `, ${r.imageAgeDays} days old` : ""})`,
    );
    if (r.localDigest || r.remoteDigest) {
      lines.push(
        `  digest   running ${short(r.localDigest)}  registry ${short(r.remoteDigest)}${r.remoteVerified ? " (verified from its bytes)" : ""}`,
      );
    }
    if (r.newerPulled)
      lines.push(
        `  pulled   ${short(r.newerPulled.imageId)} is tagged ${safeText(r.image, 200)} here, not running`,
      );
    if (r.newerTags.length)
      lines.push(
        `  newer    tags: ${r.newerTags.map((t) => safeText(t, 60)).join(", ")} (reported, never switched to)`,
      );
    if (r.compose)
      lines.push(
        `  compose  project ${safeText(r.compose.project, 80)}, service ${safeText(r.compose.service, 80)}`,
      );
    if (r.gap)
      lines.push(c.red(`  gap      ${safeText(r.gap.kind, 30)}: ${safeText(r.gap.reason, 400)}`));
    for (const n of r.notes) lines.push(c.dim(`  note     ${safeText(n, 300)}`));
  }
  const counts = Object.entries(check.counts)
    .map(([k, v]) => `${v} ${STATUS_TEXT[k] ?? k}`)
    .join(", ");
  lines.push(`\n${counts || "no containers"}`);
  return `${lines.join("\n")}\n`;
}

export function formatUpdatePlan(run: UpdateRun, c: Colors, dryRun: boolean): string {
  const lines: string[] = [
    c.bold(dryRun ? "Update plan (dry run: nothing is changed)" : "Update plan"),
  ];
  for (const r of run.results) {
    const what = r.outcome === "planned" ? c.yellow("update") : c.dim("skip");
    lines.push(
      `  ${what}  ${safeText(r.name, 80)}  ${safeText(r.image, 200)}: ${safeText(r.reason, 400)}`,
    );
    if (r.method && r.outcome === "planned")
      lines.push(c.dim(`        via ${safeText(r.method, 300)}`));
  }
  if (run.results.length === 0) lines.push("  no container matches");
  if (dryRun && run.results.some((r) => r.outcome === "planned")) {
    lines.push(
      c.dim(
        `  each: evidence into a bundle, pull by digest, stop and set the old container aside, create the new one with the same configuration, wait up to ${run.settleSeconds} s for health, roll back on failure`,
      ),
    );
  }
  return `${lines.join("\n")}\n`;
}

export function formatUpdateResult(
  run: UpdateRun,
  bundle: string | null,
  seal: string | null,
  c: Colors,
): string {
  const lines: string[] = [];
  for (const r of run.results) {
    if (r.outcome === "skipped" || r.outcome === "planned") continue;
    const head =
      r.outcome === "updated"
        ? c.green("UPDATED")
        : r.outcome === "rolled-back"
          ? c.yellow("ROLLED BACK")
          : c.red("FAILED");
    lines.push(`${head}  ${c.bold(safeText(r.name, 80))}: ${safeText(r.reason, 800)}`);
    for (const a of r.actions) {
      lines.push(
        `  ${a.time.slice(11, 19)} ${a.ok ? "ok  " : c.red("FAIL")} ${safeText(a.action, 300)}${a.error ? c.red(` (${safeText(a.error, 300)})`) : ""}`,
      );
      if (a.undo) lines.push(c.dim(`           undo: ${safeText(a.undo, 300)}`));
    }
  }
  for (const n of run.notes) lines.push(c.dim(`note: ${safeText(n, 300)}`));
  if (bundle) {
    lines.push(`\nEvidence and record: ${safeText(bundle, 300)}`);
    if (seal) lines.push(`SEAL (SHA-256 of manifest.json): ${seal}`);
  }
  return `${lines.join("\n")}\n`;
}
