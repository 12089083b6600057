// Rows of an f32 matrix into a matrix texture (TextureRef layout, src/kernels/program/texture-matrix.ts):
// out texel (q, r) = x[R0 + r, 4q .. 4q + 3], zeros past K (the row padding). What the graph runs
// before a kernel that reads its activation from a texture (gemm_texture): rows R0 .. R0 + rows - 1
// of x, so that a tall matrix can be packed in chunks. One invocation per texel; x's ~9-instruction
// buffer loads are paid once per value here instead of once per use in the GEMM.

struct Params {
  rows: u32,    // rows packed by this call
  K: u32,       // values per row of x
  R0: u32,      // first row of x
  width: u32,   // texels per texture row (matrixTextureWidth(K))
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var out: texture_storage_2d<rgba32uint, write>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let q = gid.x;
  let r = gid.y;
  if (q >= params.width || r >= params.rows) { return; }
  let K = params.K;
  let base = (params.R0 + r) * K;
  let k = 4u * q;
  var v = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    if (k + i < K) { v[i] = x[base + k + i]; }
  }
  textureStore(out, vec2u(q, r), bitcast<vec4u>(v));
}
