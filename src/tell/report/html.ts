/**
 * The report as one self-contained HTML file: inline CSS and script, allowed by their hashes
 * in a Content-Security-Policy that forbids every other load (default-src 'none'). Readable on
 * a phone, printable. Every string from the host is escaped and made visible (text.ts); none
 * becomes markup, script, a link target or CSS, and no element has an event handler attribute.
 * The timeline travels as JSON data (never executed) and is drawn by the script with
 * textContent, a page at a time, so 100,000 events open quickly.
 */
import { createHash } from "node:crypto";
import { SEVERITIES, type Severity, severityRank } from "../../model/finding.js";
import {
  findingSource,
  type Incident,
  type ReportFinding,
  TIMELINE_SOURCES,
} from "../../model/report-model.js";
import { trafficSvg } from "./svg.js";
import { html, placeTitle, rate, show, when } from "./text.js";

const CSS = `
:root{--fg:#1b1b1b;--muted:#666;--line:#ddd;--crit:#b71c1c;--high:#d84315;--med:#f9a825;--low:#0277bd;--info:#78909c}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);margin:0;padding:0 12px 40px;max-width:1100px;margin-inline:auto;overflow-wrap:anywhere}
h1{font-size:1.4em;margin:.6em 0 .2em}h2{font-size:1.2em;border-bottom:2px solid var(--line);padding-bottom:.2em;margin-top:1.6em}h3{font-size:1.05em;margin:1em 0 .3em}
.verdict{padding:10px 14px;border-radius:6px;font-weight:700;font-size:1.1em;margin:10px 0}
.v-compromised{background:#ffebee;border:2px solid var(--crit);color:var(--crit)}
.v-at-risk,.v-suspicious{background:#fff8e1;border:2px solid #f57f17;color:#8d5300}
.v-clean{background:#e8f5e9;border:2px solid #2e7d32;color:#1b5e20}
.warn{background:#b71c1c;color:#fff;padding:10px 14px;border-radius:6px;font-weight:700}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;margin:8px 0;font-size:.95em}
nav a{color:#1565c0}
.muted{color:var(--muted)}
dl.kv{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0}dl.kv dt{font-weight:600}dl.kv dd{margin:0}
@media (max-width:600px){dl.kv{grid-template-columns:1fr}dl.kv dd{margin-bottom:6px}}
.scroll{overflow-x:auto;-webkit-overflow-scrolling:touch}
table{border-collapse:collapse;width:100%;font-size:.9em}th,td{border-bottom:1px solid var(--line);padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f5f5f5}
#timeline td:nth-child(-n+4),#timeline th{white-space:nowrap;overflow-wrap:normal}
.sev{white-space:nowrap}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em;word-break:break-all}
.sev{display:inline-block;min-width:5.2em;text-align:center;border-radius:3px;color:#fff;font-size:.75em;font-weight:700;padding:1px 4px;text-transform:uppercase}
.sev-critical{background:var(--crit)}.sev-high{background:var(--high)}.sev-medium{background:var(--med);color:#222}.sev-low{background:var(--low)}.sev-info{background:var(--info)}
.state{font-size:.8em;font-weight:700;padding:1px 6px;border-radius:3px;margin-left:6px}
.st-compromised{background:var(--crit);color:#fff}.st-at-risk{background:#ffe082;color:#5d4037}.st-suspicious{background:#fff3e0;color:#8d5300}
.finding{border-left:4px solid var(--line);padding:4px 10px;margin:8px 0}
.finding.f-critical{border-color:var(--crit)}.finding.f-high{border-color:var(--high)}.finding.f-medium{border-color:var(--med)}
.ev{margin:2px 0 2px 10px;font-size:.9em}
.next{margin:4px 0 0 10px;color:#1b5e20}
.filters{position:sticky;top:0;background:#fff;padding:6px 0;border-bottom:1px solid var(--line);display:flex;flex-wrap:wrap;gap:8px;align-items:center;z-index:1}
.filters label{font-size:.9em}.filters select{font-size:.95em;max-width:14em}
.hidden{display:none}
svg.plot{width:100%;height:auto;max-width:800px;border:1px solid var(--line);background:#fff}
button{font-size:.95em;padding:4px 10px;margin:8px 0}
.unverified{color:var(--crit);font-weight:700}
@media print{nav,.filters,button{display:none}body{max-width:none;font-size:11px}h2{break-after:avoid}.finding,tr{break-inside:avoid}.scroll{overflow:visible}}
`;

/**
 * The timeline's script: reads the JSON data block, draws rows with textContent only,
 * filters by place, severity and source (also the findings, by data attributes).
 */
const SCRIPT = `
(function(){
"use strict";
var data=JSON.parse(document.getElementById("bk-data").textContent);
var EV=JSON.parse(document.getElementById("bk-events").textContent);
var SEV=data.sev,SRC=data.src,PLACES=data.places,DESC=data.desc,FILES=data.files,BUNDLES=data.bundles;
var PAGE=500,shown=PAGE;
var fPlace=document.getElementById("f-place"),fSev=document.getElementById("f-sev"),fSrc=document.getElementById("f-src");
var body=document.getElementById("tl-body"),count=document.getElementById("tl-count"),more=document.getElementById("tl-more");
function cell(tr,text,cls){var td=document.createElement("td");td.textContent=text;if(cls)td.className=cls;tr.appendChild(td);return td;}
function matches(e){
  if(fPlace.value!==""&&PLACES[e[3]]!==fPlace.value)return false;
  if(e[1]<Number(fSev.value))return false;
  if(fSrc.value!==""&&SRC[e[2]]!==fSrc.value)return false;
  return true;
}
function draw(){
  var list=[];for(var i=0;i<EV.length;i++){if(matches(EV[i]))list.push(EV[i]);}
  var frag=document.createDocumentFragment();var n=Math.min(shown,list.length);
  for(var j=0;j<n;j++){var e=list[j];var tr=document.createElement("tr");
    tr.setAttribute("data-place",PLACES[e[3]]);tr.setAttribute("data-sev",SEV[e[1]]);tr.setAttribute("data-source",SRC[e[2]]);
    cell(tr,e[0].replace("T"," ").replace(/\\.\\d+Z$/,"Z").replace(/Z$/," UTC"),"mono");
    var s=cell(tr,"");var b=document.createElement("span");b.className="sev sev-"+SEV[e[1]];b.textContent=SEV[e[1]];s.appendChild(b);
    cell(tr,SRC[e[2]]);cell(tr,PLACES[e[3]]);
    var m=cell(tr,e[4]);var d=document.createElement("div");d.className="muted";d.textContent=DESC[e[5]]+(e[6]!==null?"; pid "+e[6]:"")+(e[7]?"; sha256 "+e[7]:"");m.appendChild(d);
    cell(tr,BUNDLES[e[8]]+"/"+(e[9]!==null?FILES[e[9]]:"")+(e[10]!==null?":"+e[10]:""),"mono");
    frag.appendChild(tr);}
  body.textContent="";body.appendChild(frag);
  count.textContent=list.length+" of "+EV.length+" events"+(list.length>n?", "+n+" shown":"");
  more.className=list.length>n?"":"hidden";
  var rows=document.querySelectorAll("[data-filter-row]");
  for(var k=0;k<rows.length;k++){var r=rows[k];var ok=(fPlace.value===""||r.getAttribute("data-place")===fPlace.value)&&(SEV.indexOf(r.getAttribute("data-sev"))>=Number(fSev.value))&&(fSrc.value===""||r.getAttribute("data-source")===fSrc.value);
    if(ok)r.classList.remove("hidden");else r.classList.add("hidden");}
}
function reset(){shown=PAGE;draw();}
fPlace.addEventListener("change",reset);fSev.addEventListener("change",reset);fSrc.addEventListener("change",reset);
more.addEventListener("click",function(){shown+=PAGE*4;draw();});
draw();
})();
`;

const sha = (s: string) => `'sha256-${createHash("sha256").update(s, "utf8").digest("base64")}'`;
export const CSP = `default-src 'none'; script-src ${sha(SCRIPT)}; style-src ${sha(CSS)}; img-src 'none'; font-src 'none'; connect-src 'none'; media-src 'none'; object-src 'none'; frame-src 'none'; worker-src 'none'; manifest-src 'none'; base-uri 'none'; form-action 'none'`;

/** JSON inside <script type="application/json">: nothing in it can end the element. */
const SCRIPT_UNSAFE: Record<string, string> = {
  "<": "\\u003c",
  ">": "\\u003e",
  "&": "\\u0026",
  "\u2028": "\\u2028",
  "\u2029": "\\u2029",
};
function jsonForScript(v: unknown): string {
  return JSON.stringify(v).replace(/[<>&\u2028\u2029]/g, (c) => SCRIPT_UNSAFE[c]!);
}

const sevBadge = (s: Severity) => `<span class="sev sev-${s}">${s}</span>`;
const STATE_TEXT = {
  compromised: "COMPROMISED",
  "at-risk": "AT RISK (misconfiguration, no sign of compromise)",
  suspicious: "SUSPICIOUS",
} as const;

function evidenceHtml(e: ReportFinding["evidence"][number]): string {
  const parts: string[] = [];
  if (e.pid !== undefined) parts.push(`pid ${e.pid}`);
  if (e.path !== undefined) parts.push(`<code>${html(e.path, 500)}</code>`);
  if (e.sha256 !== undefined) parts.push(`sha256 <code>${html(e.sha256, 64)}</code>`);
  if (e.file !== undefined)
    parts.push(`<code>${html(e.file, 300)}${e.line !== undefined ? `:${e.line}` : ""}</code>`);
  for (const [k, v] of Object.entries(e.facts ?? {})) parts.push(`${html(k, 60)}=${html(v, 300)}`);
  const text = e.text !== undefined ? `<div><code>${html(e.text, 1000)}</code></div>` : "";
  return `<div class="ev">${parts.join(" · ")}${text}</div>`;
}

function findingHtml(f: ReportFinding, unverified: ReadonlySet<string>): string {
  const fp = f.falsePositive
    ? ` <span class="muted">[probable false positive: ${html(f.falsePositive, 200)}]</span>`
    : "";
  const uv = unverified.has(f.bundle)
    ? ` <span class="unverified">(from a bundle that does NOT verify)</span>`
    : "";
  return `<div class="finding f-${f.severity}" data-filter-row data-place="${html(f.where, 300)}" data-sev="${f.severity}" data-source="${findingSource(f)}">${sevBadge(f.severity)} <strong>${html(f.title, 400)}</strong>${fp}${uv} <span class="muted">(${html(f.rule, 100)}, ${html(f.source, 40)}, ${f.confidence} confidence)</span>${f.evidence
    .slice(0, 8)
    .map(evidenceHtml)
    .join(
      "",
    )}${f.evidence.length > 8 ? `<div class="ev muted">… ${f.evidence.length - 8} more</div>` : ""}${f.next ? `<div class="next">→ ${html(f.next, 600)}</div>` : ""}</div>`;
}

function table(head: readonly string[], rows: readonly (readonly string[])[]): string {
  if (rows.length === 0) return '<p class="muted">None.</p>';
  return `<div class="scroll"><table><thead><tr>${head.map((h) => `<th>${h}</th>`).join("")}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${c}</td>`).join("")}</tr>`)
    .join("")}</tbody></table></div>`;
}

const procRow = (p: Incident["summary"]["responsible"][number]) => [
  html(p.place, 200),
  p.pid === null ? "—" : String(p.pid),
  `<code>${html(p.name, 100)}</code>`,
  `<code>${html(p.path ?? "—", 400)}</code>`,
  `<code>${html(p.sha256 ?? "—", 64)}</code>`,
  html(when(p.startTime)),
];
const PROC_HEAD = ["place", "pid", "name", "executable", "SHA-256", "started"];

export function renderHtml(inc: Incident): string {
  return [...htmlChunks(inc)].join("");
}

/** The page in pieces, so the timeline's data is never one string of every event. */
export function* htmlChunks(inc: Incident): Generator<string> {
  const unverified = new Set(inc.bundles.filter((b) => !b.verified).map((b) => b.name));
  const s = inc.summary;
  const o: string[] = [];
  const title = `breachkit report: ${inc.hosts.map((h) => show(h, 100)).join(", ") || "incident"}`;
  o.push(
    `<!doctype html><html lang="en"><head><meta charset="utf-8">`,
    `<meta http-equiv="Content-Security-Policy" content="${CSP}">`,
    `<meta name="viewport" content="width=device-width, initial-scale=1">`,
    `<meta name="referrer" content="no-referrer">`,
    `<title>${html(title, 200)}</title><style>${CSS}</style></head><body>`,
  );
  o.push(`<header id="top"><h1>${html(title, 200)}</h1>`);
  if (!inc.verified) {
    o.push(
      `<p class="warn" id="integrity-warning">WARNING: ${unverified.size} bundle(s) DO NOT VERIFY: ${[...unverified].map((n) => html(n, 200)).join(", ")}. What they hold is shown, marked, and may have been altered since they were sealed.</p>`,
    );
  }
  o.push(
    `<p class="verdict v-${inc.verdict.level}" id="verdict">${html(inc.verdict.headline, 600)}</p>`,
    `<p class="muted">Generated ${html(when(inc.generatedAt))} by ${html(inc.tool.name)} ${html(inc.tool.version)} from ${inc.bundles.length} bundle(s). Events from ${html(when(s.first))} to ${html(when(s.last))}.</p></header>`,
  );
  o.push(
    `<nav><a href="#summary">Summary</a>${inc.fleet ? '<a href="#hosts">Hosts</a>' : ""}<a href="#containment">Containment</a><a href="#findings">Findings</a><a href="#traffic">Traffic</a><a href="#accounts">Accounts</a><a href="#timeline">Timeline</a><a href="#audit">Audit</a><a href="#integrity">Integrity</a></nav>`,
  );

  // Summary.
  const c0 = inc.containment[0];
  o.push(`<section id="summary"><h2>Summary</h2><dl class="kv">`);
  o.push(
    `<dt>Verdict</dt><dd>${html(inc.verdict.headline, 600)}</dd>`,
    `<dt>Entry point</dt><dd>${s.entryPoint ? `${html(s.entryPoint.place)}: <code>${html(s.entryPoint.text, 600)}</code> <span class="muted">(${html(s.entryPoint.rule)}; ${html(s.entryPoint.file ?? "")}${s.entryPoint.line !== null ? `:${s.entryPoint.line}` : ""}; ${html(when(s.entryPoint.time))})</span>` : "not found in the bundles"}</dd>`,
    `<dt>What ran</dt><dd>${s.responsible.length > 0 ? s.responsible.map((r) => `<code>${html(r.name, 100)}</code> (pid ${r.pid ?? "?"}) in ${html(r.place)}, <code>${html(r.path ?? "?", 300)}</code>, sha256 <code>${html(r.sha256 ?? "unknown", 64)}</code>`).join("<br>") : "no process with a direct sign of compromise"}</dd>`,
    `<dt>Where</dt><dd>${inc.verdict.places.map((p) => `${html(p.where)}<span class="state st-${p.state}">${STATE_TEXT[p.state]}</span>`).join("<br>") || "nowhere"}</dd>`,
    `<dt>Spread</dt><dd>${s.spread.spread ? "<strong>yes</strong>: " : "no: "}${html(s.spread.text, 600)}</dd>`,
    `<dt>Contained</dt><dd>${s.containedAt ? `at ${html(when(s.containedAt))}` : s.contained === false ? "<strong>NOT contained</strong>" : "no containment in these bundles"}${c0 ? ` (${html(c0.target)}: ${html(c0.mode)}, ${html(c0.verdict)})` : ""}</dd>`,
    `<dt>Attack traffic</dt><dd>${inc.traffic.attackFirstSeen ? `first seen ${html(when(inc.traffic.attackFirstSeen))}, last seen ${html(when(inc.traffic.attackLastSeen))}` : "none measured at an attack's rate"}${inc.traffic.peak ? `; peak ${html(rate(inc.traffic.peak.txPacketsPerSec))} packets/s from ${html(inc.traffic.peak.place)} at ${html(when(inc.traffic.peak.time))}` : ""}</dd>`,
    `</dl></section>`,
  );

  // Hosts of a fleet case.
  if (inc.fleet) {
    const f = inc.fleet;
    o.push(
      `<section id="hosts"><h2>Hosts</h2><p class="muted">Fleet case <code>${html(f.case, 300)}</code> (${html(f.command, 40)} on ${f.hosts.length} hosts). Each state is as the case's case.json records it (not sealed); each bundle was verified here.</p>${table(
        ["host", "state", "bundle", "findings", "worst"],
        f.hosts.map((h) => [
          html(h.name, 120),
          `${h.state === "ok" ? "ok" : `<strong>${html(h.state, 40)}</strong>`}${h.reason ? `: ${html(h.reason, 300)}` : ""}`,
          h.bundle === null
            ? "none"
            : `<code>${html(h.bundle, 200)}</code> ${h.verified ? "verified" : '<span class="unverified">DOES NOT VERIFY</span>'}`,
          String(h.findings),
          h.worst ? sevBadge(h.worst) : "—",
        ]),
      )}</section>`,
    );
  }

  // Containment.
  o.push(`<section id="containment"><h2>Containment proof</h2>`);
  if (inc.containment.length === 0)
    o.push('<p class="muted">No containment.json in these bundles.</p>');
  for (const c of inc.containment) {
    o.push(
      `<h3>${html(c.target)}: ${html(c.mode)}: <span class="${c.contained ? "" : "unverified"}">${html(c.verdict)}</span></h3>`,
      `<p class="muted">${html(when(c.startedAt))} to ${html(when(c.endedAt))}; bundle <code>${html(c.bundle)}</code>${c.stateAfter ? `; state after: ${html(c.stateAfter)}` : ""}</p>`,
      `<dl class="kv"><dt>Packets/s sent before</dt><dd>${html(rate(c.trafficBefore))}</dd><dt>after</dt><dd>${html(rate(c.trafficAfter))}</dd><dt>Matching processes before</dt><dd>${c.before.length}</dd><dt>after</dt><dd>${c.after.length}</dd><dt>Still running elsewhere</dt><dd>${c.stillRunning.length}</dd></dl>`,
      `<h3>Before</h3>${table(PROC_HEAD, c.before.map(procRow))}`,
      `<h3>After</h3>${table(PROC_HEAD, c.after.map(procRow))}`,
    );
    if (c.stillRunning.length > 0)
      o.push(`<h3>Still running</h3>${table(PROC_HEAD, c.stillRunning.map(procRow))}`);
    o.push(
      `<h3>Actions</h3>${table(
        ["time", "action", "command", "result", "undo"],
        c.actions.map((a) => [
          html(when(a.startedAt)),
          html(a.description, 300),
          `<code>${html(a.command, 300)}</code>`,
          a.ok ? "ok" : "<strong>failed</strong>",
          `<code>${html(a.undo ?? "—", 300)}</code>`,
        ]),
      )}`,
    );
    if (c.reasons.length + c.problems.length > 0)
      o.push(
        `<ul>${[...c.reasons, ...c.problems].map((r) => `<li>${html(r, 600)}</li>`).join("")}</ul>`,
      );
  }
  o.push("</section>");

  // Filters (apply to findings and the timeline).
  const places = [
    ...new Set([...inc.findings.map((f) => f.where), ...inc.timeline.map((e) => e.place)]),
  ].sort();
  const filterBar = `<div class="filters" id="filters"><label>Place <select id="f-place"><option value="">all</option>${places
    .map((p) => `<option value="${html(p, 300)}">${html(p, 60)}</option>`)
    .join(
      "",
    )}</select></label><label>Severity <select id="f-sev">${SEVERITIES.map((sv, i) => `<option value="${i}">${i === 0 ? "all" : `${sv} and above`}</option>`).join("")}</select></label><label>Source <select id="f-src"><option value="">all</option>${TIMELINE_SOURCES.map((x) => `<option value="${x}">${x}</option>`).join("")}</select></label></div>`;

  // Findings by place.
  o.push(`<section id="findings"><h2>Findings by place</h2>${filterBar}`);
  const byPlace = new Map<string, ReportFinding[]>();
  for (const f of inc.findings) byPlace.set(f.where, [...(byPlace.get(f.where) ?? []), f]);
  const order = [...byPlace.keys()].sort((a, b) => {
    const ia = inc.verdict.places.findIndex((p) => p.where === a);
    const ib = inc.verdict.places.findIndex((p) => p.where === b);
    return (ia < 0 ? 999 : ia) - (ib < 0 ? 999 : ib) || a.localeCompare(b);
  });
  if (order.length === 0) o.push('<p class="muted">No findings.</p>');
  for (const p of order) {
    const st = inc.verdict.places.find((x) => x.where === p)?.state;
    o.push(
      `<h3>${placeTitle(p, inc.fleet !== null, (x) => html(x))}${st ? `<span class="state st-${st}">${STATE_TEXT[st]}</span>` : ""}</h3>`,
    );
    for (const f of byPlace.get(p) ?? []) o.push(findingHtml(f, unverified));
  }
  o.push("</section>");

  // Traffic.
  o.push(
    `<section id="traffic"><h2>Traffic</h2>${trafficSvg(inc.traffic.points)}<h3>Destinations</h3>${table(
      ["place", "protocol", "address", "port", "seen"],
      inc.traffic.destinations.map((d) => [
        html(d.place),
        html(d.proto, 20),
        `<code>${html(d.address, 100)}</code>`,
        String(d.port),
        String(d.count),
      ]),
    )}</section>`,
  );

  // Accounts and logins.
  o.push(`<section id="accounts"><h2>Accounts and logins</h2>`);
  o.push(
    inc.accounts.findings.length > 0
      ? inc.accounts.findings.map((f) => findingHtml(f, unverified)).join("")
      : '<p class="muted">No new accounts, keys or logins from new addresses were found.</p>',
  );
  o.push(
    `<h3>Recent logins</h3>${table(
      ["time", "place", "user", "from", "record"],
      inc.accounts.logins
        .slice(0, 50)
        .map((l) => [
          html(when(l.time)),
          html(l.place),
          html(l.user, 100),
          `<code>${html(l.from, 200)}</code>`,
          html(l.source, 20),
        ]),
    )}</section>`,
  );

  // Timeline (drawn by the script from the data block).
  o.push(
    `<section id="timeline"><h2>Timeline</h2><p class="muted">Filtered with the place, severity and source above. The complete timeline is also in timeline.csv and timeline.jsonl (Timesketch).</p><p id="tl-count" class="muted"></p><div class="scroll"><table><thead><tr><th>time</th><th>severity</th><th>source</th><th>place</th><th>event</th><th>bundle file:line</th></tr></thead><tbody id="tl-body"></tbody></table></div><button id="tl-more" type="button" class="hidden">show more</button><noscript><p>The timeline needs the page's own script; read timeline.csv instead.</p></noscript></section>`,
  );

  // Audit.
  o.push(`<section id="audit"><h2>Audit</h2>`);
  if (inc.audit.length === 0)
    o.push('<p class="muted">No audit bundle was given (breachkit audit --out DIR).</p>');
  else
    o.push(
      table(
        ["severity", "place", "check", "fix", "CIS", "cost"],
        inc.audit.map((f) => {
          const facts = Object.assign({}, ...f.evidence.map((e) => e.facts ?? {})) as Record<
            string,
            string
          >;
          return [
            sevBadge(f.severity),
            html(f.where),
            `${html(f.title, 300)} <span class="muted">(${html(f.rule, 100)})</span>`,
            `<code>${html(facts.fix ?? f.next, 600)}</code>`,
            html(facts.cis ?? "—", 40),
            html(facts.cost ?? "—", 100),
          ];
        }),
      ),
    );
  if (inc.prevention.length > 0)
    o.push(
      `<h3>What was done and what prevents a repeat</h3><ul>${inc.prevention.map((p) => `<li>${html(p, 800)}</li>`).join("")}</ul>`,
    );
  o.push("</section>");

  // Integrity.
  o.push(
    `<section id="integrity"><h2>Integrity</h2>${table(
      ["bundle", "made by", "time", "SEAL", "manifest SHA-256 now", "verify"],
      inc.bundles.map((b) => [
        `<code>${html(b.name, 200)}</code>`,
        `<code>${html(b.command, 300)}</code>`,
        `${html(when(b.startedAt))} to ${html(when(b.endedAt))}${b.complete ? "" : ` <strong>incomplete: ${html(b.incompleteReason ?? "", 200)}</strong>`}`,
        `<code>${html(b.seal ?? "missing", 64)}</code>`,
        `<code>${html(b.manifestSha256 ?? "—", 64)}</code>`,
        b.verified
          ? `intact (${b.files} files)`
          : `<span class="unverified">DOES NOT VERIFY: ${html(b.problem ?? "", 400)}</span>`,
      ]),
    )}`,
  );
  if (inc.gaps.length > 0)
    o.push(
      `<h3>Gaps</h3><ul>${inc.gaps
        .slice(0, 200)
        .map((g) => `<li>${html(g, 600)}</li>`)
        .join("")}</ul>`,
    );
  o.push("</section>");

  // The timeline's data: indexes into small tables keep 100,000 events small.
  const idx = <T>(list: T[], m: Map<T, number>, v: T) => {
    let i = m.get(v);
    if (i === undefined) {
      i = list.length;
      list.push(v);
      m.set(v, i);
    }
    return i;
  };
  const placeList: string[] = [];
  const placeIdx = new Map<string, number>();
  const descList: string[] = [];
  const descIdx = new Map<string, number>();
  const fileList: string[] = [];
  const fileIdx = new Map<string, number>();
  const bundleList: string[] = [];
  const bundleIdx = new Map<string, number>();
  const srcIdx = new Map(TIMELINE_SOURCES.map((x, i) => [x, i]));
  const row = (e: Incident["timeline"][number]) => [
    e.time,
    severityRank(e.severity),
    srcIdx.get(e.source) ?? 0,
    idx(placeList, placeIdx, show(e.place, 300)),
    show(e.message, 2000),
    idx(descList, descIdx, show(e.timestampDesc, 200)),
    e.pid,
    e.sha256 === null ? null : show(e.sha256, 64),
    idx(bundleList, bundleIdx, show(e.bundle, 300)),
    e.file === null ? null : idx(fileList, fileIdx, show(e.file, 500)),
    e.line,
  ];
  yield o.join("\n");
  // The select's values are the shown (visible) place names; keep the data in the same form.
  // Events go out a slice at a time; the small tables (places, descriptions, files, bundles)
  // they index come last, as their own JSON blocks, once every event has been seen.
  yield '\n<script type="application/json" id="bk-events">[';
  const SLICE = 5000;
  for (let i = 0; i < inc.timeline.length; i += SLICE) {
    const part = jsonForScript(inc.timeline.slice(i, i + SLICE).map(row));
    yield `${i > 0 ? "," : ""}${part.slice(1, -1)}`;
  }
  yield "]</script>\n";
  yield `<script type="application/json" id="bk-data">${jsonForScript({ sev: SEVERITIES, src: TIMELINE_SOURCES, places: placeList, desc: descList, files: fileList, bundles: bundleList })}</script>\n<script>${SCRIPT}</script></body></html>\n`;
}
