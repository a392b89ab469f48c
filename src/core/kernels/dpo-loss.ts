import * as tf from '@tensorflow/tfjs';
import type { WebGPUBackend } from '@tensorflow/tfjs-backend-webgpu';
import type { LossConfig } from '../dpo/config';
import { dpoLoss, validateLossConfig, type LossInputs, type LossOutputs } from '../dpo/losses';
import {
  DPO_LOSS_COLUMN,
  DPO_LOSS_MAX_PAIRS,
  DPO_LOSS_PROGRAM_INPUTS,
  dpoLossUniformValues,
  lossTypeWeights,
  runDpoLoss,
  type DpoLossProgramInputs,
} from './dpo-loss-program';

/**
 * The fused DPO loss: dpoLoss's contract, computed by one WGSL dispatch for the whole batch (losses,
 * rewards, the batch loss's gradient). Gradients reach chosen_logps, rejected_logps and sft_loss through
 * tf.customGrad; the reference log-probs, lengths and WPO weights are constants (no gradient), as the
 * trainer uses them. Importing this module registers the kernel.
 */

const KERNEL = 'DpoLoss';

if (tf.getKernel(KERNEL, 'webgpu') === undefined) {
  tf.registerKernel({
    kernelName: KERNEL,
    backendName: 'webgpu',
    kernelFunc: ({ inputs, backend, attrs }) => {
      const named = {} as DpoLossProgramInputs;
      for (const name of DPO_LOSS_PROGRAM_INPUTS) {
        const t = inputs[name];
        if (!t) throw new Error(`DPO loss kernel: input '${name}' is missing`);
        named[name] = t;
      }
      const uniforms = attrs?.uniforms;
      if (!Array.isArray(uniforms)) throw new Error("DPO loss kernel: attribute 'uniforms' (dpoLossUniformValues) is missing");
      return runDpoLoss(backend as WebGPUBackend, named, uniforms as number[]);
    },
  });
}

function checkInputs(inputs: LossInputs, config: LossConfig): void {
  const where = 'dpoLossFused';
  const fields = [
    'chosen_logps',
    'rejected_logps',
    'ref_chosen_logps',
    'ref_rejected_logps',
    'chosen_lengths',
    'rejected_lengths',
  ] as const;
  for (const name of fields) {
    if (!(inputs[name] instanceof tf.Tensor)) throw new Error(`${where}: inputs.${name} is missing`);
  }
  if (config.use_weighting && !(inputs.wpo_weights instanceof tf.Tensor)) {
    throw new Error(`${where}: use_weighting is set but inputs.wpo_weights is missing (one w_c·w_r per pair)`);
  }
  if (config.loss_type.includes('sft')) {
    const sft = inputs.sft_loss;
    if (!(sft instanceof tf.Tensor)) {
      throw new Error(`${where}: loss_type 'sft' needs inputs.sft_loss (token-mean NLL over the chosen completions)`);
    }
    if (sft.rank !== 0 || sft.dtype !== 'float32') {
      throw new Error(`${where}: inputs.sft_loss must be a float32 scalar, got shape [${sft.shape.join(', ')}] ${sft.dtype}`);
    }
  }
  if (inputs.chosen_logps.rank === 1 && inputs.chosen_logps.shape[0] === 0) throw new Error(`${where}: the batch is empty (B = 0)`);
}

/** Column k of rows 0..pairs−1 as [pairs]. */
function column(packed: tf.Tensor2D, pairs: number, k: number): tf.Tensor1D {
  return tf.reshape(tf.slice(packed, [0, k], [pairs, 1]), [pairs]);
}

/** Column k of the batch row as a scalar. */
function batchValue(packed: tf.Tensor2D, pairs: number, k: number): tf.Scalar {
  return tf.reshape(tf.slice(packed, [pairs, k], [1, 1]), []);
}

function ranks(packed: tf.Tensor2D, pairs: number, k: number): tf.Tensor1D {
  return tf.cast(column(packed, pairs, k), 'int32');
}

/**
 * The DPO loss of B pairs with the fused kernel on the 'webgpu' backend: the same inputs, outputs,
 * validation and gradients as dpoLoss. Above DPO_LOSS_MAX_PAIRS pairs it runs dpoLoss itself.
 */
export function dpoLossFused(inputs: LossInputs, config: LossConfig): LossOutputs {
  validateLossConfig(config);
  checkInputs(inputs, config);
  const backend = tf.getBackend();
  if (backend !== 'webgpu') {
    throw new Error(
      `dpoLossFused: the fused kernel runs on the 'webgpu' backend only (current backend: '${backend}'); use dpoLoss elsewhere`,
    );
  }
  const pairs = inputs.chosen_logps.shape[0];
  if (pairs > DPO_LOSS_MAX_PAIRS) return dpoLoss(inputs, config);

  const weights = lossTypeWeights(config);
  const sorted = { aot: weights.aot !== 0, unpaired: weights.aot_unpaired !== 0 };
  const sft = config.loss_type.includes('sft') ? (inputs.sft_loss as tf.Scalar) : null;
  const c = inputs.chosen_logps;
  const r = inputs.rejected_logps;
  const differentiable = sft ? [c, r, sft] : [c, r];

  return tf.tidy(() => {
    const packed = tf.engine().runKernel(
      KERNEL,
      {
        chosen: c,
        rejected: r,
        refChosen: inputs.ref_chosen_logps,
        refRejected: inputs.ref_rejected_logps,
        chosenLengths: inputs.chosen_lengths,
        rejectedLengths: inputs.rejected_lengths,
        // Bound but never read without WPO; any [B] float32 tensor fills the slot.
        wpo: config.use_weighting ? (inputs.wpo_weights as tf.Tensor1D) : inputs.chosen_lengths,
      },
      { uniforms: dpoLossUniformValues(config) },
    ) as tf.Tensor2D;
    const col = (t: tf.Tensor2D, k: number) => column(t, pairs, k);
    // The sft term is linear in the sft scalar: the kernel gives its coefficients, the scalar joins here.
    const withSft = (kernelValue: tf.Tensor, coefficient: tf.Tensor) => (sft ? tf.add(kernelValue, tf.mul(coefficient, sft)) : kernelValue);

    // The batch loss: its gradient is the kernel's, scaled by the upstream scalar.
    const loss = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      (args[args.length - 1] as tf.GradSaveFunc)([packed]);
      return {
        value: withSft(batchValue(packed, pairs, DPO_LOSS_COLUMN.perPair), batchValue(packed, pairs, DPO_LOSS_COLUMN.sftCoefficient)),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const p = saved[0] as tf.Tensor2D;
          const grads = [tf.mul(dy, col(p, DPO_LOSS_COLUMN.lossGradChosen)), tf.mul(dy, col(p, DPO_LOSS_COLUMN.lossGradRejected))];
          if (sft) grads.push(tf.mul(dy, batchValue(p, pairs, DPO_LOSS_COLUMN.sftCoefficient)));
          return grads;
        },
      };
    })(...differentiable) as tf.Scalar;

    // Per-pair losses under any upstream gradient: terms indexed by pair go straight back; sorted terms
    // go back to the pair holding their rank.
    const perPair = tf.customGrad((...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
      (args[args.length - 1] as tf.GradSaveFunc)([packed]);
      return {
        value: withSft(col(packed, DPO_LOSS_COLUMN.perPair), col(packed, DPO_LOSS_COLUMN.sftCoefficient)),
        gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
          const p = saved[0] as tf.Tensor2D;
          let dc = tf.mul(dy, col(p, DPO_LOSS_COLUMN.localChosen));
          let dr = tf.mul(dy, col(p, DPO_LOSS_COLUMN.localRejected));
          if (sorted.aot) {
            const g = tf.mul(tf.gather(dy, ranks(p, pairs, DPO_LOSS_COLUMN.aotRank)), col(p, DPO_LOSS_COLUMN.aotSlope));
            dc = tf.add(dc, g);
            dr = tf.sub(dr, g);
          }
          if (sorted.unpaired) {
            const atChosen = tf.gather(dy, ranks(p, pairs, DPO_LOSS_COLUMN.unpairedChosenRank));
            const atRejected = tf.gather(dy, ranks(p, pairs, DPO_LOSS_COLUMN.unpairedRejectedRank));
            dc = tf.add(dc, tf.mul(atChosen, col(p, DPO_LOSS_COLUMN.unpairedChosenSlope)));
            dr = tf.add(dr, tf.mul(atRejected, col(p, DPO_LOSS_COLUMN.unpairedRejectedSlope)));
          }
          const grads = [dc, dr];
          if (sft) grads.push(tf.sum(tf.mul(dy, col(p, DPO_LOSS_COLUMN.sftCoefficient))));
          return grads;
        },
      };
    })(...differentiable) as tf.Tensor1D;

    // β·(π − ref): the reference is a constant, so the gradient is β times the upstream one.
    const reward = (logps: tf.Tensor1D, k: number) =>
      tf.customGrad(() => ({
        value: col(packed, k),
        gradFunc: (dy: tf.Tensor) => tf.mul(dy, config.beta),
      }))(logps) as tf.Tensor1D;

    const out: LossOutputs = {
      loss,
      per_pair: perPair,
      chosen_rewards: reward(c, DPO_LOSS_COLUMN.chosenReward),
      rejected_rewards: reward(r, DPO_LOSS_COLUMN.rejectedReward),
    };
    return out as unknown as tf.TensorContainer;
  }) as unknown as LossOutputs;
}
