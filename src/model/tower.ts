// What every model tower shares: its uploaded weights, compiled graphs cached per shape (the
// promise is cached, so concurrent calls compile once), and a lifetime that destroy() ends safely
// while calls are still running.
import { deviceLostError, deviceLostInfo } from '../device.js';
import { ArgumentError, ModelDestroyedError } from '../errors.js';
import { CompiledGraph, type NodeTiming, type RunResult } from '../graph/executor.js';
import { concat } from './arguments.js';
import type { Graph, KernelChoices, Tensor } from '../graph/graph.js';
import { MODEL_DTYPE, type ModelDType } from './dtype.js';
import type { Precision } from '../kernels/program/precision.js';
import type { GpuWeights } from './parameters.js';

export abstract class GraphModel {
  private readonly graphs = new Map<string, Promise<CompiledGraph>>();
  /** Parameters made at run time (e.g. a position table recomputed for another resolution). */
  protected readonly extraParams = new Map<string, GPUBuffer>();
  /** Calls not yet settled; destroy() frees the GPU memory only once they have. */
  private inFlight = 0;
  private destroyed = false;
  private released = false;

  protected constructor(
    readonly device: GPUDevice,
    protected readonly weights: GpuWeights,
    readonly source: string,
    /** The kernel choices this model's graphs are built with (the `kernels` load option). */
    readonly kernels: KernelChoices,
  ) {}

  /** The compiled graph for `key`, built by `build` on first use, then reused (also by concurrent calls). */
  protected compileCached(key: string, build: () => Graph): Promise<CompiledGraph> {
    this.checkAlive();
    let cg = this.graphs.get(key);
    if (!cg) {
      cg = CompiledGraph.compile(
        this.device,
        build(),
        (t: Tensor) =>
          (t.storage === 'texture' ? this.weights.textures.get(t.name) : this.weights.buffers.get(t.name)) ??
          this.extraParams.get(t.name),
      );
      // A failed compile is not cached: it destroyed what it made, and the next call tries again.
      cg.catch(() => this.graphs.delete(key));
      this.graphs.set(key, cg);
    }
    return cg;
  }

  protected checkAlive(): void {
    if (this.destroyed)
      throw new ModelDestroyedError(
        this.source,
        'this model was destroyed (destroy() was called); load it again to run it',
      );
  }

  /** Runs one call's GPU work; a destroy() meanwhile makes it reject, and frees memory once it has stopped. */
  protected async running<T>(work: (alive: () => void) => Promise<T>): Promise<T> {
    this.checkAlive();
    this.inFlight++;
    try {
      return await work(() => this.checkAlive());
    } catch (e) {
      // A lost or destroyed device makes Dawn reject with errors that name nothing (an AbortError
      // with an empty message): say which model, and that the device is gone.
      const lost = e instanceof ModelDestroyedError ? null : await deviceLostInfo(this.device);
      if (lost) throw deviceLostError(this.source, lost);
      throw e;
    } finally {
      this.inFlight--;
      if (this.destroyed && this.inFlight === 0) void this.release();
    }
  }

  /**
   * Runs `count` items in chunks of at most `maxBatch` (checked here) and `limit` (what one submit may
   * hold): `runChunk(start, size, alive)` runs one chunk's graph; the outputs are concatenated in order.
   */
  protected runChunked(
    where: string,
    count: number,
    maxBatch: number | undefined,
    limit: number,
    runChunk: (start: number, size: number, alive: () => void) => Promise<RunResult>,
  ): Promise<{ outputs: Record<string, Float32Array>; chunks: number[]; timings?: NodeTiming[] }> {
    if (maxBatch !== undefined && !(Number.isInteger(maxBatch) && maxBatch > 0)) {
      throw new ArgumentError(where, 'maxBatch', `must be a positive integer, got ${String(maxBatch)}`);
    }
    const chunk = Math.max(1, Math.min(maxBatch ?? Infinity, limit));
    return this.running(async (alive) => {
      const parts: Record<string, Float32Array[]> = {};
      const chunks: number[] = [];
      let timings: NodeTiming[] | undefined;
      for (let start = 0; start < count; start += chunk) {
        const size = Math.min(chunk, count - start);
        const r = await runChunk(start, size, alive);
        alive();
        for (const [k, v] of Object.entries(r.outputs)) (parts[k] ??= []).push(v);
        if (r.timings) timings = r.timings;
        chunks.push(size);
      }
      const outputs: Record<string, Float32Array> = {};
      for (const [k, list] of Object.entries(parts)) outputs[k] = concat(list);
      return { outputs, chunks, ...(timings ? { timings } : {}) };
    });
  }

  /** How the matrices are held on the GPU (the `dtype` load option, or the file's). */
  get dtype(): ModelDType {
    return MODEL_DTYPE[this.kernels.weightDType ?? 'f32'];
  }

  /** The arithmetic of the GEMMs and attention (the `precision` load option): 'f32' or 'f16'. */
  get precision(): Precision {
    return this.kernels.precision ?? 'f32';
  }

  /** Bytes of weights held on the GPU (including parameters made at run time). */
  weightBytes(): number {
    let n = this.weights.bytes();
    for (const b of this.extraParams.values()) n += b.size;
    return n;
  }

  /**
   * Frees the weights and every compiled graph's buffers. A call still running rejects with a
   * ModelDestroyedError, and the memory is freed once it has stopped using it; any later call throws.
   */
  destroy(): void {
    this.destroyed = true;
    if (this.inFlight === 0) void this.release();
  }

  private async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const graphs = [...this.graphs.values()];
    this.graphs.clear();
    for (const g of await Promise.allSettled(graphs)) if (g.status === 'fulfilled') g.value.destroy();
    for (const b of this.extraParams.values()) b.destroy();
    this.extraParams.clear();
    this.weights.destroy();
    // Dawn frees destroyed buffers' memory at its next tick, which otherwise waits for the device's
    // next piece of work: an empty submit runs it now, so load/destroy cycles leave the process as
    // it was (30 CLIP load/destroy cycles grew RSS by 740 MiB without it; test/model/new-user.test.ts).
    if (!(await deviceLostInfo(this.device))) this.device.queue.submit([]);
  }
}
