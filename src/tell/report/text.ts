/**
 * Host strings made safe for each output of the report. `show` makes every control,
 * bidi-override and invisible character visible (\e, \u202e ...) so nothing reorders or hides
 * text; `html` then escapes for HTML text and attribute values; `md` for Markdown.
 */
import { splitFleetPlace } from "../../model/report-model.js";
import { escapeHtml, safeText } from "../../util/sanitize.js";

/** Visible control characters; cut at `max` characters. */
export function show(s: string | null | undefined, max = 4000): string {
  return safeText(s ?? "", max);
}

/** For HTML text or a quoted attribute value. */
export function html(s: string | null | undefined, max = 4000): string {
  return escapeHtml(show(s, max));
}

/** For Markdown text (and table cells): no markup, no raw HTML, no link. */
export function md(s: string | null | undefined, max = 4000): string {
  return show(s, max)
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/([\\`*_{}[\]()#+!|~:])/g, "\\$1");
}

/** "2026-12-02T09:00:05.123Z" -> "2026-12-02 09:00:05 UTC". */
export function when(iso: string | null | undefined): string {
  if (!iso) return "—";
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return show(iso, 60);
  return `${new Date(ms).toISOString().slice(0, 19).replace("T", " ")} UTC`;
}

export function rate(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return "—";
  return n >= 100 ? Math.round(n).toLocaleString("en-US") : n.toFixed(1);
}

/**
 * A place's heading: "host (outside all containers)", "container web"; in a fleet case
 * "web01: host (outside all containers)", "web01: container app", and "the fleet (across
 * hosts)" for the fleet rule's findings. `esc` escapes the host's strings for the output.
 */
export function placeTitle(p: string, fleet: boolean, esc: (s: string) => string): string {
  const one = (q: string) =>
    q === "host" ? "host (outside all containers)" : `container ${esc(q)}`;
  if (!fleet) return one(p);
  if (p === "fleet") return "the fleet (across hosts)";
  const split = splitFleetPlace(p);
  return split ? `${esc(split[0])}: ${one(split[1])}` : one(p);
}
