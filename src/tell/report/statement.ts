/**
 * The statement for the hoster's abuse desk, plain text: when the attack traffic was first and
 * last seen, the rate, destinations, the container and process responsible with its hash, the
 * entry point, the containment time and its proof, what was fixed, and the bundle SEALs.
 * English or Italian (messages/); host strings made visible (no control character survives).
 */
import type { Incident } from "../../model/report-model.js";
import { type Lang, msg } from "./messages/index.js";
import { rate, show, when } from "./text.js";

export function renderStatement(inc: Incident, lang: Lang): string {
  const m = (k: Parameters<typeof msg>[1], v: Record<string, string | number> = {}) =>
    msg(lang, k, v);
  const s = inc.summary;
  const hosts = inc.hosts.map((h) => show(h, 100)).join(", ") || m("unknown");
  const o: string[] = [];
  o.push(
    m("subject", { hosts }),
    "",
    m("greeting"),
    "",
    m("intro", { hosts, version: inc.tool.version }),
    "",
  );
  const bad = inc.bundles.filter((b) => !b.verified);
  if (bad.length > 0)
    o.push(
      m("unverified", { count: bad.length, names: bad.map((b) => show(b.name, 200)).join(", ") }),
      "",
    );

  o.push(m("sectionWhat"), m("verdictLine", { verdict: show(inc.verdict.headline, 600) }));
  o.push(
    s.entryPoint
      ? m("entryPoint", {
          text: show(s.entryPoint.text, 400),
          place: show(s.entryPoint.place, 100),
          file: `${show(s.entryPoint.file ?? "", 200)}${s.entryPoint.line !== null ? `:${s.entryPoint.line}` : ""}`,
          time: when(s.entryPoint.time),
        })
      : m("entryUnknown"),
    "",
  );

  o.push(m("sectionTraffic"));
  const t = inc.traffic;
  if (t.attackFirstSeen && t.peak) {
    o.push(
      m("trafficSeen", {
        first: when(t.attackFirstSeen),
        last: when(t.attackLastSeen),
        rate: rate(t.peak.txPacketsPerSec),
        place: show(t.peak.place, 100),
        time: when(t.peak.time),
      }),
    );
  } else o.push(m("trafficNone"));
  o.push(
    t.destinations.length > 0
      ? m("destinations", {
          list: t.destinations
            .slice(0, 20)
            .map(
              (d) =>
                `${show(d.address, 100)}:${d.port} (${show(d.proto, 20)}, ${show(d.place, 100)})`,
            )
            .join(", "),
        })
      : m("destinationsUnknown"),
    "",
  );

  o.push(m("sectionResponsible"));
  if (s.responsible.length === 0) o.push(m("responsibleNone"));
  for (const r of s.responsible.slice(0, 10)) {
    o.push(
      m("responsible", {
        place: show(r.place, 100),
        name: show(r.name, 100),
        pid: r.pid ?? "?",
        path: show(r.path ?? m("unknown"), 300),
        sha256: r.sha256 ?? m("unknown"),
      }),
    );
  }
  o.push("");

  o.push(m("sectionContainment"));
  if (inc.containment.length === 0) o.push(m("noContainment"));
  for (const c of inc.containment) {
    const v = {
      target: show(c.target, 100),
      mode: c.mode,
      verdict: c.verdict,
      time: when(c.endedAt),
    };
    o.push(c.contained ? m("contained", v) : m("notContained", v));
    o.push(
      m("proof", {
        before: c.before.length,
        after: c.after.length,
        txBefore: rate(c.trafficBefore),
        txAfter: rate(c.trafficAfter),
      }),
    );
    if (c.stillRunning.length > 0)
      o.push(
        m("stillRunning", {
          list: c.stillRunning
            .map(
              (p) =>
                `${show(p.name, 100)} (pid ${p.pid ?? "?"}, ${show(p.place, 100)}, SHA-256 ${p.sha256 ?? m("unknown")})`,
            )
            .join("; "),
        }),
      );
  }
  o.push("");

  o.push(m("sectionFixed"));
  if (inc.prevention.length === 0) o.push(m("fixedNone"));
  for (const p of inc.prevention.slice(0, 30)) o.push(`- ${show(p, 600)}`);
  o.push("");

  o.push(m("sectionEvidence"));
  for (const b of inc.bundles) {
    o.push(
      `- ${m("bundle", {
        name: show(b.name, 200),
        command: show(b.command, 300),
        start: when(b.startedAt),
        end: when(b.endedAt),
        seal: b.seal ?? m("none"),
        status: b.verified ? m("intact") : m("notIntact", { problem: show(b.problem ?? "", 300) }),
      })}`,
    );
  }
  o.push(
    "",
    m("closing"),
    "",
    m("generated", { time: when(inc.generatedAt), version: inc.tool.version }),
  );
  return `${o.join("\n")}\n`;
}
