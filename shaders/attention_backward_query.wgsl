// Causal attention backward, the query side: dq_i = SCALE · Σ_j p_ij (dp_ij − D_i) k_j, one invocation
// per query row, each probability rebuilt from the forward pass's log-sum-exp L_i (p_ij =
// exp(SCALE q_i·k_j − L_i)), dp_ij = dO_i · v_j and D_i = dO_i · O_i. The sum runs over j in one fixed
// order: no atomics, the same bits every run.
//
// Supplied by the tfjs WebGPU program around this text: `q` [B, H, T, HD], `k`, `v` [B, KV, T, HD],
// `dout` [B, H, T, HD], `stats` [B·H·T, 2] (L, D), `result` [B, H, T, HD], and the
// constants and uniforms of attention_forward.wgsl.

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
  let lse = stats[row * 2];
  let delta = stats[row * 2 + 1];
  var first = 0;
  if (WINDOW > 0) {
    first = max(0, i - WINDOW + 1);
  }
  var acc : array<f32, HD>;
  for (var d = 0; d < HD; d = d + 1) {
    acc[d] = 0.0;
  }
  for (var j = first; j <= i; j = j + 1) {
    let kj = kvBase + j * HD;
    var s = 0.0;
    var dp = 0.0;
    for (var d = 0; d < HD; d = d + 1) {
      s = s + q[qBase + d] * k[kj + d];
      dp = dp + dout[qBase + d] * v[kj + d];
    }
    let ds = exp(s * SCALE - lse) * (dp - delta);
    for (var d = 0; d < HD; d = d + 1) {
      acc[d] = acc[d] + ds * k[kj + d];
    }
  }
  for (var d = 0; d < HD; d = d + 1) {
    result[qBase + d] = acc[d] * SCALE;
  }
}
