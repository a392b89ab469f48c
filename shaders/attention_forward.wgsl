// Causal attention forward, flash-style: one invocation per query row, the softmax kept online (running
// maximum and sum), so the T × T scores are never stored. Grouped-query: query head h reads KV head
// h / GROUP. A sliding window (WINDOW > 0) limits query i to keys j with i − j < WINDOW.
//
// out [B·H·T, HD + 1]: the row's output (HD values), then its log-sum-exp L = m + log l (what the
// backward pass needs to rebuild each probability).
//
// Supplied by the tfjs WebGPU program around this text: `q` [B, H, T, HD], `k` and `v` [B, KV, T, HD]
// (f32 arrays), `result`, the model's constants HD, HEADS, KV_HEADS, GROUP,
// WINDOW (0: none) and SCALE, and the batch's uniforms.seq (T), uniforms.rows (B·H·T) and
// uniforms.kvRows (B·KV·T).

fn main(index : i32) {
  let row = index;
  if (row >= uniforms.rows) {
    return;
  }
  let i = row % uniforms.seq;
  let bh = row / uniforms.seq;
  let b = bh / HEADS;
  let kvh = (bh % HEADS) / GROUP;
  let qBase = row * HD;
  let kvBase = (b * KV_HEADS + kvh) * uniforms.seq * HD;
  var first = 0;
  if (WINDOW > 0) {
    first = max(0, i - WINDOW + 1);
  }
  var acc : array<f32, HD>;
  for (var d = 0; d < HD; d = d + 1) {
    acc[d] = 0.0;
  }
  var m = -3.0e38;
  var l = 0.0;
  for (var j = first; j <= i; j = j + 1) {
    let kj = kvBase + j * HD;
    var s = 0.0;
    for (var d = 0; d < HD; d = d + 1) {
      s = s + q[qBase + d] * k[kj + d];
    }
    s = s * SCALE;
    let mNew = max(m, s);
    let correction = exp(m - mNew);
    let p = exp(s - mNew);
    l = l * correction + p;
    for (var d = 0; d < HD; d = d + 1) {
      acc[d] = acc[d] * correction + p * v[kj + d];
    }
    m = mNew;
  }
  let outBase = row * (HD + 1);
  for (var d = 0; d < HD; d = d + 1) {
    result[outBase + d] = acc[d] / l;
  }
  result[outBase + HD] = m + log(l);
}
