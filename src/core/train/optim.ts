import * as tf from '@tensorflow/tfjs';

/** torch.optim.AdamW hyper-parameters (TrainingArguments: adam_beta1, adam_beta2, adam_epsilon, weight_decay). */
export interface AdamWOptions {
  beta1: number;
  beta2: number;
  eps: number;
  weight_decay: number;
}

/** Optimizer state as plain arrays, one entry per parameter in constructor order (for checkpoints). */
export interface AdamWState {
  /** Updates applied so far (torch's `state['step']`). */
  step: number;
  m: Float32Array[];
  v: Float32Array[];
}

function checkOptions(opts: AdamWOptions): void {
  for (const key of ['beta1', 'beta2'] as const) {
    const b = opts[key];
    if (!Number.isFinite(b) || b < 0 || b >= 1) throw new Error(`AdamW: ${key} must be in [0, 1), got ${b}`);
  }
  if (!Number.isFinite(opts.eps) || opts.eps < 0) throw new Error(`AdamW: eps must be finite and >= 0, got ${opts.eps}`);
  if (!Number.isFinite(opts.weight_decay) || opts.weight_decay < 0) {
    throw new Error(`AdamW: weight_decay must be finite and >= 0, got ${opts.weight_decay}`);
  }
}

function shapeText(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * AdamW with torch.optim.AdamW's update order (amsgrad off, maximize off, one param group):
 * decoupled decay p ← p·(1 − lr·wd), then m ← lerp(m, g, 1−β1), v ← β2·v + (1−β2)·g²,
 * p ← p − (lr / (1−β1^t)) · m / (√v / √(1−β2^t) + eps).
 */
export class AdamW {
  private readonly params: tf.Variable[];
  private readonly opts: AdamWOptions;
  private readonly m: tf.Variable[];
  private readonly v: tf.Variable[];
  private t = 0;

  constructor(params: tf.Variable[], opts: AdamWOptions) {
    checkOptions(opts);
    this.params = params;
    this.opts = { ...opts };
    this.m = params.map((p) => tf.variable(tf.zerosLike(p), false));
    this.v = params.map((p) => tf.variable(tf.zerosLike(p), false));
  }

  /** Updates applied so far. */
  get stepCount(): number {
    return this.t;
  }

  /**
   * Applies one update with learning rate lr, unless it would leave a parameter or moment non-finite
   * (a learning rate or epsilon that overflows them): then nothing changes and it resolves false.
   * grads[i] belongs to params[i]; the caller keeps ownership of grads. Bad arguments throw at once.
   */
  step(grads: tf.Tensor[], lr: number): Promise<boolean> {
    if (grads.length !== this.params.length) {
      throw new Error(`AdamW.step: got ${grads.length} gradients for ${this.params.length} parameters`);
    }
    grads.forEach((g, i) => {
      const p = this.params[i];
      if (!tf.util.arraysEqual(g.shape, p.shape)) {
        throw new Error(
          `AdamW.step: gradient ${i} has shape ${shapeText(g.shape)}, expected ${shapeText(p.shape)} like parameter '${p.name}'`,
        );
      }
    });
    if (!Number.isFinite(lr) || lr < 0) throw new Error(`AdamW.step: lr must be finite and >= 0, got ${lr}`);
    return this.apply(grads, lr);
  }

  private async apply(grads: tf.Tensor[], lr: number): Promise<boolean> {
    const { beta1, beta2, eps, weight_decay } = this.opts;
    const t = this.t + 1;
    // Scalars in float64, as torch computes them in Python before the float32 tensor ops.
    const decay = 1 - lr * weight_decay;
    const stepSize = lr / (1 - beta1 ** t);
    const bias2Sqrt = Math.sqrt(1 - beta2 ** t);

    const updates = tf.tidy(() =>
      grads.map((g, i) => {
        const p = this.params[i];
        // torch updates the first moment with lerp_: m + (1−β1)(g − m).
        const m = tf.add(this.m[i], tf.mul(tf.sub(g, this.m[i]), 1 - beta1));
        const v = tf.add(tf.mul(this.v[i], beta2), tf.mul(tf.square(g), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(v), bias2Sqrt), eps);
        const next = tf.sub(tf.mul(p, decay), tf.mul(tf.div(m, denom), stepSize));
        return { m, v, next };
      }),
    );
    const all = updates.flatMap((u) => [u.m, u.v, u.next]);
    const finite = tf.tidy(() => all.map((x) => tf.all(tf.isFinite(x))).reduce((a, b) => tf.logicalAnd(a, b)));
    try {
      if (!(await finite.data())[0]) return false;
      updates.forEach(({ m, v, next }, i) => {
        this.m[i].assign(m);
        this.v[i].assign(v);
        this.params[i].assign(next);
      });
      this.t = t;
      return true;
    } finally {
      tf.dispose([...all, finite]);
    }
  }

  /** Copies of the moments (safe to keep: later steps do not change them). */
  async getState(): Promise<AdamWState> {
    const read = (ts: tf.Variable[]) => Promise.all(ts.map(async (t) => ((await t.data()) as Float32Array).slice()));
    return { step: this.t, m: await read(this.m), v: await read(this.v) };
  }

  setState(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) {
      throw new Error(`AdamW.setState: step must be an integer >= 0, got ${state.step}`);
    }
    for (const key of ['m', 'v'] as const) {
      const arrays = state[key];
      if (arrays.length !== this.params.length) {
        throw new Error(`AdamW.setState: state.${key} has ${arrays.length} arrays for ${this.params.length} parameters`);
      }
      arrays.forEach((a, i) => {
        const p = this.params[i];
        if (a.length !== p.size) {
          throw new Error(
            `AdamW.setState: state.${key}[${i}] has ${a.length} values, expected ${p.size} for parameter '${p.name}' ${shapeText(p.shape)}`,
          );
        }
      });
    }
    this.params.forEach((p, i) => {
      tf.tidy(() => {
        this.m[i].assign(tf.tensor(state.m[i], p.shape, 'float32'));
        this.v[i].assign(tf.tensor(state.v[i], p.shape, 'float32'));
      });
    });
    this.t = state.step;
  }

  /** Frees the moments; the parameters belong to the caller. */
  dispose(): void {
    this.m.forEach((t) => t.dispose());
    this.v.forEach((t) => t.dispose());
  }
}

/**
 * torch.nn.utils.clip_grad_norm_ (L2): total norm = ‖(‖g_1‖, …, ‖g_n‖)‖, every gradient scaled by
 * min(1, maxNorm / (norm + 1e-6)). Returns the pre-clip norm, which is what HF logs as grad_norm.
 * maxNorm ≤ 0 turns clipping off (the norm is still measured). A non-finite norm is returned with the
 * gradients unscaled: the update must not be applied. The returned tensors are new; the caller owns
 * both them and the inputs.
 */
export async function clipGradNorm(grads: tf.Tensor[], maxNorm: number): Promise<{ grads: tf.Tensor[]; norm: number }> {
  if (Number.isNaN(maxNorm)) throw new Error('clipGradNorm: maxNorm is NaN');
  if (grads.length === 0) return { grads: [], norm: 0 };
  const normTensor = tf.tidy(() => tf.norm(tf.stack(grads.map((g) => tf.norm(g)))));
  // Asynchronous read: a synchronous one stalls WebGPU (and tfjs reads it back through a canvas).
  const norm = (await normTensor.data())[0];
  normTensor.dispose();
  if (!(maxNorm > 0) || !Number.isFinite(norm)) return { grads: grads.map((g) => tf.clone(g)), norm };
  const coef = Math.min(1, maxNorm / (norm + 1e-6));
  return { grads: grads.map((g) => (coef === 1 ? tf.clone(g) : tf.mul(g, coef))), norm };
}
