import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs';
import { F_DIVERGENCE_TYPES, LOSS_TYPES, type FDivergenceType, type LossConfig, type LossType } from '../../../src/core/dpo/config';
import { dpoLoss, rewardMetrics, type LossInputs } from '../../../src/core/dpo/losses';

// ---------------------------------------------------------------------------------------------
// Float64 reference written from the formulas of notes/dpo_anchors.md §1.1–1.2 with plain Math.
// ---------------------------------------------------------------------------------------------

interface Batch {
  pc: number[]; // policy chosen logps
  pr: number[]; // policy rejected logps
  rc: number[]; // reference chosen logps
  rr: number[]; // reference rejected logps
  lc: number[]; // chosen lengths
  lr: number[]; // rejected lengths
  sft?: number;
  w?: number[]; // WPO weights
}

const softplus = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const logSig = (x: number): number => -softplus(-x);
const sig = (x: number): number => 1 / (1 + Math.exp(-x));
const sortAsc = (xs: number[]): number[] => [...xs].sort((a, b) => a - b);

function scoreOf(u: number, cfg: LossConfig): number {
  switch (cfg.f_divergence_type) {
    case 'reverse_kl':
      return u;
    case 'forward_kl':
      return -Math.exp(-u);
    case 'js_divergence':
      return logSig(u);
    case 'alpha_divergence': {
      const a = cfg.f_alpha_divergence_coef;
      if (Math.abs(a - 1) < 1e-6) return u;
      return Math.exp(Math.min((a - 1) * u, 80)) / (a - 1);
    }
  }
}

function refPerRow(type: LossType, b: Batch, cfg: LossConfig): number[] {
  const beta = cfg.beta;
  const eps = cfg.label_smoothing;
  const n = b.pc.length;
  const refC = cfg.reference_free ? b.rc.map(() => 0) : b.rc;
  const refR = cfg.reference_free ? b.rr.map(() => 0) : b.rr;
  const uc = b.pc.map((p, i) => p - refC[i]);
  const ur = b.pr.map((p, i) => p - refR[i]);
  const sc = uc.map((u) => scoreOf(u, cfg));
  const sr = ur.map((u) => scoreOf(u, cfg));
  const lc = b.lc.map((l) => Math.max(l, 1));
  const lr = b.lr.map((l) => Math.max(l, 1));
  const smoothed = (x: number): number => -(1 - eps) * logSig(x) - eps * logSig(-x);
  const rows = Array.from({ length: n }, (_, i) => i);
  switch (type) {
    case 'sigmoid':
      return rows.map((i) => smoothed(beta * (sc[i] - sr[i])));
    case 'hinge':
      return rows.map((i) => Math.max(0, 1 - beta * (sc[i] - sr[i])));
    case 'ipo':
      return rows.map((i) => (sc[i] / lc[i] - sr[i] / lr[i] - 1 / (2 * beta)) ** 2);
    case 'exo_pair':
      return rows.map((i) => {
        const x = beta * (sc[i] - sr[i]);
        return sig(x) * (logSig(x) - Math.log(1 - eps)) + sig(-x) * (logSig(-x) - Math.log(eps));
      });
    case 'nca_pair':
      return rows.map((i) => -logSig(beta * sc[i]) - 0.5 * logSig(-beta * sc[i]) - 0.5 * logSig(-beta * sr[i]));
    case 'robust':
      return rows.map((i) => {
        const x = beta * (sc[i] - sr[i]);
        return (-(1 - eps) * logSig(x) + eps * logSig(-x)) / (1 - 2 * eps);
      });
    case 'bco_pair':
      return rows.map((i) => -logSig(beta * sc[i]) - logSig(-beta * sr[i]));
    case 'sppo_hard':
      return rows.map((i) => (sc[i] - 0.5 / beta) ** 2 + (sr[i] + 0.5 / beta) ** 2);
    case 'aot': {
      const pol = sortAsc(rows.map((i) => b.pc[i] - b.pr[i]));
      const ref = sortAsc(rows.map((i) => refC[i] - refR[i]));
      return rows.map((i) => smoothed(beta * (pol[i] - ref[i])));
    }
    case 'aot_unpaired': {
      const c = sortAsc(uc);
      const r = sortAsc(ur);
      return rows.map((i) => smoothed(beta * (c[i] - r[i])));
    }
    case 'apo_zero':
      return rows.map((i) => 1 - sig(beta * uc[i]) + sig(beta * ur[i]));
    case 'apo_down':
      return rows.map((i) => sig(beta * uc[i]) + 1 - sig(beta * (sc[i] - sr[i])));
    case 'discopop':
      return rows.map((i) => {
        const x = beta * (sc[i] - sr[i]);
        const m = sig(x / cfg.discopop_tau);
        return (1 - m) * -logSig(x) + m * Math.exp(-x);
      });
    case 'sigmoid_norm':
      return rows.map((i) => -logSig(beta * (sc[i] / lc[i] - sr[i] / lr[i])));
    case 'sft':
      return rows.map(() => b.sft as number);
  }
}

function refLoss(b: Batch, cfg: LossConfig): { perPair: number[]; loss: number } {
  const weights = cfg.loss_weights ?? cfg.loss_type.map(() => 1);
  const perPair = b.pc.map(() => 0);
  cfg.loss_type.forEach((type, k) => {
    refPerRow(type, b, cfg).forEach((l, i) => {
      perPair[i] += weights[k] * l * (cfg.use_weighting ? (b.w as number[])[i] : 1);
    });
  });
  return { perPair, loss: perPair.reduce((a, x) => a + x, 0) / perPair.length };
}

/** Central differences of the reference batch loss w.r.t. one logp vector. */
function finiteDiffGrad(b: Batch, cfg: LossConfig, key: 'pc' | 'pr', h = 1e-4): number[] {
  return b[key].map((_, i) => {
    const shifted = (d: number): Batch => ({ ...b, [key]: b[key].map((v, j) => (j === i ? v + d : v)) });
    return (refLoss(shifted(h), cfg).loss - refLoss(shifted(-h), cfg).loss) / (2 * h);
  });
}

// ---------------------------------------------------------------------------------------------

function config(over: Partial<LossConfig> = {}): LossConfig {
  return {
    beta: 0.1,
    loss_type: ['sigmoid'],
    loss_weights: null,
    label_smoothing: 0,
    f_divergence_type: 'reverse_kl',
    f_alpha_divergence_coef: 0.5,
    use_weighting: false,
    ld_alpha: null,
    reference_free: false,
    discopop_tau: 0.05,
    ...over,
  };
}

function tensors(b: Batch): LossInputs {
  return {
    chosen_logps: tf.tensor1d(b.pc),
    rejected_logps: tf.tensor1d(b.pr),
    ref_chosen_logps: tf.tensor1d(b.rc),
    ref_rejected_logps: tf.tensor1d(b.rr),
    chosen_lengths: tf.tensor1d(b.lc),
    rejected_lengths: tf.tensor1d(b.lr),
    sft_loss: b.sft === undefined ? undefined : tf.scalar(b.sft),
    wpo_weights: b.w === undefined ? undefined : tf.tensor1d(b.w),
  };
}

function disposeInputs(inputs: LossInputs): void {
  tf.dispose(Object.values(inputs).filter((t): t is tf.Tensor => t instanceof tf.Tensor));
}

function evaluate(b: Batch, cfg: LossConfig) {
  const inputs = tensors(b);
  const out = dpoLoss(inputs, cfg);
  const result = {
    loss: out.loss.dataSync()[0],
    perPair: Array.from(out.per_pair.dataSync()),
    chosenRewards: Array.from(out.chosen_rewards.dataSync()),
    rejectedRewards: Array.from(out.rejected_rewards.dataSync()),
  };
  tf.dispose(Object.values(out));
  disposeInputs(inputs);
  return result;
}

/**
 * d loss / d(chosen_logps, rejected_logps, sft_loss, ref_chosen_logps, wpo_weights) by tfjs autodiff;
 * an input with no path to the loss gets zeros.
 */
function autodiff(b: Batch, cfg: LossConfig) {
  const inputs = tensors(b);
  const n = b.pc.length;
  const vars = {
    chosen: tf.variable(inputs.chosen_logps),
    rejected: tf.variable(inputs.rejected_logps),
    sft: tf.variable(inputs.sft_loss ?? tf.scalar(0)),
    refChosen: tf.variable(inputs.ref_chosen_logps),
    wpo: tf.variable(inputs.wpo_weights ?? tf.ones([n])),
  };
  const { grads } = tf.variableGrads(
    () =>
      dpoLoss(
        {
          ...inputs,
          chosen_logps: vars.chosen as tf.Tensor1D,
          rejected_logps: vars.rejected as tf.Tensor1D,
          ref_chosen_logps: vars.refChosen as tf.Tensor1D,
          sft_loss: b.sft === undefined ? undefined : (vars.sft as tf.Scalar),
          wpo_weights: b.w === undefined ? undefined : (vars.wpo as tf.Tensor1D),
        },
        cfg,
      ).loss,
  );
  const read = (v: tf.Variable): number[] => {
    const g = grads[v.name];
    return g === undefined ? new Array<number>(v.size).fill(0) : Array.from(g.dataSync());
  };
  const result = {
    chosen: read(vars.chosen),
    rejected: read(vars.rejected),
    sft: read(vars.sft)[0],
    refChosen: read(vars.refChosen),
    wpo: read(vars.wpo),
  };
  tf.dispose(Object.values(grads));
  tf.dispose(Object.values(vars));
  disposeInputs(inputs);
  return result;
}

function expectClose(actual: number, expected: number, rtol: number, atol: number, what: string): void {
  const ok = Math.abs(actual - expected) <= atol + rtol * Math.abs(expected);
  expect(ok, `${what}: got ${actual}, expected ${expected}`).toBe(true);
}

function expectAllClose(actual: number[], expected: number[], rtol: number, atol: number, what: string): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  actual.forEach((a, i) => expectClose(a, expected[i], rtol, atol, `${what}[${i}]`));
}

// Four pairs, values exact in float32. u_c = [0.5, −1.25, 3, −3.75], u_r = [0.375, 2, −2.5, 1.5]; one
// rejected length 0 exercises the clamp; pair 0 has a small Δ so discopop's blend is not saturated.
const BATCH: Batch = {
  pc: [-12.5, -30.25, -8.0, -55.75],
  pr: [-13.125, -27.5, -20.5, -50.0],
  rc: [-13.0, -29.0, -11.0, -52.0],
  rr: [-13.5, -29.5, -18.0, -51.5],
  lc: [5, 12, 3, 20],
  lr: [7, 0, 15, 1],
  sft: 1.75,
};

const F_DIVERGENCES: Array<Partial<LossConfig>> = F_DIVERGENCE_TYPES.map((f: FDivergenceType) =>
  f === 'alpha_divergence' ? { f_divergence_type: f, f_alpha_divergence_coef: 0.3 } : { f_divergence_type: f },
);

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('dpoLoss: every loss type against the float64 reference', () => {
  for (const eps of [0, 0.1]) {
    for (const fdiv of F_DIVERGENCES) {
      for (const type of LOSS_TYPES) {
        if (type === 'exo_pair' && eps === 0) continue;
        it(`${type}, ${fdiv.f_divergence_type}, label_smoothing ${eps}: values, rewards and gradients`, () => {
          const cfg = config({ beta: 0.25, loss_type: [type], label_smoothing: eps, ...fdiv });
          const expected = refLoss(BATCH, cfg);
          const got = evaluate(BATCH, cfg);
          expectAllClose(got.perPair, expected.perPair, 2e-5, 2e-6, 'per_pair');
          expectClose(got.loss, expected.loss, 2e-5, 2e-6, 'loss');
          expectAllClose(
            got.chosenRewards,
            BATCH.pc.map((p, i) => 0.25 * (p - BATCH.rc[i])),
            1e-6,
            1e-6,
            'chosen_rewards',
          );
          expectAllClose(
            got.rejectedRewards,
            BATCH.pr.map((p, i) => 0.25 * (p - BATCH.rr[i])),
            1e-6,
            1e-6,
            'rejected_rewards',
          );

          const g = autodiff(BATCH, cfg);
          expectAllClose(g.chosen, finiteDiffGrad(BATCH, cfg, 'pc'), 1e-4, 1e-5, 'dL/dchosen_logps');
          expectAllClose(g.rejected, finiteDiffGrad(BATCH, cfg, 'pr'), 1e-4, 1e-5, 'dL/drejected_logps');
          expectAllClose(g.refChosen, [0, 0, 0, 0], 0, 0, 'dL/dref_chosen_logps');
          expect(g.sft).toBe(type === 'sft' ? 1 : 0);
        });
      }
    }
  }

  it('the test batch actually exercises both sides of the hinge and of the length clamp', () => {
    const cfg = config({ beta: 0.25, loss_type: ['hinge'] });
    const perPair = refLoss(BATCH, cfg).perPair;
    expect(perPair.filter((l) => l === 0).length).toBe(1);
    expect(perPair.filter((l) => l > 0).length).toBe(3);
    // Without the clamp, ipo would divide by 0 on pair 1.
    expect(Number.isFinite(evaluate(BATCH, config({ beta: 0.25, loss_type: ['ipo'] })).loss)).toBe(true);
  });

  it('hand-computed sigmoid and ipo values on one pair', () => {
    // u_c − u_r = 2 at β = 0.5: −logσ(1) = log(1 + e^{−1}) = 0.31326168751822286.
    const one: Batch = { pc: [-10], pr: [-12], rc: [-11], rr: [-11], lc: [4], lr: [2] };
    expectClose(evaluate(one, config({ beta: 0.5 })).loss, 0.31326168751822286, 1e-6, 0, 'sigmoid');
    // ipo: (1/4 − (−1)/2 − 1)² = (−0.25)² = 0.0625.
    expectClose(evaluate(one, config({ beta: 0.5, loss_type: ['ipo'] })).loss, 0.0625, 1e-6, 0, 'ipo');
  });
});

describe('dpoLoss: stability for large |βΔ|', () => {
  // βΔ = ±100 at β = 0.1; exp(100) overflows float32, so naive formulas give Inf or NaN here.
  const HUGE: Batch = {
    pc: [-1, -1001],
    pr: [-1001, -1],
    rc: [0, 0],
    rr: [0, 0],
    lc: [10, 10],
    lr: [10, 10],
    sft: 2,
  };
  for (const type of LOSS_TYPES) {
    if (type === 'exo_pair') continue;
    it(`${type}: finite values and gradients that match the reference`, () => {
      const cfg = config({ loss_type: [type] });
      const got = evaluate(HUGE, cfg);
      const expected = refLoss(HUGE, cfg);
      expectAllClose(got.perPair, expected.perPair, 1e-5, 1e-5, 'per_pair');
      const g = autodiff(HUGE, cfg);
      expectAllClose(g.chosen, finiteDiffGrad(HUGE, cfg, 'pc', 1e-2), 1e-3, 1e-5, 'dL/dchosen_logps');
      expectAllClose(g.rejected, finiteDiffGrad(HUGE, cfg, 'pr', 1e-2), 1e-3, 1e-5, 'dL/drejected_logps');
    });
  }

  it('sigmoid: −logσ(−100) = 100 and slope −β, −logσ(100) ≈ 0 and slope ≈ 0', () => {
    const got = evaluate(HUGE, config());
    expectClose(got.perPair[0], 0, 0, 1e-30, 'winning pair');
    expectClose(got.perPair[1], 100, 1e-6, 0, 'losing pair');
    const g = autodiff(HUGE, config());
    expectClose(g.chosen[1], -0.1 / 2, 1e-6, 0, 'slope of the losing pair (mean over 2)');
  });

  it('exo_pair at ε = 1e-3 stays finite', () => {
    const cfg = config({ loss_type: ['exo_pair'], label_smoothing: 1e-3 });
    expectAllClose(evaluate(HUGE, cfg).perPair, refLoss(HUGE, cfg).perPair, 1e-5, 1e-5, 'per_pair');
  });

  it('discopop at βΔ = −100 is finite (≈ 100), where m·e^{−x} computed as a product would be ∞·0', () => {
    const got = evaluate(HUGE, config({ loss_type: ['discopop'] }));
    expectClose(got.perPair[1], 100, 1e-6, 0, 'discopop at x = −100');
  });
});

describe('dpoLoss: the corruption exercise (chosen = rejected, β = 0.1)', () => {
  // The shared log-ratio u per pair; both rows are the same sequence, so lengths match.
  const U = [0, 0.7, -3, 12];
  const REF = [-20, -35.5, -7.25, -60];

  /** Per-pair value and dℓ/du (derivative w.r.t. the log-ratio both rows share). */
  function corrupted(cfg: LossConfig) {
    const ref = tf.tensor1d(REF);
    const lengths = tf.tensor1d([6, 6, 6, 6]);
    const sft = tf.scalar(1.5);
    const theta = tf.tensor1d(REF.map((r, i) => r + U[i]));
    const inputs = (t: tf.Tensor1D): LossInputs => ({
      chosen_logps: t,
      rejected_logps: t,
      ref_chosen_logps: ref,
      ref_rejected_logps: ref,
      chosen_lengths: lengths,
      rejected_lengths: lengths,
      sft_loss: sft,
    });
    const out = dpoLoss(inputs(theta), cfg);
    const perPair = Array.from(out.per_pair.dataSync());
    const metrics = rewardMetrics(out.chosen_rewards.dataSync(), out.rejected_rewards.dataSync());
    const grad = tf.grad((t: tf.Tensor) => dpoLoss(inputs(t as tf.Tensor1D), cfg).loss)(theta);
    // The batch loss is a mean: scale back to the per-pair derivative.
    const slope = Array.from(grad.dataSync()).map((g) => g * U.length);
    tf.dispose([ref, lengths, sft, theta, grad, ...Object.values(out)]);
    return { perPair, slope, metrics };
  }

  const ZERO_SLOPE: Array<[string, Partial<LossConfig>, number]> = [
    ['sigmoid', { loss_type: ['sigmoid'] }, Math.LN2],
    ['robust', { loss_type: ['robust'], label_smoothing: 0.2 }, Math.LN2],
    ['aot', { loss_type: ['aot'] }, Math.LN2],
    ['aot_unpaired', { loss_type: ['aot_unpaired'] }, Math.LN2],
    ['sigmoid_norm', { loss_type: ['sigmoid_norm'] }, Math.LN2],
    ['sigmoid, forward_kl', { f_divergence_type: 'forward_kl' }, Math.LN2],
    ['sigmoid, js_divergence', { f_divergence_type: 'js_divergence' }, Math.LN2],
    ['sigmoid, alpha_divergence', { f_divergence_type: 'alpha_divergence' }, Math.LN2],
    ['hinge', { loss_type: ['hinge'] }, 1.0],
    ['ipo', { loss_type: ['ipo'] }, 25.0],
    ['exo_pair (ε = 1e-3)', { loss_type: ['exo_pair'], label_smoothing: 1e-3 }, 2.7612],
    ['discopop', { loss_type: ['discopop'] }, 0.8466],
    ['apo_zero', { loss_type: ['apo_zero'] }, 1.0],
  ];
  for (const [name, over, value] of ZERO_SLOPE) {
    it(`${name}: ${value} for every u, with zero gradient`, () => {
      const { perPair, slope } = corrupted(config(over));
      perPair.forEach((l, i) => expectClose(l, value, 0, 5e-5, `value at u = ${U[i]}`));
      slope.forEach((s, i) => expectClose(s, 0, 0, 1e-7, `dℓ/du at u = ${U[i]}`));
    });
  }

  for (const type of ['nca_pair', 'bco_pair'] as const) {
    it(`${type}: 2·ln 2 at u = 0, gradient β·tanh(βu/2) pulling u back to 0`, () => {
      const { perPair, slope } = corrupted(config({ loss_type: [type] }));
      expectClose(perPair[0], 2 * Math.LN2, 1e-6, 0, 'value at u = 0');
      slope.forEach((s, i) => expectClose(s, 0.1 * Math.tanh((0.1 * U[i]) / 2), 1e-4, 1e-7, `dℓ/du at u = ${U[i]}`));
    });
  }

  it('sppo_hard: 2u² + 50 (50 at u = 0), gradient 4u', () => {
    const { perPair, slope } = corrupted(config({ loss_type: ['sppo_hard'] }));
    expectClose(perPair[0], 50, 1e-6, 0, 'value at u = 0');
    perPair.forEach((l, i) => expectClose(l, 2 * U[i] ** 2 + 50, 1e-5, 0, `value at u = ${U[i]}`));
    slope.forEach((s, i) => expectClose(s, 4 * U[i], 1e-4, 1e-5, `dℓ/du at u = ${U[i]}`));
  });

  it('apo_down: 1.0 at u = 0 with a non-zero gradient β/4', () => {
    const { perPair, slope } = corrupted(config({ loss_type: ['apo_down'] }));
    expectClose(perPair[0], 1.0, 1e-6, 0, 'value at u = 0');
    expectClose(slope[0], 0.025, 1e-4, 0, 'dℓ/du at u = 0');
    slope.forEach((s, i) => {
      const x = 0.1 * U[i];
      expectClose(s, 0.1 * sig(x) * sig(-x), 1e-4, 1e-7, `dℓ/du at u = ${U[i]}`);
    });
  });

  it('sft is the NLL whatever the pair (its gradient comes from the logits, not from u)', () => {
    const same: Batch = { pc: [-4, -9], pr: [-4, -9], rc: [-5, -9], rr: [-5, -9], lc: [3, 3], lr: [3, 3], sft: 1.5 };
    const cfg = config({ loss_type: ['sft'] });
    expect(evaluate(same, cfg).perPair).toEqual([1.5, 1.5]);
    expect(autodiff(same, cfg).sft).toBe(1);
  });

  it('reward metrics: equal rewards βu, zero margins, accuracy 0 (ties are not wins)', () => {
    const { metrics } = corrupted(config());
    const meanU = U.reduce((a, x) => a + x, 0) / U.length;
    expectClose(metrics['rewards/chosen'], 0.1 * meanU, 1e-5, 1e-7, 'rewards/chosen');
    expect(metrics['rewards/rejected']).toBe(metrics['rewards/chosen']);
    expect(metrics['rewards/margins']).toBe(0);
    expect(metrics['rewards/accuracies']).toBe(0);
  });
});

describe('dpoLoss: options', () => {
  it('RPO = sigmoid + α·sft: loss, per-pair terms and dL/dsft_loss = α', () => {
    const cfg = config({ beta: 0.25, loss_type: ['sigmoid', 'sft'], loss_weights: [1, 0.5] });
    const sigmoidOnly = refLoss(BATCH, config({ beta: 0.25 }));
    const got = evaluate(BATCH, cfg);
    expectClose(got.loss, sigmoidOnly.loss + 0.5 * 1.75, 1e-6, 1e-7, 'loss');
    expectAllClose(
      got.perPair,
      sigmoidOnly.perPair.map((l) => l + 0.5 * 1.75),
      1e-6,
      1e-7,
      'per_pair',
    );
    const g = autodiff(BATCH, cfg);
    expectClose(g.sft, 0.5, 1e-7, 0, 'dL/dsft_loss');
    expectAllClose(g.chosen, finiteDiffGrad(BATCH, cfg, 'pc'), 1e-4, 1e-6, 'dL/dchosen_logps');
  });

  it('MPO = 0.8·sigmoid + 0.2·bco_pair + 1.0·sft', () => {
    const cfg = config({ loss_type: ['sigmoid', 'bco_pair', 'sft'], loss_weights: [0.8, 0.2, 1.0] });
    const mean = (type: LossType): number => refLoss(BATCH, config({ loss_type: [type] })).loss;
    const expected = 0.8 * mean('sigmoid') + 0.2 * mean('bco_pair') + 1.0 * 1.75;
    expectClose(evaluate(BATCH, cfg).loss, expected, 1e-6, 1e-7, 'loss');
    const g = autodiff(BATCH, cfg);
    expectAllClose(g.rejected, finiteDiffGrad(BATCH, cfg, 'pr'), 1e-4, 1e-6, 'dL/drejected_logps');
  });

  it('loss_weights null weighs every loss type 1.0', () => {
    const both = evaluate(BATCH, config({ loss_type: ['hinge', 'ipo'] })).loss;
    const hinge = evaluate(BATCH, config({ loss_type: ['hinge'] })).loss;
    const ipo = evaluate(BATCH, config({ loss_type: ['ipo'] })).loss;
    expectClose(both, hinge + ipo, 1e-6, 1e-7, 'loss');
  });

  it('cDPO label smoothing on sigmoid: −(1−ε)logσ(βΔ) − ε·logσ(−βΔ)', () => {
    const x = 0.25 * (0.5 - 0.375); // pair 0 of BATCH
    const expected = -(1 - 0.2) * logSig(x) - 0.2 * logSig(-x);
    const got = evaluate(BATCH, config({ beta: 0.25, label_smoothing: 0.2 }));
    expectClose(got.perPair[0], expected, 1e-6, 0, 'pair 0');
    const plain = evaluate(BATCH, config({ beta: 0.25 }));
    expectClose(plain.perPair[0], -logSig(x), 1e-6, 0, 'ε = 0 is plain sigmoid');
  });

  it('alpha divergence clamps the exponent at 80: finite loss, no gradient through the clamped score', () => {
    // (α − 1)·u_c = −0.5 · (−300) = 150 > 80.
    const b: Batch = { pc: [-310, -5], pr: [-12, -6], rc: [-10, -5], rr: [-11, -5], lc: [3, 3], lr: [3, 3] };
    const cfg = config({ f_divergence_type: 'alpha_divergence', f_alpha_divergence_coef: 0.5 });
    const got = evaluate(b, cfg);
    expect(got.perPair.every(Number.isFinite)).toBe(true);
    expectAllClose(got.perPair, refLoss(b, cfg).perPair, 1e-5, 1e-6, 'per_pair');
    const g = autodiff(b, cfg);
    expect(Math.abs(g.chosen[0])).toBe(0);
    expect(g.chosen[1]).not.toBe(0);
  });

  it('alpha divergence with α = 1 is reverse KL', () => {
    const alpha1 = evaluate(BATCH, config({ f_divergence_type: 'alpha_divergence', f_alpha_divergence_coef: 1 }));
    const reverse = evaluate(BATCH, config());
    expect(alpha1.perPair).toEqual(reverse.perPair);
  });

  for (const type of ['sigmoid', 'aot', 'apo_down', 'nca_pair'] as const) {
    it(`reference_free (${type}): the loss ignores the reference, the rewards do not`, () => {
      const cfg = config({ beta: 0.25, loss_type: [type], reference_free: true });
      const got = evaluate(BATCH, cfg);
      const zeroRef = evaluate({ ...BATCH, rc: [0, 0, 0, 0], rr: [0, 0, 0, 0] }, config({ beta: 0.25, loss_type: [type] }));
      expectAllClose(got.perPair, zeroRef.perPair, 1e-6, 1e-7, 'per_pair');
      expectAllClose(
        got.chosenRewards,
        BATCH.pc.map((p, i) => 0.25 * (p - BATCH.rc[i])),
        1e-6,
        1e-7,
        'chosen_rewards',
      );
      const withRef = evaluate(BATCH, config({ beta: 0.25, loss_type: [type] }));
      expect(Math.abs(withRef.loss - got.loss)).toBeGreaterThan(1e-3);
    });
  }

  it('WPO weights multiply each row, for every loss type in the mix, and carry no gradient', () => {
    const b: Batch = { ...BATCH, w: [0.5, 1.25, 0.8, 2.0] };
    const cfg = config({ beta: 0.25, loss_type: ['sigmoid', 'sft'], loss_weights: [1, 0.3], use_weighting: true });
    const unweighted = refLoss(BATCH, { ...cfg, use_weighting: false }).perPair;
    const got = evaluate(b, cfg);
    expectAllClose(
      got.perPair,
      unweighted.map((l, i) => l * (b.w as number[])[i]),
      1e-6,
      1e-7,
      'per_pair',
    );
    const g = autodiff(b, cfg);
    expectAllClose(g.wpo, [0, 0, 0, 0], 0, 0, 'dL/dwpo_weights');
    expectAllClose(g.chosen, finiteDiffGrad(b, cfg, 'pc'), 1e-4, 1e-6, 'dL/dchosen_logps');
  });

  it('leaves no tensors behind besides its outputs, also under autodiff', () => {
    const inputs = tensors({ ...BATCH, w: [1, 2, 3, 4] });
    const before = tf.memory().numTensors;
    const out = dpoLoss(inputs, config({ loss_type: ['aot', 'sft', 'ipo'] }));
    expect(tf.memory().numTensors).toBe(before + 4);
    tf.dispose(Object.values(out));

    const chosen = tf.variable(inputs.chosen_logps);
    const rejected = tf.variable(inputs.rejected_logps);
    const withVariables = before + 2;
    for (const over of [
      { loss_type: ['aot', 'aot_unpaired', 'sft'] as LossType[] },
      { loss_type: ['discopop', 'sigmoid'] as LossType[], use_weighting: true },
    ]) {
      const { value, grads } = tf.variableGrads(
        () => dpoLoss({ ...inputs, chosen_logps: chosen as tf.Tensor1D, rejected_logps: rejected as tf.Tensor1D }, config(over)).loss,
      );
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(withVariables);
    }
    tf.dispose([chosen, rejected]);
    disposeInputs(inputs);
  });
});

describe('dpoLoss: configuration and input errors', () => {
  const cases: Array<[string, Partial<LossConfig>, RegExp]> = [
    ['unknown loss type', { loss_type: ['dpo' as LossType] }, /unknown loss type 'dpo'/],
    ['empty loss type list', { loss_type: [] }, /loss_type must be a non-empty list/],
    ['beta = 0', { beta: 0 }, /beta must be a finite number > 0, got 0/],
    ['negative beta', { beta: -0.1 }, /beta must be a finite number > 0/],
    ['NaN beta', { beta: NaN }, /beta/],
    ['loss_weights length', { loss_type: ['sigmoid', 'sft'], loss_weights: [1] }, /loss_weights has 1 entries but loss_type has 2/],
    ['robust with ε = 0.5', { loss_type: ['robust'], label_smoothing: 0.5 }, /label_smoothing must be in \[0, 0.5\), got 0.5/],
    ['negative label smoothing', { label_smoothing: -0.1 }, /label_smoothing must be in \[0, 0.5\)/],
    ['exo_pair with ε = 0', { loss_type: ['exo_pair'] }, /label_smoothing must be > 0 for loss_type 'exo_pair'/],
    ['unknown f-divergence', { f_divergence_type: 'kl' as FDivergenceType }, /unknown 'kl'/],
    ['discopop_tau = 0', { discopop_tau: 0 }, /discopop_tau must be a finite number > 0/],
    ['WPO with aot', { loss_type: ['aot'], use_weighting: true }, /use_weighting \(WPO\) cannot be combined with loss_type 'aot'/],
  ];
  for (const [name, over, message] of cases) {
    it(name, () => {
      const inputs = tensors({ ...BATCH, w: [1, 1, 1, 1] });
      expect(() => dpoLoss(inputs, config(over))).toThrow(message);
      disposeInputs(inputs);
    });
  }

  it("'sft' without sft_loss", () => {
    const inputs = tensors({ ...BATCH, sft: undefined });
    expect(() => dpoLoss(inputs, config({ loss_type: ['sigmoid', 'sft'] }))).toThrow(/'sft' needs inputs.sft_loss/);
    disposeInputs(inputs);
  });

  it('use_weighting without wpo_weights', () => {
    const inputs = tensors(BATCH);
    expect(() => dpoLoss(inputs, config({ use_weighting: true }))).toThrow(/wpo_weights is missing/);
    disposeInputs(inputs);
  });

  it('a tensor of the wrong length is named, with expected and actual shapes', () => {
    const inputs = tensors(BATCH);
    const short = tf.tensor1d([-1, -2, -3]);
    expect(() => dpoLoss({ ...inputs, ref_rejected_logps: short }, config())).toThrow(
      /inputs.ref_rejected_logps has shape \[3\], expected \[4\]/,
    );
    const matrix = tf.zeros([4, 1]) as unknown as tf.Tensor1D;
    expect(() => dpoLoss({ ...inputs, chosen_lengths: matrix }, config())).toThrow(
      /inputs.chosen_lengths must be rank 1 \[B\], got shape \[4, 1\]/,
    );
    tf.dispose([short, matrix]);
    disposeInputs(inputs);
  });
});

describe('rewardMetrics', () => {
  it('means, strict accuracy and margins', () => {
    const chosen = [0.5, -0.25, 0.25, 0];
    const rejected = [0.125, -0.25, 0.75, -0.5];
    const m = rewardMetrics(chosen, rejected);
    expect(m['rewards/chosen']).toBeCloseTo(0.125, 12);
    expect(m['rewards/rejected']).toBeCloseTo(0.03125, 12);
    expect(m['rewards/margins']).toBeCloseTo(0.09375, 12);
    // 0.5 > 0.125 and 0 > −0.5 win; −0.25 vs −0.25 is a tie and counts 0.
    expect(m['rewards/accuracies']).toBe(0.5);
  });

  it('rejects mismatched lengths', () => {
    expect(() => rewardMetrics([1, 2], [1])).toThrow(/2 chosen rewards but 1 rejected rewards/);
  });
});
