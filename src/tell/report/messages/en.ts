/**
 * The abuse-desk statement and the incident record's fixed texts, in English. Placeholders
 * are {name}; every language file has the same keys (messages/index.ts checks it by type).
 */
export const en = {
  subject: "Statement on the abuse report for {hosts}",
  greeting: "To the abuse desk,",
  intro:
    "this statement concerns the server {hosts}. It was written from evidence collected and sealed by breachkit {version} (bundles listed at the end, each verified before use).",
  unverified:
    "WARNING: {count} evidence bundle(s) do not verify ({names}); facts taken from them may have been altered.",
  sectionWhat: "1. What happened",
  verdictLine: "Verdict of the analysis: {verdict}.",
  entryPoint: "Entry point: {text} (seen in {place}, {file}, {time}).",
  entryUnknown: "Entry point: not identified in the evidence.",
  sectionTraffic: "2. The attack traffic",
  trafficSeen:
    "First seen: {first}. Last seen: {last}. Highest rate measured: {rate} packets per second from {place} at {time}.",
  trafficNone: "No traffic at an attack's rate was measured in the evidence.",
  destinations: "Destinations: {list}.",
  destinationsUnknown: "Destinations: not recorded in the evidence.",
  sectionResponsible: "3. The responsible container and process",
  responsible: "{place}: process {name} (pid {pid}), executable {path}, SHA-256 {sha256}.",
  responsibleNone: "No single process was identified as responsible.",
  sectionContainment: "4. Containment",
  contained: "Contained at {time}: {target} by {mode} ({verdict}).",
  notContained:
    "NOT contained yet: {target} by {mode} ({verdict}). We continue and will report again.",
  noContainment: "No containment was recorded in the evidence yet.",
  proof:
    "Proof: before, {before} matching process(es) and {txBefore} packets/s sent; after, {after} matching process(es) and {txAfter} packets/s sent.",
  stillRunning: "Still running elsewhere: {list}.",
  sectionFixed: "5. What was fixed and what prevents a repeat",
  fixedNone: "Nothing recorded yet in the evidence (no audit, update or backup bundle was given).",
  sectionEvidence: "6. Evidence",
  bundle: '{name}: made by "{command}" from {start} to {end}; SEAL {seal}; {status}.',
  intact: "verified intact",
  notIntact: "DOES NOT VERIFY: {problem}",
  closing: "We remain available for any further information.",
  generated: "Generated {time} by breachkit {version}.",
  none: "none",
  unknown: "unknown",
} as const;

export type MessageKey = keyof typeof en;
export type Messages = Readonly<Record<MessageKey, string>>;
