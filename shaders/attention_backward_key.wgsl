// Causal attention backward, the key side: for key row j of KV head g, over the GROUP query heads that
// read it and the queries i that see it (i ≥ j, and i − j < WINDOW with a window):
//   dv_j = Σ p_ij dO_i,   dk_j = SCALE · Σ p_ij (dp_ij − D_i) q_i,
// one invocation per key row, in one fixed order: no atomics, the same bits every run. Rows are read
// four values at a time.
//
// result [B·KV·T, 2·HD] (vec4<f32>): dk, then dv. Supplied around this text: `q`, `k`, `v`, `dout`,
// `stats` as in attention_backward_query.wgsl, and the constants and uniforms of attention_forward.wgsl.

fn main(index : i32) {
  let row = index;
  if (row >= uniforms.kvRows) {
    return;
  }
  let j = row % uniforms.seq;
  let bg = row / uniforms.seq;
  let b = bg / KV_HEADS;
  let g = bg % KV_HEADS;
  let kj = row * Q4;
  var last = uniforms.seq - 1;
  if (WINDOW > 0) {
    last = min(uniforms.seq - 1, j + WINDOW - 1);
  }
  var kr : array<vec4<f32>, Q4>;
  var vr : array<vec4<f32>, Q4>;
  var dk : array<vec4<f32>, Q4>;
  var dv : array<vec4<f32>, Q4>;
  for (var d = 0; d < Q4; d = d + 1) {
    kr[d] = k[kj + d] * SCALE;
    vr[d] = v[kj + d];
    dk[d] = vec4<f32>(0.0);
    dv[d] = vec4<f32>(0.0);
  }
  for (var h = g * GROUP; h < (g + 1) * GROUP; h = h + 1) {
    let headRow0 = (b * HEADS + h) * uniforms.seq;
    for (var i = j; i <= last; i = i + 1) {
      let qRow = headRow0 + i;
      let qBase = qRow * Q4;
      var s4 = vec4<f32>(0.0);
      var dp4 = vec4<f32>(0.0);
      for (var d = 0; d < Q4; d = d + 1) {
        s4 = s4 + q[qBase + d] * kr[d];
        dp4 = dp4 + dout[qBase + d] * vr[d];
      }
      let p = exp(s4.x + s4.y + s4.z + s4.w - stats[qRow * 2]);
      let ds = p * (dp4.x + dp4.y + dp4.z + dp4.w - stats[qRow * 2 + 1]);
      for (var d = 0; d < Q4; d = d + 1) {
        dv[d] = dv[d] + p * dout[qBase + d];
        dk[d] = dk[d] + ds * q[qBase + d];
      }
    }
  }
  let outBase = row * 2 * Q4;
  for (var d = 0; d < Q4; d = d + 1) {
    result[outBase + d] = dk[d] * SCALE;
    result[outBase + Q4 + d] = dv[d];
  }
}
