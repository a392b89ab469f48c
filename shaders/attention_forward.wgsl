// Causal attention forward, flash-style: the softmax kept online (running maximum and sum per query
// row), so the T × T scores are never stored. Each invocation takes a tile of R consecutive query rows
// of one head, so that each key and value row it reads serves all R. Grouped-query: query head h reads
// KV head h / GROUP. A sliding window (WINDOW > 0) limits query i to keys j with i − j < WINDOW. Rows
// are read and accumulated four values at a time (HD is a multiple of 4; Q4 = HD / 4).
//
// out [B·H·T, HD + 1]: each row's output (HD values), then its log-sum-exp L = m + log l (what the
// backward pass needs to rebuild each probability).
//
// Supplied by the tfjs WebGPU program around this text: `q` [B, H, T, HD], `k` and `v` [B, KV, T, HD]
// (arrays of vec4<f32>), `result` (f32), the constants HD, Q4, R, HEADS, KV_HEADS, GROUP, WINDOW
// (0: none) and SCALE, the batch's uniforms.seq (T) and uniforms.tiles (B·H·⌈T/R⌉), and
// attention_common.wgsl.

fn main(index : i32) {
  if (index >= uniforms.tiles) {
    return;
  }
  let seq = uniforms.seq;
  let tile = tileOf(index, true);
  let bh = tile.head;
  let i0 = tile.start;
  let rows = tile.rows;
  let kvBase = kvBaseOf(bh);
  var qi : array<array<vec4<f32>, Q4>, R>;
  var acc : array<array<vec4<f32>, Q4>, R>;
  var m : array<f32, R>;
  var l : array<f32, R>;
  for (var r = 0; r < R; r = r + 1) {
    let qBase = (bh * seq + min(i0 + r, seq - 1)) * Q4;
    for (var d = 0; d < Q4; d = d + 1) {
      qi[r][d] = q[qBase + d] * SCALE;
      acc[r][d] = vec4<f32>(0.0);
    }
    m[r] = -3.0e38;
    l[r] = 0.0;
  }
  let first = firstKey(i0);
  let last = i0 + rows - 1;
  for (var j = first; j <= last; j = j + 1) {
    let kj = kvBase + j * Q4;
    var s4 : array<vec4<f32>, R>;
    for (var r = 0; r < R; r = r + 1) {
      s4[r] = vec4<f32>(0.0);
    }
    for (var d = 0; d < Q4; d = d + 1) {
      let kd = k[kj + d];
      for (var r = 0; r < R; r = r + 1) {
        s4[r] = s4[r] + qi[r][d] * kd;
      }
    }
    var p : array<f32, R>;
    var correction : array<f32, R>;
    for (var r = 0; r < R; r = r + 1) {
      let i = i0 + r;
      p[r] = 0.0;
      correction[r] = 1.0;
      if (r < rows && j <= i && (WINDOW == 0 || i - j < WINDOW)) {
        let s = s4[r].x + s4[r].y + s4[r].z + s4[r].w;
        let mNew = max(m[r], s);
        correction[r] = exp(m[r] - mNew);
        p[r] = exp(s - mNew);
        l[r] = l[r] * correction[r] + p[r];
        m[r] = mNew;
      }
    }
    for (var d = 0; d < Q4; d = d + 1) {
      let vd = v[kj + d];
      for (var r = 0; r < R; r = r + 1) {
        acc[r][d] = acc[r][d] * correction[r] + p[r] * vd;
      }
    }
  }
  for (var r = 0; r < rows; r = r + 1) {
    let outBase = (bh * seq + i0 + r) * (HD + 1);
    for (var d = 0; d < Q4; d = d + 1) {
      let o = acc[r][d] / l[r];
      result[outBase + 4 * d] = o.x;
      result[outBase + 4 * d + 1] = o.y;
      result[outBase + 4 * d + 2] = o.z;
      result[outBase + 4 * d + 3] = o.w;
    }
    result[outBase + HD] = m[r] + log(l[r]);
  }
}
