// Causal attention backward, the key side: for key row j of KV head g, over the GROUP query heads that
// read it and the queries i that see it (i ≥ j, and i − j < WINDOW with a window):
//   dv_j = Σ p_ij dO_i,   dk_j = SCALE · Σ p_ij (dp_ij − D_i) q_i.
// Each invocation takes a tile of R consecutive key rows (each query and dO row read serves all R), and
// sums in one fixed order: no atomics, the same bits every run. Rows are read four values at a time.
//
// result [B·KV·T, 2·HD] (vec4<f32>): dk, then dv. Supplied around this text: `q`, `k`, `v`, `dout`,
// `stats` as in attention_backward_query.wgsl, the constants of attention_forward.wgsl, uniforms.seq,
// uniforms.tiles (B·KV·⌈T/R⌉), and attention_common.wgsl.

fn main(index : i32) {
  if (index >= uniforms.tiles) {
    return;
  }
  let seq = uniforms.seq;
  let tile = tileOf(index, false);
  let bg = tile.head;
  let j0 = tile.start;
  let rows = tile.rows;
  let b = bg / KV_HEADS;
  let g = bg % KV_HEADS;
  var kr : array<array<vec4<f32>, Q4>, R>;
  var vr : array<array<vec4<f32>, Q4>, R>;
  var dk : array<array<vec4<f32>, Q4>, R>;
  var dv : array<array<vec4<f32>, Q4>, R>;
  for (var r = 0; r < R; r = r + 1) {
    let kj = (bg * seq + min(j0 + r, seq - 1)) * Q4;
    for (var d = 0; d < Q4; d = d + 1) {
      kr[r][d] = k[kj + d] * SCALE;
      vr[r][d] = v[kj + d];
      dk[r][d] = vec4<f32>(0.0);
      dv[r][d] = vec4<f32>(0.0);
    }
  }
  let last = lastQuery(j0 + rows - 1);
  for (var h = g * GROUP; h < (g + 1) * GROUP; h = h + 1) {
    let headRow0 = (b * HEADS + h) * seq;
    for (var i = j0; i <= last; i = i + 1) {
      let qRow = headRow0 + i;
      let qBase = qRow * Q4;
      var s4 : array<vec4<f32>, R>;
      var dp4 : array<vec4<f32>, R>;
      for (var r = 0; r < R; r = r + 1) {
        s4[r] = vec4<f32>(0.0);
        dp4[r] = vec4<f32>(0.0);
      }
      for (var d = 0; d < Q4; d = d + 1) {
        let qd = q[qBase + d];
        let gd = dout[qBase + d];
        for (var r = 0; r < R; r = r + 1) {
          s4[r] = s4[r] + qd * kr[r][d];
          dp4[r] = dp4[r] + gd * vr[r][d];
        }
      }
      let lse = stats[qRow * 2];
      let delta = stats[qRow * 2 + 1];
      var p : array<f32, R>;
      var ds : array<f32, R>;
      for (var r = 0; r < R; r = r + 1) {
        let j = j0 + r;
        p[r] = 0.0;
        ds[r] = 0.0;
        if (r < rows && i >= j && (WINDOW == 0 || i - j < WINDOW)) {
          p[r] = exp(s4[r].x + s4[r].y + s4[r].z + s4[r].w - lse);
          ds[r] = p[r] * (dp4[r].x + dp4[r].y + dp4[r].z + dp4[r].w - delta);
        }
      }
      for (var d = 0; d < Q4; d = d + 1) {
        let qd = q[qBase + d];
        let gd = dout[qBase + d];
        for (var r = 0; r < R; r = r + 1) {
          dv[r][d] = dv[r][d] + p[r] * gd;
          dk[r][d] = dk[r][d] + ds[r] * qd;
        }
      }
    }
  }
  for (var r = 0; r < rows; r = r + 1) {
    let outBase = (bg * seq + j0 + r) * 2 * Q4;
    for (var d = 0; d < Q4; d = d + 1) {
      result[outBase + d] = dk[r][d] * SCALE;
      result[outBase + Q4 + d] = dv[r][d];
    }
  }
}
