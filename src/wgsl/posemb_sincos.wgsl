// OpenVision's fixed 2-D sin-cos position table for a grid x grid patch layout, class row first:
// row 0 is zeros; patch (r, c) at row 1 + r*grid + c holds
//   [sin(c*w_i), cos(c*w_i), sin(r*w_i), cos(r*w_i)]  (i = 0..q-1, q = dim/4, w_i = 10000^(-i/(q-1))).
// omega [q] holds the w_i, computed on the CPU (a GPU pow() is only accurate to ~30 ulp here, which
// times an angle of up to ~40 would cost 1e-5). The angle is reduced to [-pi, pi] with a
// two-constant (Cody-Waite) 2*pi split before sin/cos, since WGSL only bounds sin/cos accuracy
// inside that interval. out: [1 + grid*grid, dim].

struct Params {
  grid: u32,
  dim: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> omega: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;

const TWO_PI_HI: f32 = 6.28125;                 // exactly representable, few mantissa bits
const TWO_PI_LO: f32 = 1.9353071795864769e-3;   // 2*pi - TWO_PI_HI

fn reduce_angle(a: f32) -> f32 {
  let k = round(a / (TWO_PI_HI + TWO_PI_LO));
  return (a - k * TWO_PI_HI) - k * TWO_PI_LO;
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let col = gid.x;
  let row = gid.y;
  let q = params.dim / 4u;
  if (col >= params.dim || row > params.grid * params.grid) { return; }
  let o = row * params.dim + col;
  if (row == 0u) { out[o] = 0.0; return; }
  let p = row - 1u;
  let part = col / q;   // 0: sin(c), 1: cos(c), 2: sin(r), 3: cos(r)
  let i = col % q;
  var pos = f32(p % params.grid);
  if (part >= 2u) { pos = f32(p / params.grid); }
  let a = reduce_angle(pos * omega[i]);
  if (part == 0u || part == 2u) { out[o] = sin(a); } else { out[o] = cos(a); }
}
