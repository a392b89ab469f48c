// Causal attention forward, flash-style: the softmax kept online (running maximum and sum per query
// row), so the T × T scores are never stored. Each invocation takes a tile of R consecutive query rows
// of one head, so that each key and value row it reads serves all R. Grouped-query: query head h reads
// KV head h / GROUP. A sliding window (WINDOW > 0) limits query i to keys j with i − j < WINDOW.
//
// Every per-row and per-vec4 statement is written out by the program (the capitalised marker lines,
// attention-program.ts) for the tile's R rows and the head's Q4 = HD / 4 vec4s, so that the tile's
// query rows (qR_D, scaled), output accumulators (aR_D), running maxima (mR) and sums (lR) are named
// registers rather than arrays indexed at run time.
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
  LOAD_QUERY_ROWS
  let first = firstKey(i0);
  let last = i0 + rows - 1;
  for (var j = first; j <= last; j = j + 1) {
    let kj = kvBase + j * Q4;
    LOAD_KEY
    SCORES
    ONLINE_SOFTMAX
    LOAD_VALUE
    ACCUMULATE_OUTPUT
  }
  STORE_OUTPUT
}
