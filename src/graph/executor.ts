// Runs a planned graph: activation buffers from the planner, one bound Dispatch per kernel node
// (pipelines and bind groups built once, reused by every run), the whole forward pass recorded
// into one command encoder and one submit.
import { WebGPUError } from '../errors.js';
import { checkOptionKeys, type KeyList } from '../options.js';
import { createMatrixTexture, type Dispatch, type TensorRef, type TextureRef } from '../kernels/program/index.js';
import type { CopyNode, Graph, Tensor } from './graph.js';
import { planBuffers, type BufferPlan } from './planner.js';

export interface RunOptions {
  /** Output names to read back (default: all). Pass [] to only wait for the GPU. */
  read?: readonly string[];
  /** Time every kernel node with timestamp queries (one pass per node; needs 'timestamp-query'). */
  profile?: boolean;
  /**
   * Outputs copied on the device into the caller's buffers (at a byte offset) instead of being read
   * back: nothing is mapped, and the run resolves once its commands are submitted and validated (the
   * caller's later commands on the same queue see the values). Those outputs are not in `outputs`.
   */
  into?: Record<string, DeviceSlice>;
}

/** A region of a caller's GPU buffer: where a device-resident input is read from or an output copied to. */
export interface DeviceSlice {
  buffer: GPUBuffer;
  /** Byte offset (a multiple of 4). */
  offset: number;
}

/** The keys of RunOptions (an unknown one is refused, options.ts). */
export const RUN_OPTION_KEYS = { read: true, profile: true, into: true } as const satisfies KeyList<RunOptions>;

const isSlice = (v: unknown): v is DeviceSlice =>
  typeof v === 'object' && v !== null && 'buffer' in v && typeof (v as DeviceSlice).offset === 'number';

export interface NodeTiming {
  node: string;
  kernel: string;
  ms: number;
}

/** Free read-back buffers a compiled graph keeps per output: enough for two calls in flight (forwardInFlight's default depth). */
export const STAGING_KEEP = 2;

export interface RunResult {
  outputs: Record<string, Float32Array>;
  /** Per-node GPU times when profiled on an adapter with timestamp-query. */
  timings?: NodeTiming[];
}

export class CompiledGraph {
  private constructor(
    readonly device: GPUDevice,
    readonly graph: Graph,
    readonly plan: BufferPlan,
    private readonly slots: GPUBuffer[],
    private readonly inputs: Map<string, { tensor: Tensor; buffer: GPUBuffer }>,
    private readonly dispatches: (Dispatch | null)[],
    private readonly resolve: (t: Tensor) => TensorRef,
    private readonly textures: GPUTexture[],
  ) {}

  /**
   * Read-back buffers (MAP_READ) no run holds, per output: a ring that calls in flight take from and
   * give back to, so batched calls (forwardInFlight: two in flight) reuse the same buffers instead
   * of creating and destroying one per output per call. At most STAGING_KEEP per output are kept
   * (a deeper flight creates the rest, and they go when it returns them); destroy() frees them.
   */
  private readonly stagingFree = new Map<string, GPUBuffer[]>();
  private destroyed = false;

  private takeStaging(bytes: number, name: string): GPUBuffer {
    return (
      this.stagingFree.get(name)?.pop() ??
      this.device.createBuffer({
        label: `read ${name}`,
        size: bytes,
        usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
      })
    );
  }

  /** Back to the ring, unmapped; destroyed instead when the ring is full or the graph is gone, or `broken`. */
  private giveStaging(name: string, b: GPUBuffer, broken: boolean): void {
    const free = this.stagingFree.get(name) ?? [];
    if (broken || this.destroyed || free.length >= STAGING_KEEP || b.mapState === 'pending') {
      b.destroy();
      return;
    }
    if (b.mapState === 'mapped') b.unmap();
    free.push(b);
    this.stagingFree.set(name, free);
  }

  /**
   * Plans buffers and binds every node. `params` gives each param tensor's buffer (a texture for a
   * texture-stored param). Kernel argument
   * errors and WebGPU validation / out-of-memory errors are thrown, and whatever was created for
   * this graph is destroyed first.
   */
  static async compile(
    device: GPUDevice,
    graph: Graph,
    params: (t: Tensor) => GPUBuffer | GPUTexture | undefined,
  ): Promise<CompiledGraph> {
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    const plan = planBuffers(graph);
    const maxBuffer = device.limits.maxBufferSize;
    for (const b of plan.slotBytes) {
      if (b > maxBuffer)
        throw new Error(
          `graph: an activation of ${b} bytes exceeds the device's maxBufferSize ${maxBuffer}; use a smaller batch`,
        );
    }
    const created: GPUBuffer[] = [];
    const textures: GPUTexture[] = [];
    const dispatches: (Dispatch | null)[] = [];
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let thrown: unknown = null;
    const slots: GPUBuffer[] = [];
    const inputs = new Map<string, { tensor: Tensor; buffer: GPUBuffer }>();
    const resolve = (t: Tensor): TensorRef => {
      let buffer: GPUBuffer | GPUTexture | undefined;
      if (t.storage !== 'buffer') throw new Error(`graph: ${t.kind} ${t.name} is a texture, not a buffer`);
      if (t.kind === 'activation') buffer = slots[plan.slotOf.get(t)!];
      else if (t.kind === 'input') buffer = inputs.get(t.name)?.buffer;
      else buffer = params(t);
      if (!buffer || !('mapAsync' in buffer)) throw new Error(`graph: no buffer for ${t.kind} ${t.name}`);
      return t.scale
        ? { buffer, shape: t.shape, dtype: t.dtype, scale: resolve(t.scale) }
        : { buffer, shape: t.shape, dtype: t.dtype };
    };
    const resolveTexture = (t: Tensor): TextureRef => {
      const texture = t.kind === 'activation' ? textures[plan.textureSlotOf.get(t)!] : params(t);
      if (t.storage !== 'texture' || !texture || !('createView' in texture))
        throw new Error(`graph: no texture for ${t.kind} ${t.name}`);
      const shape: [number, number] = [t.shape[0]!, t.shape[1]!];
      if (t.dtype === 'f16') return { texture, shape, dtype: 'f16' };
      if (t.dtype === 'q8') return { texture, shape, dtype: 'q8', scale: resolve(t.scale!) };
      return { texture, shape };
    };
    try {
      plan.slotBytes.forEach((bytes, i) => {
        const b = device.createBuffer({ label: `activation slot ${i}`, size: Math.max(16, bytes), usage });
        created.push(b);
        slots.push(b);
      });
      plan.textureSlots.forEach(([rows, cols], i) =>
        textures.push(createMatrixTexture(device, rows, cols, `activation texture ${i}`).texture),
      );
      for (const t of graph.tensors) {
        if (t.kind !== 'input') continue;
        const b = device.createBuffer({ label: `input ${t.name}`, size: Math.max(16, t.bytes), usage });
        created.push(b);
        inputs.set(t.name, { tensor: t, buffer: b });
      }
      for (const n of graph.nodes)
        dispatches.push(n.type === 'kernel' ? n.bind(device, resolve, resolveTexture) : null);
      // Every pipeline the graph needs, compiled concurrently (createComputePipelineAsync).
      await Promise.all(dispatches.map(async (d) => d?.prepare?.()));
    } catch (e) {
      thrown = e;
    }
    const validation = await device.popErrorScope();
    const oom = await device.popErrorScope();
    if (thrown || validation || oom) {
      for (const d of dispatches) d?.destroy();
      for (const b of created) b.destroy();
      for (const t of textures) t.destroy();
      if (thrown) throw thrown instanceof Error ? thrown : new Error(`graph: ${JSON.stringify(thrown)}`);
      throw new Error(
        `graph: WebGPU ${oom ? 'out-of-memory' : 'validation'} error while building the pass: ${(oom ?? validation)!.message}`,
      );
    }
    return new CompiledGraph(device, graph, plan, slots, inputs, dispatches, resolve, textures);
  }

  /**
   * Writes the inputs, records the forward pass into one command buffer, submits, reads back. A
   * WebGPU validation or out-of-memory error raised by this run rejects it (a WebGPUError).
   */
  async run(
    inputs: Record<string, Float32Array | Uint32Array | DeviceSlice>,
    opts: RunOptions = {},
  ): Promise<RunResult> {
    checkOptionKeys('CompiledGraph.run', opts, RUN_OPTION_KEYS);
    const { device, graph } = this;
    const into = opts.into ?? {};
    for (const [name, slice] of Object.entries(into)) {
      const t = graph.outputs.get(name);
      if (!t) throw new Error(`graph: no output '${name}' to copy into a buffer`);
      if (slice.offset % 4 !== 0 || slice.offset + t.bytes > slice.buffer.size)
        throw new Error(
          `graph: output '${name}' (${t.bytes} bytes) does not fit its buffer at offset ${slice.offset} (${slice.buffer.size} bytes)`,
        );
    }
    for (const [name, { tensor }] of this.inputs) {
      const data = inputs[name];
      if (!data) throw new Error(`graph: missing input '${name}'`);
      if (isSlice(data)) {
        if (data.offset % 4 !== 0 || data.offset + tensor.bytes > data.buffer.size)
          throw new Error(
            `graph: input '${name}' needs ${tensor.bytes} bytes at offset ${data.offset} of a ${data.buffer.size}-byte buffer`,
          );
        continue;
      }
      const want = tensor.dtype === 'u32' ? Uint32Array : Float32Array;
      if (!(data instanceof want))
        throw new Error(
          `graph: input '${name}' must be a ${want.name}, got ${(data as object)?.constructor?.name ?? typeof data}`,
        );
      if (data.length !== tensor.bytes / 4)
        throw new Error(
          `graph: input '${name}' has ${data.length} values, expected ${tensor.bytes / 4} for shape [${tensor.shape.join(', ')}]`,
        );
    }
    const names = (opts.read ?? [...graph.outputs.keys()]).filter((n) => !(n in into));
    for (const name of names) {
      if (!graph.outputs.has(name))
        throw new Error(`graph: no output '${name}' (has: ${[...graph.outputs.keys()].join(', ')})`);
    }
    const profile = !!opts.profile && device.features.has('timestamp-query');
    const kernelNodes = graph.nodes.filter((n) => n.type === 'kernel').length;
    const transient: { destroy(): void }[] = []; // this run's query buffers
    const staging: [string, GPUBuffer][] = []; // this run's read-back buffers, from the ring
    const timed: { node: string; kernel: string }[] = []; // profiled passes, in query order
    let queryRead: GPUBuffer | null = null;
    // Everything from the input writes to the submit is synchronous, so this run's error scopes
    // hold exactly its own commands even when several runs are in flight.
    device.pushErrorScope('out-of-memory');
    device.pushErrorScope('validation');
    let validation: Promise<GPUError | null>, oom: Promise<GPUError | null>;
    try {
      const encoder = device.createCommandEncoder({ label: 'forward' });
      for (const [name, { buffer, tensor }] of this.inputs) {
        const data = inputs[name]!;
        // A device-resident input is copied on the queue, in this command buffer, before the passes.
        if (isSlice(data)) encoder.copyBufferToBuffer(data.buffer, data.offset, buffer, 0, tensor.bytes);
        else device.queue.writeBuffer(buffer, 0, data as Float32Array<ArrayBuffer> | Uint32Array<ArrayBuffer>);
      }
      const querySet = profile ? device.createQuerySet({ type: 'timestamp', count: 2 * kernelNodes }) : null;
      if (querySet) transient.push(querySet);
      if (querySet) this.recordProfiled(encoder, querySet, timed);
      else this.record(encoder);
      for (const name of names) {
        const t = graph.outputs.get(name)!;
        const s = this.takeStaging(t.bytes, name);
        staging.push([name, s]);
        encoder.copyBufferToBuffer(this.resolve(t).buffer, 0, s, 0, t.bytes);
      }
      for (const [name, slice] of Object.entries(into)) {
        const t = graph.outputs.get(name)!;
        encoder.copyBufferToBuffer(this.resolve(t).buffer, 0, slice.buffer, slice.offset, t.bytes);
      }
      if (querySet) {
        const resolveBuf = device.createBuffer({
          size: 16 * kernelNodes,
          usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
        });
        queryRead = device.createBuffer({
          size: 16 * kernelNodes,
          usage: GPUBufferUsage.COPY_DST | GPUBufferUsage.MAP_READ,
        });
        transient.push(resolveBuf, queryRead);
        encoder.resolveQuerySet(querySet, 0, 2 * kernelNodes, resolveBuf, 0);
        encoder.copyBufferToBuffer(resolveBuf, 0, queryRead, 0, 16 * kernelNodes);
      }
      device.queue.submit([encoder.finish()]);
    } catch (e) {
      // Nothing was submitted: this run's buffers go now (the ring's back to it).
      for (const t of transient) t.destroy();
      for (const [name, b] of staging) this.giveStaging(name, b, false);
      throw e;
    } finally {
      validation = device.popErrorScope();
      oom = device.popErrorScope();
    }

    let broken = true; // until the run's read-backs (if any) have completed without an error
    try {
      const outputs: Record<string, Float32Array> = {};
      const reads = await Promise.allSettled(
        staging.map(async ([name, s]) => {
          await s.mapAsync(GPUMapMode.READ);
          outputs[name] = new Float32Array(s.getMappedRange().slice(0));
        }),
      );
      if (staging.length === 0 && Object.keys(into).length === 0) await device.queue.onSubmittedWorkDone();
      const error = (await validation) ?? (await oom);
      if (error) {
        const kind =
          typeof GPUOutOfMemoryError !== 'undefined' && error instanceof GPUOutOfMemoryError
            ? 'out-of-memory'
            : 'validation';
        throw new WebGPUError(`graph: WebGPU ${kind} error during the run: ${error.message}`);
      }
      const failed = reads.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason instanceof Error ? failed.reason : new Error(String(failed.reason));
      broken = false;
      const result: RunResult = { outputs };
      if (queryRead) {
        await queryRead.mapAsync(GPUMapMode.READ);
        const ts = new BigUint64Array(queryRead.getMappedRange().slice(0));
        result.timings = timed.map((t, j) => ({ ...t, ms: Number(ts[2 * j + 1]! - ts[2 * j]!) / 1e6 }));
      }
      return result;
    } finally {
      for (const t of transient) t.destroy();
      for (const [name, b] of staging) this.giveStaging(name, b, broken);
    }
  }

  /** The forward pass: consecutive kernel nodes share one compute pass; copies go between passes. */
  private record(encoder: GPUCommandEncoder): void {
    let pass: GPUComputePassEncoder | null = null;
    this.graph.nodes.forEach((n, i) => {
      if (n.type === 'copy') {
        pass?.end();
        pass = null;
        this.recordCopy(encoder, n);
        return;
      }
      pass ??= encoder.beginComputePass({ label: 'forward' });
      this.dispatches[i]!.encode(pass);
    });
    (pass as GPUComputePassEncoder | null)?.end();
  }

  /** The same pass with one compute pass per kernel node, timed by a pair of timestamp queries each. */
  private recordProfiled(
    encoder: GPUCommandEncoder,
    querySet: GPUQuerySet,
    timed: { node: string; kernel: string }[],
  ): void {
    this.graph.nodes.forEach((n, i) => {
      if (n.type === 'copy') return this.recordCopy(encoder, n);
      const q = 2 * timed.length;
      const p = encoder.beginComputePass({
        label: n.name,
        timestampWrites: { querySet, beginningOfPassWriteIndex: q, endOfPassWriteIndex: q + 1 },
      });
      timed.push({ node: n.name, kernel: this.dispatches[i]!.kernel });
      this.dispatches[i]!.encode(p);
      p.end();
    });
  }

  private recordCopy(encoder: GPUCommandEncoder, n: CopyNode): void {
    const from = this.resolve(n.reads[0]).buffer,
      to = this.resolve(n.writes[0]).buffer;
    for (const r of n.regions) encoder.copyBufferToBuffer(from, r.src, to, r.dst, r.bytes);
  }

  /** Frees the activation buffers and textures, the inputs and the dispatches' uniforms (params belong to the caller). */
  destroy(): void {
    this.destroyed = true;
    for (const free of this.stagingFree.values()) for (const b of free) b.destroy();
    this.stagingFree.clear();
    for (const t of this.textures) t.destroy();
    for (const d of this.dispatches) d?.destroy();
    for (const s of this.slots) s.destroy();
    for (const { buffer } of this.inputs.values()) buffer.destroy();
  }
}
