/**
 * The traffic plot: packets/s sent per place over the time the bundles and recordings cover,
 * drawn as SVG from the data (no script, no external font or image). One sample time only
 * (a single triage) gives a bar per place.
 */
import type { TrafficPoint } from "../../model/report-model.js";
import { html, rate, when } from "./text.js";

const COLORS = [
  "#c62828",
  "#1565c0",
  "#2e7d32",
  "#ef6c00",
  "#6a1b9a",
  "#00838f",
  "#4e342e",
  "#ad1457",
];
const W = 800;
const H = 320;
const L = 70;
const R = 20;
const T = 20;
const B = 60;
const MAX_SERIES = 8;

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function trafficSvg(points: readonly TrafficPoint[]): string {
  if (points.length === 0) return '<p class="muted">No traffic was measured in these bundles.</p>';
  const byPlace = new Map<string, TrafficPoint[]>();
  for (const p of points) {
    const l = byPlace.get(p.place) ?? [];
    l.push(p);
    byPlace.set(p.place, l);
  }
  const series = [...byPlace.entries()]
    .map(([place, ps]) => ({ place, ps, max: Math.max(...ps.map((p) => p.txPacketsPerSec)) }))
    .sort((a, b) => b.max - a.max)
    .slice(0, MAX_SERIES);
  const yMax = niceMax(Math.max(...series.map((s) => s.max)));
  const times = points.map((p) => Date.parse(p.time));
  const t0 = Math.min(...times);
  const t1 = Math.max(...times);
  const pw = W - L - R;
  const ph = H - T - B;
  const y = (v: number) => T + ph - (Math.max(0, v) / yMax) * ph;
  const out: string[] = [];
  out.push(
    `<svg class="plot" viewBox="0 0 ${W} ${H}" role="img" aria-label="packets per second sent, per place" xmlns="http://www.w3.org/2000/svg">`,
  );
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out.push(
      `<line x1="${L}" x2="${W - R}" y1="${y(v).toFixed(1)}" y2="${y(v).toFixed(1)}" stroke="#ddd"/>`,
      `<text x="${L - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#555">${html(rate(v))}</text>`,
    );
  }
  out.push(
    `<text x="12" y="${T + ph / 2}" font-size="11" fill="#555" transform="rotate(-90 12 ${T + ph / 2})" text-anchor="middle">packets/s sent</text>`,
  );
  if (t1 === t0) {
    // One sample time: a bar per place.
    const bw = Math.min(80, pw / (series.length * 1.5));
    series.forEach((s, i) => {
      const x = L + (pw / series.length) * (i + 0.5) - bw / 2;
      const v = s.ps[0]!.txPacketsPerSec;
      out.push(
        `<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${bw.toFixed(1)}" height="${(T + ph - y(v)).toFixed(1)}" fill="${COLORS[i % COLORS.length]}"><title>${html(s.place)}: ${html(rate(v))} packets/s at ${html(when(s.ps[0]!.time))}</title></rect>`,
        `<text x="${(x + bw / 2).toFixed(1)}" y="${H - B + 16}" font-size="11" text-anchor="middle">${html(s.place, 30)}</text>`,
      );
    });
    out.push(
      `<text x="${L}" y="${H - 10}" font-size="11" fill="#555">one sample at ${html(when(points[0]!.time))}</text>`,
    );
  } else {
    const x = (t: number) => L + ((t - t0) / (t1 - t0)) * pw;
    for (const [i, t] of [t0, (t0 + t1) / 2, t1].entries()) {
      out.push(
        `<text x="${x(t).toFixed(1)}" y="${H - B + 16}" font-size="11" fill="#555" text-anchor="${["start", "middle", "end"][i]}">${html(when(new Date(t).toISOString()))}</text>`,
      );
    }
    series.forEach((s, i) => {
      const c = COLORS[i % COLORS.length];
      const pts = s.ps.map(
        (p) => `${x(Date.parse(p.time)).toFixed(1)},${y(p.txPacketsPerSec).toFixed(1)}`,
      );
      out.push(`<polyline fill="none" stroke="${c}" stroke-width="2" points="${pts.join(" ")}"/>`);
      if (s.ps.length <= 400) {
        for (const p of s.ps) {
          out.push(
            `<circle cx="${x(Date.parse(p.time)).toFixed(1)}" cy="${y(p.txPacketsPerSec).toFixed(1)}" r="3" fill="${c}"><title>${html(s.place)}: ${html(rate(p.txPacketsPerSec))} packets/s at ${html(when(p.time))} (${html(p.origin)})</title></circle>`,
          );
        }
      }
    });
  }
  // Legend.
  series.forEach((s, i) => {
    const lx = L + (i % 4) * 180;
    const ly = H - 26 + Math.floor(i / 4) * 14;
    out.push(
      `<rect x="${lx}" y="${ly - 9}" width="10" height="10" fill="${COLORS[i % COLORS.length]}"/>`,
      `<text x="${lx + 14}" y="${ly}" font-size="11">${html(s.place, 24)} (max ${html(rate(s.max))})</text>`,
    );
  });
  out.push("</svg>");
  return out.join("");
}
