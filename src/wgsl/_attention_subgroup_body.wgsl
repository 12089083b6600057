// The body of the subgroup attention kernels (included by attention_subgroup.wgsl, which reads qkv
// from a buffer, and attention_texture.wgsl, which reads it from a matrix texture): each declares
// `params` (tokens, heads, scale), HEAD_DIM / D4, QB (queries per workgroup), `out` (array<vec4f>)
// and two functions — qkv_at(row, col4): the vec4 at vec4-column col4 of qkv row `row` (row =
// b·N + token of this call's sequences; q | k | v along a row, head h at vec4-columns h·D4 …), and
// out_row(b, token): the vec4 index of that token's row of out.
//   A workgroup takes QB queries of one (batch, head) and walks the keys 8 at a time, one 8-lane
// subgroup, no workgroup memory, no barriers, values moved between lanes by constant-lane
// subgroupBroadcast (one vector permute on llvmpipe, docs/cpu-adapters.md):
//  1. scores: lane l takes key kv0 + l; it holds its own key row (D4 vec4s) and gets each query's
//     vec4 at column d4 from the lane that holds it (lane d4 % 8 holds columns l, l+8, …);
//  2. softmax: each query's block maximum from 8 broadcasts; the running max is the same in every
//     lane, each lane keeps its own partial sum (its keys), combined once at the end;
//  3. values: lane l accumulates output columns l, l+8, … of the QB queries; each key's
//     probability comes from the lane that scored it.
// D = HEAD_DIM: a multiple of 4, at most 4·8·MAX_SLOTS. CAUSAL (an override each includer declares):
// the key loop stops after the workgroup's last query, and a query whose 8 keys of a step all come
// after it skips the step (no scores, no rescale, no values: the condition is uniform over the
// subgroup); in the step holding the query its later keys score -inf.

const MAX_SLOTS: u32 = 4u;    // vec4 columns per lane and query: D4 ≤ 8·MAX_SLOTS
override SLOTS: u32 = (D4 + 7u) / 8u;
const NEG: f32 = -3.0e38;

@compute @workgroup_size(8)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(subgroup_invocation_id) lane: u32) {
  let N = params.tokens;
  let b = wid.z;
  let h = wid.y;
  let q0 = wid.x * QB;
  let W4 = params.heads * D4;
  let head4 = h * D4;

  // This lane's slice of the QB queries (scaled): columns lane + 8i, i < SLOTS; zero past D4.
  var qs = array<vec4f, QB * MAX_SLOTS>();
  for (var q = 0u; q < QB; q++) {
    let row = b * N + min(q0 + q, N - 1u);
    for (var i = 0u; i < SLOTS; i++) {
      let c = lane + 8u * i;
      qs[q * MAX_SLOTS + i] = select(vec4f(0.0), qkv_at(row, head4 + min(c, D4 - 1u)) * params.scale, c < D4);
    }
  }
  var m = array<f32, QB>();     // running max per query (the same in every lane)
  var l = array<f32, QB>();     // this lane's partial sum per query
  var acc = array<vec4f, QB * MAX_SLOTS>();
  for (var q = 0u; q < QB; q++) { m[q] = NEG; }

  // The keys this workgroup reads: all N, or (causal) up to its last query (uniform).
  let kv_end = select(N, min(N, q0 + QB), CAUSAL);
  for (var kv0 = 0u; kv0 < kv_end; kv0 += 8u) {
    let key = kv0 + lane;
    // Causal: queries q0 .. q0 + q_first - 1 come before every key of this step: skipped below.
    let q_first = select(0u, min(QB, kv0 - min(kv0, q0)), CAUSAL);
    let krow = b * N + min(key, N - 1u);
    // Scores of the QB queries against this lane's key.
    var s = array<f32, QB>();
    for (var i = 0u; i < SLOTS; i++) {
      // k columns 8i .. 8i+7 of this lane's key (zero past D4)
      var kc = array<vec4f, 8>();
      for (var t = 0u; t < 8u; t++) {
        let c = 8u * i + t;
        kc[t] = select(vec4f(0.0), qkv_at(krow, W4 + head4 + min(c, D4 - 1u)), c < D4);
      }
      for (var q = q_first; q < QB; q++) {
        let qv = qs[q * MAX_SLOTS + i];
        var d = s[q];
        d += dot(subgroupBroadcast(qv, 0u), kc[0]);
        d += dot(subgroupBroadcast(qv, 1u), kc[1]);
        d += dot(subgroupBroadcast(qv, 2u), kc[2]);
        d += dot(subgroupBroadcast(qv, 3u), kc[3]);
        d += dot(subgroupBroadcast(qv, 4u), kc[4]);
        d += dot(subgroupBroadcast(qv, 5u), kc[5]);
        d += dot(subgroupBroadcast(qv, 6u), kc[6]);
        d += dot(subgroupBroadcast(qv, 7u), kc[7]);
        s[q] = d;
      }
    }
    // Online softmax: block max from the 8 lanes, rescale, this lane's probability.
    var p = array<f32, QB>();
    var corr = array<f32, QB>();
    for (var q = q_first; q < QB; q++) {
      let live = key < N && (!CAUSAL || key <= q0 + q);
      let sq = select(NEG, s[q], live);
      var mb = max(subgroupBroadcast(sq, 0u), subgroupBroadcast(sq, 1u));
      mb = max(mb, max(subgroupBroadcast(sq, 2u), subgroupBroadcast(sq, 3u)));
      mb = max(mb, max(subgroupBroadcast(sq, 4u), subgroupBroadcast(sq, 5u)));
      mb = max(mb, max(subgroupBroadcast(sq, 6u), subgroupBroadcast(sq, 7u)));
      let m_new = max(m[q], mb);
      corr[q] = exp(m[q] - m_new);
      m[q] = m_new;
      p[q] = select(0.0, exp(sq - m_new), live);
      l[q] = l[q] * corr[q] + p[q];
    }
    // Values: this lane's output columns, every key of the block (its probability broadcast).
    for (var i = 0u; i < SLOTS; i++) {
      let c = lane + 8u * i;
      let cc = min(c, D4 - 1u);
      var vv = array<vec4f, 8>();
      for (var j = 0u; j < 8u; j++) {
        let vrow = b * N + min(kv0 + j, N - 1u);
        vv[j] = select(vec4f(0.0), qkv_at(vrow, 2u * W4 + head4 + cc), c < D4 && kv0 + j < N);
      }
      for (var q = q_first; q < QB; q++) {
        let pq = p[q];
        var a = acc[q * MAX_SLOTS + i] * corr[q];
        a += subgroupBroadcast(pq, 0u) * vv[0];
        a += subgroupBroadcast(pq, 1u) * vv[1];
        a += subgroupBroadcast(pq, 2u) * vv[2];
        a += subgroupBroadcast(pq, 3u) * vv[3];
        a += subgroupBroadcast(pq, 4u) * vv[4];
        a += subgroupBroadcast(pq, 5u) * vv[5];
        a += subgroupBroadcast(pq, 6u) * vv[6];
        a += subgroupBroadcast(pq, 7u) * vv[7];
        acc[q * MAX_SLOTS + i] = a;
      }
    }
  }

  // Row sums: the 8 lanes' partials (all scaled to the same final max), then the output.
  for (var q = 0u; q < QB; q++) {
    let lq = l[q];
    let sum = ((subgroupBroadcast(lq, 0u) + subgroupBroadcast(lq, 1u)) + (subgroupBroadcast(lq, 2u) + subgroupBroadcast(lq, 3u)))
            + ((subgroupBroadcast(lq, 4u) + subgroupBroadcast(lq, 5u)) + (subgroupBroadcast(lq, 6u) + subgroupBroadcast(lq, 7u)));
    let qi = q0 + q;
    if (qi >= N) { break; }
    let o = out_row(b, qi) + head4;
    for (var i = 0u; i < SLOTS; i++) {
      let c = lane + 8u * i;
      if (c < D4) { out[o + c] = acc[q * MAX_SLOTS + i] / sum; }
    }
  }
}
