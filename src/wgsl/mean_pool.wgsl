// Mean over the token axis, skipping leading rows (the class token):
// y[b, c] = mean_{t = skip .. rows-1} x[b, t, c].  x: [batch, rows, dim], y: [batch, dim].
// One invocation per output element; consecutive invocations read consecutive columns.

struct Params {
  batch: u32,
  rows: u32,
  dim: u32,
  skip: u32,
}

@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let c = gid.x;
  let b = gid.y;
  if (c >= params.dim || b >= params.batch) { return; }
  var s = 0.0;
  var idx = (b * params.rows + params.skip) * params.dim + c;
  for (var t = params.skip; t < params.rows; t++) {
    s += x[idx];
    idx += params.dim;
  }
  y[b * params.dim + c] = s / f32(params.rows - params.skip);
}
