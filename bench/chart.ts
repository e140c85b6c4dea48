/**
 * A hand-written SVG line chart of the growth scenario: each series against the messages
 * stored, log-scale x (the empty store drawn one decade left of the first step, labelled 0).
 * Two panels, because milliseconds and acks per second do not share an axis.
 */
import type { GrowthStep } from './growth.js';

interface Series {
  name: string;
  color: string;
  pick: (s: GrowthStep) => number;
  dashed?: boolean;
}

const LATENCY: Series[] = [
  { name: 'newest page p50', color: '#1f77b4', pick: (s) => s.newestPageMs.p50 },
  { name: 'middle page p50', color: '#ff7f0e', pick: (s) => s.middlePageMs.p50 },
  { name: 'afterSeq page p50', color: '#2ca02c', pick: (s) => s.afterSeqPageMs.p50 },
  { name: 'conversation list p50', color: '#d62728', pick: (s) => s.conversationListMs.p50 },
  { name: 'control (users/info) p50', color: '#7f7f7f', pick: (s) => s.controlMs.p50, dashed: true },
];
const THROUGHPUT: Series[] = [{ name: 'append acks/s', color: '#9467bd', pick: (s) => s.acksPerSec }];

const W = 440;
const H = 300;
const M = { left: 56, right: 14, top: 34, bottom: 64 };

const esc = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function label(n: number): string {
  if (n === 0) return '0';
  if (n >= 1e6) return `${n / 1e6}M`;
  if (n >= 1e3) return `${n / 1e3}k`;
  return n >= 10 ? String(Math.round(n)) : String(Number(n.toPrecision(2)));
}

function panel(steps: readonly GrowthStep[], series: readonly Series[], title: string, unit: string, dx: number): string {
  const positive = steps.map((s) => s.messages).filter((m) => m > 0);
  const smallest = positive.length > 0 ? Math.min(...positive) : 10;
  const largest = positive.length > 0 ? Math.max(...positive) : 10;
  const lo = Math.floor(Math.log10(smallest)) - (steps.some((s) => s.messages === 0) ? 1 : 0);
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(largest)));
  const xOf = (m: number) => {
    const decade = m > 0 ? Math.log10(m) : lo;
    return dx + M.left + ((decade - lo) / (hi - lo)) * (W - M.left - M.right);
  };
  const yMax = niceMax(Math.max(...series.flatMap((s) => steps.map(s.pick)).filter(Number.isFinite), 0));
  const yOf = (v: number) => M.top + (1 - v / yMax) * (H - M.top - M.bottom);
  const out: string[] = [];
  out.push(`<text x="${dx + M.left}" y="20" font-size="13" font-weight="bold">${esc(title)}</text>`);
  // Five divisions: every niceMax splits into round tick values.
  for (let i = 0; i <= 5; i++) {
    const v = (yMax * i) / 5;
    const y = yOf(v);
    out.push(`<line x1="${dx + M.left}" x2="${dx + W - M.right}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<text x="${dx + M.left - 6}" y="${y + 4}" font-size="11" text-anchor="end">${label(v)}</text>`);
  }
  for (let d = lo; d <= hi; d++) {
    const m = d === lo && steps.some((s) => s.messages === 0) ? 0 : 10 ** d;
    const x = xOf(m);
    out.push(`<line x1="${x}" x2="${x}" y1="${M.top}" y2="${H - M.bottom}" stroke="#eee"/>`);
    out.push(`<text x="${x}" y="${H - M.bottom + 15}" font-size="11" text-anchor="middle">${label(m)}</text>`);
  }
  out.push(`<text x="${dx + (M.left + W - M.right) / 2}" y="${H - M.bottom + 31}" font-size="11" text-anchor="middle">messages stored (log scale)</text>`);
  out.push(`<text x="${dx + 12}" y="${(M.top + H - M.bottom) / 2}" font-size="11" text-anchor="middle" transform="rotate(-90 ${dx + 12} ${(M.top + H - M.bottom) / 2})">${esc(unit)}</text>`);
  out.push(`<rect x="${dx + M.left}" y="${M.top}" width="${W - M.left - M.right}" height="${H - M.top - M.bottom}" fill="none" stroke="#999"/>`);
  series.forEach((s, i) => {
    const points = steps.filter((step) => Number.isFinite(s.pick(step))).map((step) => `${xOf(step.messages).toFixed(1)},${yOf(s.pick(step)).toFixed(1)}`);
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${points.join(' ')}"/>`);
    for (const p of points) {
      const [x, y] = p.split(',');
      out.push(`<circle cx="${x}" cy="${y}" r="3" fill="${s.color}"/>`);
    }
    const lx = dx + M.left + (i % 2) * 190;
    const ly = H - 20 + Math.floor(i / 2) * 13;
    out.push(`<line x1="${lx}" x2="${lx + 16}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    out.push(`<text x="${lx + 20}" y="${ly}" font-size="11">${esc(s.name)}</text>`);
  });
  return out.join('\n');
}

/** The growth chart: request latency (ms) on the left, append throughput on the right. */
export function growthChart(title: string, steps: readonly GrowthStep[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H + 40}" viewBox="0 0 ${2 * W} ${H + 40}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<g transform="translate(0 24)">`,
    panel(steps, LATENCY, 'Request latency, p50 of sequential requests', 'ms', 0),
    panel(steps, THROUGHPUT, 'Append throughput, closed-loop WebSocket burst', 'acks/s', W),
    `</g>`,
    `<text x="8" y="16" font-size="12" fill="#444">${esc(title)}</text>`,
    `</svg>`,
    '',
  ].join('\n');
}
