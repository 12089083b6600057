// Fused multi-head self-attention from a packed qkv projection, flash-attention style: scores are
// never written to memory; each query keeps a running max, normaliser and output (online softmax).
//   qkv: [B, N, 3W] with q | k | v along the last axis, head h at columns h*D .. h*D+D-1 of each;
//   out: [B, N, W];  W = heads * D;  out = softmax(q k^T * scale) v per (batch, head).
// The 'broadcast' variant (the host also has attention_tiled.wgsl): SPLIT invocations per query
// (1 for D ≤ 64, 2 up to 128), each holding a DP-vec4 slice of the query and of its output in
// registers, at most MAX_D4 vec4s each; keys and values stream through workgroup memory BKV at a
// time and every invocation reads the same key (a broadcast read). Keys are taken four at a time
// (one vec4 of scores); a query's SPLIT partial scores of four keys are summed through workgroup
// memory (Sp), in one order by all of its invocations, so that they keep the same running max and
// sum. Workgroup: WG invocations = BQ = WG / SPLIT queries, invocation lid holding slice
// lid / BQ of query lid % BQ (the parts of a query are BQ lanes apart: on CPU adapters, whose
// lockstep groups are 8 lanes, a missing barrier before reading Sp changes the result). Grid:
// (ceil(N / BQ), heads, B). D = HEAD_DIM must be a multiple of 4 and at most 4 * MAX_D4 * MAX_SPLIT.
// The loops over the slice are unrolled MAX_D4 times (guarded by DP, a constant once
// specialised), so q, acc and s are only ever indexed by constants and stay in registers on every
// driver (docs/gpu.md). Per invocation: q, acc (2·DP ≤ 32 vec4s), four vec4 dot products and the
// running max and sum, whatever D: half of what one invocation per query held at D = 128, which took
// lavapipe's LLVM over a minute to compile on a cold shader cache (docs/cpu-adapters.md).
// CAUSAL (_attention_io.wgsl): the key loop stops after the workgroup's last query, and a query skips
// every group of 4 keys that starts after it (no scores, no rescale, no values); in the group holding
// the query its later keys score -inf.

//!include _attention_io.wgsl
const MAX_D4: u32 = 16u;   // = the //!unroll d counts below
const MAX_SPLIT: u32 = 2u;
const WG: u32 = 64u;
override SPLIT: u32 = (D4 + MAX_D4 - 1u) / MAX_D4;  // derived; not meant to be set
override BQ: u32 = WG / SPLIT;                        // queries per workgroup
override DP: u32 = (D4 + SPLIT - 1u) / SPLIT;         // vec4s of each slice
override BKV: u32 = 16u / SPLIT;                      // keys per block: 16, or 8 (workgroup memory)
var<workgroup> Ks: array<vec4f, BKV * D4>;
var<workgroup> Vs: array<vec4f, BKV * D4>;
var<workgroup> Sp: array<vec4f, 2u * WG>;          // each invocation's partial scores of 4 keys, two buffers

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let N = params.tokens;
  let b = wid.z;
  let h = wid.y;
  let slot = lid % BQ;
  let part = lid / BQ;
  let qi = wid.x * BQ + slot;
  let W4 = params.heads * D4;        // one row of q, k or v, in vec4s
  let row4 = 3u * W4;                // one row of qkv
  let head4 = h * D4;
  let s0 = part * DP;                // this slice's first vec4 within the head
  let valid = qi < N;

  // Past D4 (the last slice of an odd D4) q stays 0, so those terms add nothing to the scores.
  var q: array<vec4f, MAX_D4>;
  var acc: array<vec4f, MAX_D4>;
  if (valid) {
    let base = (b * N + qi) * row4 + head4 + s0;
    //!unroll d 16
    if ($d < DP && s0 + $d < D4) { q[$d] = qkv[base + $d] * params.scale; }
    //!end
  }
  var m = -3.0e38;
  var l = 0.0;
  var groups = 0u;                   // groups of 4 keys done: the parity picks Sp's buffer

  // The keys this workgroup reads: all N, or (causal) up to its last query (uniform).
  let kv_end = select(N, min(N, wid.x * BQ + BQ), CAUSAL);
  for (var kv0 = 0u; kv0 < kv_end; kv0 += BKV) {
    for (var i = lid; i < BKV * D4; i += WG) {
      let j = i / D4;
      let d = i % D4;
      let key = kv0 + j;
      if (key < kv_end) {
        let base = (b * N + key) * row4 + head4 + d;
        Ks[i] = qkv[base + W4];
        Vs[i] = qkv[base + 2u * W4];
      } else {
        Ks[i] = vec4f(0.0);
        Vs[i] = vec4f(0.0);
      }
    }
    workgroupBarrier();
    // Four keys at a time: their scores are one vec4 (registers, not an indexed array), and the
    // running max / sum / output are rescaled once per four keys, only when the max grew. The loop
    // bound is uniform (a workgroup's queries share their keys), so the exchange's barrier may sit in it.
    let nk = min(BKV, kv_end - kv0);
    for (var j0 = 0u; j0 < nk; j0 += 4u) {
      var e0 = vec4f(0.0);
      var e1 = vec4f(0.0);
      var e2 = vec4f(0.0);
      var e3 = vec4f(0.0);
      let k0 = j0 * D4 + s0;
      // Causal: a group of 4 keys starting after this query is skipped (its barrier is still met).
      let wanted = valid && (!CAUSAL || kv0 + j0 <= qi);
      if (wanted) {
        //!unroll d 16
        if ($d < DP) {
          e0 = fma(q[$d], Ks[k0 + $d], e0);
          e1 = fma(q[$d], Ks[k0 + D4 + $d], e1);
          e2 = fma(q[$d], Ks[k0 + 2u * D4 + $d], e2);
          e3 = fma(q[$d], Ks[k0 + 3u * D4 + $d], e3);
        }
        //!end
      }
      var sc = vec4f(hsum(e0), hsum(e1), hsum(e2), hsum(e3));
      if (SPLIT > 1u) {
        // The query's SPLIT partial scores, summed in one order by each of its invocations. Sp is
        // double-buffered by the group's parity: one barrier per group (an invocation cannot write
        // a buffer again before every other has passed the next barrier, after its read).
        let buf = (groups % 2u) * WG;
        Sp[buf + lid] = sc;
        workgroupBarrier();
        sc = vec4f(0.0);
        for (var p = 0u; p < SPLIT; p++) { sc += Sp[buf + p * BQ + slot]; }
      }
      groups += 1u;
      if (wanted) {
        // Keys past N (zero-filled rows), and causal keys after the query, score -inf.
        let keys = vec4u(kv0 + j0) + vec4u(0u, 1u, 2u, 3u);
        let live = (keys < vec4u(N)) & ((keys <= vec4u(qi)) | vec4<bool>(!CAUSAL));
        let s = select(vec4f(-3.0e38), sc, live);
        let m_new = max(m, hmax(s));
        if (m_new > m) {
          let corr = exp(m - m_new);
          l = l * corr;
          //!unroll d 16
          if ($d < DP) { acc[$d] = acc[$d] * corr; }
          //!end
          m = m_new;
        }
        let p = exp(s - vec4f(m));
        l += hsum(p);
        //!unroll d 16
        if ($d < DP) {
          let a = fma(vec4f(p.x), Vs[k0 + $d], acc[$d]);
          let a2 = fma(vec4f(p.z), Vs[k0 + 2u * D4 + $d], fma(vec4f(p.y), Vs[k0 + D4 + $d], a));
          acc[$d] = fma(vec4f(p.w), Vs[k0 + 3u * D4 + $d], a2);
        }
        //!end
      }
    }
    workgroupBarrier();
  }

  if (valid) {
    let inv = 1.0 / l;
    let base = (b * N + qi) * W4 + head4 + s0;
    //!unroll d 16
    if ($d < DP && s0 + $d < D4) { out[base + $d] = acc[$d] * inv; }
    //!end
  }
}
