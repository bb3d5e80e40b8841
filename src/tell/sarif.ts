/**
 * Audit findings as SARIF 2.1.0, for code-scanning tools: one rule per check (its id is the
 * finding's rule, stable across runs), one result per finding, a physical location where a file
 * and line are known (sshd_config:12, daemon.json:3) and a logical one (the host or the
 * container) always, and partialFingerprints from what identifies the problem (rule, place,
 * file or path, key fingerprint), never from what changes between runs (times, ids, ages), so
 * the same problem found again is the same alert.
 */
import { createHash } from "node:crypto";
import type { Evidence, Finding, Severity } from "../model/finding.js";

export const SARIF_SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json";

const LEVEL: Record<Severity, "error" | "warning" | "note"> = {
  critical: "error",
  high: "error",
  medium: "warning",
  low: "note",
  info: "note",
};

/** Security severity as code scanning reads it (0.0 to 10.0). */
const SECURITY_SEVERITY: Record<Severity, string> = {
  critical: "9.5",
  high: "8.0",
  medium: "5.5",
  low: "3.0",
  info: "0.0",
};

function fileUri(path: string): string {
  return `file://${path.split("/").map(encodeURIComponent).join("/")}`;
}

function facts(f: Finding): Record<string, string> {
  return f.evidence[0]?.facts ?? {};
}

/** What identifies a finding across runs. */
export function fingerprintOf(f: Finding): string {
  const ev = f.evidence
    .map((e: Evidence) =>
      [e.file ?? "", e.path ?? "", e.facts?.fingerprint ?? "", e.facts?.user ?? ""].join("|"),
    )
    .join(";");
  const place = f.containerId === null ? "host" : f.where;
  return createHash("sha256").update(`${f.rule}\n${place}\n${ev}`).digest("hex");
}

function ruleName(id: string): string {
  return id
    .split(/[.-]/)
    .map((p) => (p ? p[0]!.toUpperCase() + p.slice(1) : p))
    .join("");
}

export interface SarifOptions {
  toolVersion: string;
  /** The run's start time (ISO). */
  startedAt: string;
  endedAt: string;
}

export function toSarif(findings: readonly Finding[], opts: SarifOptions): Record<string, unknown> {
  const rules: Record<string, unknown>[] = [];
  const index = new Map<string, number>();
  for (const f of findings) {
    if (index.has(f.rule)) continue;
    index.set(f.rule, rules.length);
    const fx = facts(f);
    const tags = [
      "security",
      fx.area ?? f.source,
      ...(fx.cis ? [`CIS-Docker-1.8.0-${fx.cis}`] : []),
      ...(fx.cve ? [fx.cve] : []),
    ];
    rules.push({
      id: f.rule,
      name: ruleName(f.rule),
      shortDescription: { text: f.title.replace(/\s+/g, " ").slice(0, 200) },
      ...(fx.fix ? { help: { text: `Fix: ${fx.fix}\nCost: ${fx.cost ?? ""}` } } : {}),
      defaultConfiguration: { level: LEVEL[f.severity] },
      properties: { tags, "security-severity": SECURITY_SEVERITY[f.severity] },
    });
  }
  const results = findings.map((f) => {
    const fx = facts(f);
    const located = f.evidence.find((e) => e.file || e.path);
    const physical = located
      ? [
          {
            physicalLocation: {
              artifactLocation: {
                uri: fileUri(
                  (located.file ?? located.path)!.startsWith("/")
                    ? (located.file ?? located.path)!
                    : `/${located.file ?? located.path}`,
                ),
              },
              ...(located.line && located.line > 0 ? { region: { startLine: located.line } } : {}),
            },
          },
        ]
      : [];
    return {
      ruleId: f.rule,
      ruleIndex: index.get(f.rule)!,
      level: LEVEL[f.severity],
      message: {
        text: `${f.title} [${f.containerId === null ? f.where : `container ${f.where}`}]`,
      },
      locations: [
        {
          ...(physical[0] ?? {}),
          logicalLocations: [
            { name: f.where, kind: f.containerId === null ? "host" : "container" },
          ],
        },
      ],
      partialFingerprints: { "breachkitFinding/v1": fingerprintOf(f) },
      properties: {
        severity: f.severity,
        confidence: f.confidence,
        where: f.where,
        ...(fx.fix ? { fix: fx.fix } : {}),
        ...(fx.cost ? { cost: fx.cost } : {}),
        ...(fx.cis ? { cis: fx.cis } : {}),
      },
    };
  });
  return {
    $schema: SARIF_SCHEMA_URI,
    version: "2.1.0",
    runs: [
      {
        tool: {
          driver: {
            name: "breachkit",
            version: opts.toolVersion,
            informationUri: "https://github.com/breachkit/breachkit",
            rules,
          },
        },
        invocations: [
          { executionSuccessful: true, startTimeUtc: opts.startedAt, endTimeUtc: opts.endedAt },
        ],
        results,
      },
    ],
  };
}
