/**
 * Container configuration that makes a breach worse (an escape to the host is one step
 * away), and containers that can recreate others (wiping the evidence in their writable
 * layers). A stopped container's settings matter less: one level lower.
 */
import type { Evidence, Finding, Severity } from "../../model/finding.js";
import type { Container, Snapshot } from "../../model/snapshot.js";
import type { RuleContext } from "../context.js";
import { finding } from "../facts.js";
import { normCapability } from "../rule-lists.js";

const LOWER: Record<Severity, Severity> = {
  critical: "high",
  high: "medium",
  medium: "low",
  low: "info",
  info: "info",
};

function cfgFinding(
  c: Container,
  rule: string,
  severity: Severity,
  title: string,
  evidence: Evidence[],
  next: string,
): Finding {
  return finding({
    rule,
    severity: c.running ? severity : LOWER[severity],
    confidence: "high",
    title: c.running ? title : `${title} (not running)`,
    where: c.name,
    containerId: c.id,
    evidence,
    next,
  });
}

export function containerConfigRule(snap: Snapshot, ctx: RuleContext): Finding[] {
  const out: Finding[] = [];
  for (const c of snap.containers) {
    const fix = `After the incident, recreate ${c.name} without it.`;
    if (c.privileged) {
      out.push(
        cfgFinding(
          c,
          "container.privileged",
          "high",
          `${c.name} runs privileged: root in it is root on the host`,
          [{ facts: { privileged: "true", image: c.image } }],
          `Assume the host is reachable from ${c.name}: check the host too. ${fix}`,
        ),
      );
    }
    const sock = c.mounts.filter((m) => m.dockerSocket);
    if (sock.length) {
      out.push(
        cfgFinding(
          c,
          "container.docker-socket",
          "high",
          `${c.name} has the Docker socket mounted (${sock.map((m) => m.destination).join(", ")}): full control of the host`,
          sock.map((m) => ({
            path: m.source,
            facts: { destination: m.destination, rw: String(m.rw) },
          })),
          `Whoever controls ${c.name} controls every container and the host. ${fix}`,
        ),
      );
    }
    if (c.networkMode === "host") {
      out.push(
        cfgFinding(
          c,
          "container.host-network",
          "medium",
          `${c.name} shares the host's network namespace`,
          [{ facts: { networkMode: c.networkMode } }],
          `It sees every host interface, and \`docker network disconnect\` cannot isolate it: pause it to contain it. ${fix}`,
        ),
      );
    }
    if (c.pidMode === "host") {
      out.push(
        cfgFinding(
          c,
          "container.host-pid",
          "medium",
          `${c.name} shares the host's PID namespace`,
          [{ facts: { pidMode: c.pidMode } }],
          `It sees (and with enough rights signals or traces) every host process. ${fix}`,
        ),
      );
    }
    const sensitive = c.mounts.filter((m) => m.sensitive && m.rw && !m.dockerSocket);
    if (sensitive.length) {
      out.push(
        cfgFinding(
          c,
          "container.sensitive-mount",
          "high",
          `${c.name} mounts host path${sensitive.length > 1 ? "s" : ""} ${sensitive.map((m) => m.source).join(", ")} read-write`,
          sensitive.map((m) => ({
            path: m.source,
            facts: { destination: m.destination, rw: "true" },
          })),
          `Check those host paths for changes made from the container (cron, ssh keys, binaries). ${fix}`,
        ),
      );
    }
    // Capabilities that reach outside the container; the host group is a takeover.
    const caps = c.capAdd.map(normCapability);
    const hostCaps = caps.filter((x) => ctx.lists.hostCapabilities.has(x));
    const risky = caps.filter((x) => ctx.lists.riskyCapabilities.has(x));
    if (hostCaps.length || risky.length) {
      out.push(
        cfgFinding(
          c,
          "container.dangerous-caps",
          hostCaps.length ? "high" : "medium",
          `${c.name} adds capabilities ${[...hostCaps, ...risky].join(", ")}`,
          [{ facts: { capAdd: c.capAdd.join(",") } }],
          `${hostCaps.length ? "These reach the host kernel. " : ""}${fix}`,
        ),
      );
    }
    const watchtower = /watchtower/i.test(c.image) || /watchtower/i.test(c.name);
    if (watchtower || sock.length) {
      out.push(
        finding({
          rule: "container.can-recreate",
          severity: c.running ? "medium" : "info",
          confidence: watchtower ? "high" : "medium",
          title: `${c.name} can recreate other containers${watchtower ? " (Watchtower)" : " (Docker socket)"}: it could wipe their writable layers`,
          where: c.name,
          containerId: c.id,
          evidence: [{ facts: { image: c.image, dockerSocket: String(sock.length > 0) } }],
          next: c.running
            ? `Pause it before collecting evidence: \`docker pause ${c.name}\` (unpause when done).`
            : "Keep it stopped until evidence is collected.",
        }),
      );
    }
  }
  return out;
}
