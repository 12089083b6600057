// The host side of the f16 / q8 weight formats (src/kernels/program/weight-format.ts, src/half.ts):
// the conversions every fp16 / q8 model and converted file depends on, checked exhaustively where
// the domain is small (every half) and at the rounding edges.
import { describe, expect, it } from 'vitest';
import {
  bf16ToF16Bits,
  dequantize,
  f16BitsToF32,
  f32ToF16Bits,
  packWeight,
  quantizeQ8,
  weightRowWords,
} from '../../src/kernels/program/weight-format.js';
import { rng } from '../helpers/gpu.js';

describe('binary16 conversion', () => {
  it('round-trips every finite half and every infinity; NaN stays NaN', () => {
    for (let h = 0; h < 0x10000; h++) {
      const v = f16BitsToF32(h);
      if (Number.isNaN(v)) expect(Number.isNaN(f16BitsToF32(f32ToF16Bits(v)))).toBe(true);
      else expect(f32ToF16Bits(v), `half 0x${h.toString(16)}`).toBe(h);
    }
  });
  it('rounds to nearest, ties to even, in the normal and subnormal ranges, and overflows to infinity', () => {
    expect(f32ToF16Bits(1 + 2 ** -11)).toBe(0x3c00); // tie between 1 and 1 + 2^-10: even (1)
    expect(f32ToF16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie: even (1 + 2^-9)
    expect(f32ToF16Bits(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // just above the tie
    expect(f32ToF16Bits(2 - 2 ** -12)).toBe(0x4000); // rounds up into the next binade
    expect(f32ToF16Bits(65504)).toBe(0x7bff);
    expect(f32ToF16Bits(65519.99)).toBe(0x7bff);
    expect(f32ToF16Bits(65520)).toBe(0x7c00); // the tie above the largest half: even is infinity
    expect(f32ToF16Bits(-1e6)).toBe(0xfc00);
    expect(f32ToF16Bits(2 ** -24)).toBe(0x0001);
    expect(f32ToF16Bits(2 ** -25)).toBe(0x0000); // tie between 0 and the smallest subnormal: even
    expect(f32ToF16Bits(3 * 2 ** -25)).toBe(0x0002); // tie between 1 and 2 ulps: even
    expect(f32ToF16Bits(-0)).toBe(0x8000);
  });
  it('bfloat16 goes to the nearest half', () => {
    expect(bf16ToF16Bits(0x3fc0)).toBe(0x3e00); // 1.5
    expect(bf16ToF16Bits(0x4780)).toBe(0x7c00); // 65536: beyond the halves
    expect(bf16ToF16Bits(0xbf80)).toBe(0xbc00); // -1
  });
});

describe('q8 quantization', () => {
  it('per row: the largest |w| maps to ±127, every value within half a step, an all-zero row to scale 0', () => {
    const r = rng(3);
    const rows = 5,
      K = 37;
    const w = r.normals(rows * K, 0.1);
    w.fill(0, 2 * K, 3 * K);
    const q = quantizeQ8(w, rows, K);
    const back = dequantize(q, rows, K);
    expect(q.scale[2]).toBe(0);
    for (let i = 0; i < rows; i++) {
      const row = Array.from(w.subarray(i * K, (i + 1) * K));
      const max = Math.max(...row.map(Math.abs));
      expect(q.scale[i]).toBe(Math.fround(max / 127));
      if (max > 0) expect(Math.max(...Array.from(q.q.subarray(i * K, (i + 1) * K)).map(Math.abs))).toBe(127);
      for (let k = 0; k < K; k++) {
        const e = Math.abs(back[i * K + k]! - w[i * K + k]!);
        expect(e).toBeLessThanOrEqual(q.scale[i]! / 2 + 1e-9);
      }
    }
    expect(q.q.every((v) => v >= -127 && v <= 127)).toBe(true);
  });
});

describe('packed layout', () => {
  it('f16: two halves per word, low first, rows padded to 8 values; q8: four bytes per word, rows padded to 16', () => {
    const K = 3;
    const h = Uint16Array.from([0x3c00, 0x4000, 0x4200, 0xbc00, 0x0000, 0x3800]); // [2, 3]
    const p16 = packWeight(h, 2, K);
    expect(weightRowWords(K, 'f16')).toBe(4);
    expect(Array.from(p16)).toEqual([0x40003c00, 0x00004200, 0, 0, 0x0000bc00, 0x00003800, 0, 0]);
    const q = { q: Int8Array.from([1, -1, 127, -127, 0, 2]), scale: new Float32Array([1, 2]) };
    const p8 = packWeight(q, 2, K);
    expect(weightRowWords(K, 'q8')).toBe(4);
    expect(Array.from(p8)).toEqual([0x007fff01, 0, 0, 0, 0x00020081, 0, 0, 0]);
    // f32: unpadded in a buffer, whole 8-value steps in a texture.
    expect([weightRowWords(K, 'f32'), weightRowWords(K, 'f32', 'texture')]).toEqual([3, 8]);
  });
});
