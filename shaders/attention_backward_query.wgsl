// Causal attention backward, the query side: dq_i = SCALE · Σ_j p_ij (dp_ij − D_i) k_j, each
// probability rebuilt from the forward pass's log-sum-exp L_i (p_ij = exp(SCALE q_i·k_j − L_i)),
// dp_ij = dO_i · v_j and D_i = dO_i · O_i. Each invocation takes a tile of R consecutive query rows of
// one head (each key and value row read serves all R); the sum runs over j in one fixed order: no
// atomics, the same bits every run. Rows are read four values at a time.
//
// Supplied by the tfjs WebGPU program around this text: `q` [B, H, T, HD], `k`, `v` [B, KV, T, HD],
// `dout` [B, H, T, HD] (arrays of vec4<f32>), `stats` [B·H·T, 2] (L, D; f32), `result` [B, H, T, HD]
// (vec4<f32>), and the constants, uniforms and helpers of attention_forward.wgsl.

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
  var gi : array<array<vec4<f32>, Q4>, R>;
  var acc : array<array<vec4<f32>, Q4>, R>;
  var lse : array<f32, R>;
  var delta : array<f32, R>;
  for (var r = 0; r < R; r = r + 1) {
    let row = bh * seq + min(i0 + r, seq - 1);
    for (var d = 0; d < Q4; d = d + 1) {
      qi[r][d] = q[row * Q4 + d] * SCALE;
      gi[r][d] = dout[row * Q4 + d];
      acc[r][d] = vec4<f32>(0.0);
    }
    lse[r] = stats[row * 2];
    delta[r] = stats[row * 2 + 1];
  }
  let first = firstKey(i0);
  let last = i0 + rows - 1;
  for (var j = first; j <= last; j = j + 1) {
    let kj = kvBase + j * Q4;
    var s4 : array<vec4<f32>, R>;
    var dp4 : array<vec4<f32>, R>;
    for (var r = 0; r < R; r = r + 1) {
      s4[r] = vec4<f32>(0.0);
      dp4[r] = vec4<f32>(0.0);
    }
    for (var d = 0; d < Q4; d = d + 1) {
      let kd = k[kj + d];
      let vd = v[kj + d];
      for (var r = 0; r < R; r = r + 1) {
        s4[r] = s4[r] + qi[r][d] * kd;
        dp4[r] = dp4[r] + gi[r][d] * vd;
      }
    }
    var ds : array<f32, R>;
    for (var r = 0; r < R; r = r + 1) {
      let i = i0 + r;
      ds[r] = 0.0;
      if (r < rows && j <= i && (WINDOW == 0 || i - j < WINDOW)) {
        let s = s4[r].x + s4[r].y + s4[r].z + s4[r].w;
        let dp = dp4[r].x + dp4[r].y + dp4[r].z + dp4[r].w;
        ds[r] = exp(s - lse[r]) * (dp - delta[r]);
      }
    }
    for (var d = 0; d < Q4; d = d + 1) {
      let kd = k[kj + d];
      for (var r = 0; r < R; r = r + 1) {
        acc[r][d] = acc[r][d] + ds[r] * kd;
      }
    }
  }
  for (var r = 0; r < rows; r = r + 1) {
    let base = (bh * seq + i0 + r) * Q4;
    for (var d = 0; d < Q4; d = d + 1) {
      result[base + d] = acc[r][d] * SCALE;
    }
  }
}
