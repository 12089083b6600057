// The benchmark's wall-clock statistics (bench/stats.ts): Benchmark.js runs, the pooling of
// alternated rounds, Benchmark.js's significance test, and the flags. No timing is asserted: only
// identities between the numbers Benchmark.js reports and the ones pooled from its samples.
import { describe, expect, it } from 'vitest';
import {
  alternate,
  compareSamples,
  measure,
  NOISY_RME,
  pooled,
  ratioCell,
  tCritical,
  timingOptions,
  type TimingStats,
} from '../../bench/stats.js';

const quick = { minSamples: 5, maxTime: 0.05, minTime: 0.001 };
const stats = (sample: number[]): TimingStats =>
  pooled([{ sample } as TimingStats, { sample: [] } as unknown as TimingStats]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('bench statistics (Benchmark.js)', () => {
  it("measures a deferred call: Benchmark.js's mean, margin and sample count, in ms", async () => {
    let calls = 0;
    const s = await measure('sleep', () => sleep(2).then(() => calls++), quick);
    expect(s.samples).toBeGreaterThanOrEqual(5);
    expect(s.sample).toHaveLength(s.samples);
    expect(calls).toBeGreaterThanOrEqual(s.samples);
    expect(Math.min(...s.sample)).toBeGreaterThan(0);
    expect(s.hz).toBeCloseTo(1000 / s.mean, 6);
    expect(s.noisy).toBe(s.rme > NOISY_RME);
    expect(s.rounds).toBe(1);
  });

  it("pools rounds with Benchmark.js's own estimator (the t table reproduces its margin)", async () => {
    const s = await measure('sleep', () => sleep(1), quick);
    // Benchmark.js's rme from its own run = sem · t(n−1) / mean: the same figure from the samples.
    const n = s.sample.length;
    const mean = s.sample.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(s.sample.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1));
    expect(mean).toBeCloseTo(s.mean, 9);
    expect(sd).toBeCloseTo(s.deviation, 9);
    expect(((sd / Math.sqrt(n)) * tCritical(n - 1) * 100) / mean).toBeCloseTo(s.rme, 6);
    // Pooling two rounds = the statistics of all their samples together.
    const both = pooled([s, s]);
    expect(both.samples).toBe(2 * n);
    expect(both.rounds).toBe(2);
    expect(both.mean).toBeCloseTo(s.mean, 9);
    expect(both.rme).toBeLessThan(s.rme + 1e-9);
    expect(pooled([s])).toBe(s);
  });

  it('t table: 12.706 at 1 degree of freedom, 2.042 at 30, 1.96 beyond', () => {
    expect(tCritical(1)).toBe(12.706);
    expect(tCritical(30)).toBe(2.042);
    expect(tCritical(31)).toBe(1.96);
    expect(tCritical(0)).toBe(12.706);
  });

  it("significance is Benchmark.js's comparison: separated samples differ, the same samples do not", () => {
    const fast = stats([10, 10.2, 9.9, 10.1, 10, 9.8, 10.3, 10.1]);
    const slow = stats([20, 20.5, 19.8, 20.1, 20.2, 19.9, 20.4, 20]);
    expect(compareSamples(fast, slow)).toBe(1);
    expect(compareSamples(slow, fast)).toBe(-1);
    expect(compareSamples(fast, stats([...fast.sample].reverse()))).toBe(0);
    expect(ratioCell(fast, slow)).toBe('×2.00 (significant)');
    expect(ratioCell(fast, fast)).toBe('×1.00 (not significant)');
  });

  it('alternate: rounds in turn, each subject pooled over its rounds; one that fails or never opened is its Error', async () => {
    const order: string[] = [];
    const subject = (name: string, failAt = Infinity) => {
      let n = 0;
      return {
        time: async () => {
          order.push(name);
          if (++n >= failAt) throw new Error(`${name} failed`);
          return measure(name, () => sleep(1), quick);
        },
      };
    };
    const [a, b, c, d] = await alternate(
      [subject('a'), subject('b', 2), new Error('c could not open'), subject('d')],
      { minSamples: 6, maxTime: 0.06, minTime: 0.001 },
      3,
    );
    expect(order).toEqual(['a', 'b', 'd', 'a', 'b', 'd', 'a', 'd']);
    expect((a as TimingStats).rounds).toBe(3);
    expect((a as TimingStats).samples).toBeGreaterThanOrEqual(6);
    expect((d as TimingStats).rounds).toBe(3);
    expect(b).toEqual(new Error('b failed'));
    expect(c).toEqual(new Error('c could not open'));
  });

  it('a call that throws rejects with its error (the run stops)', async () => {
    let n = 0;
    await expect(
      measure('bad', () => (++n > 2 ? Promise.reject(new Error('forward failed: boom')) : sleep(1)), quick),
    ).rejects.toThrow('forward failed: boom');
  });

  it('the flags: defaults, and a bad value names its flag', () => {
    expect(timingOptions({})).toEqual({ minSamples: 5, maxTime: 1, minTime: 0 });
    expect(timingOptions({ iters: '10', 'max-time': '2.5', 'min-time': '0.1' })).toEqual({
      minSamples: 10,
      maxTime: 2.5,
      minTime: 0.1,
    });
    expect(() => timingOptions({ iters: '0' })).toThrow(/--iters: expected a number ≥ 1, got '0'/);
    expect(() => timingOptions({ iters: '2.5' })).toThrow(/--iters: expected a whole number/);
    expect(() => timingOptions({ 'max-time': 'soon' })).toThrow(/--max-time/);
  });
});
