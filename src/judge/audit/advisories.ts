/**
 * Known-exploited versions: the app versions read from a container's files (or its image tag)
 * against rules/advisories.json, and the image's age and staleness. Pure once the advisory
 * file is loaded (validated at load: a bad file is an error that names it).
 */
import { readFileSync } from "node:fs";
import type { ContainerObservation } from "../../model/audit-output.js";
import type { Finding } from "../../model/finding.js";
import { SeveritySchema } from "../../model/finding.js";
import { BreachkitError } from "../../util/errors.js";
import { packagePath } from "../../util/package-root.js";
import { errorMessage } from "../../util/result.js";
import { z } from "../../util/zod.js";
import { auditFinding } from "./common.js";

const VERSION = /^\d+(\.\d+)*$/;

const AdvisorySchema = z.object({
  id: z.string().regex(/^CVE-\d{4}-\d{4,}$/),
  product: z.string(),
  title: z.string(),
  cvss: z.number().min(0).max(10),
  severity: SeveritySchema,
  exploited: z.string(),
  ranges: z
    .array(z.object({ introduced: z.string().regex(VERSION), fixed: z.string().regex(VERSION) }))
    .min(1),
  fix: z.string(),
  source: z.string(),
});
export type Advisory = z.infer<typeof AdvisorySchema>;

const FileSchema = z.object({
  format: z.literal("breachkit-advisories"),
  formatVersion: z.literal(1),
  note: z.string().optional(),
  advisories: z.array(AdvisorySchema),
});

export function parseAdvisories(text: string): Advisory[] {
  return FileSchema.parse(JSON.parse(text)).advisories;
}

export function loadAdvisories(path = packagePath("rules", "advisories.json")): Advisory[] {
  try {
    return parseAdvisories(readFileSync(path, "utf8"));
  } catch (e) {
    throw new BreachkitError(
      "BAD_INPUT",
      `cannot load the advisories ${path}: ${errorMessage(e).slice(0, 300)}`,
      "restore rules/advisories.json from the package",
    );
  }
}

/** Compare dotted versions number by number (missing parts are 0). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.+-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function affected(a: Advisory, version: string): boolean {
  return a.ranges.some(
    (r) => compareVersions(version, r.introduced) >= 0 && compareVersions(version, r.fixed) < 0,
  );
}

function recreate(name: string): string {
  return `docker compose pull ${name} && docker compose up -d ${name}   # or: docker pull IMAGE, then recreate ${name} with the same options`;
}

const DAY = 24 * 3600 * 1000;

export function imageFindings(
  c: ContainerObservation,
  advisories: readonly Advisory[],
  now: Date,
): Finding[] {
  const out: Finding[] = [];
  const base = { area: "images" as const, where: c.name, containerId: c.id };
  for (const app of c.apps) {
    for (const a of advisories) {
      if (a.product !== app.product || !affected(a, app.version)) continue;
      const fromTag = app.from === "image-tag";
      out.push(
        auditFinding({
          ...base,
          rule: `audit.image.known-exploited.${a.id}`,
          severity: a.severity,
          confidence: fromTag ? "medium" : "high",
          title: `${app.edition ?? app.product} ${app.version} is affected by ${a.id} (CVSS ${a.cvss}, exploited in the wild): ${a.title}`,
          evidence: [
            {
              ...(app.from === "file" ? { path: app.evidence } : { text: app.evidence }),
              facts: {
                product: app.product,
                version: app.version,
                readFrom:
                  app.from === "file"
                    ? "the container's own file"
                    : app.from === "env"
                      ? "the image's environment"
                      : "the image tag (files not readable)",
                cve: a.id,
                cvss: String(a.cvss),
                exploited: a.exploited,
                source: a.source,
              },
            },
          ],
          fix: `${a.fix}; then ${recreate(c.name)}. Before that: this version was exploitable, so run breachkit triage and collect first`,
          cost: "a recreated container (downtime of the app while it migrates); the old writable layer is gone: collect evidence first",
        }),
      );
    }
  }
  const created = c.imageCreated ? Date.parse(c.imageCreated) : Number.NaN;
  if (Number.isFinite(created)) {
    const days = Math.floor((now.getTime() - created) / DAY);
    if (days > 180) {
      out.push(
        auditFinding({
          ...base,
          rule: "audit.image.old",
          severity: days > 365 ? "medium" : "low",
          title: `The image is ${days} days old (built ${c.imageCreated!.slice(0, 10)})`,
          evidence: [
            {
              facts: {
                field: "image Created",
                value: c.imageCreated!,
                image: String(
                  (c.inspect.Config as Record<string, unknown> | undefined)?.Image ?? "",
                ),
              },
            },
          ],
          fix: recreate(c.name),
          cost: "a recreated container",
        }),
      );
    }
  }
  const imageId = typeof c.inspect.Image === "string" ? c.inspect.Image : null;
  if (c.tagNowPointsTo && imageId && c.tagNowPointsTo !== imageId) {
    out.push(
      auditFinding({
        ...base,
        rule: "audit.image.not-recreated",
        severity: "medium",
        title:
          "A newer image for this container's tag is already pulled, but the container still runs the old one",
        evidence: [
          {
            facts: {
              field: "Image",
              running: imageId.slice(0, 19),
              tagNow: c.tagNowPointsTo.slice(0, 19),
              tag: String((c.inspect.Config as Record<string, unknown> | undefined)?.Image ?? ""),
            },
          },
        ],
        fix: `docker compose up -d ${c.name}   # or recreate it with the same docker run options`,
        cost: "a recreated container",
        cis: "5.28",
      }),
    );
  }
  return out;
}
