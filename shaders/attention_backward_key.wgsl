// Causal attention backward, the key side: for key row j of KV head g, over the GROUP query heads that
// read it and the queries i that see it (i ≥ j, and i − j < WINDOW with a window):
//   dv_j = Σ p_ij dO_i,   dk_j = SCALE · Σ p_ij (dp_ij − D_i) q_i.
// Each invocation takes a tile of R consecutive key rows (each query and dO row read serves all R), and
// sums in one fixed order: no atomics, the same bits every run.
//
// The marker lines are written out by the program (attention-program.ts) for the tile's R rows and Q4
// vec4s: the rows' scaled keys kR_D, values vR_D and accumulators dkR_D, dvR_D are registers.
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
  LOAD_KEY_ROWS
  let last = lastQuery(j0 + rows - 1);
  for (var h = g * GROUP; h < (g + 1) * GROUP; h = h + 1) {
    let headRow0 = (b * HEADS + h) * seq;
    for (var i = j0; i <= last; i = i + 1) {
      let qRow = headRow0 + i;
      let qBase = qRow * Q4;
      let lse = stats[qRow * 2];
      let delta = stats[qRow * 2 + 1];
      LOAD_QUERY
      SCORES
      SCORE_GRADIENTS
      ACCUMULATE_DK_DV
    }
  }
  STORE_DK_DV
}
