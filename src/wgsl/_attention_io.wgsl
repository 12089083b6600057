// The bindings both attention variants share (included by attention_broadcast.wgsl and attention_tiled.wgsl):
//   qkv: [B, N, 3W] as vec4s, q | k | v along the last axis, head h at columns h*D .. h*D+D-1 of each;
//   out: [B, N, W] as vec4s;  W = heads * D, D = HEAD_DIM (a multiple of 4).

struct Params {
  tokens: u32,
  heads: u32,
  scale: f32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;

override HEAD_DIM: u32 = 64u;
override D4: u32 = HEAD_DIM / 4u;   // derived; not meant to be set
// CAUSAL = true: query i attends to keys 0 .. i only (OpenAI-layout text towers). Key blocks past a
// workgroup's last query are never loaded or scored; within the block that straddles the diagonal
// the later keys of a query are skipped where the variant works per key group, else score -inf.
override CAUSAL: bool = false;

fn hsum(v: vec4f) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn hmax(v: vec4f) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }
