// Exports a vision encoder (config + checkpoint: OpenVision, or OpenAI's layout with ln_pre,
// class-token pooling and QuickGELU) as an ONNX model (opset 17) with a fixed batch
// and resolution: the same forward pass as src/model/vit.ts, in standard ONNX ops, so that other
// runtimes (ONNX Runtime Web's WebGPU EP, onnxruntime-node) can run the very same model.
// Inputs: `image` [B, 3, S, S]. Outputs: `embedding` [B, E], `tokens` [B, g², W].
import onnxProto from 'onnx-proto';
import type { Checkpoint } from '../weights/checkpoint.js';
import { architecture, gridOf, type ViTConfig } from '../model/config.js';
import { CheckpointError, ConfigError } from '../errors.js';
import { checkOptionKeys, type KeyList } from '../options.js';
import { checkLayout, positionTableAt, sincosTableError } from '../model/parameters.js';

const { onnx } = onnxProto as unknown as { onnx: typeof import('onnx-proto').onnx };
type NodeProto = import('onnx-proto').onnx.INodeProto;
type TensorProto = import('onnx-proto').onnx.ITensorProto;
const FLOAT = 1,
  INT64 = 7;

export interface OnnxExportOptions {
  batch: number;
  resolution?: number;
}

/** The keys of OnnxExportOptions (an unknown one is refused, options.ts). */
export const ONNX_EXPORT_OPTION_KEYS = { batch: true, resolution: true } as const satisfies KeyList<OnnxExportOptions>;

/** Returns the serialized ModelProto. Weights are read from the checkpoint and embedded. */
export async function exportOnnx(config: ViTConfig, ckpt: Checkpoint, opts: OnnxExportOptions): Promise<Uint8Array> {
  checkOptionKeys('exportOnnx', opts, ONNX_EXPORT_OPTION_KEYS);
  const c = config,
    B = opts.batch,
    S = opts.resolution ?? c.imageSize;
  const W = c.width,
    H = c.heads,
    D = W / H,
    p = c.patchSize,
    g = gridOf(c, S),
    N = 1 + g * g;
  const arch = architecture(c);
  if (arch.pool === 'tok' && arch.finalLnAfterPool) {
    throw new ConfigError(
      'exportOnnx',
      `pool_type 'tok' with final_ln_after_pool true is not exported (OpenVision's avg pooling and OpenAI's ln_post-then-class-token are); this config has ${JSON.stringify(arch)}`,
    );
  }
  const { prefix } = checkLayout(ckpt, c);
  const nodes: NodeProto[] = [];
  const inits: TensorProto[] = [];
  let counter = 0;
  const fresh = (base: string) => `${base}_${counter++}`;
  const f32 = (name: string, dims: number[], data: Float32Array) => {
    inits.push({ name, dims, dataType: FLOAT, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  };
  const i64 = (values: number[]) => {
    const name = fresh('const');
    const a = BigInt64Array.from(values.map(BigInt));
    inits.push({ name, dims: [values.length], dataType: INT64, rawData: new Uint8Array(a.buffer) });
    return name;
  };
  const read = async (key: string) => {
    const data = await ckpt.read(prefix + key);
    const bad = data.findIndex((v) => !Number.isFinite(v));
    if (bad >= 0)
      throw new CheckpointError(
        ckpt.file,
        `non-finite value ${data[bad]} at flat index ${bad}: refusing to export`,
        prefix + key,
      );
    return data;
  };
  const weight = async (key: string, dims: number[]) => f32(key, dims, await read(key));
  const op = (
    opType: string,
    inputs: string[],
    attrs: Record<string, number | number[]> = {},
    name = fresh(opType),
  ) => {
    const attribute = Object.entries(attrs).map(([k, v]) =>
      Array.isArray(v)
        ? { name: k, ints: v, type: onnx.AttributeProto.AttributeType.INTS }
        : Number.isInteger(v) && k !== 'epsilon' && k !== 'alpha'
          ? { name: k, i: v, type: onnx.AttributeProto.AttributeType.INT }
          : { name: k, f: v, type: onnx.AttributeProto.AttributeType.FLOAT },
    );
    nodes.push({ opType, input: inputs, output: [name], name, attribute });
    return name;
  };
  const layerNorm = async (x: string, key: string) =>
    op('LayerNormalization', [x, await weight(`${key}.weight`, [W]), await weight(`${key}.bias`, [W])], {
      axis: -1,
      epsilon: c.eps,
    });
  // y = x·wᵀ + b with w in PyTorch's [out, in] layout (Gemm, transB = 1) on [rows, in] activations.
  const linear = async (x: string, wKey: string, bKey: string, out: number, inp: number) =>
    op('Gemm', [x, await weight(wKey, [out, inp]), await weight(bKey, [out])], { transB: 1 });

  // x = conv1(x); x = cat([class_embedding, x]); x = x + positional_embedding
  let x = op('Conv', ['image', await weight('conv1.weight', [W, 3, p, p])], { strides: [p, p], kernel_shape: [p, p] });
  x = op('Transpose', [op('Reshape', [x, i64([B, W, g * g])])], { perm: [0, 2, 1] });
  const cls = op('Expand', [f32('class_embedding', [1, 1, W], await read('class_embedding')), i64([B, 1, W])]);
  x = op('Concat', [cls, x], { axis: 1 });
  let pos: string;
  if (S === c.imageSize) pos = await weight('positional_embedding', [N, W]);
  else {
    const stored = await read('positional_embedding');
    pos = f32(
      `positional_embedding@${S}`,
      [N, W],
      positionTableAt(stored, sincosTableError(stored, gridOf(c), W), c, S),
    );
  }
  x = op('Reshape', [op('Add', [x, pos]), i64([B * N, W])]);
  // x = ln_pre(x) (OpenAI's layout; OpenVision has none)
  if (arch.lnPre) x = await layerNorm(x, 'ln_pre');

  const scale = f32('attn_scale', [], new Float32Array([1 / Math.sqrt(D)]));
  const half = f32('half', [], new Float32Array([0.5])),
    one = f32('one', [], new Float32Array([1])),
    rsqrt2 = f32('rsqrt2', [], new Float32Array([Math.SQRT1_2])),
    quick = f32('quick_gelu_alpha', [], new Float32Array([1.702]));
  for (let i = 0; i < c.layers; i++) {
    const b = `transformer.resblocks.${i}.`;
    // x = x + out_proj(MHA(ln_1(x)))
    const qkv = await linear(
      await layerNorm(x, `${b}ln_1`),
      `${b}attn.in_proj_weight`,
      `${b}attn.in_proj_bias`,
      3 * W,
      W,
    );
    const heads = op('Transpose', [op('Reshape', [qkv, i64([B, N, 3, H, D])])], { perm: [2, 0, 3, 1, 4] }); // [3, B, H, N, D]
    const [q, k, v] = [0, 1, 2].map((j) => op('Gather', [heads, i64([j])], { axis: 0 }));
    const s = op(
      'Softmax',
      [
        op('Mul', [
          op('MatMul', [
            op('Squeeze', [q!, i64([0])]),
            op('Transpose', [op('Squeeze', [k!, i64([0])])], { perm: [0, 1, 3, 2] }),
          ]),
          scale,
        ]),
      ],
      { axis: -1 },
    );
    const o = op('MatMul', [s, op('Squeeze', [v!, i64([0])])]); // [B, H, N, D]
    const merged = op('Reshape', [op('Transpose', [o], { perm: [0, 2, 1, 3] }), i64([B * N, W])]);
    x = op('Add', [x, await linear(merged, `${b}attn.out_proj.weight`, `${b}attn.out_proj.bias`, W, W)]);
    // x = x + c_proj(act(c_fc(ln_2(x)))): exact GELU = 0.5·h·(1 + erf(h/√2)), or QuickGELU = h·sigmoid(1.702·h)
    const h = await linear(await layerNorm(x, `${b}ln_2`), `${b}mlp.c_fc.weight`, `${b}mlp.c_fc.bias`, c.mlpWidth, W);
    const gelu =
      arch.act === 'quick_gelu'
        ? op('Mul', [h, op('Sigmoid', [op('Mul', [h, quick])])])
        : op('Mul', [op('Mul', [h, half]), op('Add', [one, op('Erf', [op('Mul', [h, rsqrt2])])])]);
    x = op('Add', [x, await linear(gelu, `${b}mlp.c_proj.weight`, `${b}mlp.c_proj.bias`, W, c.mlpWidth)]);
  }
  // OpenVision (final_ln_after_pool): tokens = x[:, 1:], pooled = ln_post(mean(tokens)); otherwise
  // x = ln_post(x) first, tokens = x[:, 1:], pooled = mean(tokens) or the class token x[:, 0].
  const xs = op('Reshape', [arch.finalLnAfterPool ? x : await layerNorm(x, 'ln_post'), i64([B, N, W])]);
  const tokens = op('Slice', [xs, i64([1]), i64([N]), i64([1])], {}, 'tokens');
  const pooled = arch.finalLnAfterPool
    ? await layerNorm(op('ReduceMean', [tokens], { axes: [1], keepdims: 0 }), 'ln_post')
    : arch.pool === 'avg'
      ? op('ReduceMean', [tokens], { axes: [1], keepdims: 0 })
      : op('Reshape', [op('Slice', [xs, i64([0]), i64([1]), i64([1])]), i64([B, W])]);
  op('MatMul', [pooled, await weight('proj', [W, c.embedDim])], {}, 'embedding');

  const valueInfo = (name: string, dims: number[]) => ({
    name,
    type: { tensorType: { elemType: FLOAT, shape: { dim: dims.map((d) => ({ dimValue: d })) } } },
  });
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: 'wgsl-vit',
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: 'openvision_vit',
      node: nodes,
      initializer: inits,
      input: [valueInfo('image', [B, 3, S, S])],
      output: [valueInfo('embedding', [B, c.embedDim]), valueInfo('tokens', [B, g * g, W])],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}
