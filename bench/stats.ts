// Wall-clock statistics for the benchmark's rows, from Benchmark.js (npm `benchmark`): each timing
// is a deferred benchmark (the forward pass is async), so Benchmark.js calibrates the cycle, takes
// the samples, and gives the mean, the relative margin of error at 95 % (Student's t) and ops/s.
// Rows compared with each other (two WebGPU implementations, two dtypes) are timed in alternating
// rounds, a Benchmark.js run of each subject per round, so that drift on a shared machine hits all
// of them alike; the rounds' samples are pooled per subject and compared with Benchmark.js's own
// test (`Benchmark#compare`: Mann-Whitney U at 95 %). GPU timestamp queries stay the source of the
// per-kernel times; these are the wall-clock times a user sees.
import Benchmark from 'benchmark';

/** How long Benchmark.js samples one subject: its own option names and units (seconds). */
export interface TimingOptions {
  /** Samples at least this many cycles (Benchmark.js `minSamples`; the benchmark's --iters). */
  minSamples: number;
  /** Stops sampling after this many seconds once minSamples are in (Benchmark.js `maxTime`). */
  maxTime: number;
  /** The shortest cycle, in seconds: faster calls run several times per cycle (`minTime`; 0: Benchmark.js's default). */
  minTime: number;
}

/** A row's margin above which the row is flagged "noisy" (its ratios then mean little). */
export const NOISY_RME = 10;

/** Benchmark.js's statistics of one subject, in milliseconds per call. */
export interface TimingStats {
  /** Mean ms per call. */
  mean: number;
  /** ± relative margin of error of the mean at 95 %, in percent. */
  rme: number;
  /** Standard deviation of the samples, ms. */
  deviation: number;
  /** Samples (cycles) taken. */
  samples: number;
  /** Calls per second (1000 / mean). */
  hz: number;
  /** Rounds pooled (1 for a subject timed alone). */
  rounds: number;
  /** rme > NOISY_RME. */
  noisy: boolean;
  /** Every sample, ms per call. */
  sample: number[];
}

/** A finished Benchmark.js run's statistics, in ms. */
function fromBenchmark(b: Benchmark): TimingStats {
  const s = b.stats;
  const sample = s.sample.map((x) => x * 1000);
  return {
    mean: s.mean * 1000,
    rme: s.rme,
    deviation: s.deviation * 1000,
    samples: sample.length,
    hz: b.hz,
    rounds: 1,
    noisy: s.rme > NOISY_RME,
    sample,
  };
}

/**
 * Times `call` with Benchmark.js (a deferred benchmark: one cycle = `count` awaited calls, count
 * calibrated to minTime). A call that throws stops the benchmark and rejects with its error.
 */
export function measure(name: string, call: () => Promise<unknown>, opts: TimingOptions): Promise<TimingStats> {
  return new Promise((resolve, reject) => {
    let failed: Error | null = null;
    const bench = new Benchmark(name, {
      defer: true,
      async: true,
      minSamples: opts.minSamples,
      maxTime: opts.maxTime,
      ...(opts.minTime > 0 ? { minTime: opts.minTime } : {}),
      // The first call is the first-run latency, timed by the caller; Benchmark.js's own calibration
      // cycles come after it.
      fn(deferred: Benchmark.Deferred) {
        call().then(
          () => deferred.resolve(),
          (e: unknown) => {
            failed ??= e instanceof Error ? e : new Error(String(e));
            bench.abort();
            deferred.resolve();
          },
        );
      },
      onComplete() {
        if (failed) reject(failed);
        else if (bench.error) reject(bench.error);
        else resolve(fromBenchmark(bench));
      },
      onAbort() {
        if (failed) reject(failed);
      },
    });
    bench.run();
  });
}

/**
 * Pools samples of one subject from several rounds into one set of statistics. The estimator is
 * Benchmark.js's (mean, sample variance, Student's t at 95 % for the pooled degrees of freedom), so
 * a pooled subject's figures and those of a subject timed once are the same statistic. (Benchmark.js
 * computes them inside its run loop only; its t table is not exported, hence tCritical.)
 */
export function pooled(parts: TimingStats[]): TimingStats {
  if (parts.length === 1) return parts[0]!;
  const sample = parts.flatMap((p) => p.sample);
  const n = sample.length;
  const mean = sample.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? sample.reduce((a, x) => a + (x - mean) ** 2, 0) / (n - 1) : 0;
  const deviation = Math.sqrt(variance);
  const sem = deviation / Math.sqrt(n);
  const rme = mean > 0 ? ((sem * tCritical(n - 1)) / mean) * 100 : 0;
  return { mean, rme, deviation, samples: n, hz: 1000 / mean, rounds: parts.length, noisy: rme > NOISY_RME, sample };
}

/**
 * The two-tailed 95 % critical value of Student's t for `df` degrees of freedom, as Benchmark.js
 * uses it (its table to 30, 1.96 beyond): NIST/SEMATECH e-Handbook, table 1.3.6.7.2.
 */
export function tCritical(df: number): number {
  const table = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11,
    2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
  ];
  return table[Math.max(1, Math.round(df)) - 1] ?? 1.96;
}

/**
 * Whether subject a is faster than b: Benchmark.js's comparison (Mann-Whitney U test at 95 % on the
 * two sets of samples; 1 a faster, −1 a slower, 0 no significant difference).
 */
export function compareSamples(a: TimingStats, b: TimingStats): -1 | 0 | 1 {
  const wrap = (s: TimingStats) => {
    const bench = new Benchmark('pooled', () => undefined);
    // compare() reads stats.sample only (seconds per call; a larger period is slower).
    bench.stats.sample = s.sample.map((x) => x / 1000);
    return bench;
  };
  // compare() ranks the periods: 1 when a's are significantly the smaller (a faster).
  return wrap(a).compare(wrap(b)) as -1 | 0 | 1;
}

/** "×1.23 (significant)" / "×0.98 (not significant)": a over b in throughput, with Benchmark.js's verdict. */
export function ratioCell(a: TimingStats, b: TimingStats): string {
  const r = b.mean / a.mean;
  const verdict = compareSamples(a, b) === 0 ? 'not significant' : 'significant';
  return `×${r.toFixed(2)} (${verdict})`;
}

/** "123.4 ms ±2.1 % (n=12)" with " noisy" past NOISY_RME. */
export function statsCell(s: TimingStats): string {
  return `${s.mean.toFixed(s.mean < 10 ? 2 : 1)} ms ±${s.rme.toFixed(1)} % (n=${s.samples})${s.noisy ? ' noisy' : ''}`;
}

/** The statistics for the JSON report: the samples rounded to 0.1 µs. */
export function summary(s: TimingStats): TimingStats {
  return { ...s, sample: s.sample.map((x) => +x.toFixed(4)) };
}

/** Reads --iters / --max-time / --min-time as Benchmark.js options (names the flag at fault). */
export function timingOptions(a: { iters?: string; 'max-time'?: string; 'min-time'?: string }): TimingOptions {
  const num = (flag: string, v: string | undefined, dflt: number, min: number) => {
    if (v === undefined) return dflt;
    const x = Number(v);
    if (!Number.isFinite(x) || x < min) throw new Error(`--${flag}: expected a number ≥ ${min}, got '${v}'`);
    return x;
  };
  const minSamples = num('iters', a.iters, 5, 1);
  if (!Number.isInteger(minSamples)) throw new Error(`--iters: expected a whole number, got '${a.iters}'`);
  return { minSamples, maxTime: num('max-time', a['max-time'], 1, 0), minTime: num('min-time', a['min-time'], 0, 0) };
}

/** An unknown rejection as an Error (its message kept). */
export const asError = (e: unknown): Error => (e instanceof Error ? e : new Error(String(e)));

/**
 * Times several subjects in `rounds` alternating rounds — each round a Benchmark.js run of each, with
 * its share of the samples and of the time — and pools each subject's rounds. A subject given as an
 * Error (it could not open), or whose run fails, is an Error in the result and is not timed again.
 */
export async function alternate(
  subjects: readonly ({ time(opts: TimingOptions): Promise<TimingStats> } | Error)[],
  timing: TimingOptions,
  rounds: number,
): Promise<(TimingStats | Error)[]> {
  const perRound: TimingOptions = {
    ...timing,
    minSamples: Math.ceil(timing.minSamples / rounds),
    maxTime: timing.maxTime / rounds,
  };
  const parts: TimingStats[][] = subjects.map(() => []);
  const errors: (Error | null)[] = subjects.map((s) => (s instanceof Error ? s : null));
  for (let round = 0; round < rounds; round++)
    for (const [j, s] of subjects.entries()) {
      if (s instanceof Error || errors[j]) continue;
      try {
        parts[j]!.push(await s.time(perRound));
      } catch (e) {
        errors[j] = asError(e);
      }
    }
  return subjects.map((_, j) => errors[j] ?? pooled(parts[j]!));
}
