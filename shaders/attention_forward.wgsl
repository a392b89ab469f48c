// Causal attention forward, flash-style: one invocation per query row, the softmax kept online (running
// maximum and sum), so the T × T scores are never stored. Grouped-query: query head h reads KV head
// h / GROUP. A sliding window (WINDOW > 0) limits query i to keys j with i − j < WINDOW. Rows are read
// and accumulated four values at a time (HD is a multiple of 4; Q4 = HD / 4).
//
// out [B·H·T, HD + 1]: the row's output (HD values), then its log-sum-exp L = m + log l (what the
// backward pass needs to rebuild each probability).
//
// Supplied by the tfjs WebGPU program around this text: `q` [B, H, T, HD], `k` and `v` [B, KV, T, HD]
// (arrays of vec4<f32>), `result` (f32), the model's constants HD, Q4, HEADS, KV_HEADS, GROUP, WINDOW
// (0: none) and SCALE, and the batch's uniforms.seq (T), uniforms.rows (B·H·T) and uniforms.kvRows
// (B·KV·T).

fn main(index : i32) {
  let row = index;
  if (row >= uniforms.rows) {
    return;
  }
  let i = row % uniforms.seq;
  let bh = row / uniforms.seq;
  let b = bh / HEADS;
  let kvh = (bh % HEADS) / GROUP;
  let qBase = row * Q4;
  let kvBase = (b * KV_HEADS + kvh) * uniforms.seq * Q4;
  var first = 0;
  if (WINDOW > 0) {
    first = max(0, i - WINDOW + 1);
  }
  var qi : array<vec4<f32>, Q4>;
  var acc : array<vec4<f32>, Q4>;
  for (var d = 0; d < Q4; d = d + 1) {
    qi[d] = q[qBase + d] * SCALE;
    acc[d] = vec4<f32>(0.0);
  }
  var m = -3.0e38;
  var l = 0.0;
  for (var j = first; j <= i; j = j + 1) {
    let kj = kvBase + j * Q4;
    var s4 = vec4<f32>(0.0);
    for (var d = 0; d < Q4; d = d + 1) {
      s4 = s4 + qi[d] * k[kj + d];
    }
    let s = s4.x + s4.y + s4.z + s4.w;
    let mNew = max(m, s);
    let correction = exp(m - mNew);
    let p = exp(s - mNew);
    l = l * correction + p;
    for (var d = 0; d < Q4; d = d + 1) {
      acc[d] = acc[d] * correction + p * v[kj + d];
    }
    m = mNew;
  }
  let outBase = row * (HD + 1);
  for (var d = 0; d < Q4; d = d + 1) {
    let o = acc[d] / l;
    result[outBase + 4 * d] = o.x;
    result[outBase + 4 * d + 1] = o.y;
    result[outBase + 4 * d + 2] = o.z;
    result[outBase + 4 * d + 3] = o.w;
  }
  result[outBase + HD] = m + log(l);
}
