// Fused multi-head self-attention, register-tiled: the same contract as attention_broadcast.wgsl (packed
// qkv in, [B, N, W] out, online softmax, no N×N scores in memory), organised like a GEMM.
//   qkv: [B, N, 3W] with q | k | v along the last axis, head h at columns h*D .. h*D+D-1 of each;
//   out: [B, N, W];  W = heads * D;  out = softmax(q k^T * scale) v per (batch, head).
// A workgroup of 8×8 invocations takes BQ = 32 queries and walks the keys BKV = 32 at a time.
// Invocation (tx, ty) owns queries 4·ty .. 4·ty+3 of the block:
//  1. scores: for keys 4·tx .. 4·tx+3 of the key block, a 4×4 tile of q·k read straight from qkv
//     (8 vec4 loads feed 16 four-wide dot products);
//  2. softmax: the row maxima of the 32×32 block are combined through workgroup memory; each
//     invocation rescales its own running sums, so no row sum is reduced until the end;
//  3. values: P goes through workgroup memory, transposed, and the invocation accumulates output
//     columns (vec4) tx, tx+8, … of its 4 queries: per key, 1 + CI vec4 loads feed 4·CI vec4 FMAs.
// Every workgroup exchange (red, Ps) is between invocations of one ty row. CPU adapters run the 8
// invocations of a row in lockstep, so there a missing barrier would go unseen; PERMUTE_LANES = true
// (a test build) swaps the roles of x and y so that the same exchanges cross lockstep groups, and
// the tests run the whole matrix that way too. It is a constant: false costs nothing.
// The loops over an invocation's output columns are unrolled MAX_CI times (guarded by CI, a
// constant once specialised), so acc is only ever indexed by constants (docs/gpu.md). Other loop
// trip counts are runtime values or small constants, so the shader compiles quickly even on
// CPU (LLVM) adapters. CAUSAL (_attention_io.wgsl): the key blocks stop at the workgroup's last
// query (BQ = BKV, so the last block is the diagonal one); there an invocation whose 4 keys all come
// after its 4 queries skips their scores, its later keys score -inf, and its P·V loop stops after its
// last query's key. Workgroup grid: (ceil(N / BQ), heads, B). D = HEAD_DIM: a multiple of 4,
// at most 128.

//!include _attention_io.wgsl
override CI: u32 = (D4 + 7u) / 8u;      // output vec4 columns per invocation; derived
override PERMUTE_LANES: bool = false;    // test build: tx/ty from local y/x (see above)
const BQ: u32 = 32u;
const MAX_CI: u32 = 4u;                 // = the //!unroll counts below; acc holds 4 rows × MAX_CI vec4 columns: D4 ≤ 8·MAX_CI
const BKV: u32 = 32u;
const NEG: f32 = -3.0e38;
var<workgroup> Ps: array<vec4f, BKV * 8u>;   // Ps[j·8 + ty] = p of queries 4·ty .. 4·ty+3 at key j
var<workgroup> red: array<vec4f, 64>;        // red[tx·8 + ty]: a per-invocation partial of 4 rows

@compute @workgroup_size(8, 8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_id) lid3: vec3u) {
  let N = params.tokens;
  let b = wid.z;
  let h = wid.y;
  let tx = select(lid3.x, lid3.y, PERMUTE_LANES);
  let ty = select(lid3.y, lid3.x, PERMUTE_LANES);
  let W4 = params.heads * D4;
  let row4 = 3u * W4;
  let head4 = h * D4;
  let q0 = wid.x * BQ + 4u * ty;
  // Rows past N read row N-1 (harmless, never written): no bounds branches in the inner loops.
  let qa = (b * N + min(q0, N - 1u)) * row4 + head4;
  let qb = (b * N + min(q0 + 1u, N - 1u)) * row4 + head4;
  let qc = (b * N + min(q0 + 2u, N - 1u)) * row4 + head4;
  let qd = (b * N + min(q0 + 3u, N - 1u)) * row4 + head4;

  var m = vec4f(NEG);      // running max of rows 0..3
  var l = vec4f(0.0);      // running sum of this invocation's keys, rows 0..3
  var acc: array<vec4f, 4u * MAX_CI>;   // acc[MAX_CI·r + i]: row r, output column vec4 tx + 8·i

  // The keys this workgroup reads: all N, or (causal) up to its last query (uniform).
  let kv_end = select(N, min(N, wid.x * BQ + BQ), CAUSAL);
  for (var kv0 = 0u; kv0 < kv_end; kv0 += BKV) {
    let k0 = kv0 + 4u * tx;
    let ka = (b * N + min(k0, N - 1u)) * row4 + W4 + head4;
    let kb = (b * N + min(k0 + 1u, N - 1u)) * row4 + W4 + head4;
    let kc = (b * N + min(k0 + 2u, N - 1u)) * row4 + W4 + head4;
    let kd = (b * N + min(k0 + 3u, N - 1u)) * row4 + W4 + head4;
    var s0 = vec4f(0.0);
    var s1 = vec4f(0.0);
    var s2 = vec4f(0.0);
    var s3 = vec4f(0.0);
    // Causal: keys k0 .. k0+3 all after queries q0 .. q0+3 are not scored (they score -inf below).
    let scored = !CAUSAL || k0 <= q0 + 3u;
    for (var d = 0u; d < select(0u, D4, scored); d++) {
      let k_a = qkv[ka + d];
      let k_b = qkv[kb + d];
      let k_c = qkv[kc + d];
      let k_d = qkv[kd + d];
      let x0 = qkv[qa + d];
      s0 += vec4f(dot(x0, k_a), dot(x0, k_b), dot(x0, k_c), dot(x0, k_d));
      let x1 = qkv[qb + d];
      s1 += vec4f(dot(x1, k_a), dot(x1, k_b), dot(x1, k_c), dot(x1, k_d));
      let x2 = qkv[qc + d];
      s2 += vec4f(dot(x2, k_a), dot(x2, k_b), dot(x2, k_c), dot(x2, k_d));
      let x3 = qkv[qd + d];
      s3 += vec4f(dot(x3, k_a), dot(x3, k_b), dot(x3, k_c), dot(x3, k_d));
    }
    // Keys past N, and causal keys after a row's query, score -inf (p = 0).
    let keys = vec4u(k0, k0 + 1u, k0 + 2u, k0 + 3u);
    let live = keys < vec4u(N);
    let any_q = vec4<bool>(!CAUSAL);
    s0 = select(vec4f(NEG), s0 * params.scale, live & ((keys <= vec4u(q0)) | any_q));
    s1 = select(vec4f(NEG), s1 * params.scale, live & ((keys <= vec4u(q0 + 1u)) | any_q));
    s2 = select(vec4f(NEG), s2 * params.scale, live & ((keys <= vec4u(q0 + 2u)) | any_q));
    s3 = select(vec4f(NEG), s3 * params.scale, live & ((keys <= vec4u(q0 + 3u)) | any_q));

    red[tx * 8u + ty] = vec4f(hmax(s0), hmax(s1), hmax(s2), hmax(s3));
    workgroupBarrier();
    var mt = red[ty];
    for (var t = 1u; t < 8u; t++) { mt = max(mt, red[t * 8u + ty]); }
    let m_new = max(m, mt);
    let corr = exp(m - m_new);
    m = m_new;
    let p0 = exp(s0 - m_new.x);
    let p1 = exp(s1 - m_new.y);
    let p2 = exp(s2 - m_new.z);
    let p3 = exp(s3 - m_new.w);
    l = l * corr + vec4f(hsum(p0), hsum(p1), hsum(p2), hsum(p3));
    let j0 = 4u * tx;
    Ps[j0 * 8u + ty] = vec4f(p0.x, p1.x, p2.x, p3.x);
    Ps[(j0 + 1u) * 8u + ty] = vec4f(p0.y, p1.y, p2.y, p3.y);
    Ps[(j0 + 2u) * 8u + ty] = vec4f(p0.z, p1.z, p2.z, p3.z);
    Ps[(j0 + 3u) * 8u + ty] = vec4f(p0.w, p1.w, p2.w, p3.w);
    //!unroll i 4
    if ($i < CI) {
      acc[$i] *= corr.x;
      acc[MAX_CI + $i] *= corr.y;
      acc[2u * MAX_CI + $i] *= corr.z;
      acc[3u * MAX_CI + $i] *= corr.w;
    }
    //!end
    workgroupBarrier();

    // Causal: keys after this invocation's last query (q0 + 3) have p = 0 for its 4 rows: not read.
    let nk = select(min(BKV, N - kv0), min(min(BKV, N - kv0), q0 + 4u - min(kv0, q0 + 4u)), CAUSAL);
    for (var j = 0u; j < nk; j++) {
      let p = Ps[j * 8u + ty];
      let vrow = (b * N + kv0 + j) * row4 + 2u * W4 + head4;
      //!unroll i 4
      if ($i < CI && tx + 8u * $i < D4) {
        let v = qkv[vrow + tx + 8u * $i];
        acc[$i] = fma(vec4f(p.x), v, acc[$i]);
        acc[MAX_CI + $i] = fma(vec4f(p.y), v, acc[MAX_CI + $i]);
        acc[2u * MAX_CI + $i] = fma(vec4f(p.z), v, acc[2u * MAX_CI + $i]);
        acc[3u * MAX_CI + $i] = fma(vec4f(p.w), v, acc[3u * MAX_CI + $i]);
      }
      //!end
    }
    // No barrier at the end of the block: the next block writes red only after every invocation
    // passed this block's second barrier (all red reads done), and writes Ps only after its first
    // barrier, which no invocation reaches before finishing its P·V loop here.
  }

  // Row sums: add the 8 invocations' partials (all scaled to the same final max).
  red[tx * 8u + ty] = l;
  workgroupBarrier();
  var lt = red[ty];
  for (var t = 1u; t < 8u; t++) { lt += red[t * 8u + ty]; }
  let inv = 1.0 / lt;
  //!unroll r 4
  if (q0 + $r < N) {
    //!unroll i 4
    if ($i < CI && tx + 8u * $i < D4) {
      out[(b * N + q0 + $r) * W4 + head4 + tx + 8u * $i] = acc[MAX_CI * $r + $i] * inv[$r];
    }
    //!end
  }
  //!end
}
