// Selective log-softmax, forward: the statistics of each row of logits [N, V], one workgroup per row.
//
// Two sweeps over the row: the first finds the row maximum and where it first occurs, the second sums
// exp(z − max), its square, its product with (z − max), and z itself. The row (at most a few hundred KB) is still in cache for the second sweep, so it costs
// far less than a second trip to memory, and each logit takes one exp instead of the two of a running
// (online) rescale. Every output is formed relative to the row maximum, so rows of logits around ±1e4
// lose nothing to float32 rounding of a large logsumexp. Partial results of the invocations are merged
// by a tree reduction over the workgroup.
//
// Output row r of `result` [N, 7]:
//   0  log p(label) = (z[label] − max) − log s1, or 0 where the label is outside [0, V) (ignored)
//   1  max          the row maximum (logsumexp = max + column 2)
//   2  log s1       log Σ exp(z − max)
//   3  mean logit   Σ z / V
//   4  log Σ p²     log Σ exp(2(z − max)) − 2·log s1  (= LSE(2z) − 2·LSE(z), the WPO weight term)
//   5  entropy      −Σ p log p = log s1 − Σ exp(z − max)(z − max) / s1  (TRL's entropy metric)
//   6  argmax       the first index holding the row maximum, as f32 (exact below 2²⁴; TRL's
//                   mean_token_accuracy compares it with the label)
//
// Supplied by the tfjs WebGPU program around this text: the storage buffers `logits` (of Lanes),
// `labels` (i32) and `result` (f32), `uniforms.logitsShape`, and, declared just above:
//   const WG : i32         invocations per row (a power of two, for the tree reduction)
//   const LANES : i32      logits per element of `logits` (4 when V is a multiple of 4, else 1)
//   alias Lanes            f32 or vec4<f32>
//   fn laneSum(Lanes) -> f32, fn laneMax(Lanes) -> f32, fn laneAt(Lanes, i32) -> f32

var<workgroup> partialMax : array<f32, WG>;
var<workgroup> partialArg : array<i32, WG>;
var<workgroup> partialSum : array<f32, WG>;
var<workgroup> partialSumSq : array<f32, WG>;
var<workgroup> partialTotal : array<f32, WG>;
var<workgroup> partialShifted : array<f32, WG>;

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

  // Each invocation visits its columns in increasing order and keeps the first index of its largest
  // logit (strictly greater replaces); the reduction prefers the smaller index on ties, so the row's
  // argmax is its first maximum, as torch.argmax returns.
  var m = -3.402823e+38;
  var arg = vocab;
  if (live) {
    for (var v = lane; v < width; v = v + WG) {
      let z = logits[base + v];
      for (var i = 0; i < LANES; i = i + 1) {
        let zi = laneAt(z, i);
        if (zi > m) {
          m = zi;
          arg = v * LANES + i;
        }
      }
    }
  }
  partialMax[lane] = m;
  partialArg[lane] = arg;
  workgroupBarrier();
  for (var half = WG / 2; half > 0; half = half / 2) {
    if (lane < half) {
      let other = partialMax[lane + half];
      let otherArg = partialArg[lane + half];
      if (other > partialMax[lane] || (other == partialMax[lane] && otherArg < partialArg[lane])) {
        partialMax[lane] = other;
        partialArg[lane] = otherArg;
      }
    }
    workgroupBarrier();
  }
  let rowMax = partialMax[0];
  let rowArg = partialArg[0];

  var s1 = Lanes(0.0);
  var s2 = Lanes(0.0);
  var total = Lanes(0.0);
  var shifted = Lanes(0.0);
  if (live) {
    for (var v = lane; v < width; v = v + WG) {
      let z = logits[base + v];
      let d = z - rowMax;
      let e = exp(d);
      s1 = s1 + e;
      s2 = s2 + e * e;
      total = total + z;
      shifted = shifted + e * d;
    }
  }
  partialSum[lane] = laneSum(s1);
  partialSumSq[lane] = laneSum(s2);
  partialTotal[lane] = laneSum(total);
  partialShifted[lane] = laneSum(shifted);
  workgroupBarrier();
  for (var half = WG / 2; half > 0; half = half / 2) {
    if (lane < half) {
      partialSum[lane] = partialSum[lane] + partialSum[lane + half];
      partialSumSq[lane] = partialSumSq[lane] + partialSumSq[lane + half];
      partialTotal[lane] = partialTotal[lane] + partialTotal[lane + half];
      partialShifted[lane] = partialShifted[lane] + partialShifted[lane + half];
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
    let out = row * 7;
    result[out] = logp;
    result[out + 1] = rowMax;
    result[out + 2] = logS1;
    result[out + 3] = partialTotal[0] / f32(vocab);
    result[out + 4] = log(partialSumSq[0]) - 2.0 * logS1;
    result[out + 5] = logS1 - partialShifted[0] / partialSum[0];
    result[out + 6] = f32(rowArg);
  }
}
