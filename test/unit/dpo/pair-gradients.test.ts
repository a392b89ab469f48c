import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { byteLevelTokenizerFiles } from '../../../src/core/data/byte-tokenizer';
import { collatePreference } from '../../../src/core/data/collate';
import { ChatTokenizer } from '../../../src/core/data/tokenizer';
import type { TokenizedPair } from '../../../src/core/data/types';
import { policyLoss, referenceLogps, type DpoModels } from '../../../src/core/dpo/batch';
import { DEFAULT_DPO_CONFIG, type DPOConfig } from '../../../src/core/dpo/config';
import { completionIndex } from '../../../src/core/dpo/logps';
import { pairGradients } from '../../../src/core/dpo/pair-gradients';
import { parseModelConfig } from '../../../src/core/model/config';
import { createCausalLM } from '../../../src/core/model/load';
import { createLoraAdapter, disposeAdapter } from '../../../src/core/model/lora';
import { randomCheckpoint } from '../../../src/core/model/random-checkpoint';
import type { CausalLM, LoraAdapter } from '../../../src/core/model/types';
import { Rng } from '../../../src/core/random';
import { tokenize } from '../../helpers/tiny';
import { logSoftmax64, referenceLogits, type ReferenceTensors } from '../model/reference';

const LN2 = Math.log(2);

function config(overrides: Partial<DPOConfig>): DPOConfig {
  return { ...DEFAULT_DPO_CONFIG, max_length: null, ...overrides };
}

const sigmoid64 = (x: number) => 1 / (1 + Math.exp(-x));
const logSigmoid64 = (x: number) => (x >= 0 ? -Math.log1p(Math.exp(-x)) : x - Math.log1p(Math.exp(x)));

/** A LoRA module in float64: W_eff = W + scaling·B·A, W [out, in], A [r, in], B [out, r]. */
interface Module64 {
  key: string;
  base: Float64Array;
  A: Float64Array;
  B: Float64Array;
  r: number;
  inDim: number;
  outDim: number;
}

/**
 * The per-pair loss written from its definition in float64, on the independent float64 forward pass
 * with the adapter merged into the weights: the reference for the slope and for finite differences.
 */
class Float64Pair {
  private readonly refLogps: [number, number];

  constructor(
    private readonly configJson: Record<string, unknown>,
    private readonly base: ReferenceTensors,
    readonly modules: Module64[],
    private readonly scaling: number,
    private readonly pair: TokenizedPair,
  ) {
    this.refLogps = [this.completionLogp(base, pair.chosen_ids), this.completionLogp(base, pair.rejected_ids)];
  }

  private completionLogp(tensors: ReferenceTensors, completion: number[]): number {
    const ids = [...this.pair.prompt_ids, ...completion];
    const logits = referenceLogits(this.configJson, tensors, ids);
    let sum = 0;
    for (let t = this.pair.prompt_ids.length; t < ids.length; t++) sum += logSoftmax64(logits[t - 1])[ids[t]];
    return sum;
  }

  private merged(): ReferenceTensors {
    const out = new Map(this.base);
    for (const m of this.modules) {
      const w = Float64Array.from(m.base);
      for (let o = 0; o < m.outDim; o++) {
        for (let i = 0; i < m.inDim; i++) {
          let s = 0;
          for (let k = 0; k < m.r; k++) s += m.B[o * m.r + k] * m.A[k * m.inDim + i];
          w[o * m.inDim + i] += this.scaling * s;
        }
      }
      out.set(m.key, { shape: [m.outDim, m.inDim], data: w });
    }
    return out;
  }

  /** Log-ratios u_c, u_r and the policy's completion log-probs under the current float64 adapter. */
  terms() {
    const tensors = this.merged();
    const chosen = this.completionLogp(tensors, this.pair.chosen_ids);
    const rejected = this.completionLogp(tensors, this.pair.rejected_ids);
    return { uC: chosen - this.refLogps[0], uR: rejected - this.refLogps[1], chosen };
  }

  loss(cfg: DPOConfig): number {
    const { uC, uR, chosen } = this.terms();
    const beta = cfg.beta;
    const nW = this.pair.chosen_ids.length;
    const nL = this.pair.rejected_ids.length;
    const delta = uC - uR;
    const per: Record<string, () => number> = {
      sigmoid: () => -logSigmoid64(beta * delta),
      ipo: () => (uC / nW - uR / nL - 1 / (2 * beta)) ** 2,
      apo_down: () => sigmoid64(beta * uC) + 1 - sigmoid64(beta * delta),
      sft: () => -chosen / nW,
    };
    return cfg.loss_type.reduce((sum, type, k) => sum + (cfg.loss_weights?.[k] ?? 1) * per[type](), 0);
  }

  /** ‖∇θ ℓ‖ by central differences over every A and B entry. */
  finiteDifferenceNorm(cfg: DPOConfig, eps = 1e-6): number {
    let squares = 0;
    for (const m of this.modules) {
      for (const x of [m.A, m.B]) {
        for (let k = 0; k < x.length; k++) {
          const v = x[k];
          x[k] = v + eps;
          const up = this.loss(cfg);
          x[k] = v - eps;
          const down = this.loss(cfg);
          x[k] = v;
          squares += ((up - down) / (2 * eps)) ** 2;
        }
      }
    }
    return Math.sqrt(squares);
  }
}

let model: CausalLM;
let policy: LoraAdapter;
let models: DpoModels;
let pad: number;
let clean: TokenizedPair[];
let corrupted: TokenizedPair;
let float64: (pair: TokenizedPair) => Float64Pair;

describe('pairGradients: per-pair slope and LoRA gradient size', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
    const { configJson, tensors } = randomCheckpoint(
      'LlamaForCausalLM',
      {
        vocab_size: 259,
        hidden_size: 16,
        intermediate_size: 32,
        num_hidden_layers: 2,
        num_attention_heads: 4,
        num_key_value_heads: 2,
        max_position_embeddings: 128,
        tie_word_embeddings: true,
      },
      5,
    );
    model = createCausalLM(
      parseModelConfig(configJson, 'tiny'),
      new Map([...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, ...t }])),
      'tiny',
    );
    const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
    const tokenizer = ChatTokenizer.fromJSON(tokenizerJson, tokenizerConfig);
    pad = tokenizer.padTokenId!;
    // An attention and an MLP module at rank 1, and short pairs, keep the coordinate-wise finite differences quick.
    policy = createLoraAdapter(
      model,
      { r: 1, lora_alpha: 2, lora_dropout: 0, target_modules: ['q_proj', 'down_proj'], use_rslora: false },
      9,
    );
    // B ≠ 0: the policy differs from the reference, so clean pairs have Δ ≠ 0 and gradients reach A too.
    const rng = new Rng(21);
    for (const { B } of policy.modules.values())
      B.assign(
        tf.tensor(
          Float32Array.from({ length: B.size }, () => rng.normal()),
          B.shape,
        ),
      );
    models = { model, policy, reference: null };
    const rows = [
      { prompt: 'Shout: sky\n', chosen: 'BLUE!', rejected: 'blue.' },
      { prompt: 'Whisper: moss\n', chosen: 'green.', rejected: 'GREEN!' },
      { prompt: 'Shout: sun\n', chosen: 'GOLD!', rejected: 'GOLD!' },
    ].map((r, i) => ({ ...r, line: i + 1, format: 'standard' as const, conversational: false }));
    clean = tokenize(rows.slice(0, 2), tokenizer);
    [corrupted] = tokenize(rows.slice(2), tokenizer);

    const base: ReferenceTensors = new Map([...tensors].map(([k, t]) => [k, { shape: t.shape, data: Float64Array.from(t.data) }]));
    const modules: Module64[] = [];
    for (const [path, { A, B }] of policy.modules) {
      const [r, inDim] = A.shape;
      modules.push({
        key: `${path}.weight`,
        base: base.get(`${path}.weight`)!.data as Float64Array,
        A: Float64Array.from(A.dataSync()),
        B: Float64Array.from(B.dataSync()),
        r,
        inDim,
        outDim: B.shape[0],
      });
    }
    float64 = (pair) => new Float64Pair(configJson, base, modules, policy.scaling, pair);
  });

  afterAll(() => {
    disposeAdapter(policy);
    model.dispose();
  });

  it('sigmoid: slope −β·σ(−βΔ) and gradient norm match a float64 reference; a corrupted pair gives exactly 0 at slope β/2', async () => {
    const cfg = config({ beta: 0.5 });
    const out = await pairGradients(models, [...clean, corrupted], cfg, pad);
    expect(out.map((g) => g.identical)).toEqual([false, false, true]);
    for (const g of out.slice(0, 2)) {
      const ref = float64(clean[g.index]);
      const { uC, uR } = ref.terms();
      const delta = uC - uR;
      expect(Math.abs(delta), 'the adapter moves the pair').toBeGreaterThan(1e-2);
      expect(g.logRatioDiff).toBeCloseTo(delta, 4);
      expect(g.margin).toBeCloseTo(0.5 * delta, 4);
      expect(g.loss).toBeCloseTo(ref.loss(cfg), 5);
      expect(g.slope).toBeCloseTo(-0.5 * sigmoid64(-0.5 * delta), 5);
    }
    const fd = float64(clean[0]).finiteDifferenceNorm(cfg);
    expect(Math.abs(out[0].gradNorm - fd) / fd, `${out[0].gradNorm} vs finite differences ${fd}`).toBeLessThan(1e-4);
    const c = out[2];
    expect(c.logRatioDiff).toBe(0);
    expect(c.margin).toBe(0);
    expect(c.loss).toBeCloseTo(LN2, 6);
    expect(c.slope).toBeCloseTo(-0.25, 7);
    expect(c.dLossDRejected).toBe(-c.dLossDChosen);
    expect(c.gradNorm).toBe(0);
    // The zero is the gradient's own, at the steepest point of the loss: the float64 reference agrees.
    expect(float64(corrupted).finiteDifferenceNorm(cfg)).toBeLessThan(1e-8);
  });

  it('ipo: partials 2(x − 1/(2β))/|y_w| and −2(x − 1/(2β))/|y_l| of the per-token form; corrupted pair gives 0 at loss 1/(4β²)', async () => {
    const beta = 0.1;
    const cfg = config({ beta, loss_type: ['ipo'] });
    const [g, c] = await pairGradients(models, [clean[0], corrupted], cfg, pad);
    const ref = float64(clean[0]);
    const { uC, uR } = ref.terms();
    const nW = clean[0].chosen_ids.length;
    const nL = clean[0].rejected_ids.length;
    const x = uC / nW - uR / nL;
    const dC = (2 * (x - 1 / (2 * beta))) / nW;
    const dR = (-2 * (x - 1 / (2 * beta))) / nL;
    expect(g.dLossDChosen).toBeCloseTo(dC, 4);
    expect(g.dLossDRejected).toBeCloseTo(dR, 4);
    expect(g.slope).toBeCloseTo((dC - dR) / 2, 4);
    const fd = ref.finiteDifferenceNorm(cfg);
    expect(Math.abs(g.gradNorm - fd) / fd).toBeLessThan(1e-4);
    expect(c.gradNorm).toBe(0);
    expect(c.loss).toBeCloseTo(1 / (4 * beta * beta), 3);
  });

  it('losses that are not a function of Δ alone still pull on a corrupted pair: apo_down and an sft term', async () => {
    for (const cfg of [
      config({ beta: 0.5, loss_type: ['apo_down'] }),
      config({ beta: 0.5, loss_type: ['sigmoid', 'sft'], loss_weights: [1, 0.5] }),
    ]) {
      const name = cfg.loss_type.join('+');
      const [c] = await pairGradients(models, [corrupted], cfg, pad);
      const fd = float64(corrupted).finiteDifferenceNorm(cfg);
      expect(fd, name).toBeGreaterThan(1e-2);
      expect(Math.abs(c.gradNorm - fd) / fd, `${name}: ${c.gradNorm} vs finite differences ${fd}`).toBeLessThan(1e-4);
    }
  });

  it("matches the norm of the trainer's own batch gradient (one pair through policyLoss)", async () => {
    const cfg = config({ beta: 0.5 });
    const [g] = await pairGradients(models, [clean[1]], cfg, pad);
    const batch = collatePreference([clean[1]], {
      max_length: null,
      max_prompt_length: null,
      truncation_mode: 'keep_start',
      pad_token_id: pad,
    });
    const index = completionIndex(batch, null);
    const ref = await referenceLogps(models, batch, index);
    const params = [...policy.modules.values()].flatMap((m) => [m.A, m.B]);
    let kept: tf.Tensor[] = [];
    const { value, grads } = tf.variableGrads(() => policyLoss(models, batch, index, ref, cfg, (k) => (kept = Object.values(k))), params);
    tf.dispose([value, ...kept]);
    let squares = 0;
    for (const p of params) for (const v of await grads[p.name].data()) squares += v * v;
    tf.dispose(Object.values(grads));
    expect(Math.abs(g.gradNorm - Math.sqrt(squares)) / g.gradNorm).toBeLessThan(1e-5);
  });

  it('refuses a policy without an adapter, saying why', async () => {
    await expect(pairGradients({ model, policy: null, reference: null }, clean, config({}), pad)).rejects.toThrow(/no LoRA adapter/);
  });
});
