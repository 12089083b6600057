import { describe, expect, it } from 'vitest';
import { kernelShareSvg, throughputSvg } from '../../bench/charts.js';
import type { RowResult } from '../../bench/report.js';

const row = (label: string, ips: number, peer: number | null, perKernelMs: Record<string, number>) =>
  ({
    label,
    resolution: 224,
    batch: 1,
    imagesPerSec: ips,
    perKernelMs,
    peer: peer === null ? null : { name: 'ORT Web WebGPU EP', imagesPerSec: peer },
  }) as unknown as RowResult;

describe('benchmark charts (SVG)', () => {
  const rows = [
    row('ti-16', 6.5, 0.8, { gemm_texture: 70, attention_texture: 30 }),
    row('h-14', 9, null, { gemm_texture: 1 }),
  ];
  it('draws one bar per row and runtime, with its value, on a log axis spanning all of them', () => {
    const svg = throughputSvg(rows);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(3); // 2 rows of ours + 1 peer value
    expect(svg).toContain('wgsl-vit: 6.50 img/s');
    expect(svg).toContain('ORT Web WebGPU EP: 0.80 img/s');
    expect(svg).toMatch(/>0\.1<\/text>[\s\S]*>10<\/text>/); // decades 0.1 .. 10 cover 0.8 .. 9
    expect(throughputSvg([])).toBe('');
  });
  it('stacks each row to its kernels’ shares of GPU time', () => {
    const svg = kernelShareSvg(rows);
    expect(svg).toContain('gemm_texture: 70.0 ms (70%)');
    expect(svg).toContain('attention_texture: 30.0 ms (30%)');
    expect(svg).toContain('gemm_texture: 1.0 ms (100%)');
    // Widths of a row's segments add up to the plot width.
    const widths = [
      ...svg.matchAll(
        /width="([\d.]+)" height="16" fill="[^"]+"><title>(gemm|attention)_texture: [\d.]+ ms \((70|30)%/g,
      ),
    ].map((m) => Number(m[1]));
    expect(widths.reduce((a, b) => a + b, 0)).toBeCloseTo(520, 0);
  });
});
