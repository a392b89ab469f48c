import * as tf from '@tensorflow/tfjs';
import { ConfigKeys, headGeometry, isPlainObject, tokenIds } from '../config-keys';
import { linearForward, type FrozenLinear } from '../linear';
import { layerVariables, LengthCache, nextLayer } from '../checkpoint';
import { headOf, logitsFromHidden, lookupRows, weightReader, type ModelWeights } from '../weights';
import type { Architecture, CausalLM, ForwardOptions, ModelConfig, RopeScaling } from '../types';
import { RANDOM_CONFIG_TRANSFORMERS_VERSION, type ArchitectureSpec, type RandomCheckpointDims } from './spec';

/**
 * LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and Qwen3ForCausalLM: one pre-norm decoder that
 * differs only in which projections carry a bias, the RoPE base and scaling, Mistral's sliding window and
 * Qwen3's per-head q/k norms. Each is a LlamaVariant (at the end of this file) turned into an
 * ArchitectureSpec by llamaFamilySpec.
 */

export const LLAMA_LINEARS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;
export type LlamaLinear = (typeof LLAMA_LINEARS)[number];

export const MLP_LINEARS: ReadonlySet<LlamaLinear> = new Set(['gate_proj', 'up_proj', 'down_proj']);

export function modulePath(layer: number, name: LlamaLinear): string {
  return `model.layers.${layer}.${MLP_LINEARS.has(name) ? 'mlp' : 'self_attn'}.${name}`;
}

/** [out, in] of each projection (HF nn.Linear layout). */
export function linearShape(config: ModelConfig, name: LlamaLinear): [number, number] {
  const d = config.hidden_size;
  const qWidth = config.num_attention_heads * config.head_dim;
  const kvWidth = config.num_key_value_heads * config.head_dim;
  const f = config.intermediate_size;
  switch (name) {
    case 'q_proj':
      return [qWidth, d];
    case 'k_proj':
    case 'v_proj':
      return [kvWidth, d];
    case 'o_proj':
      return [d, qWidth];
    case 'gate_proj':
    case 'up_proj':
      return [f, d];
    case 'down_proj':
      return [d, f];
  }
}

/** Qwen2 biases q/k/v only; Llama's attention_bias also biases o_proj (`oProjBias`); mlp_bias biases the MLP (Llama). */
function hasBias(config: ModelConfig, name: LlamaLinear, oProjBias: boolean): boolean {
  switch (name) {
    case 'q_proj':
    case 'k_proj':
    case 'v_proj':
      return config.attention_bias;
    case 'o_proj':
      return config.attention_bias && oProjBias;
    default:
      return config.mlp_bias;
  }
}

/** Every tensor the model reads, with the shape config.json implies. */
function llamaTensorShapes(config: ModelConfig, oProjBias: boolean, qkNorm: boolean): Map<string, number[]> {
  const d = config.hidden_size;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [config.vocab_size, d]]]);
  for (let l = 0; l < config.num_hidden_layers; l++) {
    shapes.set(`model.layers.${l}.input_layernorm.weight`, [d]);
    shapes.set(`model.layers.${l}.post_attention_layernorm.weight`, [d]);
    if (qkNorm) {
      shapes.set(`model.layers.${l}.self_attn.q_norm.weight`, [config.head_dim]);
      shapes.set(`model.layers.${l}.self_attn.k_norm.weight`, [config.head_dim]);
    }
    for (const name of LLAMA_LINEARS) {
      const shape = linearShape(config, name);
      shapes.set(`${modulePath(l, name)}.weight`, shape);
      if (hasBias(config, name, oProjBias)) shapes.set(`${modulePath(l, name)}.bias`, [shape[0]]);
    }
  }
  shapes.set('model.norm.weight', [d]);
  if (!config.tie_word_embeddings) shapes.set('lm_head.weight', [config.vocab_size, d]);
  return shapes;
}

/**
 * RoPE inverse frequencies 1/θ^(2i/d), divided by the factor of linear scaling, or with Llama 3's
 * frequency-dependent scaling. Rounded to float32 because Hugging Face computes them in float32.
 */
export function ropeInverseFrequencies(config: ModelConfig): Float32Array {
  const d = config.head_dim;
  const inv = new Float32Array(d / 2);
  for (let i = 0; i < d / 2; i++) inv[i] = 1 / Math.pow(config.rope_theta, (2 * i) / d);
  const scaling = config.rope_scaling;
  if (!scaling) return inv;
  if (scaling.rope_type === 'linear') return inv.map((f) => f / scaling.factor);
  const { factor, low_freq_factor, high_freq_factor, original_max_position_embeddings: oldContext } = scaling;
  if (scaling.rope_type !== 'llama3' || low_freq_factor === undefined || high_freq_factor === undefined || oldContext === undefined) {
    throw new Error(
      `${config.architecture}: rope_scaling ${JSON.stringify(scaling)} is not supported: rope_type "linear", or "llama3" ` +
        'with factor, low_freq_factor, high_freq_factor and original_max_position_embeddings',
    );
  }
  // Llama 3: long wavelengths slowed by `factor`, short ones kept, a smooth blend between.
  const lowFreqWavelen = oldContext / low_freq_factor;
  const highFreqWavelen = oldContext / high_freq_factor;
  return inv.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    if (wavelen < highFreqWavelen) return f;
    if (wavelen > lowFreqWavelen) return f / factor;
    const smooth = (oldContext / wavelen - low_freq_factor) / (high_freq_factor - low_freq_factor);
    return (1 - smooth) * (f / factor) + smooth * f;
  });
}

export interface RopeTables {
  /** cos and sin of the angles t·f for positions 0..T-1, each frequency repeated over both halves: [T, d]. */
  cos: tf.Tensor2D;
  sin: tf.Tensor2D;
  /** R [d, d] with x·R = rotate_half(x) = [−x₂, x₁]. */
  rotation: tf.Tensor2D;
}

export function ropeTables(invFreq: Float32Array, T: number): RopeTables {
  const half = invFreq.length;
  const cos = new Float32Array(T * 2 * half);
  const sin = new Float32Array(T * 2 * half);
  for (let t = 0; t < T; t++) {
    for (let i = 0; i < half; i++) {
      // HF forms the angle as a float32 product; using that same angle keeps far positions in step with it.
      const angle = Math.fround(t * invFreq[i]);
      const row = t * 2 * half;
      cos[row + i] = cos[row + half + i] = Math.cos(angle);
      sin[row + i] = sin[row + half + i] = Math.sin(angle);
    }
  }
  const rotation = new Float32Array(4 * half * half);
  for (let j = 0; j < half; j++) {
    rotation[(j + half) * 2 * half + j] = -1;
    rotation[j * 2 * half + j + half] = 1;
  }
  return {
    cos: tf.tensor2d(cos, [T, 2 * half]),
    sin: tf.tensor2d(sin, [T, 2 * half]),
    rotation: tf.tensor2d(rotation, [2 * half, 2 * half]),
  };
}

/**
 * x·cos + rotate_half(x)·sin over the last axis of x [B, heads, T, d]. rotate_half is a matmul with a
 * signed permutation: a split and concat cost far more on tfjs's CPU backend, and the matmul adds only
 * 1/heads of the q and k projections' work.
 */
export function applyRope(x: tf.Tensor4D, { cos, sin, rotation }: RopeTables): tf.Tensor4D {
  const rotated = tf.reshape(tf.matMul(tf.reshape(x, [-1, x.shape[3]]), rotation), x.shape);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin));
}

/** Root-mean-square norm over the last axis: x / √(mean(x²) + ε) · w. */
function rmsNorm(x: tf.Tensor2D, weight: tf.Tensor1D, eps: number): tf.Tensor2D {
  const meanSquare = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), weight);
}

/** Qwen3's q_norm / k_norm: rmsNorm over each head of x [n, heads·hd]; x itself when the model has none. */
function headRmsNorm(x: tf.Tensor2D, weight: tf.Tensor1D | null, headDim: number, eps: number): tf.Tensor2D {
  if (!weight) return x;
  return tf.reshape(rmsNorm(tf.reshape(x, [-1, headDim]), weight, eps), x.shape);
}

export interface AttentionGeometry {
  batch: number;
  seq: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  /** Multiplies q·k: 1/√head_dim. */
  scale: number;
  /** The mask's sliding window (query i reads keys j with i − j < window); null: none. */
  window: number | null;
}

/**
 * Attention on other kernels than the composed ops (../../kernels' useAttentionKernel): q [B, H, T, hd],
 * k and v [B, KV, T, hd] → [B, H, T, hd], or null where it does not take this call.
 */
export type AttentionKernel = (q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, g: AttentionGeometry) => tf.Tensor4D | null;

let attentionKernel: AttentionKernel | null = null;

/** Process-wide, as tfjs's backend is; null: the composed ops. */
export function setAttentionKernel(kernel: AttentionKernel | null): void {
  attentionKernel = kernel;
}

/**
 * The additive causal mask [T, T]: 0 where query i may read key j (j ≤ i, and i − j < window with a
 * sliding window, as HF's sliding_window_overlay), a large negative number elsewhere.
 */
export function causalMask(seq: number, slidingWindow: number | null): tf.Tensor2D {
  // Finite rather than −∞: exp underflows to exactly 0 either way, and no backend meets an inf − inf.
  const blocked = -1e9;
  const mask = new Float32Array(seq * seq);
  for (let i = 0; i < seq; i++) {
    for (let j = 0; j < seq; j++) {
      const visible = j <= i && (slidingWindow === null || i - j < slidingWindow);
      mask[i * seq + j] = visible ? 0 : blocked;
    }
  }
  return tf.tensor2d(mask, [seq, seq]);
}

/**
 * Masked (grouped-query) attention. q [B, H, T, hd], k and v [B, KV, T, hd], mask [T, T]; returns
 * [B·T, H·hd]. Query head h reads KV head ⌊h / (H/KV)⌋ (HF's repeat_kv). Rather than copying K and V
 * per query head, the H/KV query heads of a group are stacked along the sequence axis, so one batched
 * matmul serves them.
 */
export function causalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, mask: tf.Tensor2D, g: AttentionGeometry): tf.Tensor2D {
  const fused = attentionKernel?.(q, k, v, g);
  if (fused) return tf.reshape(tf.transpose(fused, [0, 2, 1, 3]), [g.batch * g.seq, g.heads * g.headDim]);
  const group = g.heads / g.kvHeads;
  // Scaling q rather than the scores touches T times fewer numbers.
  const grouped = tf.reshape(tf.mul(q, g.scale), [g.batch, g.kvHeads, group * g.seq, g.headDim]);
  const scores = tf.matMul(grouped, k, false, true);
  const masked = tf.add(tf.reshape(scores, [g.batch * g.kvHeads * group, g.seq, g.seq]), mask);
  // Softmax over a 2-D view: tfjs's CPU kernel runs markedly faster on it than on a 5-D tensor.
  const probs = tf.reshape(tf.softmax(tf.reshape(masked, [-1, g.seq])), [g.batch, g.kvHeads, group * g.seq, g.seq]);
  const context = tf.reshape(tf.matMul(probs, v), [g.batch, g.heads, g.seq, g.headDim]);
  return tf.reshape(tf.transpose(context, [0, 2, 1, 3]), [g.batch * g.seq, g.heads * g.headDim]);
}

/** [B·T, heads·hd] → [B, heads, T, hd] */
export function splitHeads(x: tf.Tensor2D, batch: number, seq: number, heads: number, headDim: number): tf.Tensor4D {
  return tf.transpose(tf.reshape(x, [batch, seq, heads, headDim]), [0, 2, 1, 3]);
}

interface LlamaLayer {
  inputNorm: tf.Tensor1D;
  postAttentionNorm: tf.Tensor1D;
  /** Qwen3's per-head norms of q and k before RoPE; null elsewhere. */
  qNorm: tf.Tensor1D | null;
  kNorm: tf.Tensor1D | null;
  linears: Record<LlamaLinear, FrozenLinear>;
}

const SUPPORTED_ACTIVATIONS = ['silu', 'swish'];

/** Builds the model over validated weights (names and shapes as llamaTensorShapes). */
function createLlama(config: ModelConfig, weights: ModelWeights, oProjBias: boolean, qkNorm: boolean): CausalLM {
  if (!SUPPORTED_ACTIVATIONS.includes(config.hidden_act)) {
    throw new Error(
      `${config.architecture}: hidden_act "${config.hidden_act}" is not supported (expected one of ${SUPPORTED_ACTIVATIONS.join(', ')})`,
    );
  }
  if (config.head_dim % 2 !== 0) throw new Error(`${config.architecture}: head_dim must be even for RoPE, got ${config.head_dim}`);
  if (config.num_attention_heads % config.num_key_value_heads !== 0) {
    throw new Error(
      `${config.architecture}: num_attention_heads (${config.num_attention_heads}) must be a multiple of num_key_value_heads (${config.num_key_value_heads})`,
    );
  }
  const { tensor: get, rows } = weightReader(weights, config.architecture);
  const embed = rows('model.embed_tokens.weight');
  const finalNorm = get<tf.Tensor1D>('model.norm.weight');
  const head = headOf(config.tie_word_embeddings ? embed : rows('lm_head.weight'));
  const layers: LlamaLayer[] = [];
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const linears = {} as Record<LlamaLinear, FrozenLinear>;
    for (const name of LLAMA_LINEARS) {
      const path = modulePath(l, name);
      linears[name] = {
        path,
        weight: rows(`${path}.weight`),
        bias: hasBias(config, name, oProjBias) ? get<tf.Tensor1D>(`${path}.bias`) : null,
        fanInFanOut: false,
      };
    }
    layers.push({
      inputNorm: get(`model.layers.${l}.input_layernorm.weight`),
      postAttentionNorm: get(`model.layers.${l}.post_attention_layernorm.weight`),
      qNorm: qkNorm ? get<tf.Tensor1D>(`model.layers.${l}.self_attn.q_norm.weight`) : null,
      kNorm: qkNorm ? get<tf.Tensor1D>(`model.layers.${l}.self_attn.k_norm.weight`) : null,
      linears,
    });
  }
  const invFreq = ropeInverseFrequencies(config);
  const eps = config.norm_eps;
  const { num_attention_heads: heads, num_key_value_heads: kvHeads, head_dim: headDim } = config;

  const perLength = new LengthCache(
    (seq) => ({ mask: causalMask(seq, config.sliding_window), rope: ropeTables(invFreq, seq) }),
    ({ mask, rope }) => [mask, rope.cos, rope.sin, rope.rotation],
  );

  /** One decoder layer over x [B·T, d]. */
  function decoderLayer(layer: LlamaLayer, x: tf.Tensor2D, batch: number, seq: number, options: ForwardOptions): tf.Tensor2D {
    const { mask, rope } = perLength.get(seq);
    const geometry: AttentionGeometry = {
      batch,
      seq,
      heads,
      kvHeads,
      headDim,
      scale: 1 / Math.sqrt(headDim),
      window: config.sliding_window,
    };
    const { q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj } = layer.linears;
    const h = rmsNorm(x, layer.inputNorm, eps);
    const qFlat = headRmsNorm(linearForward(h, q_proj, options), layer.qNorm, headDim, eps);
    const kFlat = headRmsNorm(linearForward(h, k_proj, options), layer.kNorm, headDim, eps);
    const q = applyRope(splitHeads(qFlat, batch, seq, heads, headDim), rope);
    const k = applyRope(splitHeads(kFlat, batch, seq, kvHeads, headDim), rope);
    const v = splitHeads(linearForward(h, v_proj, options), batch, seq, kvHeads, headDim);
    const attended: tf.Tensor2D = tf.add(x, linearForward(causalAttention(q, k, v, mask, geometry), o_proj, options));
    const m = rmsNorm(attended, layer.postAttentionNorm, eps);
    const gate = linearForward(m, gate_proj, options);
    const gated: tf.Tensor2D = tf.mul(tf.mul(gate, tf.sigmoid(gate)), linearForward(m, up_proj, options));
    return tf.add(attended, linearForward(gated, down_proj, options));
  }

  function hidden(inputIds: tf.Tensor2D, options: ForwardOptions): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, seq] = inputIds.shape;
      let x: tf.Tensor2D = lookupRows(embed, tf.reshape(inputIds, [-1]));
      for (const layer of layers) {
        const linears = Object.values(layer.linears);
        const variables = layerVariables(
          linears.map((l) => l.path),
          options.adapter,
          [...linears.flatMap((l) => [l.weight, l.bias]), layer.inputNorm, layer.postAttentionNorm, layer.qNorm, layer.kNorm],
        );
        x = nextLayer((input) => decoderLayer(layer, input, batch, seq, options), x, variables, options);
      }
      return tf.reshape(rmsNorm(x, finalNorm, eps), [batch, seq, config.hidden_size]);
    });
  }

  return {
    config,
    linearModules: () =>
      layers.flatMap((layer) =>
        LLAMA_LINEARS.map((name) => {
          const [outFeatures, inFeatures] = layer.linears[name].weight.shape;
          return { path: layer.linears[name].path, inFeatures, outFeatures };
        }),
      ),
    hidden,
    headWeight: () => head,
    logits: (inputIds, options) => tf.tidy(() => logitsFromHidden(hidden(inputIds, options), head)),
    dispose: () => {
      perLength.dispose();
      for (const t of new Set(weights.values())) t.dispose();
    },
  };
}

// config.json

const SUPPORTED_ROPE_TYPES = ['default', 'linear', 'llama3'];

function parseRopeScaling(keys: ConfigKeys): RopeScaling | null {
  // Transformers 5 writes rope_theta and the scaling together as "rope_parameters".
  const key = keys.has('rope_scaling') ? 'rope_scaling' : 'rope_parameters';
  if (!keys.has(key)) return null;
  const params = keys.raw[key];
  if (!isPlainObject(params)) throw keys.error(key, `must be an object, got ${JSON.stringify(params)}`);
  // Older configs spell rope_type as "type".
  const ropeType = params.rope_type ?? params.type ?? 'default';
  if (typeof ropeType !== 'string' || !SUPPORTED_ROPE_TYPES.includes(ropeType)) {
    throw keys.error(
      key,
      `has rope type ${JSON.stringify(ropeType)}, which is not supported; supported: ${SUPPORTED_ROPE_TYPES.join(', ')}`,
    );
  }
  if (ropeType === 'default') return null;
  const field = (name: string): number => {
    const value = params[name];
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw keys.error(key, `needs a positive number "${name}" for rope type "${ropeType}", got ${JSON.stringify(value)}`);
    }
    return value;
  };
  if (ropeType === 'linear') return { rope_type: 'linear', factor: field('factor') };
  const scaling = {
    rope_type: 'llama3',
    factor: field('factor'),
    low_freq_factor: field('low_freq_factor'),
    high_freq_factor: field('high_freq_factor'),
    original_max_position_embeddings: field('original_max_position_embeddings'),
  };
  if (scaling.high_freq_factor <= scaling.low_freq_factor) {
    throw keys.error(key, `needs high_freq_factor > low_freq_factor, got ${scaling.high_freq_factor} <= ${scaling.low_freq_factor}`);
  }
  return scaling;
}

function ropeTheta(keys: ConfigKeys): number {
  if (keys.has('rope_theta')) return keys.number('rope_theta', 10000);
  const params = keys.has('rope_parameters') ? keys.raw.rope_parameters : null;
  if (isPlainObject(params) && typeof params.rope_theta === 'number') return params.rope_theta;
  return 10000;
}

/** One member of the family: what its config class and checkpoints do differently. */
interface LlamaVariant {
  name: Architecture;
  modelType: string;
  defaultContext: number;
  /** Whether attention_bias biases o_proj as well as q/k/v (Llama, Qwen3; Qwen2's q/k/v biases leave it bare). */
  oProjBias: boolean;
  /** Per-head RMSNorms q_norm / k_norm on q and k before RoPE (Qwen3). */
  qkNorm?: boolean;
  /** The config class's head_dim when config.json has none (Qwen3: 128); otherwise hidden / heads. */
  defaultHeadDim?: number;
  /** attention_bias and mlp_bias: what config.json says, or what the architecture always has. */
  biases(keys: ConfigKeys): { attention_bias: boolean; mlp_bias: boolean };
  /** The attention window applied to every layer, or null. */
  slidingWindow(keys: ConfigKeys): number | null;
  /** The config.json keys transformers writes for this member beyond the family's common ones. */
  randomConfigKeys(dims: RandomCheckpointDims): Record<string, unknown>;
}

function parseLlamaFamily(keys: ConfigKeys, variant: LlamaVariant): ModelConfig {
  const hidden = keys.requiredCount('hidden_size');
  const geometry = headGeometry(keys, hidden, 'num_attention_heads', 'num_key_value_heads');
  const { heads, kvHeads } = geometry;
  const headDim = keys.has('head_dim') ? geometry.headDim : (variant.defaultHeadDim ?? geometry.headDim);
  return {
    architecture: variant.name,
    model_type: keys.string('model_type', variant.modelType),
    vocab_size: keys.requiredCount('vocab_size'),
    hidden_size: hidden,
    intermediate_size: keys.requiredCount('intermediate_size'),
    num_hidden_layers: keys.requiredCount('num_hidden_layers'),
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: keys.count('max_position_embeddings', variant.defaultContext),
    norm_eps: keys.number('rms_norm_eps', 1e-6),
    rope_theta: ropeTheta(keys),
    rope_scaling: parseRopeScaling(keys),
    ...variant.biases(keys),
    tie_word_embeddings: keys.bool('tie_word_embeddings', false),
    hidden_act: keys.string('hidden_act', 'silu'),
    sliding_window: variant.slidingWindow(keys),
    ...tokenIds(keys),
    raw: keys.raw,
  };
}

function randomLlamaFamilyConfig(variant: LlamaVariant, dims: RandomCheckpointDims): Record<string, unknown> {
  return {
    architectures: [variant.name],
    attention_dropout: 0.0,
    bos_token_id: 1,
    eos_token_id: 2,
    hidden_act: 'silu',
    hidden_size: dims.hidden_size,
    initializer_range: 0.02,
    intermediate_size: dims.intermediate_size,
    max_position_embeddings: dims.max_position_embeddings ?? 2048,
    num_attention_heads: dims.num_attention_heads,
    num_hidden_layers: dims.num_hidden_layers,
    num_key_value_heads: dims.num_key_value_heads,
    tie_word_embeddings: dims.tie_word_embeddings ?? false,
    torch_dtype: 'float32',
    transformers_version: RANDOM_CONFIG_TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: dims.vocab_size,
    ...variant.randomConfigKeys(dims),
  };
}

function llamaFamilySpec(variant: LlamaVariant): ArchitectureSpec {
  return {
    name: variant.name,
    modelType: variant.modelType,
    defaultContext: variant.defaultContext,
    parseConfig: (keys) => parseLlamaFamily(keys, variant),
    tensorShapes: (config) => llamaTensorShapes(config, variant.oProjBias, variant.qkNorm ?? false),
    canonicalName: (name) => name,
    build: (config, weights) => createLlama(config, weights, variant.oProjBias, variant.qkNorm ?? false),
    defaultLoraTargets: ['q_proj', 'v_proj'],
    linearModuleNames: LLAMA_LINEARS,
    isFanInFanOut: () => false,
    groupedQueryAttention: true,
    randomConfigJson: (dims) => randomLlamaFamilyConfig(variant, dims),
  };
}

const headDimOf = (dims: RandomCheckpointDims) => dims.head_dim ?? dims.hidden_size / dims.num_attention_heads;
const noBiases = () => ({ attention_bias: false, mlp_bias: false });

export const llama = llamaFamilySpec({
  name: 'LlamaForCausalLM',
  modelType: 'llama',
  defaultContext: 2048,
  oProjBias: true,
  biases: (keys) => ({ attention_bias: keys.bool('attention_bias', false), mlp_bias: keys.bool('mlp_bias', false) }),
  slidingWindow: () => null,
  randomConfigKeys: (dims) => ({
    model_type: 'llama',
    attention_bias: false,
    head_dim: headDimOf(dims),
    mlp_bias: false,
    pretraining_tp: 1,
    rms_norm_eps: 1e-5,
    rope_scaling: null,
    rope_theta: 10000.0,
  }),
});

export const mistral = llamaFamilySpec({
  name: 'MistralForCausalLM',
  modelType: 'mistral',
  defaultContext: 4096 * 32,
  oProjBias: false,
  // Mistral's projections never carry a bias.
  biases: noBiases,
  slidingWindow: (keys) => {
    // Mistral applies its window to every layer. MistralConfig's default applies only when the key is
    // absent; an explicit null turns the window off.
    if (!('sliding_window' in keys.raw)) return 4096;
    return keys.has('sliding_window') ? keys.count('sliding_window', 0) : null;
  },
  randomConfigKeys: (dims) => ({
    model_type: 'mistral',
    head_dim: headDimOf(dims),
    rms_norm_eps: 1e-6,
    rope_theta: 10000.0,
    sliding_window: 4096,
  }),
});

export const qwen2 = llamaFamilySpec({
  name: 'Qwen2ForCausalLM',
  modelType: 'qwen2',
  defaultContext: 32768,
  oProjBias: false,
  // Qwen2's q/k/v projections always carry a bias.
  biases: () => ({ attention_bias: true, mlp_bias: false }),
  slidingWindow: (keys) => {
    if (keys.bool('use_sliding_window', false)) {
      throw keys.error('use_sliding_window', 'is true: per-layer sliding-window attention (Qwen2 max_window_layers) is not supported');
    }
    return null;
  },
  randomConfigKeys: (dims) => ({
    model_type: 'qwen2',
    max_window_layers: dims.num_hidden_layers,
    rms_norm_eps: 1e-6,
    rope_scaling: null,
    rope_theta: 1000000.0,
    sliding_window: null,
    use_sliding_window: false,
  }),
});

export const qwen3 = llamaFamilySpec({
  name: 'Qwen3ForCausalLM',
  modelType: 'qwen3',
  defaultContext: 32768,
  // Qwen3's attention_bias biases all four attention projections.
  oProjBias: true,
  qkNorm: true,
  defaultHeadDim: 128,
  biases: (keys) => ({ attention_bias: keys.bool('attention_bias', false), mlp_bias: false }),
  slidingWindow: (keys) => {
    if (keys.bool('use_sliding_window', false)) {
      throw keys.error('use_sliding_window', 'is true: per-layer sliding-window attention (Qwen3 max_window_layers) is not supported');
    }
    return null;
  },
  // Qwen3-0.6B's config.json beyond the family's common keys.
  randomConfigKeys: (dims) => ({
    model_type: 'qwen3',
    attention_bias: false,
    head_dim: headDimOf(dims),
    max_window_layers: dims.num_hidden_layers,
    rms_norm_eps: 1e-6,
    rope_scaling: null,
    rope_theta: 1000000,
    sliding_window: null,
    use_sliding_window: false,
  }),
});
