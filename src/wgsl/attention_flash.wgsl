// Fused multi-head self-attention, flash-attention style, for GPUs: Q, K and V tiles in workgroup
// memory, register tiles for both Q·Kᵀ and P·V, online softmax in f32, optionally over one key range
// of several (a split over keys, merged by attention_flash_combine.wgsl).
//   qkv: [B, N, 3W] with q | k | v along the last axis, head h at columns h*D .. h*D+D-1 of each;
//   out: [B, N, W];  W = heads * D;  out = softmax(q k^T * scale) v per (batch, head).
// Workgroup: 8×8 invocations (tx, ty), BQ = 32 queries, keys walked BK at a time (32, or 16 above
// D = 100 so that the tiles fit 32 KiB). Invocation (tx, ty) owns
//   - queries ty, ty+8, ty+16, ty+24 of the tile (rows r = 0..3; rows 8 apart, and keys below 8
//     apart, so that the 8 or 4 invocations reading different rows in one step hit different banks),
//   - for the scores, keys tx, tx+8 (, tx+16, tx+24 when BK = 32) of the key block: a 4×KR register
//     tile, each head-dim step 4 + KR vec4 workgroup-memory loads for 4·KR four-wide dot products
//     (4 FMAs per loaded float at KR = 4; 8/3 at KR = 2),
//   - for the output, vec4 columns tx, tx+8, tx+16, tx+24 (CI ≤ 4 of them) of its 4 rows: per key
//     1 + CI vec4 loads (p of its 4 rows, CI values) for 4·CI vec4 FMAs (3.2 FMAs per loaded
//     float at CI = 4, D = 128; 2 at CI = 1, D ≤ 32).
// Per key block: K is loaded into KV (barrier), scored, each invocation's row maxima go through
// `red` (barrier); every invocation then has the block's row max, rescales its running sum and
// output once, writes its probabilities to Ps, and V is loaded into KV over K (barrier); P·V
// (barrier, before the next block overwrites KV). The running row sums stay per invocation (each
// over its own keys, all scaled to the same running max) and are added across the 8 invocations of a
// row once, at the end.
// Live values per invocation (f32 registers; CI = ceil(D / 32), KR = BK / 8):
//   acc 16·CI (≤ 64 at D = 128), scores 16, running max and sum 8, one step's operands 4·KR + 4
//   (scores: KR key vec4s + one query vec4 at a time; P·V: p + one value vec4 = 8), plus ~12
//   indices: ≤ ~110 at D = 128 whatever the driver unrolls, no array but acc, and acc only ever
//   indexed by constants (the //!unroll loops, guarded by CI, a constant once specialised;
//   test/wgsl/spirv.test.ts) — no head-dim-128 spill by construction.
// Workgroup memory (vec4s): Qs BQ·QS + KV BK·QS + Ps BK·8 + red 64, QS = D4 rounded up to odd (the
// row stride): 22,528 B at D = 64, 30,720 B at D = 100 (BK = 32), 28,416 B at D = 128 (BK = 16); the
// wrapper (src/kernels/attention.ts: flashWorkgroupBytes) computes the same and checks the limit.
// Grid: (QT · splits, heads, B), QT = ceil(N / BQ); workgroup x = split · QT + query tile. Split s
// reads keys [s · key_chunk, (s + 1) · key_chunk) (key_chunk a multiple of BK: the blocks stay
// aligned; the last split is shorter where N is not a multiple). KEY_SPLITS = false: one split, out
// is the normalised output. KEY_SPLITS = true: out is the [splits, B, N, W] partial output (each split's
// unnormalised Σ p·v, scaled to its own running max) and stats the [splits, B, heads, N] (max, sum)
// pairs, merged by attention_flash_combine.wgsl. Not split, stats is never written (a small buffer
// is bound).
// CAUSAL (as _attention_io.wgsl): a workgroup's key range also ends after its last query, so key
// blocks past it are never loaded (the host's tiles end at multiples of BQ, and BK divides BQ); in
// the blocks it reads, keys after a row's query score -inf and weigh exactly 0 (a split whose keys
// all come after a row then leaves that row's sum 0 and its max -3e38, which the combine weighs 0).
// D = HEAD_DIM: a multiple of 4, at most 128 (4 · 8 · MAX_CI).

struct Params {
  tokens: u32,
  heads: u32,
  scale: f32,
  key_chunk: u32,   // keys per split: a multiple of BK (≥ N rounded up to BK when not split)
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> qkv: array<vec4f>;
@group(0) @binding(2) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(3) var<storage, read_write> stats: array<vec2f>;

override HEAD_DIM: u32 = 64u;
override D4: u32 = HEAD_DIM / 4u;          // derived; not meant to be set
override CAUSAL: bool = false;
override KEY_SPLITS: bool = false;         // write partials for attention_flash_combine (see above)
// Test build: tx / ty from local y / x, so that the exchanges within a row (red, Ps: between the 8
// invocations of one ty, consecutive invocations otherwise) cross the lockstep groups of CPU
// adapters, where a missing barrier would otherwise go unseen (as attention_tiled's). A constant.
override PERMUTE_LANES: bool = false;
const BQ: u32 = 32u;
const MAX_CI: u32 = 4u;                    // = the //!unroll counts below: D4 ≤ 8 · MAX_CI
const NEG: f32 = -3.0e38;
override CI: u32 = (D4 + 7u) / 8u;         // output vec4 columns per invocation; derived
override BK: u32 = 32u / (1u + D4 / 26u);  // keys per block: 32 up to D = 100, 16 above; derived
override KR: u32 = BK / 8u;                // keys per invocation per block (4 or 2); derived
override QS: u32 = D4 + 1u - D4 % 2u;      // row stride of Qs and KV in vec4s (odd); derived
// The tiles' element type: f32, or (the f16 precision build, tools/embed-wgsl.mjs //!math) f16:
// q (scaled), k, v and p rounded to f16 as they are staged, each score a sum of f16 4-wide dot
// products in f32, and P·V summed in f16 over 8 keys at a time, each such partial then added to the
// f32 output (pv, 16·CI f16 more live values); the softmax's max, exp and sums stay f32, the sums
// over the rounded p (vec4f(kv4(p)), the identity in the f32 build), so that the weights P·V uses sum
// to exactly the l it is divided by.
//!math f16
alias kv4 = vec4<f16>;
//!math f32
alias kv4 = vec4f;
//!math end
var<workgroup> Qs: array<kv4, BQ * QS>;  // the query tile, pre-scaled, zero past N
var<workgroup> KV: array<kv4, BK * QS>;  // the key block, then the value block (zero past the range)
var<workgroup> Ps: array<kv4, BK * 8u>;  // Ps[j·8 + ty] = p of rows ty, ty+8, ty+16, ty+24 at key j
var<workgroup> red: array<vec4f, 64>;      // red[ty·8 + tx]: an invocation's value for its 4 rows

fn hsum(v: vec4f) -> f32 { return (v.x + v.y) + (v.z + v.w); }
fn hmax(v: vec4f) -> f32 { return max(max(v.x, v.y), max(v.z, v.w)); }

@compute @workgroup_size(8, 8)
fn main(
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
  @builtin(local_invocation_id) lid3: vec3u,
  @builtin(local_invocation_index) lid: u32,
) {
  let N = params.tokens;
  let b = wid.z;
  let h = wid.y;
  let tx = select(lid3.x, lid3.y, PERMUTE_LANES);
  let ty = select(lid3.y, lid3.x, PERMUTE_LANES);
  let QT = (N + BQ - 1u) / BQ;
  let qt = wid.x % QT;
  let split = wid.x / QT;
  let W4 = params.heads * D4;
  let row4 = 3u * W4;
  let head4 = h * D4;
  let t0 = qt * BQ;                          // the tile's first query

  // The query tile, scaled, coalesced along the head dim; rows past N are zero.
  for (var i = lid; i < BQ * D4; i += 64u) {
    let r = i / D4;
    let d = i % D4;
    let q = t0 + r;
    var x = vec4f(0.0);
    if (q < N) { x = qkv[(b * N + q) * row4 + head4 + d] * params.scale; }
    Qs[r * QS + d] = kv4(x);
  }

  // This workgroup's keys: its split's range, ending (causal) after the tile's last query. Uniform.
  let kv_start = split * params.key_chunk;
  var kv_end = min(N, kv_start + params.key_chunk);
  if (CAUSAL) { kv_end = min(kv_end, t0 + BQ); }
  let qv = vec4u(t0 + ty) + vec4u(0u, 8u, 16u, 24u);   // this invocation's 4 queries

  var m = vec4f(NEG);                        // running max of rows 0..3
  var l = vec4f(0.0);                        // running sum over this invocation's keys, rows 0..3
  var acc: array<vec4f, 4u * MAX_CI>;        // acc[MAX_CI·r + i]: row r, output vec4 column tx + 8·i

  for (var kv0 = kv_start; kv0 < kv_end; kv0 += BK) {
    for (var i = lid; i < BK * D4; i += 64u) {
      let j = i / D4;
      let d = i % D4;
      let key = kv0 + j;
      var x = vec4f(0.0);
      if (key < kv_end) { x = qkv[(b * N + key) * row4 + W4 + head4 + d]; }
      KV[j * QS + d] = kv4(x);
    }
    workgroupBarrier();

    var s0 = vec4f(0.0);
    var s1 = vec4f(0.0);
    var s2 = vec4f(0.0);
    var s3 = vec4f(0.0);
    let ka = tx * QS;
    if (KR == 4u) {
      for (var d = 0u; d < D4; d++) {
        let k0 = KV[ka + d];
        let k1 = KV[ka + 8u * QS + d];
        let k2 = KV[ka + 16u * QS + d];
        let k3 = KV[ka + 24u * QS + d];
        let x0 = Qs[ty * QS + d];
        s0 += vec4f(f32(dot(x0, k0)), f32(dot(x0, k1)), f32(dot(x0, k2)), f32(dot(x0, k3)));
        let x1 = Qs[(ty + 8u) * QS + d];
        s1 += vec4f(f32(dot(x1, k0)), f32(dot(x1, k1)), f32(dot(x1, k2)), f32(dot(x1, k3)));
        let x2 = Qs[(ty + 16u) * QS + d];
        s2 += vec4f(f32(dot(x2, k0)), f32(dot(x2, k1)), f32(dot(x2, k2)), f32(dot(x2, k3)));
        let x3 = Qs[(ty + 24u) * QS + d];
        s3 += vec4f(f32(dot(x3, k0)), f32(dot(x3, k1)), f32(dot(x3, k2)), f32(dot(x3, k3)));
      }
    } else {
      for (var d = 0u; d < D4; d++) {
        let k0 = KV[ka + d];
        let k1 = KV[ka + 8u * QS + d];
        let x0 = Qs[ty * QS + d];
        s0 += vec4f(f32(dot(x0, k0)), f32(dot(x0, k1)), 0.0, 0.0);
        let x1 = Qs[(ty + 8u) * QS + d];
        s1 += vec4f(f32(dot(x1, k0)), f32(dot(x1, k1)), 0.0, 0.0);
        let x2 = Qs[(ty + 16u) * QS + d];
        s2 += vec4f(f32(dot(x2, k0)), f32(dot(x2, k1)), 0.0, 0.0);
        let x3 = Qs[(ty + 24u) * QS + d];
        s3 += vec4f(f32(dot(x3, k0)), f32(dot(x3, k1)), 0.0, 0.0);
      }
    }
    // Keys past the range (and the lanes past KR), and causal keys after a row's query: -inf, p = 0.
    let keys = vec4u(kv0 + tx) + vec4u(0u, 8u, 16u, 24u);
    let live = (keys < vec4u(kv_end)) & (vec4u(0u, 1u, 2u, 3u) < vec4u(KR));
    let any_q = vec4<bool>(!CAUSAL);
    let l0 = live & ((keys <= vec4u(qv.x)) | any_q);
    let l1 = live & ((keys <= vec4u(qv.y)) | any_q);
    let l2 = live & ((keys <= vec4u(qv.z)) | any_q);
    let l3 = live & ((keys <= vec4u(qv.w)) | any_q);
    s0 = select(vec4f(NEG), s0, l0);
    s1 = select(vec4f(NEG), s1, l1);
    s2 = select(vec4f(NEG), s2, l2);
    s3 = select(vec4f(NEG), s3, l3);

    red[ty * 8u + tx] = vec4f(hmax(s0), hmax(s1), hmax(s2), hmax(s3));
    workgroupBarrier();
    // Every K read is done: KV may take V. The 8 invocations of a row read the same 8 maxima.
    var mt = red[ty * 8u];
    for (var t = 1u; t < 8u; t++) { mt = max(mt, red[ty * 8u + t]); }
    let m_new = max(m, mt);
    let corr = exp(m - m_new);
    m = m_new;
    let p0 = vec4f(kv4(select(vec4f(0.0), exp(s0 - m_new.x), l0)));
    let p1 = vec4f(kv4(select(vec4f(0.0), exp(s1 - m_new.y), l1)));
    let p2 = vec4f(kv4(select(vec4f(0.0), exp(s2 - m_new.z), l2)));
    let p3 = vec4f(kv4(select(vec4f(0.0), exp(s3 - m_new.w), l3)));
    l = l * corr + vec4f(hsum(p0), hsum(p1), hsum(p2), hsum(p3));
    Ps[tx * 8u + ty] = kv4(vec4f(p0.x, p1.x, p2.x, p3.x));
    Ps[(tx + 8u) * 8u + ty] = kv4(vec4f(p0.y, p1.y, p2.y, p3.y));
    if (KR == 4u) {
      Ps[(tx + 16u) * 8u + ty] = kv4(vec4f(p0.z, p1.z, p2.z, p3.z));
      Ps[(tx + 24u) * 8u + ty] = kv4(vec4f(p0.w, p1.w, p2.w, p3.w));
    }
    //!unroll i 4
    if ($i < CI) {
      acc[$i] *= corr.x;
      acc[MAX_CI + $i] *= corr.y;
      acc[2u * MAX_CI + $i] *= corr.z;
      acc[3u * MAX_CI + $i] *= corr.w;
    }
    //!end
    for (var i = lid; i < BK * D4; i += 64u) {
      let j = i / D4;
      let d = i % D4;
      let key = kv0 + j;
      var x = vec4f(0.0);
      if (key < kv_end) { x = qkv[(b * N + key) * row4 + 2u * W4 + head4 + d]; }
      KV[j * QS + d] = kv4(x);
    }
    workgroupBarrier();

    let nk = min(BK, kv_end - kv0);
//!math f16
    for (var j0 = 0u; j0 < nk; j0 += 8u) {
      var pv = array<kv4, 4u * MAX_CI>();    // a run of ≤ 8 keys, summed in f16 (initialised: test/wgsl/lint.test.ts)
      for (var j = j0; j < min(j0 + 8u, nk); j++) {
        let p = Ps[j * 8u + ty];
        let vrow = j * QS + tx;
        //!unroll i 4
        if ($i < CI && tx + 8u * $i < D4) {
          let v = KV[vrow + 8u * $i];
          pv[$i] = fma(kv4(p.x), v, pv[$i]);
          pv[MAX_CI + $i] = fma(kv4(p.y), v, pv[MAX_CI + $i]);
          pv[2u * MAX_CI + $i] = fma(kv4(p.z), v, pv[2u * MAX_CI + $i]);
          pv[3u * MAX_CI + $i] = fma(kv4(p.w), v, pv[3u * MAX_CI + $i]);
        }
        //!end
      }
      //!unroll i 4
      if ($i < CI) {
        acc[$i] += vec4f(pv[$i]);
        acc[MAX_CI + $i] += vec4f(pv[MAX_CI + $i]);
        acc[2u * MAX_CI + $i] += vec4f(pv[2u * MAX_CI + $i]);
        acc[3u * MAX_CI + $i] += vec4f(pv[3u * MAX_CI + $i]);
      }
      //!end
    }
//!math f32
    for (var j = 0u; j < nk; j++) {
      let p = Ps[j * 8u + ty];
      let vrow = j * QS + tx;
      //!unroll i 4
      if ($i < CI && tx + 8u * $i < D4) {
        let v = KV[vrow + 8u * $i];
        acc[$i] = fma(vec4f(p.x), v, acc[$i]);
        acc[MAX_CI + $i] = fma(vec4f(p.y), v, acc[MAX_CI + $i]);
        acc[2u * MAX_CI + $i] = fma(vec4f(p.z), v, acc[2u * MAX_CI + $i]);
        acc[3u * MAX_CI + $i] = fma(vec4f(p.w), v, acc[3u * MAX_CI + $i]);
      }
      //!end
    }
//!math end
    // The next block overwrites KV (and red, Ps) only after every invocation is done reading them.
    workgroupBarrier();
  }

  // Row sums: the 8 invocations' partials of a row, all scaled to the same final max.
  red[ty * 8u + tx] = l;
  workgroupBarrier();
  var lt = red[ty * 8u];
  for (var t = 1u; t < 8u; t++) { lt += red[ty * 8u + t]; }

  if (!KEY_SPLITS) {
    let inv = 1.0 / lt;
    //!unroll r 4
    if (qv[$r] < N) {
      //!unroll i 4
      if ($i < CI && tx + 8u * $i < D4) {
        out[(b * N + qv[$r]) * W4 + head4 + tx + 8u * $i] = acc[MAX_CI * $r + $i] * inv[$r];
      }
      //!end
    }
    //!end
  } else {
    let B = nwg.z;
    let obase = (split * B + b) * N;
    let sbase = ((split * B + b) * params.heads + h) * N;
    //!unroll r 4
    if (qv[$r] < N) {
      //!unroll i 4
      if ($i < CI && tx + 8u * $i < D4) {
        out[(obase + qv[$r]) * W4 + head4 + tx + 8u * $i] = acc[MAX_CI * $r + $i];
      }
      //!end
      if (tx == 0u) { stats[sbase + qv[$r]] = vec2f(m[$r], lt[$r]); }
    }
    //!end
  }
}
