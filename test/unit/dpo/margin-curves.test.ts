import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DPO_CONFIG, F_DIVERGENCE_TYPES, LOSS_TYPES, type LossConfig } from '../../../src/core/dpo/config';
import { dpoLoss } from '../../../src/core/dpo/losses';
import {
  hasCurve,
  marginCurve,
  marginExtent,
  marginLoss,
  marginWeight,
  SPLIT_LOSSES,
  weightBins,
} from '../../../src/core/dpo/margin-curves';

/**
 * The explorer's float64 curves against the trainer's own loss (dpoLoss on tfjs's CPU backend): each
 * pair at margin Δ is given log-ratios u_c = Δ/2, u_r = −Δ/2 (reference 0, one token each); the curve's
 * loss must be dpoLoss's per-pair value and its weight −dℓ/dΔ = −(∂ℓ/∂u_c − ∂ℓ/∂u_r)/2 from autodiff.
 */

const MARGINS = [-60, -17.3, -4, -1.1, -0.2, 0, 0.35, 2.5, 9, 31];

/** TRL's defaults (β 0.1, sigmoid, no smoothing, reverse KL), with the case's changes. */
function config(over: Partial<LossConfig>): LossConfig {
  return { ...DEFAULT_DPO_CONFIG, ...over };
}

/** dpoLoss's per-pair loss and −(∂ℓ/∂u_c − ∂ℓ/∂u_r)/2 at each margin. */
function trainerCurve(cfg: LossConfig, margins: number[]): { loss: number[]; weight: number[] } {
  const n = margins.length;
  const zeros = () => tf.zeros([n]) as tf.Tensor1D;
  const ones = () => tf.ones([n]) as tf.Tensor1D;
  const chosen = tf.variable(tf.tensor1d(margins.map((d) => d / 2)));
  const rejected = tf.variable(tf.tensor1d(margins.map((d) => -d / 2)));
  const [refC, refR, lenC, lenR] = [zeros(), zeros(), ones(), ones()];
  const inputs = () => ({
    chosen_logps: chosen as tf.Tensor1D,
    rejected_logps: rejected as tf.Tensor1D,
    ref_chosen_logps: refC,
    ref_rejected_logps: refR,
    chosen_lengths: lenC,
    rejected_lengths: lenR,
  });
  const out = dpoLoss(inputs(), cfg);
  const loss = Array.from(out.per_pair.dataSync());
  tf.dispose(Object.values(out));
  // The batch loss is the mean of the per-pair terms: its gradient is each pair's own, divided by n.
  const { grads } = tf.variableGrads(() => dpoLoss(inputs(), cfg).loss);
  const gc = grads[chosen.name].dataSync();
  const gr = grads[rejected.name].dataSync();
  const weight = margins.map((_, i) => (-(gc[i] - gr[i]) / 2) * n);
  tf.dispose([chosen, rejected, refC, refR, lenC, lenR, ...Object.values(grads)]);
  return { loss, weight };
}

function expectNear(actual: number, expected: number, what: string): void {
  expect(Math.abs(actual - expected), `${what}: ${actual} against ${expected}`).toBeLessThanOrEqual(1e-4 * Math.max(1, Math.abs(expected)));
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('the β / margin explorer curves against dpoLoss', () => {
  const settings = [
    { beta: 0.1, label_smoothing: 0, f_divergence_type: 'reverse_kl' as const },
    { beta: 0.5, label_smoothing: 0.1, f_divergence_type: 'reverse_kl' as const },
    ...F_DIVERGENCE_TYPES.filter((f) => f !== 'reverse_kl').map((f) => ({ beta: 0.25, label_smoothing: 0.05, f_divergence_type: f })),
  ];
  for (const type of LOSS_TYPES.filter(hasCurve)) {
    for (const s of settings) {
      if (type === 'exo_pair' && s.label_smoothing === 0) continue;
      it(`${type}, β ${s.beta}, ε ${s.label_smoothing}, ${s.f_divergence_type}: loss and gradient weight`, () => {
        const cfg = config({ ...s, loss_type: [type], f_alpha_divergence_coef: 0.3 });
        const trainer = trainerCurve(cfg, MARGINS);
        MARGINS.forEach((d, i) => {
          expectNear(marginLoss(type, d, cfg), trainer.loss[i], `${type} loss at Δ = ${d}`);
          // hinge's corner (βΔ = 1) is not among the margins; its weight is β below it and 0 above.
          expectNear(marginWeight(type, d, cfg), trainer.weight[i], `${type} weight at Δ = ${d}`);
        });
      });
    }
  }

  it("sigmoid's weight is β·σ(−βΔ): large for pairs ranked wrongly, half its peak at a tie", () => {
    const cfg = config({ beta: 0.2 });
    for (const d of MARGINS) expectNear(marginWeight('sigmoid', d, cfg), 0.2 / (1 + Math.exp(0.2 * d)), `Δ = ${d}`);
    expectNear(marginWeight('sigmoid', 0, cfg), 0.1, 'tie');
    expect(marginLoss('sigmoid', 0, cfg)).toBeCloseTo(Math.LN2, 12);
  });

  it('curves span ±extent evenly; the extent covers 6/β and every pair', () => {
    const curve = marginCurve('hinge', config({ beta: 0.5 }), 12, 7);
    expect(curve.map((p) => p.margin)).toEqual([-12, -8, -4, 0, 4, 8, 12]);
    expect(curve.map((p) => p.weight)).toEqual([0.5, 0.5, 0.5, 0.5, 0, 0, 0].map((w) => expect.closeTo(w, 9)));
    expect(marginExtent(0.1, [])).toBe(60);
    expect(marginExtent(0.1, [3, -100, Number.NaN])).toBeCloseTo(115, 9);
    expect(() => marginCurve('sigmoid', config({}), 0)).toThrow(/extent must be > 0, got 0/);
  });

  it('names the loss types drawn along u_c = −u_r and refuses the ones with no curve', () => {
    expect(SPLIT_LOSSES).toEqual(['nca_pair', 'bco_pair', 'sppo_hard', 'apo_zero', 'apo_down']);
    expect(LOSS_TYPES.filter((t) => !hasCurve(t))).toEqual(['aot', 'aot_unpaired', 'sft']);
    expect(() => marginLoss('aot', 1, config({}))).toThrow(/'aot' has no per-pair curve/);
  });

  it('bins pair weights from the smallest to the largest, every pair in one bin', () => {
    // Before any run every sigmoid pair weighs β/2: one bin holds them all.
    expect(weightBins([0.05, 0.05, 0.05], 5)).toEqual([{ from: 0.05, to: 1.05, count: 3 }]);
    expect(weightBins([0.1, 0.15, 0.22, 0.5], 4).map((b) => b.count)).toEqual([2, 1, 0, 1]);
    const bins = weightBins([-1, 0, 0.5, 1, 2.9, 3], 4);
    expect(bins.map((b) => [b.from, b.to])).toEqual([
      [-1, 0],
      [0, 1],
      [1, 2],
      [2, 3],
    ]);
    expect(bins.map((b) => b.count)).toEqual([1, 2, 1, 2]);
    expect(weightBins([])).toEqual([]);
  });
});
