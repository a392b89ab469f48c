// Selective log-softmax, forward: the statistics of each row of logits [N, V], one workgroup per row.
//
// Two sweeps over the row: the first finds the row maximum, the second sums exp(z − max), its square
// and z itself. The row (at most a few hundred KB) is still in cache for the second sweep, so it costs
// far less than a second trip to memory, and each logit takes one exp instead of the two of a running
// (online) rescale. Every output is formed relative to the row maximum, so rows of logits around ±1e4
// lose nothing to float32 rounding of a large logsumexp. Partial results of the invocations are merged
// by a tree reduction over the workgroup.
//
// Output row r of `result` [N, 5]:
//   0  log p(label) = (z[label] − max) − log s1, or 0 where the label is outside [0, V) (ignored)
//   1  max          the row maximum (logsumexp = max + column 2)
//   2  log s1       log Σ exp(z − max)
//   3  mean logit   Σ z / V
//   4  log Σ p²     log Σ exp(2(z − max)) − 2·log s1  (= LSE(2z) − 2·LSE(z), the WPO weight term)
//
// Supplied by the tfjs WebGPU program around this text: the storage buffers `logits` (of Lanes),
// `labels` (i32) and `result` (f32), `uniforms.logitsShape`, and, declared just above:
//   const WG : i32         invocations per row (a power of two, for the tree reduction)
//   const LANES : i32      logits per element of `logits` (4 when V is a multiple of 4, else 1)
//   alias Lanes            f32 or vec4<f32>
//   fn laneSum(Lanes) -> f32, fn laneMax(Lanes) -> f32, fn laneAt(Lanes, i32) -> f32

var<workgroup> partialMax : array<f32, WG>;
var<workgroup> partialSum : array<f32, WG>;
var<workgroup> partialSumSq : array<f32, WG>;
var<workgroup> partialTotal : array<f32, WG>;

fn main(index : i32) {
  let rows = uniforms.logitsShape[0];
  let vocab = uniforms.logitsShape[1];
  let width = vocab / LANES;
  let row = index / WG;
  let lane = index % WG;
  // A dispatch reshaped past the per-dimension limit may run more workgroups than rows; those only
  // take part in the barriers.
  let live = row < rows;
  let base = row * width;

  var m = Lanes(-3.402823e+38);
  if (live) {
    for (var v = lane; v < width; v = v + WG) {
      m = max(m, logits[base + v]);
    }
  }
  partialMax[lane] = laneMax(m);
  workgroupBarrier();
  for (var half = WG / 2; half > 0; half = half / 2) {
    if (lane < half) {
      partialMax[lane] = max(partialMax[lane], partialMax[lane + half]);
    }
    workgroupBarrier();
  }
  let rowMax = partialMax[0];

  var s1 = Lanes(0.0);
  var s2 = Lanes(0.0);
  var total = Lanes(0.0);
  if (live) {
    for (var v = lane; v < width; v = v + WG) {
      let z = logits[base + v];
      let e = exp(z - rowMax);
      s1 = s1 + e;
      s2 = s2 + e * e;
      total = total + z;
    }
  }
  partialSum[lane] = laneSum(s1);
  partialSumSq[lane] = laneSum(s2);
  partialTotal[lane] = laneSum(total);
  workgroupBarrier();
  for (var half = WG / 2; half > 0; half = half / 2) {
    if (lane < half) {
      partialSum[lane] = partialSum[lane] + partialSum[lane + half];
      partialSumSq[lane] = partialSumSq[lane] + partialSumSq[lane + half];
      partialTotal[lane] = partialTotal[lane] + partialTotal[lane + half];
    }
    workgroupBarrier();
  }

  if (live && lane == 0) {
    let logS1 = log(partialSum[0]);
    let label = labels[row];
    var logp = 0.0;
    if (label >= 0 && label < vocab) {
      logp = (laneAt(logits[base + label / LANES], label % LANES) - rowMax) - logS1;
    }
    let out = row * 5;
    result[out] = logp;
    result[out + 1] = rowMax;
    result[out + 2] = logS1;
    result[out + 3] = partialTotal[0] / f32(vocab);
    result[out + 4] = log(partialSumSq[0]) - 2.0 * logS1;
  }
}
