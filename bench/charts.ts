// Charts for the benchmark's Markdown report, as standalone SVG files (no script, no network, viewable
// in any browser or Markdown viewer): images/s per row beside the peers (log scale, since rows span
// 100×), and each row's per-kernel share of GPU time (stacked to 100%), so that a win or a regression
// shows at a glance.
import type { RowResult } from './report.js';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const PALETTE = ['#4e79a7', '#f28e2b', '#59a14f', '#e15759', '#76b7b2', '#edc948', '#b07aa1', '#ff9da7', '#9c755f'];

interface Series {
  name: string;
  color: string;
  value: (r: RowResult) => number | undefined;
}

/** Grouped horizontal bars of img/s per row (ours, the WebGPU peer, the native reference), log-scaled. */
export function throughputSvg(rows: RowResult[]): string {
  const ok = rows.filter((r) => !r.error);
  const all: Series[] = [
    { name: 'wgsl-vit', color: PALETTE[0]!, value: (r) => r.imagesPerSec },
    {
      name: ok.find((r) => r.peer?.name)?.peer?.name ?? 'peer',
      color: PALETTE[1]!,
      value: (r) => r.peer?.imagesPerSec,
    },
    {
      name: ok.find((r) => r.native?.name)?.native?.name ?? 'native',
      color: PALETTE[2]!,
      value: (r) => r.native?.imagesPerSec,
    },
  ];
  const series = all.filter((s) => ok.some((r) => s.value(r) !== undefined));
  const values = ok.flatMap((r) => series.map((s) => s.value(r))).filter((v): v is number => !!v && v > 0);
  if (values.length === 0) return '';
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values))));
  const label = 230,
    plot = 520,
    bar = 12,
    group = series.length * bar + 10,
    top = 30 + 16 * series.length;
  const height = top + ok.length * group + 30;
  const x = (v: number) => label + (plot * Math.log10(v / lo)) / Math.log10(hi / lo);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${label + plot + 90}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<text x="4" y="14" font-size="13" font-weight="bold">images/s per row (log scale)</text>`,
  );
  series.forEach((s, i) =>
    out.push(
      `<rect x="4" y="${22 + 16 * i}" width="10" height="10" fill="${s.color}"/><text x="18" y="${31 + 16 * i}">${esc(s.name)}</text>`,
    ),
  );
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    out.push(
      `<line x1="${x(d)}" y1="${top - 4}" x2="${x(d)}" y2="${height - 24}" stroke="#ccc"/>`,
      `<text x="${x(d)}" y="${height - 10}" text-anchor="middle">${d >= 1 ? d.toFixed(0) : d}</text>`,
    );
  }
  ok.forEach((r, i) => {
    const y0 = top + i * group;
    out.push(
      `<text x="${label - 6}" y="${y0 + (series.length * bar) / 2 + 4}" text-anchor="end">${esc(rowName(r))}</text>`,
    );
    series.forEach((s, j) => {
      const v = s.value(r);
      if (!v) return;
      const w = Math.max(1, x(v) - label);
      out.push(
        `<rect x="${label}" y="${y0 + j * bar}" width="${w.toFixed(1)}" height="${bar - 2}" fill="${s.color}"><title>${esc(s.name)}: ${v.toFixed(2)} img/s</title></rect>`,
        `<text x="${(label + w + 4).toFixed(1)}" y="${y0 + j * bar + 9}">${v.toFixed(2)}</text>`,
      );
    });
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

/** One stacked bar per row: each kernel's share of the row's GPU time (timestamp queries). */
export function kernelShareSvg(rows: RowResult[]): string {
  const ok = rows.filter((r) => !r.error && r.perKernelMs && Object.keys(r.perKernelMs).length > 0);
  if (ok.length === 0) return '';
  const totals = new Map<string, number>();
  for (const r of ok) for (const [k, ms] of Object.entries(r.perKernelMs)) totals.set(k, (totals.get(k) ?? 0) + ms);
  const kernels = [...totals.keys()].sort((a, b) => totals.get(b)! - totals.get(a)!);
  const color = (k: string) => PALETTE[kernels.indexOf(k) % PALETTE.length]!;
  const label = 230,
    plot = 520,
    bar = 16,
    legendRows = Math.ceil(kernels.length / 3),
    top = 28 + 16 * legendRows;
  const height = top + ok.length * (bar + 6) + 10;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${label + plot + 20}" height="${height}" font-family="sans-serif" font-size="11">`,
    `<text x="4" y="14" font-size="13" font-weight="bold">share of GPU time per kernel</text>`,
  ];
  kernels.forEach((k, i) => {
    const lx = 4 + (i % 3) * 250,
      ly = 22 + 16 * Math.floor(i / 3);
    out.push(
      `<rect x="${lx}" y="${ly}" width="10" height="10" fill="${color(k)}"/><text x="${lx + 14}" y="${ly + 9}">${esc(k)}</text>`,
    );
  });
  ok.forEach((r, i) => {
    const y = top + i * (bar + 6);
    const total = Object.values(r.perKernelMs).reduce((a, b) => a + b, 0);
    out.push(`<text x="${label - 6}" y="${y + 12}" text-anchor="end">${esc(rowName(r))}</text>`);
    let at = label;
    for (const k of kernels) {
      const ms = r.perKernelMs[k];
      if (!ms) continue;
      const w = (plot * ms) / total;
      out.push(
        `<rect x="${at.toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${bar}" fill="${color(k)}"><title>${esc(k)}: ${ms.toFixed(1)} ms (${((100 * ms) / total).toFixed(0)}%)</title></rect>`,
      );
      if (w > 34)
        out.push(
          `<text x="${(at + 3).toFixed(1)}" y="${y + 12}" fill="#fff">${((100 * ms) / total).toFixed(0)}%</text>`,
        );
      at += w;
    }
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}

const rowName = (r: RowResult) => `${r.label} @${r.resolution} ×${r.batch}`;
