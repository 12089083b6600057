// Token embedding: out[r, c] = table[ids[r], c] + pos[r % tokens, c]
// ids: [batch · tokens] u32; table (binding w): [vocab, dim] in f32, f16 or q8 (W_DTYPE, _weight_format.wgsl; a
// q8 row times its scale); pos: [tokens, dim]; out: [batch · tokens, dim]. HAS_POS = false: no
// position table (pos not read), a plain row gather (the text towers' `<|endoftext|>` pooling
// takes rows of the hidden state this way).
// An id ≥ vocab writes NaN for its whole row (callers validate ids; a bad one must not pass
// unnoticed as a plausible vector). One invocation per output element.

struct Params {
  rows: u32,
  tokens: u32,
  dim: u32,
  vocab: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> ids: array<u32>;
// w (binding 2): the table, [vocab, dim], read through w_at
//!include _weight_buffer.wgsl
@group(0) @binding(3) var<storage, read> pos: array<f32>;
@group(0) @binding(4) var<storage, read_write> out: array<f32>;
override HAS_POS: bool = true;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) nwg: vec3u) {
  let c = gid.x;
  let r = gid.y + gid.z * nwg.y;
  if (c >= params.dim || r >= params.rows) { return; }
  let id = ids[r];
  var v = bitcast<f32>(0x7fc00000u | (id & 0u)); // NaN (a runtime value: WGSL refuses a constant NaN)
  if (id < params.vocab) {
    v = w_at(id, c, params.dim) * w_scale1(id);
    if (HAS_POS) { v += pos[(r % params.tokens) * params.dim + c]; }
  }
  out[r * params.dim + c] = v;
}
