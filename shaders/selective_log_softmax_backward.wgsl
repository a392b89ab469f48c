// Selective log-softmax, backward: the gradient w.r.t. the logits [N, V], one invocation per logit.
//
// Every forward statistic's gradient is a mix of four row patterns: onehot(label), the constant 1,
// softmax(z) and softmax(2z). The caller folds the upstream gradient into one coefficient per pattern,
// so a single pass writes
//   dz_v = a·[v = label] + b + c·p_v + e·q_v,
//   p_v = exp((z_v − max) − log s1),   q_v = softmax(2z)_v = exp(2·((z_v − max) − log s1) − log Σp²),
// recomputing the softmax from the saved row shift instead of storing an [N, V] softmax.
//
// Row r of `terms` [N, 7]: (a, b, c, e, max, log s1, log Σ p²), the last three from the forward pass.
// A label outside [0, V) matches no column (the caller sets a = 0 for ignored rows).
//
// Supplied by the tfjs WebGPU program around this text: the storage buffers `logits` (f32),
// `labels` (i32), `terms` (f32) and `result` (f32), `uniforms.logitsShape` and `uniforms.size` (N·V).

fn main(index : i32) {
  if (index < uniforms.size) {
    let vocab = uniforms.logitsShape[1];
    let row = index / vocab;
    let column = index - row * vocab;
    let t = row * 7;
    let shifted = (logits[index] - terms[t + 4]) - terms[t + 5];
    var dz = terms[t + 1] + terms[t + 2] * exp(shifted);
    let e = terms[t + 3];
    if (e != 0.0) {
      dz = dz + e * exp(2.0 * shifted - terms[t + 6]);
    }
    if (column == labels[row]) {
      dz = dz + terms[t];
    }
    result[index] = dz;
  }
}
