/**
 * Model FLOPs of one DPO step: the multiply-adds the model itself needs (2 FLOPs each), not what an
 * implementation adds on top (the RoPE rotation matmul, the fused path's recomputed logits).
 *
 * Per forward pass of R rows × T tokens (n = R·T tokens) through L Llama layers, with S completion
 * tokens scored by the head:
 *   linear  = 2 · n · L · (d·H·hd + 2·d·KV·hd + H·hd·d + 3·d·I)        q, k, v, o, gate/up/down
 *   lora    = 2 · n · L · Σ_adapted r·(in + out)                        the adapter's two thin matmuls
 *   attn    = 4 · R · L · H · hd · T²                                   Q·Kᵀ and P·V over the full T × T
 *   head    = 2 · S · V · d                                             only completion tokens are scored
 * One step = policy forward + policy backward + reference forward (adapter off), where the backward of
 * a frozen weight needs only the input gradient (as much as its forward), while attention needs two
 * gradients per matmul and each LoRA matmul needs both its input and its weight gradient:
 *   step = (linear + lora + attn + head)                  policy forward
 *        + (linear + 2·lora + 2·attn + head)              policy backward
 *        + (linear + attn + head)                         reference forward
 *        = 3·linear + 3·lora + 4·attn + 3·head
 */
import type { KernelCase, LoraShape, ModelDims, StepCase } from './protocol';

export interface StepShape {
  dims: ModelDims;
  lora: LoraShape;
  rows: number;
  seqLen: number;
  scoredTokens: number;
}

export interface StepFlops {
  linear: number;
  lora: number;
  attention: number;
  head: number;
  total: number;
}

/** In and out features of each Llama linear module, by module name. */
function linearShapes(d: ModelDims): Record<string, [number, number]> {
  const hd = d.hidden_size / d.num_attention_heads;
  const q = d.num_attention_heads * hd;
  const kv = d.num_key_value_heads * hd;
  return {
    q_proj: [d.hidden_size, q],
    k_proj: [d.hidden_size, kv],
    v_proj: [d.hidden_size, kv],
    o_proj: [q, d.hidden_size],
    gate_proj: [d.hidden_size, d.intermediate_size],
    up_proj: [d.hidden_size, d.intermediate_size],
    down_proj: [d.intermediate_size, d.hidden_size],
  };
}

export function stepFlops(s: StepShape): StepFlops {
  const { dims } = s;
  const tokens = s.rows * s.seqLen;
  const layers = dims.num_hidden_layers;
  const shapes = linearShapes(dims);
  const unknown = s.lora.target_modules.filter((m) => !(m in shapes));
  if (unknown.length > 0)
    throw new Error(`stepFlops: no FLOP count for LoRA target ${unknown.join(', ')} (Llama modules: ${Object.keys(shapes).join(', ')})`);
  const linearParams = Object.values(shapes).reduce((sum, [i, o]) => sum + i * o, 0);
  const loraParams = s.lora.target_modules.reduce((sum, m) => sum + s.lora.r * (shapes[m][0] + shapes[m][1]), 0);
  const headDim = dims.hidden_size / dims.num_attention_heads;
  const linear = 2 * tokens * layers * linearParams;
  const lora = 2 * tokens * layers * loraParams;
  const attention = 4 * s.rows * layers * dims.num_attention_heads * headDim * s.seqLen ** 2;
  const head = 2 * s.scoredTokens * dims.vocab_size * dims.hidden_size;
  return { linear, lora, attention, head, total: 3 * linear + 3 * lora + 4 * attention + 3 * head };
}

/** Runs of a case: warm-up and timed. */
function runsOf(c: { warmupRuns: number; timedRuns: number }): number {
  return c.warmupRuns + c.timedRuns;
}

/**
 * MatMul FLOPs a kernel case performs in all its runs (forward + backward series, then forward alone
 * when timed): a lower bound of its time at the probe's rate. Selective log-softmax has no matMul.
 */
export function kernelCaseFlops(c: KernelCase): number {
  if (c.kernel === 'linear') return runsOf(c) * 2 * c.N * c.V * c.hidden * (2 + (c.timeForward ? 1 : 0));
  // q·kᵀ and p·v over every (query, key) pair (the composed ops do not skip the masked half); the
  // backward pass recomputes the scores and makes three more products.
  if (c.kernel === 'attention') return runsOf(c) * 4 * c.V * c.N * c.N * c.hidden * (3 + (c.timeForward ? 1 : 0));
  if (c.kernel !== 'lm_head_logps') return 0;
  const logits = 2 * c.N * c.V * c.hidden;
  // Forward + backward: logits and dlogits·head, and on the fused path (past one block) the logits
  // recomputed in the backward pass; forward alone: the logits.
  const forwardBackward = (c.path === 'fused' ? 3 : 2) * logits;
  return runsOf(c) * (forwardBackward + (c.timeForward ? logits : 0));
}

/** Model FLOPs of a step case in all its runs. */
export function stepCaseFlops(c: StepCase): number {
  const rows = 2 * c.pairs;
  const scoredTokens = rows * (c.seqLen - Math.floor(c.seqLen / 2));
  return runsOf(c) * stepFlops({ dims: c.dims, lora: c.lora, rows, seqLen: c.seqLen, scoredTokens }).total;
}
