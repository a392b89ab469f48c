// Selective log-softmax, backward: the gradient w.r.t. the logits [N, V].
//
// Every forward statistic's gradient is a mix of four row patterns: onehot(label), the constant 1,
// softmax(z) and softmax(2z). The caller folds the upstream gradient into one coefficient per pattern,
// so a single pass writes
//   dz_v = a·[v = label] + b + c·p_v + e·q_v,
//   p_v = exp((z_v − max) − log s1),   q_v = softmax(2z)_v = exp(2·((z_v − max) − log s1) − log Σp²),
// recomputing the softmax from the saved row shift instead of storing an [N, V] softmax.
//
// Workgroups tile the logits two-dimensionally: y (and z, past the per-dimension limit) picks the row,
// x a run of COLUMNS_PER_GROUP elements of `logits`, each invocation taking every WG-th of them. The
// row's terms are read once per invocation, before the loop.
//
// Row r of `terms` [N, 7]: (a, b, c, e, max, log s1, log Σ p²), the last three from the forward pass.
// A label outside [0, V) matches no column (the caller sets a = 0 for ignored rows).
//
// Supplied by the tfjs WebGPU program around this text: the storage buffers `logits` and `result` (of
// Lanes), `labels` (i32) and `terms` (f32), `uniforms.logitsShape`, and, declared just above:
//   const WG : i32, const PER_INVOCATION : i32, const LANES : i32, alias Lanes (f32 or vec4<f32>).

fn main() {
  let rows = uniforms.logitsShape[0];
  let width = uniforms.logitsShape[1] / LANES;
  let row = i32(workgroupId.y + workgroupId.z * numWorkgroups.y);
  if (row >= rows) {
    return;
  }
  let t = row * 7;
  let a = terms[t];
  let b = terms[t + 1];
  let c = terms[t + 2];
  let e = terms[t + 3];
  let rowMax = terms[t + 4];
  let logS1 = terms[t + 5];
  let logSumP2 = terms[t + 6];
  let label = labels[row];
  // The element of `logits` holding the label's column, or none.
  let labelElement = select(-1, label / LANES, label >= 0);
  let base = row * width;
  let first = i32(workgroupId.x) * (WG * PER_INVOCATION) + i32(localId.x);
  for (var k = 0; k < PER_INVOCATION; k = k + 1) {
    let column = first + k * WG;
    if (column < width) {
      let shifted = (logits[base + column] - rowMax) - logS1;
      var dz = Lanes(b) + c * exp(shifted);
      if (e != 0.0) {
        dz = dz + e * exp(2.0 * shifted - logSumP2);
      }
      if (column == labelElement) {
        dz = addAtLane(dz, label % LANES, a);
      }
      result[base + column] = dz;
    }
  }
}
