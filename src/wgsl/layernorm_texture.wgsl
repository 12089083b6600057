// LayerNorm over the last dimension into a matrix texture, for CPU adapters: y = (x - mean) /
// sqrt(var + eps) * gamma + beta, x: [rows, dim] buffer rows R0 .. R0 + rows - 1, y: [rows, dim]
// matrix texture (TextureRef layout, zero row padding), for a consumer that reads textures (the
// 'texture' GEMM). One invocation per row, in workgroups of 8 (one llvmpipe vector): no workgroup
// memory, no barriers (each is a coroutine switch there, docs/cpu-adapters.md), where
// layernorm.wgsl spends 32 invocations and 10 barriers per row. Two-pass statistics, as there.

struct Params {
  rows: u32,
  dim: u32,
  eps: f32,
  R0: u32,     // first row of x
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> gamma: array<f32>;
@group(0) @binding(3) var<storage, read> beta: array<f32>;
@group(0) @binding(4) var y: texture_storage_2d<rgba32uint, write>;

@compute @workgroup_size(8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let r = gid.x;
  if (r >= params.rows) { return; }
  let dim = params.dim;
  let base = (params.R0 + r) * dim;

  var s = 0.0;
  for (var i = 0u; i < dim; i++) { s += x[base + i]; }
  let mean = s / f32(dim);
  var v = 0.0;
  for (var i = 0u; i < dim; i++) { let d = x[base + i] - mean; v += d * d; }
  let rstd = inverseSqrt(v / f32(dim) + params.eps);

  let width = 2u * ((dim + 7u) / 8u);   // matrixTextureWidth(dim)
  for (var q = 0u; q < width; q++) {
    var o = vec4f(0.0);
    for (var c = 0u; c < 4u; c++) {
      let i = 4u * q + c;
      if (i < dim) { o[c] = (x[base + i] - mean) * rstd * gamma[i] + beta[i]; }
    }
    textureStore(y, vec2u(q, r), bitcast<vec4u>(o));
  }
}
