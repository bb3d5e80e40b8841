/**
 * The time a log line says it was written, for the timeline: Docker's json-file time (the
 * hunt's facts.time), an ISO 8601 stamp, a web server's [02/Dec/2026:09:00:00 +0000], or a
 * syslog "Dec  2 09:00:00" (the year taken from the bundle). null when none is found.
 */

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];

const ISO = /\b(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?)/;
const CLF = /\[(\d{2})\/([A-Za-z]{3})\/(\d{4}):(\d{2}):(\d{2}):(\d{2}) ([+-])(\d{2})(\d{2})\]/;
const SYSLOG = /^([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d{2}):(\d{2}):(\d{2})\b/;

/** ISO 8601 UTC, or null. */
const CANONICAL = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

export function isoOrNull(t: string | null | undefined): string | null {
  if (!t) return null;
  const ms = Date.parse(t);
  if (Number.isNaN(ms)) return null;
  // Docker's "0001-01-01T00:00:00Z" means "never".
  if (ms < Date.UTC(1971, 0, 1)) return null;
  // Already in the one form (what breachkit writes): no second conversion.
  return CANONICAL.test(t) ? t : new Date(ms).toISOString();
}

export function logLineTime(text: string, yearOf: string | null): string | null {
  const iso = ISO.exec(text);
  if (iso) {
    const s = iso[1]!.replace(" ", "T");
    // A stamp with no zone is taken as UTC (said in the timeline's description).
    const t = isoOrNull(/Z|[+-]\d{2}:?\d{2}$/.test(s) ? s : `${s}Z`);
    if (t) return t;
  }
  const clf = CLF.exec(text);
  if (clf) {
    const [, d, mon, y, hh, mm, ss, sign, oh, om] = clf;
    const m = MONTHS.indexOf(mon!.toLowerCase());
    if (m >= 0) {
      const utc = Date.UTC(Number(y), m, Number(d), Number(hh), Number(mm), Number(ss));
      const off = (Number(oh) * 60 + Number(om)) * 60_000 * (sign === "+" ? 1 : -1);
      return isoOrNull(new Date(utc - off).toISOString());
    }
  }
  const sys = SYSLOG.exec(text);
  if (sys && yearOf) {
    const m = MONTHS.indexOf(sys[1]!.toLowerCase());
    const y = new Date(yearOf).getUTCFullYear();
    if (m >= 0 && Number.isFinite(y)) {
      return isoOrNull(
        new Date(
          Date.UTC(y, m, Number(sys[2]), Number(sys[3]), Number(sys[4]), Number(sys[5])),
        ).toISOString(),
      );
    }
  }
  return null;
}
