import type { VerifyReport } from "../evidence/verify.js";
import type { Colors } from "../util/colors.js";
import { formatBytes } from "../util/progress.js";
import { safeText } from "../util/sanitize.js";

/** The terminal report; every string from the bundle is attacker-controlled, hence safeText. */
export function formatVerifyReport(r: VerifyReport, c: Colors): string {
  const lines: string[] = [];
  const t = (s: string) => safeText(s, 300);
  lines.push(
    r.intact
      ? `${c.bold(c.green("INTACT"))}  ${t(r.path)}`
      : `${c.bold(c.red("NOT INTACT"))}  ${t(r.path)}`,
  );
  for (const f of r.changed) {
    const detail =
      f.expected && f.actual
        ? ` (expected ${f.expected.size} bytes sha256 ${f.expected.sha256.slice(0, 16)}…, found ${f.actual.size} bytes sha256 ${f.actual.sha256.slice(0, 16)}…)`
        : "";
    lines.push(`  ${c.red("changed")}  ${t(f.path)}: ${t(f.problem)}${detail}`);
  }
  for (const p of r.missing) lines.push(`  ${c.red("missing")}  ${t(p)}`);
  for (const p of r.added) lines.push(`  ${c.red("added")}    ${t(p)}`);
  if (r.seal === "missing") {
    lines.push(
      `  ${c.red("SEAL is missing")}: nothing proves manifest.json is the one written at collection`,
    );
  } else if (r.seal === "mismatch") {
    lines.push(
      `  ${c.red("SEAL does not match manifest.json")}: manifest.json or SEAL was changed after sealing`,
    );
  }
  lines.push("");
  const sealed =
    r.seal === "ok"
      ? c.green("yes")
      : r.seal === "missing"
        ? c.red("no SEAL")
        : c.red("SEAL mismatch");
  lines.push(`  sealed     ${sealed}, manifest sha256 ${r.manifestSha256}`);
  if (r.archiveSha256) lines.push(`  archive    sha256 ${r.archiveSha256}`);
  lines.push(
    r.complete
      ? `  complete   ${c.green("yes")}`
      : `  complete   ${c.yellow("NO")}: ${t(r.incompleteReason ?? "no reason given")} (what was collected is listed and hashed)`,
  );
  lines.push(`  files      ${r.files} listed, ${formatBytes(r.bytes)}`);
  lines.push(`  host       ${t(r.host)}`);
  lines.push(`  tool       ${t(r.tool.name)} ${t(r.tool.version)}: ${t(r.command)}`);
  lines.push(`  collected  ${t(r.startedAt)} to ${t(r.endedAt)}`);
  if (!r.intact) {
    lines.push("");
    lines.push(
      "  This copy cannot be trusted as collected. Verify another copy (the archive, or the original) and keep both.",
    );
  }
  return `${lines.join("\n")}\n`;
}
