import { test, expect, type Page } from '@playwright/test';
import { LOSS_TYPES, type LossConfig } from '../../src/core/dpo/config';
import type { Compared, Comparison, LossCase, LossGrads, PairKind, StepCase } from './dpo-harness-api';

/**
 * The fused DPO loss kernel against the composed dpoLoss, and a whole DPO step with every fused kernel
 * against the same step without them, in Chromium on WebGPU (SwiftShader here). Inputs are fresh each
 * run (a failure names its seed); kernel outputs are poisoned with NaN first. Models stay tiny.
 */

const TOLERANCE = 1e-5;

test.describe.configure({ mode: 'serial' });

let page: Page;

test.beforeAll(async ({ browser }) => {
  page = await browser.newPage();
  page.on('pageerror', (e) => console.log(`[harness error] ${e.message}`));
  // No Vite HMR client: an edit elsewhere in the working tree cannot reload the page mid-test.
  await page.route('**/@vite/client', (route) => route.fulfill({ contentType: 'text/javascript', body: '' }));
  await page.goto('/test/kernels/dpo-harness.html');
  await page.waitForFunction(() => document.body.dataset.ready === 'true');
  const info = await page.evaluate(() => window.dpo.ready());
  console.log(`DPO loss tests on ${info.backend}, adapter ${info.adapter}`);
  expect(info.backend).toBe('webgpu');
});

test.afterAll(async () => {
  await page?.close();
});

function freshSeed(): number {
  return Math.floor(Math.random() * 2 ** 31);
}

function expectClose(c: Comparison, what: string): void {
  expect(c.finite, `${what}: a value is not finite (unwritten poisoned output?)`).toBe(true);
  expect(c.relError, `${what}: relative error ${c.relError} (max |reference| ${c.maxAbsReference})`).toBeLessThanOrEqual(TOLERANCE);
}

/** Over all pairs and within each pair kind; `nonZero`: the reference must not be all zero. */
function expectAllClose(compared: Compared, what: string, nonZero = true): void {
  if (nonZero) expect(compared.all.maxAbsReference, `${what}: the reference is all zero`).toBeGreaterThan(0);
  for (const [kind, c] of Object.entries(compared)) if (c) expectClose(c, `${what} [${kind} pairs]`);
}

function expectGrads(g: LossGrads, what: string, nonZero: boolean, hasSft: boolean): void {
  expectAllClose(g.chosen, `${what} d/dchosen_logps`, nonZero);
  expectAllClose(g.rejected, `${what} d/drejected_logps`, nonZero);
  expect(g.sft !== undefined, `${what}: a gradient for sft_loss exactly when the loss has an sft term`).toBe(hasSft);
  if (g.sft) expectClose(g.sft, `${what} d/dsft_loss`);
}

const MIXED: PairKind[] = ['normal', 'large', 'tie', 'normal', 'start', 'large', 'normal'];

type CaseSpec = { name: string } & Omit<LossCase, 'seed'>;

/**
 * Settings a loss type needs on its own: exo_pair needs ε > 0 (log ε is part of it). apo_down's
 * ∂/∂chosen is β·(σ'(βu_c) − σ'(βΔ)); at β = 0.1 every σ' lies within 1% of 1/4, so that difference is
 * mostly the float32 rounding of its two terms, which two op orders do not share. At β = 1 it is a value.
 */
const ALONE: Partial<Record<(typeof LOSS_TYPES)[number], Partial<LossConfig>>> = {
  exo_pair: { label_smoothing: 1e-3 },
  apo_down: { beta: 1 },
};

const single = (type: (typeof LOSS_TYPES)[number]): CaseSpec => ({
  name: `${type} alone`,
  pairs: 13,
  config: { loss_type: [type], ...ALONE[type] },
  pairKinds: MIXED,
});

const lossCases: CaseSpec[] = [
  ...LOSS_TYPES.map(single),
  { name: 'sigmoid, one pair, |βΔ| large', pairs: 1, config: {}, pairKinds: ['large'] },
  { name: 'sigmoid, 150 pairs (more pairs than lanes)', pairs: 150, config: { beta: 0.5 }, pairKinds: MIXED },
  { name: 'cDPO: sigmoid with label smoothing', pairs: 9, config: { label_smoothing: 0.1, beta: 0.3 }, pairKinds: MIXED },
  { name: 'robust, ε = 0.2', pairs: 9, config: { loss_type: ['robust'], label_smoothing: 0.2 }, pairKinds: MIXED },
  { name: 'exo_pair, ε = 0.05, β = 2', pairs: 9, config: { loss_type: ['exo_pair'], label_smoothing: 0.05, beta: 2 }, pairKinds: MIXED },
  {
    name: 'aot, ε = 0.1, 100 pairs with tied sort keys',
    pairs: 100,
    config: { loss_type: ['aot'], label_smoothing: 0.1 },
    pairKinds: MIXED,
  },
  {
    name: 'aot_unpaired, ε = 0.1, one pair',
    pairs: 1,
    config: { loss_type: ['aot_unpaired'], label_smoothing: 0.1 },
    pairKinds: ['normal'],
  },
  {
    name: 'aot and aot_unpaired with sigmoid, weighted',
    pairs: 17,
    config: { loss_type: ['aot', 'sigmoid', 'aot_unpaired'], loss_weights: [0.6, 1.3, 0.4], label_smoothing: 0.05 },
    pairKinds: MIXED,
  },
  ...(['forward_kl', 'js_divergence', 'alpha_divergence'] as const).map((f): CaseSpec => ({
    name: `${f} on every score-reading loss`,
    pairs: 11,
    config: {
      f_divergence_type: f,
      loss_type: ['sigmoid', 'hinge', 'ipo', 'nca_pair', 'bco_pair', 'sppo_hard', 'apo_down', 'discopop', 'sigmoid_norm'],
      loss_weights: [1, 0.5, 0.01, 0.7, 0.3, 0.01, 0.9, 0.4, 1.1],
    },
    pairKinds: MIXED,
    // e^{±u} must stay finite for forward KL and α = 0.5.
    largeScale: 30,
  })),
  {
    // (α − 1)·u reaches 80 at u = 40: scores clamp there and pass no gradient.
    name: 'alpha_divergence α = 3, exponent clamped at 80',
    pairs: 12,
    config: { f_divergence_type: 'alpha_divergence', f_alpha_divergence_coef: 3, loss_type: ['sigmoid', 'nca_pair', 'bco_pair'] },
    pairKinds: ['large', 'normal', 'large', 'tie', 'start'],
    largeScale: 70,
  },
  {
    name: 'alpha_divergence α = 1 is reverse KL',
    pairs: 7,
    config: { f_divergence_type: 'alpha_divergence', f_alpha_divergence_coef: 1 },
    pairKinds: MIXED,
  },
  {
    name: 'reference_free',
    pairs: 10,
    config: {
      reference_free: true,
      loss_type: ['sigmoid', 'aot', 'aot_unpaired', 'apo_zero', 'ipo'],
      loss_weights: [1, 0.5, 0.5, 1, 0.001],
    },
    pairKinds: MIXED,
  },
  {
    name: 'WPO weights with RPO (sigmoid + sft)',
    pairs: 8,
    config: { use_weighting: true, loss_type: ['sigmoid', 'sft'], loss_weights: [1, 0.7] },
    pairKinds: MIXED,
  },
  {
    name: 'WPO weights with per-token losses and hinge',
    pairs: 8,
    config: { use_weighting: true, loss_type: ['ipo', 'sigmoid_norm', 'hinge'], beta: 0.05 },
    pairKinds: MIXED,
  },
  { name: 'discopop, τ = 0.3', pairs: 9, config: { loss_type: ['discopop'], discopop_tau: 0.3 }, pairKinds: MIXED },
  {
    name: 'MPO: sigmoid + bco_pair + sft',
    pairs: 8,
    config: { loss_type: ['sigmoid', 'bco_pair', 'sft'], loss_weights: [0.8, 0.2, 1] },
    pairKinds: MIXED,
  },
  {
    name: 'a loss type listed twice',
    pairs: 6,
    config: { loss_type: ['hinge', 'ipo', 'hinge'], loss_weights: [0.5, 0.01, 0.25] },
    pairKinds: MIXED,
  },
  {
    name: 'all fifteen loss types at once',
    pairs: 21,
    config: {
      loss_type: [...LOSS_TYPES],
      loss_weights: LOSS_TYPES.map((_, k) => 0.2 + 0.1 * k),
      label_smoothing: 0.05,
      beta: 0.2,
    },
    pairKinds: MIXED,
  },
];

for (const spec of lossCases) {
  const { name, ...c } = spec;
  test(`DPO loss kernel: ${name} (B=${c.pairs})`, async () => {
    const seed = freshSeed();
    const r = await page.evaluate((arg) => window.dpo.lossCase(arg), { ...c, seed });
    const config = c.config as Partial<LossConfig>;
    const types = config.loss_type ?? ['sigmoid'];
    const hasSft = types.includes('sft');
    // An sft-only loss does not depend on the log-probs at all.
    const readsLogps = types.some((t) => t !== 'sft');
    const what = `${name} (seed ${seed})`;

    expect(r.program.unwrittenCells, `${what}: program output cells left NaN`).toBe(0);
    expectAllClose(r.program.perPair, `${what}: program per_pair`);
    expectAllClose(r.program.chosenRewards, `${what}: program chosen rewards`);
    expectAllClose(r.program.rejectedRewards, `${what}: program rejected rewards`);
    expectClose(r.program.loss, `${what}: program loss`);
    expectGrads(r.program.lossGrad, `${what}: program`, readsLogps, hasSft);

    expectClose(r.forward.loss, `${what}: loss`);
    expectAllClose(r.forward.perPair, `${what}: per_pair`);
    expectAllClose(r.forward.chosenRewards, `${what}: chosen rewards`);
    expectAllClose(r.forward.rejectedRewards, `${what}: rejected rewards`);
    expectGrads(r.lossGrad, `${what}: tf.grads of the loss,`, readsLogps, hasSft);
    expectGrads(r.perPairGrad, `${what}: tf.grads through loss and per_pair,`, readsLogps, hasSft);
    expectGrads(r.rewardGrad, `${what}: tf.grads through the rewards,`, true, hasSft);
    expect(r.leakedTensors, `${what}: tensors left after forward + backward in tf.tidy`).toBe(0);
  });
}

test('kernelsFor picks the fused loss on webgpu only; the kernel runs up to its batch limit, the composed loss above', async () => {
  const r = await page.evaluate(() => window.dpo.choices());
  expect(r.webgpuAutoIsFused).toBe(true);
  expect(r.webgpuFusedIsFused).toBe(true);
  expect(r.webgpuComposedIsComposed).toBe(true);
  expect(r.cpuAutoIsComposed).toBe(true);
  expect(r.cpuFusedError).toContain("'webgpu' backend only, not 'cpu'");
  expect(r.kernelsAtSmallBatch).toContain('DpoLoss');
  expect(r.kernelsAboveLimit).not.toContain('DpoLoss');
  expectClose(r.aboveLimit.loss, 'above the limit: loss');
  expectClose(r.aboveLimit.perPair, 'above the limit: per_pair');
  expectClose(r.aboveLimit.gradChosen, 'above the limit: d loss/d chosen_logps');
  expect(r.missingWpoError).toContain('wpo_weights is missing');
  expect(r.missingSftError).toContain("loss_type 'sft' needs inputs.sft_loss");
  expect(r.mismatchedShapeError).toContain('ref_rejected_logps must be [8] float32 like chosen_logps');
});

const stepCases: { name: string; config: StepCase['config'] }[] = [
  { name: 'sigmoid (defaults)', config: {} },
  {
    name: 'RPO with WPO weights and LD-DPO',
    config: { loss_type: ['sigmoid', 'sft'], loss_weights: [1, 0.5], use_weighting: true, ld_alpha: 0.5 },
  },
  {
    name: 'ipo + aot_unpaired + apo_down, JS divergence',
    config: { loss_type: ['ipo', 'aot_unpaired', 'apo_down'], label_smoothing: 0.1, f_divergence_type: 'js_divergence' },
  },
];

for (const { name, config } of stepCases) {
  test(`full DPO step, fused kernels = composed ops: ${name}`, async () => {
    const seed = freshSeed();
    const r = await page.evaluate((arg) => window.dpo.fullStep(arg), { seed, config });
    const what = `${name} (seed ${seed})`;
    console.log(`${what}: loss fused ${r.loss.fused} composed ${r.loss.composed}, LoRA gradients rel. error ${r.allGrads.relError}`);
    expect(r.maxAbsGrad, `${what}: the LoRA gradient is all zero`).toBeGreaterThan(0);
    expectClose(r.refLogps, `${what}: reference log-probs`);
    expect(Number.isFinite(r.loss.fused), `${what}: fused loss is not finite`).toBe(true);
    expect(r.lossRelError, `${what}: loss fused ${r.loss.fused} vs composed ${r.loss.composed}`).toBeLessThanOrEqual(TOLERANCE);
    expectClose(r.perPair, `${what}: per-pair losses`);
    expectClose(r.logps, `${what}: policy log-probs`);
    expectClose(r.rewards, `${what}: rewards (on the log-probs' scale × β)`);
    expectClose(r.allGrads, `${what}: all LoRA gradients`);
    for (const [variable, c] of Object.entries(r.grads)) expectClose(c, `${what}: gradient of ${variable}`);
  });
}

test('two DPOTrainer steps log the same metrics with and without the fused kernels', async () => {
  const seed = freshSeed();
  const config = { beta: 0.1, use_weighting: true };
  const r = await page.evaluate((arg) => window.dpo.trainerSteps(arg), { seed, config, steps: 2 });
  const what = `trainer (seed ${seed})`;
  expect(r.fused).toHaveLength(2);
  expect(r.composed).toHaveLength(2);
  r.composed.forEach((composed, s) => {
    const fused = r.fused[s];
    expect(Object.keys(fused).sort(), `${what}: metric names at step ${s + 1}`).toEqual(Object.keys(composed).sort());
    // A reward is β·(π − π_ref), two float32 sums of |logps| nats each: it is rounded on that scale.
    const rewardScale = config.beta * Math.max(Math.abs(composed['logps/chosen']), Math.abs(composed['logps/rejected']));
    for (const [name, value] of Object.entries(composed)) {
      // A logits/ metric averages V logits that cancel: it is rounded on their scale, mean |logit|.
      const scale =
        name.startsWith('rewards/') && name !== 'rewards/accuracies'
          ? rewardScale
          : name.startsWith('logits/')
            ? Math.max(Math.abs(value), r.meanAbsLogit)
            : Math.abs(value);
      expect(Number.isFinite(fused[name]), `${what}: ${name} at step ${s + 1} is not finite`).toBe(true);
      expect(
        Math.abs(fused[name] - value),
        `${what}: ${name} at step ${s + 1}: fused ${fused[name]}, composed ${value}`,
      ).toBeLessThanOrEqual(TOLERANCE * scale);
    }
  });
  console.log(`${what}: step 2 loss ${r.fused[1].loss} (fused) / ${r.composed[1].loss} (composed)`);
});
