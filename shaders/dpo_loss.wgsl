// DPO loss family for a whole batch in one workgroup: per-pair losses, rewards, the gradient of the batch
// loss w.r.t. the policy log-probs, and the partial derivatives a per-pair upstream gradient needs.
//
// Formula for formula the composed dpoLoss (src/core/dpo/losses.ts, notes/dpo_anchors.md §1.1–1.2), in the
// same float32 operation order where that matters (softplus and sigmoid are tfjs's own formulas), so the
// two paths agree to rounding. The configuration arrives in uniforms, one weight per loss type (a type
// listed twice has its weights summed; weight 0 means absent), so every configuration runs one pipeline.
//
// The batch loss is mean_i per_pair_i. Per-pair terms depend on pair i alone, except 'aot' and
// 'aot_unpaired', whose term at index j belongs to rank j of batch sorts (ascending, ties in pair order as
// tfjs's topk breaks them): their gradient goes back to the pair holding that rank. One workgroup ranks
// all pairs by counting (B ≤ MAX_PAIRS, a few hundred at most: O(B²) comparisons is nothing here).
//
// Phases, separated by barriers: (1) per-pair terms and sort keys; (2) each pair writes its keys to their
// ranks; (3) sorted terms, indexed by rank; (4) one output row per pair; lane 0 then writes the batch row.
//
// Output `result` [B + 1, 14]. Row i < B (pair i):
//   0  per_pair_i            Σ_k w_k·ℓ_k (× WPO weight), the sft term excluded (its coefficient is column 5)
//   1  chosen reward         β·(π_c − ref_c), the raw log-ratio
//   2  rejected reward       β·(π_r − ref_r)
//   3  ∂loss/∂chosen_i
//   4  ∂loss/∂rejected_i
//   5  ∂per_pair_i/∂sft      w_sft × WPO weight
//   6  ∂per_pair_i/∂chosen_i    from the terms indexed by pair
//   7  ∂per_pair_i/∂rejected_i
//   8  rank of pair i in the 'aot' sort of π_c − π_r
//   9  ∂per_pair[rank]/∂chosen_i through 'aot' (rejected_i gets the negative)
//  10  rank of u_c,i in the 'aot_unpaired' sort
//  11  ∂per_pair[rank]/∂chosen_i through 'aot_unpaired'
//  12  rank of u_r,i in the 'aot_unpaired' sort
//  13  ∂per_pair[rank]/∂rejected_i through 'aot_unpaired'
// Row B: column 0 the batch loss (sft term excluded), column 5 ∂loss/∂sft, the rest 0.
//
// Supplied by the tfjs WebGPU program around this text: the storage buffers `chosen`, `rejected`,
// `refChosen`, `refRejected`, `chosenLengths`, `rejectedLengths`, `wpo` (all f32 [B]; `wpo` is read only
// when useWeighting) and `result`, `uniforms.chosenShape` (B), the loss settings in `uniforms` (see
// dpo-loss-program.ts), and `const WG : i32` (workgroup size) and `const MAX_PAIRS : i32`, declared above.

const COLUMNS : i32 = 14;
const ALPHA_MAX_EXPONENT : f32 = 80.0;

// Sort keys of pair i: (π_c − π_r, ref_c − ref_r, u_c, u_r), the reference zeroed when reference-free.
var<workgroup> keys : array<vec4<f32>, MAX_PAIRS>;
var<workgroup> sortedPolicy : array<f32, MAX_PAIRS>;
var<workgroup> sortedReference : array<f32, MAX_PAIRS>;
var<workgroup> sortedChosen : array<f32, MAX_PAIRS>;
var<workgroup> sortedRejected : array<f32, MAX_PAIRS>;
var<workgroup> perPair : array<f32, MAX_PAIRS>;
var<workgroup> localChosen : array<f32, MAX_PAIRS>;
var<workgroup> localRejected : array<f32, MAX_PAIRS>;
// Derivative of the sorted term at rank j w.r.t. its first sort key.
var<workgroup> aotSlope : array<f32, MAX_PAIRS>;
var<workgroup> unpairedSlope : array<f32, MAX_PAIRS>;

// tfjs's Softplus: a above 13.9, e^a below −13.9, log(e^a + 1) between. Never overflows, so
// logσ(x) = −softplus(−x) is finite for every finite x.
fn softplus(a : f32) -> f32 {
  let threshold = log(1.1920928955078125e-7) + 2.0;
  if (a > -threshold) {
    return a;
  }
  if (a < threshold) {
    return exp(a);
  }
  return log(exp(a) + 1.0);
}

fn logSigmoid(x : f32) -> f32 {
  return -softplus(-x);
}

fn sigmoid(x : f32) -> f32 {
  return 1.0 / (1.0 + exp(-x));
}

// (s, ds/du) with s = f(u) the configured f-divergence score.
fn divergenceScore(u : f32) -> vec2<f32> {
  switch uniforms.fDivergence {
    case 1: {
      // forward KL: −e^{−u}
      let e = exp(-u);
      return vec2<f32>(-e, e);
    }
    case 2: {
      // Jensen–Shannon: logσ(u)
      return vec2<f32>(logSigmoid(u), sigmoid(-u));
    }
    case 3: {
      // alpha: e^{min((α−1)u, 80)}/(α−1); the clamp passes no gradient once it binds
      let raw = u * uniforms.alphaMinusOne;
      let e = exp(min(raw, ALPHA_MAX_EXPONENT));
      var slope = 0.0;
      if (raw <= ALPHA_MAX_EXPONENT) {
        slope = e;
      }
      return vec2<f32>(e / uniforms.alphaMinusOne, slope);
    }
    default: {
      // reverse KL: u
      return vec2<f32>(u, 1.0);
    }
  }
}

// (−(1−ε)·logσ(x) − ε·logσ(−x), its derivative in x): cDPO sigmoid and both AOT losses.
fn smoothedSigmoid(x : f32, eps : f32) -> vec2<f32> {
  var value = logSigmoid(x) * -(1.0 - eps);
  var slope = -(1.0 - eps) * sigmoid(-x);
  if (eps != 0.0) {
    value = value - logSigmoid(-x) * eps;
    slope = slope + eps * sigmoid(x);
  }
  return vec2<f32>(value, slope);
}

// Phase 1: the terms of pair i that depend on pair i alone, their derivatives, and its sort keys.
fn pairTerms(i : i32) {
  let beta = uniforms.beta;
  let eps = uniforms.eps;
  var lossRefC = refChosen[i];
  var lossRefR = refRejected[i];
  if (uniforms.referenceFree != 0) {
    lossRefC = 0.0;
    lossRefR = 0.0;
  }
  let c = chosen[i];
  let r = rejected[i];
  let uC = c - lossRefC;
  let uR = r - lossRefR;
  let fC = divergenceScore(uC);
  let fR = divergenceScore(uR);
  let sC = fC.x;
  let sR = fR.x;
  let x = (sC - sR) * beta;
  let lenC = max(chosenLengths[i], 1.0);
  let lenR = max(rejectedLengths[i], 1.0);
  var rowScale = 1.0;
  if (uniforms.useWeighting != 0) {
    rowScale = wpo[i];
  }

  // The weighted sum of the terms, and its derivatives w.r.t. Δ = s_c − s_r, s_c, s_r, u_c and u_r.
  var value = 0.0;
  var dDelta = 0.0;
  var dSC = 0.0;
  var dSR = 0.0;
  var dUC = 0.0;
  var dUR = 0.0;

  var w = uniforms.w_sigmoid;
  if (w != 0.0) {
    let l = smoothedSigmoid(x, eps);
    value += (l.x * rowScale) * w;
    dDelta += w * rowScale * beta * l.y;
  }

  w = uniforms.w_hinge;
  if (w != 0.0) {
    let margin = 1.0 - x;
    value += (max(margin, 0.0) * rowScale) * w;
    if (margin > 0.0) {
      dDelta -= w * rowScale * beta;
    }
  }

  w = uniforms.w_ipo;
  if (w != 0.0) {
    let q = (sC / lenC - sR / lenR) - uniforms.halfInvBeta;
    value += (q * q * rowScale) * w;
    let g = w * rowScale * 2.0 * q;
    dSC += g / lenC;
    dSR -= g / lenR;
  }

  w = uniforms.w_exo_pair;
  if (w != 0.0) {
    let p = sigmoid(x);
    let pFlip = sigmoid(-x);
    let winner = logSigmoid(x) - uniforms.logOneMinusEps;
    let loser = logSigmoid(-x) - uniforms.logEps;
    value += ((p * winner + pFlip * loser) * rowScale) * w;
    // The σ(x)·σ(−x) terms of the product rule cancel.
    dDelta += w * rowScale * beta * (p * (1.0 - p) * winner - pFlip * (1.0 - pFlip) * loser);
  }

  w = uniforms.w_nca_pair;
  if (w != 0.0) {
    let rc = sC * beta;
    let rr = sR * beta;
    value += ((-logSigmoid(rc) - (logSigmoid(-rc) + logSigmoid(-rr)) * 0.5) * rowScale) * w;
    dSC += w * rowScale * beta * (0.5 * sigmoid(rc) - sigmoid(-rc));
    dSR += w * rowScale * beta * 0.5 * sigmoid(rr);
  }

  w = uniforms.w_robust;
  if (w != 0.0) {
    let l = (logSigmoid(x) * -(1.0 - eps) + logSigmoid(-x) * eps) / uniforms.oneMinusTwoEps;
    value += (l * rowScale) * w;
    dDelta += w * rowScale * beta * ((-(1.0 - eps) * sigmoid(-x) - eps * sigmoid(x)) / uniforms.oneMinusTwoEps);
  }

  w = uniforms.w_bco_pair;
  if (w != 0.0) {
    let yc = sC * beta;
    let yr = sR * -beta;
    value += (-(logSigmoid(yc) + logSigmoid(yr)) * rowScale) * w;
    dSC -= w * rowScale * beta * sigmoid(-yc);
    dSR += w * rowScale * beta * sigmoid(-yr);
  }

  w = uniforms.w_sppo_hard;
  if (w != 0.0) {
    let a = sC - uniforms.halfInvBeta;
    let b = sR + uniforms.halfInvBeta;
    value += ((a * a + b * b) * rowScale) * w;
    dSC += w * rowScale * 2.0 * a;
    dSR += w * rowScale * 2.0 * b;
  }

  w = uniforms.w_apo_zero;
  if (w != 0.0) {
    let pc = sigmoid(uC * beta);
    let pr = sigmoid(uR * beta);
    value += (((1.0 - pc) + pr) * rowScale) * w;
    dUC -= w * rowScale * beta * pc * (1.0 - pc);
    dUR += w * rowScale * beta * pr * (1.0 - pr);
  }

  w = uniforms.w_apo_down;
  if (w != 0.0) {
    let pc = sigmoid(uC * beta);
    let px = sigmoid(x);
    value += ((pc + (1.0 - px)) * rowScale) * w;
    dUC += w * rowScale * beta * pc * (1.0 - pc);
    dDelta -= w * rowScale * beta * px * (1.0 - px);
  }

  w = uniforms.w_discopop;
  if (w != 0.0) {
    let tau = uniforms.tau;
    let z = x / tau;
    let blend = sigmoid(-z);
    let logistic = -logSigmoid(x);
    // m·e^{−x} as exp(logσ(x/τ) − x), finite where the product would be ∞·0 (as the composed loss).
    let exponential = exp(logSigmoid(z) - x);
    value += ((blend * logistic + exponential) * rowScale) * w;
    let slope = -blend * (1.0 - blend) / tau * logistic - blend * sigmoid(-x) + exponential * (blend / tau - 1.0);
    dDelta += w * rowScale * beta * slope;
  }

  w = uniforms.w_sigmoid_norm;
  if (w != 0.0) {
    let y = (sC / lenC - sR / lenR) * beta;
    value += (-logSigmoid(y) * rowScale) * w;
    let g = w * rowScale * beta * sigmoid(-y);
    dSC -= g / lenC;
    dSR += g / lenR;
  }

  perPair[i] = value;
  localChosen[i] = (dDelta + dSC) * fC.y + dUC;
  localRejected[i] = (dSR - dDelta) * fR.y + dUR;
  keys[i] = vec4<f32>(c - r, lossRefC - lossRefR, uC, uR);
}

fn sorting() -> bool {
  return uniforms.w_aot != 0.0 || uniforms.w_aot_unpaired != 0.0;
}

// Ascending rank of pair i under each of its four keys; equal keys keep pair order.
fn ranksOf(i : i32, pairs : i32) -> vec4<i32> {
  let k = keys[i];
  var rank = vec4<i32>(0);
  for (var j = 0; j < pairs; j = j + 1) {
    let o = keys[j];
    let before = (o < k) | ((o == k) & vec4<bool>(j < i));
    rank = rank + select(vec4<i32>(0), vec4<i32>(1), before);
  }
  return rank;
}

// Phase 2: pair i's keys go to their places in the four sorted orders.
fn placeInOrder(i : i32, pairs : i32) {
  let rank = ranksOf(i, pairs);
  let k = keys[i];
  sortedPolicy[rank.x] = k.x;
  sortedReference[rank.y] = k.y;
  sortedChosen[rank.z] = k.z;
  sortedRejected[rank.w] = k.w;
}

// Phase 3: the sorted terms at rank j, added to per_pair[j].
fn rankTerms(j : i32) {
  let beta = uniforms.beta;
  var w = uniforms.w_aot;
  if (w != 0.0) {
    let l = smoothedSigmoid((sortedPolicy[j] - sortedReference[j]) * beta, uniforms.eps);
    perPair[j] += l.x * w;
    aotSlope[j] = w * beta * l.y;
  }
  w = uniforms.w_aot_unpaired;
  if (w != 0.0) {
    let l = smoothedSigmoid((sortedChosen[j] - sortedRejected[j]) * beta, uniforms.eps);
    perPair[j] += l.x * w;
    unpairedSlope[j] = w * beta * l.y;
  }
}

fn put(row : i32, column : i32, value : f32) {
  result[row * COLUMNS + column] = value;
}

// Phase 4: the output row of pair i.
fn writePair(i : i32, pairs : i32) {
  var rank = vec4<i32>(i);
  if (sorting()) {
    rank = ranksOf(i, pairs);
  }
  var aot = 0.0;
  if (uniforms.w_aot != 0.0) {
    aot = aotSlope[rank.x];
  }
  var unpairedChosen = 0.0;
  var unpairedRejected = 0.0;
  if (uniforms.w_aot_unpaired != 0.0) {
    unpairedChosen = unpairedSlope[rank.z];
    unpairedRejected = -unpairedSlope[rank.w];
  }
  var rowScale = 1.0;
  if (uniforms.useWeighting != 0) {
    rowScale = wpo[i];
  }
  let count = f32(pairs);
  let beta = uniforms.beta;
  put(i, 0, perPair[i]);
  put(i, 1, (chosen[i] - refChosen[i]) * beta);
  put(i, 2, (rejected[i] - refRejected[i]) * beta);
  put(i, 3, (localChosen[i] + aot + unpairedChosen) / count);
  put(i, 4, (localRejected[i] - aot + unpairedRejected) / count);
  put(i, 5, uniforms.w_sft * rowScale);
  put(i, 6, localChosen[i]);
  put(i, 7, localRejected[i]);
  put(i, 8, f32(rank.x));
  put(i, 9, aot);
  put(i, 10, f32(rank.z));
  put(i, 11, unpairedChosen);
  put(i, 12, f32(rank.w));
  put(i, 13, unpairedRejected);
}

// Lane 0, last: the batch row, summing in pair order.
fn writeBatch(pairs : i32) {
  var total = 0.0;
  var sftCoefficient = 0.0;
  for (var i = 0; i < pairs; i = i + 1) {
    total += perPair[i];
    var rowScale = 1.0;
    if (uniforms.useWeighting != 0) {
      rowScale = wpo[i];
    }
    sftCoefficient += uniforms.w_sft * rowScale;
  }
  let count = f32(pairs);
  for (var column = 0; column < COLUMNS; column = column + 1) {
    put(pairs, column, 0.0);
  }
  put(pairs, 0, total / count);
  put(pairs, 5, sftCoefficient / count);
}

fn main(index : i32) {
  let lane = index;
  let pairs = uniforms.chosenShape;
  for (var i = lane; i < pairs; i = i + WG) {
    pairTerms(i);
  }
  workgroupBarrier();
  if (sorting()) {
    for (var i = lane; i < pairs; i = i + WG) {
      placeInOrder(i, pairs);
    }
  }
  workgroupBarrier();
  for (var j = lane; j < pairs; j = j + WG) {
    rankTerms(j);
  }
  workgroupBarrier();
  for (var i = lane; i < pairs; i = i + WG) {
    writePair(i, pairs);
  }
  if (lane == 0) {
    writeBatch(pairs);
  }
}
