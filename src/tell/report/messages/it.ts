/** I testi della dichiarazione per l'abuse desk e del registro dell'incidente, in italiano. */
import type { Messages } from "./en.js";

export const it: Messages = {
  subject: "Dichiarazione sulla segnalazione di abuso per {hosts}",
  greeting: "Gentile abuse desk,",
  intro:
    "questa dichiarazione riguarda il server {hosts}. È stata redatta a partire dalle prove raccolte e sigillate da breachkit {version} (i pacchetti di prove sono elencati in fondo, ciascuno verificato prima dell'uso).",
  unverified:
    "ATTENZIONE: {count} pacchetto/i di prove non superano la verifica ({names}); i dati presi da essi potrebbero essere stati alterati.",
  sectionWhat: "1. Che cosa è successo",
  verdictLine: "Esito dell'analisi: {verdict}.",
  entryPoint: "Punto di ingresso: {text} (visto in {place}, {file}, {time}).",
  entryUnknown: "Punto di ingresso: non identificato nelle prove.",
  sectionTraffic: "2. Il traffico dell'attacco",
  trafficSeen:
    "Visto per la prima volta: {first}. Visto per l'ultima volta: {last}. Frequenza massima misurata: {rate} pacchetti al secondo da {place} alle {time}.",
  trafficNone: "Nelle prove non è stato misurato traffico con la frequenza di un attacco.",
  destinations: "Destinazioni: {list}.",
  destinationsUnknown: "Destinazioni: non registrate nelle prove.",
  sectionResponsible: "3. Il container e il processo responsabili",
  responsible: "{place}: processo {name} (pid {pid}), eseguibile {path}, SHA-256 {sha256}.",
  responsibleNone: "Non è stato identificato un singolo processo responsabile.",
  sectionContainment: "4. Contenimento",
  contained: "Contenuto alle {time}: {target} con {mode} ({verdict}).",
  notContained:
    "NON ancora contenuto: {target} con {mode} ({verdict}). Proseguiamo e vi aggiorneremo.",
  noContainment: "Nelle prove non è ancora registrato alcun contenimento.",
  proof:
    "Prova: prima, {before} processo/i corrispondenti e {txBefore} pacchetti/s inviati; dopo, {after} processo/i corrispondenti e {txAfter} pacchetti/s inviati.",
  stillRunning: "Ancora in esecuzione altrove: {list}.",
  sectionFixed: "5. Che cosa è stato corretto e che cosa impedisce che si ripeta",
  fixedNone:
    "Nelle prove non è ancora registrato nulla (non è stato fornito alcun pacchetto di audit, aggiornamento o backup).",
  sectionEvidence: "6. Prove",
  bundle: '{name}: creato da "{command}" dalle {start} alle {end}; SEAL {seal}; {status}.',
  intact: "verificato integro",
  notIntact: "NON SUPERA LA VERIFICA: {problem}",
  closing: "Restiamo a disposizione per qualsiasi ulteriore informazione.",
  generated: "Generato il {time} da breachkit {version}.",
  none: "nessuno",
  unknown: "sconosciuto",
};
