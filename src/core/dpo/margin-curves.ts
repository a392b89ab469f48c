import type { FDivergenceType, LossType } from './config';

/**
 * Each loss type's per-pair loss and gradient weight as functions of the margin, in float64, for the
 * β / margin explorer. The margin is Δ = u_c − u_r, the difference of the two log-ratios
 * u = log π(y|x) − log π_ref(y|x). A pair's loss gradient is −w · (∇log π(y_c|x) − ∇log π(y_r|x)) when
 * the loss depends on Δ alone, so w = −dℓ/dΔ says how hard training pushes on that pair (for sigmoid,
 * β·σ(−β·Δ): large for pairs still ranked wrongly, vanishing once the margin is several 1/β).
 *
 * Loss types that read each log-ratio on its own (nca_pair, bco_pair, sppo_hard, apo_zero, apo_down) are
 * drawn along u_c = −u_r = Δ/2, where w = −dℓ/dΔ is the mean of the push up on y_c and down on y_r.
 * Per-token losses (ipo, sigmoid_norm) are drawn for completions of one token each. Written from the
 * formulas of notes/dpo_anchors.md §1.1–1.2, as losses.ts has them; tested against dpoLoss's values and
 * autodiff gradients.
 */

/** The settings the curves read (LossConfig's names). */
export interface CurveSettings {
  beta: number;
  label_smoothing: number;
  discopop_tau: number;
  f_divergence_type: FDivergenceType;
  f_alpha_divergence_coef: number;
}

/** Loss types with no curve over the margin: both AOT losses sort the batch, and sft ignores the reference. */
export const CURVELESS_LOSSES: readonly LossType[] = ['aot', 'aot_unpaired', 'sft'];

/** Loss types drawn along u_c = −u_r = Δ/2 because they read each log-ratio, not only their difference. */
export const SPLIT_LOSSES: readonly LossType[] = ['nca_pair', 'bco_pair', 'sppo_hard', 'apo_zero', 'apo_down'];

export function hasCurve(type: LossType): boolean {
  return !CURVELESS_LOSSES.includes(type);
}

/** log σ(x), finite for every finite x. */
function logSigmoid(x: number): number {
  return x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x));
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** s = f(u), TRL's f-divergence score. */
function score(u: number, s: CurveSettings): number {
  switch (s.f_divergence_type) {
    case 'reverse_kl':
      return u;
    case 'forward_kl':
      return -Math.exp(-u);
    case 'js_divergence':
      return logSigmoid(u);
    case 'alpha_divergence': {
      const a = s.f_alpha_divergence_coef;
      if (Math.abs(a - 1) < 1e-6) return u;
      return Math.exp(Math.min(u * (a - 1), 80)) / (a - 1);
    }
  }
}

/** ℓ for log-ratios uC, uR (completions of one token), in float64. */
export function pairLoss(type: LossType, uC: number, uR: number, s: CurveSettings): number {
  const b = s.beta;
  const eps = s.label_smoothing;
  const sC = score(uC, s);
  const sR = score(uR, s);
  const x = b * (sC - sR);
  switch (type) {
    case 'sigmoid':
      return -(1 - eps) * logSigmoid(x) - eps * logSigmoid(-x);
    case 'hinge':
      return Math.max(0, 1 - x);
    case 'ipo':
      return (sC - sR - 1 / (2 * b)) ** 2;
    case 'exo_pair':
      return sigmoid(x) * (logSigmoid(x) - Math.log1p(-eps)) + sigmoid(-x) * (logSigmoid(-x) - Math.log(eps));
    case 'nca_pair':
      return -logSigmoid(b * sC) - 0.5 * (logSigmoid(-b * sC) + logSigmoid(-b * sR));
    case 'robust':
      return (-(1 - eps) * logSigmoid(x) + eps * logSigmoid(-x)) / (1 - 2 * eps);
    case 'bco_pair':
      return -(logSigmoid(b * sC) + logSigmoid(-b * sR));
    case 'sppo_hard':
      return (sC - 0.5 / b) ** 2 + (sR + 0.5 / b) ** 2;
    case 'apo_zero':
      return 1 - sigmoid(b * uC) + sigmoid(b * uR);
    case 'apo_down':
      return sigmoid(b * uC) + 1 - sigmoid(x);
    case 'discopop': {
      const t = s.discopop_tau;
      return sigmoid(-x / t) * -logSigmoid(x) + Math.exp(logSigmoid(x / t) - x);
    }
    case 'sigmoid_norm':
      return -logSigmoid(x);
    case 'aot':
    case 'aot_unpaired':
    case 'sft':
      throw new Error(`pairLoss: '${type}' has no per-pair curve over the margin`);
  }
}

/** ℓ at margin Δ: of Δ alone, or along u_c = −u_r = Δ/2 for SPLIT_LOSSES (the same point for the others). */
export function marginLoss(type: LossType, delta: number, s: CurveSettings): number {
  return pairLoss(type, delta / 2, -delta / 2, s);
}

/**
 * w = −(∂ℓ/∂u_c − ∂ℓ/∂u_r)/2 at log-ratios (uC, uR), by central differences in float64 (step
 * 1e-5 · max(1, |u|)): for a loss of Δ alone it is −dℓ/dΔ, the weight in ∇ℓ = −w·(∇log π(y_c) − ∇log π(y_r)).
 * The curves are smooth apart from hinge's corner at βΔ = 1.
 */
export function pairWeight(type: LossType, uC: number, uR: number, s: CurveSettings): number {
  const hC = 1e-5 * Math.max(1, Math.abs(uC));
  const hR = 1e-5 * Math.max(1, Math.abs(uR));
  const dC = (pairLoss(type, uC + hC, uR, s) - pairLoss(type, uC - hC, uR, s)) / (2 * hC);
  const dR = (pairLoss(type, uC, uR + hR, s) - pairLoss(type, uC, uR - hR, s)) / (2 * hR);
  return -(dC - dR) / 2;
}

/** The weight at margin Δ, along u_c = −u_r = Δ/2 (marginLoss's line). */
export function marginWeight(type: LossType, delta: number, s: CurveSettings): number {
  return pairWeight(type, delta / 2, -delta / 2, s);
}

export interface CurvePoint {
  margin: number;
  loss: number;
  weight: number;
}

/** The curve of one loss type over [−extent, extent] at `points` evenly spaced margins. */
export function marginCurve(type: LossType, s: CurveSettings, extent: number, points = 161): CurvePoint[] {
  if (!(extent > 0)) throw new Error(`marginCurve: the extent must be > 0, got ${extent}`);
  return Array.from({ length: points }, (_, i) => {
    const margin = -extent + (2 * extent * i) / (points - 1);
    return { margin, loss: marginLoss(type, margin, s), weight: marginWeight(type, margin, s) };
  });
}

/**
 * How far the explorer's margin axis reaches: where sigmoid's weight has fallen to 1% of its peak
 * (|βΔ| ≈ 4.6) with room, and past every plotted pair.
 */
export function marginExtent(beta: number, pairMargins: readonly number[]): number {
  const widest = pairMargins.reduce((m, d) => (Number.isFinite(d) ? Math.max(m, Math.abs(d)) : m), 0);
  return Math.max(6 / beta, 1.15 * widest);
}

/** Pairs per bin of weight, over [smallest, largest] in `bins` equal bins (one bin when all are equal). */
export function weightBins(weights: readonly number[], bins = 10): { from: number; to: number; count: number }[] {
  if (weights.length === 0) return [];
  const lo = Math.min(...weights);
  const hi = Math.max(...weights);
  const n = hi > lo ? bins : 1;
  const width = hi > lo ? (hi - lo) / n : 1;
  const counts = new Array<number>(n).fill(0);
  for (const w of weights) counts[Math.min(n - 1, Math.floor((w - lo) / width))]++;
  return counts.map((count, i) => ({ from: lo + i * width, to: lo + (i + 1) * width, count }));
}
