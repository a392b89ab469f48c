// Selective log-softmax, forward: the statistics of each row of logits [N, V] in one read of the row,
// one workgroup per row.
//
// Each invocation walks a strided slice of the row keeping a running shift m (its largest logit so far)
// with s1 = Σ exp(z − m) and s2 = Σ exp(2(z − m)), rescaled whenever m grows, and the plain sum of z.
// A tree reduction over the workgroup then merges the partials. Every output is formed relative to the
// row maximum, so rows of logits around ±1e4 lose nothing to float32 rounding of a large logsumexp.
//
// Output row r of `result` [N, 5]:
//   0  log p(label) = (z[label] − max) − log s1, or 0 where the label is outside [0, V) (ignored)
//   1  max          the row maximum (logsumexp = max + column 2)
//   2  log s1       log Σ exp(z − max)
//   3  mean logit   Σ z / V
//   4  log Σ p²     log s2 − 2·log s1  (= LSE(2z) − 2·LSE(z), the WPO weight term)
//
// Supplied by the tfjs WebGPU program around this text: the storage buffers `logits` (f32),
// `labels` (i32) and `result` (f32), `uniforms.logitsShape`, and `const WG : i32`, the workgroup size
// (a power of two), declared just above.

const LOWEST_F32 : f32 = -3.402823e+38;

var<workgroup> partialMax : array<f32, WG>;
var<workgroup> partialSum : array<f32, WG>;
var<workgroup> partialSumSq : array<f32, WG>;
var<workgroup> partialTotal : array<f32, WG>;

fn main(index : i32) {
  let rows = uniforms.logitsShape[0];
  let vocab = uniforms.logitsShape[1];
  let row = index / WG;
  let lane = index % WG;
  // A dispatch reshaped past the per-dimension limit may run more workgroups than rows; those only
  // take part in the barriers.
  let live = row < rows;
  let base = row * vocab;

  var m = LOWEST_F32;
  var s1 = 0.0;
  var s2 = 0.0;
  var total = 0.0;
  if (live) {
    for (var v = lane; v < vocab; v = v + WG) {
      let z = logits[base + v];
      total = total + z;
      if (z > m) {
        let scale = exp(m - z);
        s1 = s1 * scale + 1.0;
        s2 = s2 * scale * scale + 1.0;
        m = z;
      } else {
        let e = exp(z - m);
        s1 = s1 + e;
        s2 = s2 + e * e;
      }
    }
  }
  partialMax[lane] = m;
  partialSum[lane] = s1;
  partialSumSq[lane] = s2;
  partialTotal[lane] = total;
  workgroupBarrier();

  for (var width = WG / 2; width > 0; width = width / 2) {
    if (lane < width) {
      let mA = partialMax[lane];
      let mB = partialMax[lane + width];
      let mAB = max(mA, mB);
      let a = exp(mA - mAB);
      let b = exp(mB - mAB);
      partialSum[lane] = partialSum[lane] * a + partialSum[lane + width] * b;
      partialSumSq[lane] = partialSumSq[lane] * a * a + partialSumSq[lane + width] * b * b;
      partialTotal[lane] = partialTotal[lane] + partialTotal[lane + width];
      partialMax[lane] = mAB;
    }
    workgroupBarrier();
  }

  if (live && lane == 0) {
    let rowMax = partialMax[0];
    let logS1 = log(partialSum[0]);
    let label = labels[row];
    var logp = 0.0;
    if (label >= 0 && label < vocab) {
      logp = (logits[base + label] - rowMax) - logS1;
    }
    let out = row * 5;
    result[out] = logp;
    result[out + 1] = rowMax;
    result[out + 2] = logS1;
    result[out + 3] = partialTotal[0] / f32(vocab);
    result[out + 4] = log(partialSumSq[0]) - 2.0 * logS1;
  }
}
