// Causal attention backward, the query side: dq_i = SCALE · Σ_j p_ij (dp_ij − D_i) k_j, one invocation
// per query row, each probability rebuilt from the forward pass's log-sum-exp L_i (p_ij =
// exp(SCALE q_i·k_j − L_i)), dp_ij = dO_i · v_j and D_i = dO_i · O_i. The sum runs over j in one fixed
// order: no atomics, the same bits every run. Rows are read four values at a time.
//
// Supplied by the tfjs WebGPU program around this text: `q` [B, H, T, HD], `k`, `v` [B, KV, T, HD],
// `dout` [B, H, T, HD] (arrays of vec4<f32>), `stats` [B·H·T, 2] (L, D; f32), `result` [B, H, T, HD]
// (vec4<f32>), and the constants and uniforms of attention_forward.wgsl.

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
  let lse = stats[row * 2];
  let delta = stats[row * 2 + 1];
  var first = 0;
  if (WINDOW > 0) {
    first = max(0, i - WINDOW + 1);
  }
  var qi : array<vec4<f32>, Q4>;
  var gi : array<vec4<f32>, Q4>;
  var acc : array<vec4<f32>, Q4>;
  for (var d = 0; d < Q4; d = d + 1) {
    qi[d] = q[qBase + d] * SCALE;
    gi[d] = dout[qBase + d];
    acc[d] = vec4<f32>(0.0);
  }
  for (var j = first; j <= i; j = j + 1) {
    let kj = kvBase + j * Q4;
    var s4 = vec4<f32>(0.0);
    var dp4 = vec4<f32>(0.0);
    for (var d = 0; d < Q4; d = d + 1) {
      s4 = s4 + qi[d] * k[kj + d];
      dp4 = dp4 + gi[d] * v[kj + d];
    }
    let s = s4.x + s4.y + s4.z + s4.w;
    let dp = dp4.x + dp4.y + dp4.z + dp4.w;
    let ds = exp(s - lse) * (dp - delta);
    for (var d = 0; d < Q4; d = d + 1) {
      acc[d] = acc[d] + ds * k[kj + d];
    }
  }
  for (var d = 0; d < Q4; d = d + 1) {
    result[qBase + d] = acc[d] * SCALE;
  }
}
