// The image's patches into a matrix texture (im2col; TextureRef layout): row r = patch P0 + r of the
// batch (patch m = b·g² + t, t = gy·g + gx), its 3·p·p values in the conv weight's order (c, ky, kx),
// 4 per texel, zeros past 3·p·p. What patch_embed_texture multiplies by the weight; each image value
// is loaded once here instead of once per output column. One invocation per texel.

struct Params {
  rows: u32,        // patches packed by this call
  P0: u32,          // first patch
  image_size: u32,
  patch_size: u32,
  grid: u32,
  width: u32,       // texels per texture row (matrixTextureWidth(3·p·p))
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> image: array<f32>;   // [B, 3, S, S]
@group(0) @binding(2) var out: texture_storage_2d<rgba32uint, write>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let q = gid.x;
  let r = gid.y;
  if (q >= params.width || r >= params.rows) { return; }
  let p = params.patch_size;
  let g = params.grid;
  let S = params.image_size;
  let K = 3u * p * p;
  let m = params.P0 + r;
  let b = m / (g * g);
  let t = m % (g * g);
  var v = vec4f(0.0);
  for (var i = 0u; i < 4u; i++) {
    let k = 4u * q + i;
    if (k < K) {
      let c = k / (p * p);
      let rem = k % (p * p);
      v[i] = image[((b * 3u + c) * S + (t / g) * p + rem / p) * S + (t % g) * p + rem % p];
    }
  }
  textureStore(out, vec2u(q, r), bitcast<vec4u>(v));
}
