enable subgroups;
// Fused multi-head self-attention for CPU adapters (Mesa llvmpipe): the same contract as
// attention_broadcast.wgsl and attention_tiled.wgsl (packed qkv in, [B, N, W] out, online softmax,
// no N×N scores in memory), written for how llvmpipe runs WGSL (docs/cpu-adapters.md): one
// 8-lane subgroup per workgroup, no workgroup memory, no barriers; values move between lanes by
// constant-lane subgroupBroadcast (one vector permute).
//   A workgroup takes QB = 16 queries of one (batch, head) and walks the keys 8 at a time; the
// steps are _attention_subgroup_body.wgsl's (shared with attention_texture.wgsl).

//!include _attention_io.wgsl
const QB: u32 = 16u;          // queries per workgroup

fn qkv_at(row: u32, col4: u32) -> vec4f { return qkv[row * 3u * params.heads * D4 + col4]; }
fn out_row(b: u32, token: u32) -> u32 { return (b * params.tokens + token) * params.heads * D4; }

//!include _attention_subgroup_body.wgsl
