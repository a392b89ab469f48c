// LM-head backward to the hidden states of a block: dhidden [M, d] = dlogits [M, V] · head [V, d]
// (d a multiple of 4).
//
// Each invocation computes ROWS rows × 4 hidden columns (one vec4) in registers, walking the
// vocabulary: per entry it loads one vec4 of the head row and one dlogit per row and does ROWS vec4
// multiply-adds, with no workgroup memory and no barriers. Out-of-range rows are clamped on load and
// skipped on store.
//
// Supplied by the tfjs WebGPU program around this text: `dlogits` (f32), `head` (vec4<f32>), `result`
// (vec4<f32>), `uniforms.dlogitsShape`, `uniforms.headShape`, the built-in `globalId`, `const ROWS`,
// and per-row statements unrolled for ROWS rows in place of the three ROWS_* lines.

fn main() {
  let rows = uniforms.dlogitsShape[0];
  let vocab = uniforms.dlogitsShape[1];
  let quads = uniforms.headShape[1] / 4;
  let quad = i32(globalId.x);
  let row0 = i32(globalId.y) * ROWS;
  if (quad >= quads || row0 >= rows) {
    return;
  }
  ROWS_DECLARE
  for (var v = 0; v < vocab; v = v + 1) {
    let w = head[v * quads + quad];
    ROWS_ACCUMULATE
  }
  ROWS_STORE
}
