// LM-head logits of a block: logits [M, V] = hidden [M, d] · headᵀ, head [V, d] (d a multiple of 4).
//
// Each invocation computes a tile of ROWS hidden rows × 4 vocabulary entries in registers, walking d
// four at a time: per step it loads one vec4 of each of the 4 head rows and one of each hidden row and
// does 4·ROWS dot products, with no workgroup memory and no barriers. Both operands are read along d,
// the way they lie in memory. Out-of-range rows and columns are clamped on load and skipped on store.
//
// Supplied by the tfjs WebGPU program around this text: `hidden` and `head` (arrays of vec4<f32>),
// `result` (f32), `uniforms.hiddenShape`, `uniforms.headShape`, the built-in `globalId`, `const ROWS`,
// and per-row statements unrolled for ROWS rows in place of the three ROWS_* lines.

fn main() {
  let rows = uniforms.hiddenShape[0];
  let quads = uniforms.hiddenShape[1] / 4;
  let vocab = uniforms.headShape[0];
  let column = i32(globalId.x) * 4;
  let row0 = i32(globalId.y) * ROWS;
  if (column >= vocab || row0 >= rows) {
    return;
  }
  let w0 = min(column, vocab - 1) * quads;
  let w1 = min(column + 1, vocab - 1) * quads;
  let w2 = min(column + 2, vocab - 1) * quads;
  let w3 = min(column + 3, vocab - 1) * quads;
  ROWS_DECLARE
  for (var k = 0; k < quads; k = k + 1) {
    let c0 = head[w0 + k];
    let c1 = head[w1 + k];
    let c2 = head[w2 + k];
    let c3 = head[w3 + k];
    ROWS_ACCUMULATE
  }
  ROWS_STORE
}
