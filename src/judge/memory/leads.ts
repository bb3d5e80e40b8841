/**
 * The indicators found in memory dumps (collect --memory, contain), as triage and report show
 * them: leads, never verdicts. A process's memory holds every string it ever read (library
 * docs, configuration, its peers' addresses), so an address found there is something to check
 * against the traffic and the logs, not proof of anything: severity low, confidence low.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Finding } from "../../model/finding.js";
import { MemoryDumpSchema } from "../../model/memory-dump.js";
import { z } from "../../util/zod.js";

export const MEMORY_LEADS_RULE = "memory.leads";
const MAX_INDEX_BYTES = 16 * 1024 * 1024;
const MAX_IOCS_BYTES = 4 * 1024 * 1024;
/** Values shown in the finding's evidence; the file holds them all. */
const SHOWN = 12;

export interface MemoryLeadsResult {
  findings: Finding[];
  gaps: { path: string; message: string }[];
}

/**
 * One finding per dumped process whose memory held addresses, URLs or domains, read from
 * the bundle's memory/index.json and memory/<pid>.iocs.txt. A bundle without dumps gives none.
 */
export async function memoryLeads(dir: string): Promise<MemoryLeadsResult> {
  const gaps: MemoryLeadsResult["gaps"] = [];
  const indexPath = "memory/index.json";
  let text: string;
  try {
    text = await readFile(join(dir, indexPath), "utf8");
  } catch {
    return { findings: [], gaps };
  }
  if (text.length > MAX_INDEX_BYTES) {
    return { findings: [], gaps: [{ path: indexPath, message: "larger than 16 MiB: not read" }] };
  }
  let records: z.infer<typeof MemoryDumpSchema>[];
  try {
    records = z.array(MemoryDumpSchema).parse(JSON.parse(text));
  } catch (e) {
    return {
      findings: [],
      gaps: [
        { path: indexPath, message: `not a list of memory dumps: ${String(e).slice(0, 200)}` },
      ],
    };
  }
  const findings: Finding[] = [];
  for (const r of records) {
    if (r.iocsFile === null || !/^memory\/\d+\.iocs\.txt$/.test(r.iocsFile)) continue;
    let iocs: string;
    try {
      iocs = (await readFile(join(dir, r.iocsFile), "utf8")).slice(0, MAX_IOCS_BYTES);
    } catch (e) {
      gaps.push({ path: r.iocsFile, message: `cannot be read: ${String(e).slice(0, 200)}` });
      continue;
    }
    const values = iocs
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => /^(ip|url|domain):/.test(l));
    if (values.length === 0) continue;
    const count = (k: string) => values.filter((v) => v.startsWith(`${k}:`)).length;
    findings.push({
      rule: MEMORY_LEADS_RULE,
      severity: "low",
      confidence: "low",
      title: `The memory of pid ${r.pid} (${r.comm ?? "?"}) holds ${count("ip")} addresses, ${count("url")} URLs and ${count("domain")} domains: leads to check`,
      where: r.containerName ?? "host",
      containerId: r.containerId,
      evidence: [
        {
          pid: r.pid,
          file: r.iocsFile,
          text: values.slice(0, SHOWN).join(" "),
          facts: {
            core: r.file ?? "none",
            "core sha256": r.sha256 ?? "none",
            indicators: String(values.length),
          },
        },
      ],
      next: `Leads, not verdicts: compare them with the traffic and the logs (breachkit triage --bundle DIR --ioc ${r.iocsFile} hunts them), and look for the command server among them.`,
      source: "memory",
      falsePositive: null,
    });
  }
  return { findings, gaps };
}
