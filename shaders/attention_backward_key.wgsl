// Causal attention backward, the key side: for key row j of KV head g, over the GROUP query heads that
// read it and the queries i that see it (i ≥ j, and i − j < WINDOW with a window):
//   dv_j = Σ p_ij dO_i,   dk_j = SCALE · Σ p_ij (dp_ij − D_i) q_i,
// one invocation per key row, in one fixed order: no atomics, the same bits every run.
//
// result [B·KV·T, 2·HD]: dk, then dv. Supplied around this text: `q`, `k`, `v`, `dout`, `stats` as in
// attention_backward_query.wgsl, and the constants and uniforms of attention_forward.wgsl.

fn main(index : i32) {
  let row = index;
  if (row >= uniforms.kvRows) {
    return;
  }
  let j = row % uniforms.seq;
  let bg = row / uniforms.seq;
  let b = bg / KV_HEADS;
  let g = bg % KV_HEADS;
  let kj = row * HD;
  var last = uniforms.seq - 1;
  if (WINDOW > 0) {
    last = min(uniforms.seq - 1, j + WINDOW - 1);
  }
  var dk : array<f32, HD>;
  var dv : array<f32, HD>;
  for (var d = 0; d < HD; d = d + 1) {
    dk[d] = 0.0;
    dv[d] = 0.0;
  }
  for (var h = g * GROUP; h < (g + 1) * GROUP; h = h + 1) {
    let headRow0 = (b * HEADS + h) * uniforms.seq;
    for (var i = j; i <= last; i = i + 1) {
      let qRow = headRow0 + i;
      let qBase = qRow * HD;
      var s = 0.0;
      var dp = 0.0;
      for (var d = 0; d < HD; d = d + 1) {
        s = s + q[qBase + d] * k[kj + d];
        dp = dp + dout[qBase + d] * v[kj + d];
      }
      let p = exp(s * SCALE - stats[qRow * 2]);
      let ds = p * (dp - stats[qRow * 2 + 1]);
      for (var d = 0; d < HD; d = d + 1) {
        dv[d] = dv[d] + p * dout[qBase + d];
        dk[d] = dk[d] + ds * q[qBase + d];
      }
    }
  }
  let outBase = row * 2 * HD;
  for (var d = 0; d < HD; d = d + 1) {
    result[outBase + d] = dk[d] * SCALE;
    result[outBase + HD + d] = dv[d];
  }
}
