// Causal attention backward, the query side: dq_i = SCALE · Σ_j p_ij (dp_ij − D_i) k_j, each
// probability rebuilt from the forward pass's log-sum-exp L_i (p_ij = exp(SCALE q_i·k_j − L_i)),
// dp_ij = dO_i · v_j and D_i = dO_i · O_i. Each invocation takes a tile of R consecutive query rows of
// one head (each key and value row read serves all R); the sum runs over j in one fixed order: no
// atomics, the same bits every run.
//
// The marker lines are written out by the program (attention-program.ts) for the tile's R rows and Q4
// vec4s: the rows' scaled queries qR_D, upstream gradients gR_D and accumulators aR_D are registers.
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
  LOAD_QUERY_ROWS
  let first = firstKey(i0);
  let last = i0 + rows - 1;
  for (var j = first; j <= last; j = j + 1) {
    let kj = kvBase + j * Q4;
    LOAD_KEY
    LOAD_VALUE
    SCORES
    SCORE_GRADIENTS
    ACCUMULATE_DQ
  }
  STORE_DQ
}
