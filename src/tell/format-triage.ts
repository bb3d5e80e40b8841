/**
 * triage's answer: as JSON (verdict, findings, bundle, gaps) or for a person (the ranked
 * findings, a line of counts, the bundle and its seal, the next command).
 */
import type { judgeBundle } from "../judge/judge-bundle.js";
import type { verdictOf } from "../judge/verdict.js";
import { TRIAGE_SCHEMA_VERSION, type TriageOutput } from "../model/triage-output.js";
import type { Colors } from "../util/colors.js";
import { formatBytes } from "../util/progress.js";
import { safeText } from "../util/sanitize.js";
import { renderFindings } from "./findings.js";

export interface TriageOutcome {
  judged: Awaited<ReturnType<typeof judgeBundle>>;
  verdict: ReturnType<typeof verdictOf>;
  bundleDir: string;
  seal: string | null;
  complete: boolean;
  /** null when the bundle verifies; else what is wrong with it (it was judged all the same). */
  integrityProblem: string | null;
  durationMs: number;
}

export interface TriageFormat {
  json: boolean;
  /** A saved bundle was judged (--bundle), not the live host. */
  offline: boolean;
  /** List low and info findings too (--all). */
  all: boolean;
}

export function formatTriage(o: TriageOutcome, f: TriageFormat, c: Colors): string {
  const { judged, verdict, bundleDir, seal, complete, integrityProblem, durationMs } = o;
  if (f.json) {
    return `${JSON.stringify(
      {
        schemaVersion: TRIAGE_SCHEMA_VERSION,
        verdict,
        findings: judged.findings,
        bundle: {
          path: bundleDir,
          manifestSha256: seal,
          complete,
          offline: f.offline,
          verified: integrityProblem === null,
          integrityProblem,
        },
        logsHunted: judged.logsHunted,
        logBytes: judged.logBytes,
        gaps: [...judged.snapshot.gaps, ...judged.gaps],
        durationMs,
      } satisfies TriageOutput,
      null,
      2,
    )}\n`;
  }
  const out: string[] = [];
  // First, before any finding: a verdict on a bundle that does not verify may rest on
  // evidence someone changed (or planted) after it was sealed.
  if (integrityProblem !== null) {
    out.push(
      c.red(
        c.bold(
          `WARNING: THIS BUNDLE DOES NOT VERIFY (${safeText(integrityProblem)}): the findings below judge data that may have been altered since it was sealed; run breachkit verify on it\n`,
        ),
      ),
    );
  }
  out.push(renderFindings(judged.findings, verdict, c, { all: f.all }));
  const s = judged.snapshot;
  const running = s.containers.filter((ct) => ct.running).length;
  out.push(
    c.dim(
      `\n${s.processes.length} processes, ${running}/${s.containers.length} containers running, ${judged.logsHunted.length} logs hunted (${formatBytes(judged.logBytes)}), ${durationMs} ms${s.engine.available ? "" : "; Docker engine NOT answering"}\n`,
    ),
  );
  if (judged.gaps.length > 0) {
    // Logs or parts of logs not hunted (a cut copy, a line too long): said, never silent.
    const g = judged.gaps[0]!;
    out.push(
      c.yellow(
        `${judged.gaps.length} log part(s) not hunted (see --json "gaps"), e.g. ${safeText(g.path)}: ${safeText(g.message, 300)}\n`,
      ),
    );
  }
  out.push(
    `${f.offline ? "judged bundle" : "evidence bundle"}: ${safeText(bundleDir)}${seal ? `\n  SEAL sha256 ${seal} (write it down: it proves the bundle later)` : ""}\n`,
  );
  if (verdict.level !== "clean") {
    out.push(
      c.dim(
        "next: contain with proof: breachkit contain <container>; full evidence: breachkit collect --archive\n",
      ),
    );
  }
  return out.join("");
}
