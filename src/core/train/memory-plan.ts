/**
 * The memory a training run will need, planned before any GPU work, and the refusal when it cannot fit.
 *
 * WebGPU reports no device memory, only two hard limits: the largest buffer one shader may bind
 * (maxStorageBufferBindingSize, often 128 MiB) and the largest buffer at all (maxBufferSize). A tensor
 * over the first fails the step outright; a total over what the device holds fails it too, later and
 * less clearly. So the plan counts, in bytes, what this code's tfjs graph really holds:
 *
 * - frozen weights, float32 (2-D weights over the binding limit are kept in row blocks, ../model/weights);
 * - the LoRA adapter, its gradient and AdamW's two moments;
 * - the activations of a training step, counted op by op from the decoder in
 *   ../model/architectures/llama.ts and tfjs's gradient registry. tfjs differs from PyTorch in two ways
 *   that dominate: every op saves its inputs for the backward pass (an add saves both operands, a
 *   reshape its input), and the backward pass keeps every gradient it computes until it ends (only a
 *   gradient that is summed into another is freed). The peak is therefore at the end of the backward
 *   pass: everything the forward pass saved plus a gradient for most of it;
 * - the LM head: on WebGPU the fused scorer (../kernels/lm-head-logps) never makes the [N, V] logits,
 *   only blocks of at most 16 MiB; the composed ops (CPU) make them whole, and their gradients too;
 * - the forward-only passes (the reference, eval, the precomputed reference), whose intermediate tensors
 *   all live until the model's forward pass returns.
 *
 * The counts are exact for the Llama family (Llama, Mistral, Qwen2, Qwen3: test/unit/train/memory-plan
 * checks them against tfjs's own accounting on the CPU backend); GPT-2 and Gemma 3 are counted with the
 * same decoder layer (their norms and MLP differ by a few tensors per layer). The plan is an upper bound
 * on sequences: every row is taken at max_length, every position after the first as scored.
 */

/** The per-layer linear modules, as the activation count needs them. */
export type LinearRole = 'q' | 'k' | 'v' | 'qkv' | 'o' | 'gate' | 'up' | 'down';

export interface LinearShape {
  /** The module's path inside a layer, e.g. "self_attn.q_proj", "mlp.c_proj": what LoRA targets match. */
  path: string;
  role: LinearRole;
  inFeatures: number;
  outFeatures: number;
  bias: boolean;
}

/** What the plan needs of a model: filled from a config.json (modelShapeOf) or the studio's ModelInfo. */
export interface ModelShape {
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  layers: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Elements of every base weight (tied weights once). */
  parameters: number;
  /** One decoder layer's linear modules. */
  linears: LinearShape[];
  /** PEFT's default targets (module names) when target_modules is empty. */
  defaultTargets: readonly string[];
  /** Per-head RMSNorms on q and k (Qwen3, Gemma 3). */
  qkNorm: boolean;
}

/** The device's two buffer limits, in bytes; Infinity where there are none (the CPU backends). */
export interface DeviceLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

export const NO_DEVICE_LIMITS: DeviceLimits = { maxStorageBufferBindingSize: Infinity, maxBufferSize: Infinity };

export interface MemoryPlanInput {
  model: ModelShape;
  lora: { r: number; target_modules: string[] | 'all-linear' };
  per_device_train_batch_size: number;
  /** The max_length setting (null: none). */
  max_length: number | null;
  /** Tokens of the longest pair (prompt + longer completion), when known: rows are no longer than it. */
  longest?: number;
  gradient_checkpointing: boolean;
  precompute_ref_log_probs: boolean;
  /** Pairs per batch of the forward-only passes (precomputing the reference, eval); default the train batch. */
  per_device_eval_batch_size?: number;
  /** Whether eval runs during training (an eval split). */
  evaluates?: boolean;
  gradient_accumulation_steps?: number;
  /** Training continues a loaded adapter: its frozen copy is the reference. */
  referenceAdapter?: boolean;
  /** The fused WebGPU LM head (logits in blocks) or the composed ops (whole logits). */
  lmHead: 'fused' | 'composed';
  /**
   * Our flash attention (per-row softmax statistics, no T × T tensors) or the composed ops (scores and
   * probabilities of every head, [T, T] each). Default composed.
   */
  attention?: 'flash' | 'composed';
  limits: DeviceLimits;
  /** Scored positions per row; default max_length − 1 (every position that predicts a token). */
  scoredPerRow?: number;
}

/** One tensor the plan needs in a single buffer, and the settings that size it. */
export interface PlannedBuffer {
  bytes: number;
  /** "the attention scores of one layer" */
  what: string;
  /** The settings that shrink it, as "name (value)". */
  settings: string[];
}

export interface MemoryPlan {
  /** Frozen base weights, float32. */
  weights: number;
  /** LoRA parameters, gradient, AdamW moments (and the accumulated gradient, the frozen reference copy). */
  adapter: number;
  /** Activations at the peak, LM head excluded. */
  activations: number;
  /** The LM head's logits (or logit blocks) and their gradients at the peak. */
  lmHead: number;
  /** weights + adapter + activations + lmHead. */
  total: number;
  /** Which pass sets the peak. */
  peakPass: 'training step' | 'forward pass';
  /** The peak of the training step and of the forward-only passes, activations and head together. */
  stepBytes: number;
  forwardBytes: number;
  /** The largest single buffer any pass needs. */
  largestBuffer: PlannedBuffer;
  /** Rows (2 × pairs) and tokens per row of a training micro-batch. */
  rows: number;
  seq: number;
  /** The settings that size the activations, as "name (value)". */
  sizeSettings: string[];
}

const F32 = 4;
/** Mirrors ../kernels/lm-head-logps DEFAULT_MAX_CHUNK_BYTES (a test holds them equal): the fused head's block cap. */
export const LM_HEAD_BLOCK_BYTES = 16 * 2 ** 20;

/** PEFT's target rule: the module path, or a dot-separated suffix of it. */
function matches(target: string, path: string): boolean {
  return path === target || path.endsWith(`.${target}`);
}

/** The linear modules of one layer that the adapter adapts. */
export function adaptedLinears(model: ModelShape, targets: string[] | 'all-linear'): LinearShape[] {
  if (targets === 'all-linear') return model.linears;
  const names = targets.length > 0 ? targets : model.defaultTargets;
  return model.linears.filter((l) => names.some((t) => matches(t, l.path)));
}

/** Trainable LoRA parameters: r · (in + out) per adapted module, over all layers. */
export function loraParameters(model: ModelShape, lora: MemoryPlanInput['lora']): number {
  return model.layers * adaptedLinears(model, lora.target_modules).reduce((n, l) => n + lora.r * (l.inFeatures + l.outFeatures), 0);
}

interface LayerWidths {
  d: number;
  /** q width H·hd, k/v width KV·hd, MLP width. */
  q: number;
  k: number;
  f: number;
  /** Attention's own floats per row-token in each pass (see widths). */
  attention: number;
}

function widths(model: ModelShape, seq: number, attention: 'flash' | 'composed'): LayerWidths {
  const q = model.heads * model.headDim;
  const k = model.kvHeads * model.headDim;
  return {
    d: model.hiddenSize,
    q,
    k,
    f: model.intermediateSize,
    // Composed: scores, masked scores and probabilities forward; probabilities, the softmax gradient and
    // its dy·y backward; three [T]-long rows per head each (3·H·T). Flash attention keeps no [T, T]
    // tensor: about 2q + 2H in each pass (forward: its packed output, the rows and their log-sum-exp,
    // and the slices of it; backward: the statistics, dq, and dk/dv with their slices, 3H + q + 4k,
    // which GQA's k ≤ q keeps near it).
    attention: attention === 'flash' ? 2 * q + 2 * model.heads : 3 * model.heads * seq,
  };
}

/**
 * Floats per row-token one decoder layer's forward pass leaves alive: what its ops save for the
 * backward pass, which in tfjs is nearly every intermediate (so the same count holds for a forward
 * pass without a tape, whose intermediates live until the model's tidy ends).
 *   input and post-attention RMSNorm: x², x·rsqrt, the output, and three [n, 1] statistics      2·(3d + 3)
 *   the layer input, the residual sum after attention, o_proj's and down_proj's outputs         4d
 *   q: projection, heads transpose, rotate_half product, the two RoPE terms, RoPE output, q·scale  7q
 *   k: the same less the scale (6k); v: projection and transpose (2k)                            8k
 *   attention: scores, masked scores, probabilities (the softmax runs on [rows·heads, T, T])     3·H·T (flash: 2q + 2H)
 *   context and its transpose                                                                  2q
 *   MLP: gate, sigmoid(gate), gate·sigmoid, up, the gated product                              5f
 *   each adapted module: the base output and the LoRA term (both saved by their sum), x·Aᵀ, its scaled copy   2·out + 2r
 *   each bias: the output before it                                                            out
 *   Qwen3's q/k norms: the input, x², x·rsqrt per head                                          3q + 3k
 */
function layerActivations(w: LayerWidths, adapted: LinearShape[], model: ModelShape, r: number): number {
  let n = 10 * w.d + 9 * w.q + 8 * w.k + 5 * w.f + w.attention + 6;
  for (const l of adapted) n += 2 * l.outFeatures + 2 * r;
  for (const l of model.linears) if (l.bias) n += l.outFeatures;
  if (model.qkNorm) n += 3 * w.q + 3 * w.k + 3 * (model.heads + model.kvHeads);
  return n;
}

/**
 * Floats per row-token of the gradients one layer's backward pass leaves alive until the pass ends.
 * A tensor with k gradient contributions ends with k buffers (the first is freed when summed, the
 * sum replaces it); a reshape's or an add's gradient shares its input's buffer and costs nothing.
 *   MLP: the gated product (plus one per adapter on down_proj), gate·sigmoid, up, sigmoid, gate (2)   (6 + a_down)·f
 *   post-attention norm input (3: residual, x·rsqrt, x²), x·rsqrt, x², its output (2 + adapters on gate/up)   (7 + a_gu)·d
 *   attention: context (1 + a_o), its transpose, scaled q, q, the RoPE product, its matmul, their sum, the head transpose   (8 + a_o)·q
 *   k: scores gradient, RoPE product, matmul, sum, transpose; v: context gradient, transpose    7k
 *   probabilities, the softmax gradient and the dy·y product its gradient function keeps       3·H·T (flash: 2q + 2H)
 *   input norm: its input (3), x·rsqrt, x², its output (3 projections + adapters on q/k/v)      (8 + a_qkv)·d
 *   the norms' [n, 1] statistics                                                               4
 *   each adapter: the gradients of x·Aᵀ and of its scaled copy                                 2r
 */
function layerGradients(w: LayerWidths, adapted: LinearShape[], r: number): number {
  const count = (...roles: LinearRole[]) => adapted.filter((l) => roles.includes(l.role)).length;
  return (
    (6 + count('down')) * w.f +
    (7 + count('gate', 'up')) * w.d +
    (8 + count('o')) * w.q +
    7 * w.k +
    w.attention +
    (8 + count('q', 'k', 'v', 'qkv')) * w.d +
    4 +
    2 * r * adapted.length
  );
}

/**
 * What the first layer's backward pass does not compute: gradients stop at its first adapted module,
 * so its input norm and the projections without an adapter (with everything behind them) take none.
 */
function firstLayerSkipped(w: LayerWidths, adapted: LinearShape[]): number {
  const has = (role: LinearRole) => adapted.some((l) => l.role === role || l.role === 'qkv');
  let n = 5 * w.d + 2;
  for (const role of ['q', 'k', 'v'] as const) if (!has(role)) n += w.d;
  if (!has('q')) n += 6 * w.q;
  if (!has('k')) n += 5 * w.k;
  if (!has('v')) n += 2 * w.k;
  return n;
}

/** The final norm: saved (its input, x², x·rsqrt, output) and gradients (hidden, x·rsqrt, input 2, x²). */
const finalNormSaved = (d: number) => 4 * d + 3;
const finalNormGradients = (d: number) => 5 * d + 2;

/** The causal mask [T, T] and RoPE tables (cos, sin [T, hd], the rotation [hd, hd]), kept per length. */
function tables(model: ModelShape, seq: number): number {
  return (seq * seq + 2 * seq * model.headDim + model.headDim * model.headDim) * F32;
}

/** Rows × vocabulary of one fused LM-head block: planLmHeadChunks' rule under the block cap. */
function lmHeadBlockFloats(scored: number, model: ModelShape, limits: DeviceLimits): number {
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const budget = Math.floor(Math.min(LM_HEAD_BLOCK_BYTES, binding) / F32);
  // The head is in row blocks when larger than a binding: no vocabulary slice is wider than one.
  const headRows =
    model.vocabSize * model.hiddenSize * F32 <= binding ? model.vocabSize : Math.max(1, Math.floor(binding / (F32 * model.hiddenSize)));
  const vocab = headRows <= budget ? headRows : Math.max(1, Math.floor(budget / model.hiddenSize));
  const rows = Math.max(1, Math.min(scored, Math.floor(budget / vocab)));
  return rows * vocab;
}

/** Bytes as "412 MiB" / "1.3 GiB". */
export function formatMemory(bytes: number): string {
  if (!Number.isFinite(bytes)) return 'unlimited';
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(bytes >= 10 * 2 ** 30 ? 0 : 1)} GiB`;
  if (bytes >= 2 ** 20) return `${Math.round(bytes / 2 ** 20)} MiB`;
  return `${Math.max(1, Math.round(bytes / 2 ** 10))} KiB`;
}

export function planTrainingMemory(input: MemoryPlanInput): MemoryPlan {
  const { model, lora, limits } = input;
  const B = input.per_device_train_batch_size;
  const T = Math.max(2, Math.min(input.max_length ?? Infinity, input.longest ?? Infinity));
  if (!Number.isFinite(T)) throw new Error('planTrainingMemory: max_length is none and the longest pair is unknown');
  const rows = 2 * B;
  const n = rows * T;
  const attention = input.attention ?? 'composed';
  const w = widths(model, T, attention);
  const adapted = adaptedLinears(model, lora.target_modules);
  const scoredPerRow = Math.min(T - 1, input.scoredPerRow ?? T - 1);
  const scored = rows * scoredPerRow;
  const V = model.vocabSize;
  const d = model.hiddenSize;
  const L = model.layers;
  const bytes = (floatsPerRowToken: number, tokens = n) => floatsPerRowToken * tokens * F32;

  const weights = model.parameters * F32;
  const p = loraParameters(model, lora);
  const adapterCopies = 4 + ((input.gradient_accumulation_steps ?? 1) > 1 ? 1 : 0) + (input.referenceAdapter ? 1 : 0);
  const adapter = p * adapterCopies * F32;

  // The training step (policy forward on the tape, then the backward pass).
  const act = layerActivations(w, adapted, model, lora.r);
  const grad = layerGradients(w, adapted, lora.r);
  const idsFloats = 1;
  let stepActivations: number;
  if (input.gradient_checkpointing) {
    // Each layer's input is kept, and its gradient; one layer runs again on its own tape at a time,
    // its input now differentiated too, with its recomputed output.
    stepActivations = bytes(2 * L * d + act + grad + d + finalNormSaved(d) + finalNormGradients(d) + idsFloats);
  } else {
    stepActivations = bytes(L * (act + grad) - firstLayerSkipped(w, adapted) + finalNormSaved(d) + finalNormGradients(d) + idsFloats);
  }
  stepActivations += tables(model, T);
  const blockFloats = lmHeadBlockFloats(scored, model, limits);
  // The scored hidden states and their gradient, plus: composed, the logits and exp(logits − max)
  // saved, six gradients of the logits (the gather's scatter, the mean's, exp's, the sum's, and the
  // max-subtraction's two, summed) and one more while a sum is being replaced; fused, a block of
  // logits and its gradient.
  const stepHead = (2 * scored * d + (input.lmHead === 'fused' ? 2 * blockFloats : 9 * scored * V)) * F32;

  // The forward-only passes: each layer's intermediates are freed when it is done (the model tidies
  // per layer), so one layer's live at once beside its input; then the head runs on the final hidden
  // states.
  const evalBatch = input.per_device_eval_batch_size ?? B;
  const forwardPairs = Math.max(input.precompute_ref_log_probs ? 0 : B, input.precompute_ref_log_probs || input.evaluates ? evalBatch : 0);
  const fRows = 2 * forwardPairs;
  const fn = fRows * T;
  const fScored = fRows * scoredPerRow;
  // The reference runs without the adapter unless it is a frozen copy of one; eval runs the policy too.
  const forwardAdapted = input.referenceAdapter || input.evaluates ? adapted : [];
  const forwardHidden =
    bytes(layerActivations(w, forwardAdapted, model, lora.r) + d + finalNormSaved(d) + idsFloats, fn) + tables(model, T);
  const forwardHeadFloats = fn * d + fScored * d + (input.lmHead === 'fused' ? lmHeadBlockFloats(fScored, model, limits) : 3 * fScored * V);
  const forwardActivations = forwardHidden;
  const forwardBytes = Math.max(forwardHidden, forwardHeadFloats * F32);
  const stepBytes = stepActivations + stepHead;

  const stepPeaks = stepBytes >= forwardBytes;
  const activations = stepPeaks ? stepActivations : forwardHidden >= forwardHeadFloats * F32 ? forwardActivations : fn * d * F32;
  const lmHead = stepPeaks ? stepHead : forwardHidden >= forwardHeadFloats * F32 ? 0 : (forwardHeadFloats - fn * d) * F32;

  // The rows are as long as the longest pair when max_length does not cut them: the message says so.
  const lengthValue = input.max_length === T ? `${T}` : `${input.max_length ?? 'none'}; the longest pair has ${T} tokens`;
  const settings = (...names: string[]) =>
    names.map((name) => {
      const value = { per_device_train_batch_size: B, max_length: lengthValue, per_device_eval_batch_size: evalBatch }[name];
      return `${name} (${value})`;
    });
  const maxRows = Math.max(rows, fRows);
  const candidates: PlannedBuffer[] = [
    attention === 'flash'
      ? { bytes: maxRows * T * (model.heads * model.headDim + model.heads) * F32, what: "one layer's attention output", settings: [] }
      : {
          bytes: maxRows * model.heads * T * T * F32,
          what: 'the attention scores of one layer',
          settings:
            fRows > rows ? settings('per_device_eval_batch_size', 'max_length') : settings('per_device_train_batch_size', 'max_length'),
        },
    {
      bytes: n * Math.max(w.f, w.q, d) * F32,
      what: 'the MLP activations of one layer',
      settings: settings('per_device_train_batch_size', 'max_length'),
    },
    input.lmHead === 'fused'
      ? { bytes: blockFloats * F32, what: 'one block of LM-head logits', settings: [] }
      : { bytes: Math.max(scored, fScored) * V * F32, what: 'the logits', settings: settings('per_device_train_batch_size', 'max_length') },
  ];
  const largestBuffer = candidates.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  return {
    weights,
    adapter,
    activations,
    lmHead,
    total: weights + adapter + activations + lmHead,
    peakPass: stepPeaks ? 'training step' : 'forward pass',
    stepBytes,
    forwardBytes,
    largestBuffer,
    rows,
    seq: T,
    sizeSettings: settings('per_device_train_batch_size', 'max_length'),
  };
}

/**
 * null when the plan fits, else why not and what to change: a buffer over the device's binding or
 * buffer limit (a hard WebGPU failure), or a total over the memory budget. `raiseBudget` says how to
 * raise the budget where the caller has one ("raise the GPU memory budget", "pass --memory_budget_gb").
 */
export function checkMemoryPlan(
  plan: MemoryPlan,
  limits: DeviceLimits,
  budgetBytes?: number,
  options: { raiseBudget?: string; gradientCheckpointing?: boolean } = {},
): string | null {
  const binding = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
  const big = plan.largestBuffer;
  if (big.bytes > binding) {
    const limitName = limits.maxStorageBufferBindingSize <= limits.maxBufferSize ? 'binding' : 'buffer';
    const change = big.settings.length > 0 ? `: lower ${big.settings.join(' or ')}` : '';
    return `${big.what} need${big.what.startsWith('one ') ? 's' : ''} ${formatMemory(big.bytes)} in one buffer, over this device's ${formatMemory(binding)} ${limitName} limit${change}`;
  }
  if (budgetBytes === undefined || plan.total <= budgetBytes) return null;
  const parts = `weights ${formatMemory(plan.weights)}, adapter and AdamW ${formatMemory(plan.adapter)}, activations ${formatMemory(plan.activations)}, LM head ${formatMemory(plan.lmHead)}`;
  const head = `training needs about ${formatMemory(plan.total)} (${parts}), over the ${formatMemory(budgetBytes)} memory budget`;
  if (plan.weights + plan.adapter > budgetBytes) {
    return `${head}: the weights alone need ${formatMemory(plan.weights)}; choose a smaller model${options.raiseBudget ? ` or ${options.raiseBudget}` : ''}`;
  }
  const changes = [`lower ${plan.sizeSettings.join(' or ')}`];
  if (options.gradientCheckpointing === false && plan.peakPass === 'training step') changes.push('turn gradient_checkpointing on');
  if (options.raiseBudget) changes.push(options.raiseBudget);
  return `${head}: ${changes.join(', or ')}`;
}

/** The roles of the linear modules by their name in a layer ("self_attn.q_proj", "attn.c_attn", "mlp.c_proj"). */
const ROLES: [RegExp, LinearRole][] = [
  [/q_proj$/, 'q'],
  [/k_proj$/, 'k'],
  [/v_proj$/, 'v'],
  [/c_attn$/, 'qkv'],
  [/(o_proj|attn\.c_proj)$/, 'o'],
  [/gate_proj$/, 'gate'],
  [/(up_proj|c_fc)$/, 'up'],
  [/(down_proj|mlp\.c_proj)$/, 'down'],
];

/** What modelShapeOf reads of an architecture (its registry entry, ../model/architectures/spec). */
export interface ShapeSource {
  tensorShapes(config: ShapeConfig): Map<string, number[]>;
  canonicalName(name: string): string;
  linearModuleNames: readonly string[];
  defaultLoraTargets: readonly string[];
  isFanInFanOut(modulePath: string): boolean;
}

/** The config.json fields the plan reads (a ModelConfig has them all). */
export interface ShapeConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
}

/** A model's shape from its config and its architecture's tensor list: the first layer's linears, every weight's size. */
export function modelShapeOf<C extends ShapeConfig>(
  config: C,
  spec: Omit<ShapeSource, 'tensorShapes'> & { tensorShapes(config: C): Map<string, number[]> },
): ModelShape {
  const shapes = spec.tensorShapes(config);
  let parameters = 0;
  const linears: LinearShape[] = [];
  let qkNorm = false;
  for (const [rawName, shape] of shapes) {
    parameters += shape.reduce((a, b) => a * b, 1);
    const name = spec.canonicalName(rawName);
    if (/\.0\.self_attn\.q_norm\.weight$/.test(name)) qkNorm = true;
    const layerPath = /^(.*\.0)\.(.+)\.weight$/.exec(name);
    if (!layerPath || shape.length !== 2) continue;
    const [, prefix, path] = layerPath;
    const module = path.slice(path.lastIndexOf('.') + 1);
    const role = ROLES.find(([re]) => re.test(path))?.[1];
    if (!spec.linearModuleNames.includes(module) || !role) continue;
    const [a, b] = shape;
    const fanInFanOut = spec.isFanInFanOut(`${prefix}.${path}`);
    linears.push({
      path,
      role,
      inFeatures: fanInFanOut ? a : b,
      outFeatures: fanInFanOut ? b : a,
      bias: shapes.has(`${prefix}.${path}.bias`),
    });
  }
  return {
    vocabSize: config.vocab_size,
    hiddenSize: config.hidden_size,
    intermediateSize: config.intermediate_size,
    layers: config.num_hidden_layers,
    heads: config.num_attention_heads,
    kvHeads: config.num_key_value_heads,
    headDim: config.head_dim,
    parameters,
    linears,
    defaultTargets: spec.defaultLoraTargets,
    qkNorm,
  };
}
