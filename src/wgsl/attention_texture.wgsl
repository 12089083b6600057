enable subgroups;
// Fused multi-head self-attention for CPU adapters, reading q, k and v from a matrix texture: the
// algorithm of attention_subgroup.wgsl (_attention_subgroup_body.wgsl: one 8-lane subgroup per QB
// queries, constant-lane broadcasts, no workgroup memory or barriers) with every qkv load a
// read-only storage-texture load (~1.5 instructions per value on llvmpipe instead of ~9 for a
// storage buffer, docs/cpu-adapters.md).
//   qkv: [rows, 3W] matrix texture (TextureRef layout: texel (t, r) = row r's values 4t .. 4t+3),
//   rows = batches · N, q | k | v along a row, head h at columns h*D .. h*D+D-1 of each;
//   out: [B, N, W] buffer as vec4s; batch b of the texture goes to batch B0 + b of out (the graph
//   packs tall qkv in chunks of whole batches). D = HEAD_DIM: a multiple of 4.

struct Params {
  tokens: u32,
  heads: u32,
  scale: f32,
  B0: u32,     // out batch of the texture's batch 0
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var qkv: texture_storage_2d<rgba32uint, read>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

override HEAD_DIM: u32 = 64u;
override D4: u32 = HEAD_DIM / 4u;   // derived; not meant to be set
// CAUSAL = true: query i attends to keys 0 .. i only (as _attention_io.wgsl's; the steps past a
// query are skipped, _attention_subgroup_body.wgsl).
override CAUSAL: bool = false;
const QB: u32 = 8u;           // queries per workgroup: 8 ran 1.2-1.8x 16 and 32 here (bench:kernels)

fn qkv_at(row: u32, col4: u32) -> vec4f { return bitcast<vec4f>(textureLoad(qkv, vec2u(col4, row))); }
fn out_row(b: u32, token: u32) -> u32 { return ((params.B0 + b) * params.tokens + token) * params.heads * D4; }

//!include _attention_subgroup_body.wgsl
