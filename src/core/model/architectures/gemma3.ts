import * as tf from '@tensorflow/tfjs';
import { ConfigKeys, isPlainObject, tokenIds } from '../config-keys';
import { linearForward, type FrozenLinear } from '../linear';
import { layerVariables, LengthCache, nextLayer } from '../checkpoint';
import { headOf, logitsFromHidden, lookupRows, weightReader, type ModelWeights } from '../weights';
import type { CausalLM, ForwardOptions, ModelConfig, RopeScaling } from '../types';
import {
  applyRope,
  causalAttention,
  causalMask,
  linearShape,
  LLAMA_LINEARS,
  MLP_LINEARS,
  modulePath,
  ropeInverseFrequencies,
  ropeTables,
  splitHeads,
  type AttentionGeometry,
  type LlamaLinear,
} from './llama';
import { RANDOM_CONFIG_TRANSFORMERS_VERSION, type ArchitectureSpec, type RandomCheckpointDims } from './spec';

/**
 * Gemma3ForCausalLM (model_type "gemma3_text"), the text-only Gemma 3 (gemma-3-270m, gemma-3-1b): a
 * decoder with embeddings scaled by √hidden_size, RMSNorms that scale by (1 + weight), a norm before and
 * after both attention and MLP, per-head q/k norms before RoPE, a GELU-gated MLP, attention scaled by
 * query_pre_attn_scalar^-½, and layers that alternate sliding-window attention (local RoPE base) with
 * full attention (global RoPE base and scaling). The LM head is the unscaled embedding when tied.
 */

// The projections, their module paths and shapes are Llama's.
const GEMMA_LINEARS = LLAMA_LINEARS;
type GemmaLinear = LlamaLinear;

const LAYER_NORMS = ['input_layernorm', 'post_attention_layernorm', 'pre_feedforward_layernorm', 'post_feedforward_layernorm'] as const;

const ARCHITECTURE = 'Gemma3ForCausalLM';

/** attention_bias biases all four attention projections; the MLP never has biases. */
function hasBias(config: ModelConfig, name: GemmaLinear): boolean {
  return config.attention_bias && !MLP_LINEARS.has(name);
}

function gemma3TensorShapes(config: ModelConfig): Map<string, number[]> {
  const d = config.hidden_size;
  const shapes = new Map<string, number[]>([['model.embed_tokens.weight', [config.vocab_size, d]]]);
  for (let l = 0; l < config.num_hidden_layers; l++) {
    for (const norm of LAYER_NORMS) shapes.set(`model.layers.${l}.${norm}.weight`, [d]);
    shapes.set(`model.layers.${l}.self_attn.q_norm.weight`, [config.head_dim]);
    shapes.set(`model.layers.${l}.self_attn.k_norm.weight`, [config.head_dim]);
    for (const name of GEMMA_LINEARS) {
      const shape = linearShape(config, name);
      shapes.set(`${modulePath(l, name)}.weight`, shape);
      if (hasBias(config, name)) shapes.set(`${modulePath(l, name)}.bias`, [shape[0]]);
    }
  }
  shapes.set('model.norm.weight', [d]);
  if (!config.tie_word_embeddings) shapes.set('lm_head.weight', [config.vocab_size, d]);
  return shapes;
}

// config.json

const LAYER_TYPES = ['sliding_attention', 'full_attention'] as const;
type LayerType = (typeof LAYER_TYPES)[number];

/** Names transformers gives the tanh approximation of GELU (ACT2FN computes both alike). */
const TANH_GELU_NAMES = ['gelu_pytorch_tanh', 'gelu_new'];

/** Gemma3TextConfig's defaults for keys config.json leaves out. */
const DEFAULTS = {
  context: 131072,
  headDim: 256,
  kvHeads: 4,
  ropeTheta: 1_000_000,
  ropeLocalBaseFreq: 10_000,
  queryPreAttnScalar: 256,
  slidingWindow: 4096,
  slidingWindowPattern: 6,
};

/** What Gemma 3 reads from config.json beyond ModelConfig's fields; derived from ModelConfig.raw. */
interface Gemma3Attention {
  layerTypes: LayerType[];
  /** RoPE base of the sliding-window layers (never scaled). */
  ropeLocalBaseFreq: number;
  queryPreAttnScalar: number;
}

/** A rope_parameters / rope_scaling entry: null (plain RoPE) or linear scaling; other types are refused. */
function ropeScalingOf(keys: ConfigKeys, key: string, params: unknown): RopeScaling | null {
  if (params === null || params === undefined) return null;
  if (!isPlainObject(params)) throw keys.error(key, `must be an object, got ${JSON.stringify(params)}`);
  const ropeType = params.rope_type ?? params.type ?? 'default';
  if (ropeType === 'default') return null;
  if (ropeType !== 'linear') {
    throw keys.error(key, `has rope type ${JSON.stringify(ropeType)}, which is not supported for Gemma 3; supported: default, linear`);
  }
  const factor = params.factor;
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor <= 0) {
    throw keys.error(key, `needs a positive number "factor" for rope type "linear", got ${JSON.stringify(factor)}`);
  }
  return { rope_type: 'linear', factor };
}

/**
 * The RoPE of full-attention layers (rope_theta, rope_scaling) and of sliding ones (rope_local_base_freq,
 * always plain). Transformers 5 writes both as rope_parameters keyed by layer type.
 */
function parseRope(keys: ConfigKeys): { theta: number; scaling: RopeScaling | null; localTheta: number } {
  const params = keys.raw.rope_parameters;
  if (isPlainObject(params) && (isPlainObject(params.full_attention) || isPlainObject(params.sliding_attention))) {
    const full = isPlainObject(params.full_attention) ? params.full_attention : {};
    const sliding = isPlainObject(params.sliding_attention) ? params.sliding_attention : {};
    if (ropeScalingOf(keys, 'rope_parameters.sliding_attention', sliding) !== null) {
      throw keys.error(
        'rope_parameters.sliding_attention',
        'scales RoPE, which is not supported: Gemma 3 scales only full-attention layers',
      );
    }
    const theta = (entry: Record<string, unknown>, fallback: number) =>
      typeof entry.rope_theta === 'number' ? entry.rope_theta : fallback;
    return {
      theta: theta(full, keys.number('rope_theta', DEFAULTS.ropeTheta)),
      scaling: ropeScalingOf(keys, 'rope_parameters.full_attention', full),
      localTheta: theta(sliding, keys.number('rope_local_base_freq', DEFAULTS.ropeLocalBaseFreq)),
    };
  }
  const key = keys.has('rope_scaling') ? 'rope_scaling' : 'rope_parameters';
  return {
    theta: keys.number(
      'rope_theta',
      isPlainObject(params) && typeof params.rope_theta === 'number' ? params.rope_theta : DEFAULTS.ropeTheta,
    ),
    scaling: ropeScalingOf(keys, key, keys.raw[key]),
    localTheta: keys.number('rope_local_base_freq', DEFAULTS.ropeLocalBaseFreq),
  };
}

/**
 * Which layers slide: config.json's layer_types, or else Gemma3TextConfig's derivation from
 * sliding_window_pattern (default 6): layer i is full exactly when (i + 1) is a multiple of the pattern.
 * The config class reads only "sliding_window_pattern" here; "_sliding_window_pattern", which
 * transformers also writes, never sets the layout, so it is not read either.
 */
function parseLayerTypes(keys: ConfigKeys, layers: number): LayerType[] {
  if (keys.has('layer_types')) {
    const listed = keys.raw.layer_types;
    if (!Array.isArray(listed) || listed.length !== layers || !listed.every((t) => LAYER_TYPES.includes(t as LayerType))) {
      throw keys.error(
        'layer_types',
        `must list "sliding_attention" or "full_attention" for each of the ${layers} layers, got ${JSON.stringify(listed)}`,
      );
    }
    return listed as LayerType[];
  }
  const pattern = keys.count('sliding_window_pattern', DEFAULTS.slidingWindowPattern);
  return Array.from({ length: layers }, (_, i) => ((i + 1) % pattern === 0 ? 'full_attention' : 'sliding_attention'));
}

function parseAttention(keys: ConfigKeys, layers: number): Gemma3Attention {
  return {
    layerTypes: parseLayerTypes(keys, layers),
    ropeLocalBaseFreq: parseRope(keys).localTheta,
    queryPreAttnScalar: keys.number('query_pre_attn_scalar', DEFAULTS.queryPreAttnScalar),
  };
}

/** Keys that would switch Gemma 3 to computations this model does not implement. */
function refuseUnsupported(keys: ConfigKeys): void {
  for (const key of ['attn_logit_softcapping', 'final_logit_softcapping']) {
    if (keys.has(key)) throw keys.error(key, `is ${JSON.stringify(keys.raw[key])}: logit soft-capping is not supported (it must be null)`);
  }
  if (keys.bool('use_bidirectional_attention', false)) {
    throw keys.error('use_bidirectional_attention', 'is true: bidirectional attention (an embedding model) is not supported');
  }
  const activation = keys.string('hidden_activation', 'gelu_pytorch_tanh');
  if (!TANH_GELU_NAMES.includes(activation)) {
    throw keys.error('hidden_activation', `"${activation}" is not supported (expected one of ${TANH_GELU_NAMES.join(', ')})`);
  }
}

function parseGemma3(keys: ConfigKeys): ModelConfig {
  refuseUnsupported(keys);
  const hidden = keys.requiredCount('hidden_size');
  const layers = keys.requiredCount('num_hidden_layers');
  const heads = keys.requiredCount('num_attention_heads');
  const kvHeads = keys.count('num_key_value_heads', DEFAULTS.kvHeads);
  if (heads % kvHeads !== 0) throw keys.error('num_key_value_heads', `(${kvHeads}) must divide "num_attention_heads" (${heads})`);
  const headDim = keys.count('head_dim', DEFAULTS.headDim);
  if (headDim % 2 !== 0) throw keys.error('head_dim', `must be even for RoPE, got ${headDim}`);
  const { layerTypes } = parseAttention(keys, layers);
  const slides = layerTypes.includes('sliding_attention');
  // An explicit null turns the window off, which only a model without sliding layers can do without.
  const slidingWindow =
    'sliding_window' in keys.raw ? (keys.has('sliding_window') ? keys.count('sliding_window', 0) : null) : DEFAULTS.slidingWindow;
  if (slides && slidingWindow === null) throw keys.error('sliding_window', 'is null, but layer_types has sliding_attention layers');
  const rope = parseRope(keys);
  return {
    architecture: ARCHITECTURE,
    model_type: keys.string('model_type', 'gemma3_text'),
    vocab_size: keys.requiredCount('vocab_size'),
    hidden_size: hidden,
    intermediate_size: keys.requiredCount('intermediate_size'),
    num_hidden_layers: layers,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
    head_dim: headDim,
    max_position_embeddings: keys.count('max_position_embeddings', DEFAULTS.context),
    norm_eps: keys.number('rms_norm_eps', 1e-6),
    rope_theta: rope.theta,
    rope_scaling: rope.scaling,
    attention_bias: keys.bool('attention_bias', false),
    mlp_bias: false,
    tie_word_embeddings: keys.bool('tie_word_embeddings', true),
    hidden_act: keys.string('hidden_activation', 'gelu_pytorch_tanh'),
    // Applies to the sliding_attention layers of layer_types only.
    sliding_window: slides ? slidingWindow : null,
    ...tokenIds(keys),
    raw: keys.raw,
  };
}

// The forward pass

/** Gemma3RMSNorm over the last axis: x / √(mean(x²) + ε) · (1 + w), the weight stored as an offset from 1. */
function gemmaRmsNorm(x: tf.Tensor2D, weight: tf.Tensor1D, eps: number): tf.Tensor2D {
  const meanSquare = tf.mean(tf.square(x), -1, true);
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(meanSquare, eps))), tf.add(weight, 1));
}

/** gelu_pytorch_tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), x³ as products (WGSL has no pow of a negative base). */
function geluTanh(x: tf.Tensor2D): tf.Tensor2D {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

interface GemmaLayer {
  sliding: boolean;
  norms: Record<(typeof LAYER_NORMS)[number], tf.Tensor1D>;
  qNorm: tf.Tensor1D;
  kNorm: tf.Tensor1D;
  linears: Record<GemmaLinear, FrozenLinear>;
}

function createGemma3(config: ModelConfig, weights: ModelWeights): CausalLM {
  const keys = new ConfigKeys(config.raw, ARCHITECTURE);
  refuseUnsupported(keys);
  const attention = parseAttention(keys, config.num_hidden_layers);
  const { tensor: get, rows } = weightReader(weights, config.architecture);
  const embed = rows('model.embed_tokens.weight');
  const finalNorm = get<tf.Tensor1D>('model.norm.weight');
  const head = headOf(config.tie_word_embeddings ? embed : rows('lm_head.weight'));
  const layers: GemmaLayer[] = attention.layerTypes.map((type, l) => {
    const linears = {} as Record<GemmaLinear, FrozenLinear>;
    for (const name of GEMMA_LINEARS) {
      const path = modulePath(l, name);
      linears[name] = {
        path,
        weight: rows(`${path}.weight`),
        bias: hasBias(config, name) ? get<tf.Tensor1D>(`${path}.bias`) : null,
        fanInFanOut: false,
      };
    }
    const norms = {} as GemmaLayer['norms'];
    for (const norm of LAYER_NORMS) norms[norm] = get(`model.layers.${l}.${norm}.weight`);
    return {
      sliding: type === 'sliding_attention',
      norms,
      qNorm: get(`model.layers.${l}.self_attn.q_norm.weight`),
      kNorm: get(`model.layers.${l}.self_attn.k_norm.weight`),
      linears,
    };
  });
  const globalInvFreq = ropeInverseFrequencies(config);
  const localInvFreq = ropeInverseFrequencies({ ...config, rope_theta: attention.ropeLocalBaseFreq, rope_scaling: null });
  const eps = config.norm_eps;
  const d = config.hidden_size;
  const { num_attention_heads: heads, num_key_value_heads: kvHeads, head_dim: headDim } = config;
  // HF keeps √hidden_size as a tensor in the weights' dtype: float32 here.
  const embedScale = Math.fround(Math.sqrt(d));
  const scale = Math.pow(attention.queryPreAttnScalar, -0.5);
  const headNorm = (x: tf.Tensor2D, weight: tf.Tensor1D): tf.Tensor2D =>
    tf.reshape(gemmaRmsNorm(tf.reshape(x, [-1, headDim]), weight, eps), x.shape);

  const perLength = new LengthCache(
    (seq) => {
      const full = { mask: causalMask(seq, null), rope: ropeTables(globalInvFreq, seq) };
      const sliding =
        config.sliding_window === null ? full : { mask: causalMask(seq, config.sliding_window), rope: ropeTables(localInvFreq, seq) };
      return { full, sliding };
    },
    ({ full, sliding }) => [...new Set([full, sliding])].flatMap(({ mask, rope }) => [mask, rope.cos, rope.sin, rope.rotation]),
  );

  /** One decoder layer over x [B·T, d]. */
  function decoderLayer(layer: GemmaLayer, x: tf.Tensor2D, batch: number, seq: number, options: ForwardOptions): tf.Tensor2D {
    const tables = perLength.get(seq);
    const { mask, rope } = layer.sliding ? tables.sliding : tables.full;
    const geometry: AttentionGeometry = {
      batch,
      seq,
      heads,
      kvHeads,
      headDim,
      scale,
      window: layer.sliding ? config.sliding_window : null,
    };
    const { q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj } = layer.linears;
    const h = gemmaRmsNorm(x, layer.norms.input_layernorm, eps);
    const q = applyRope(splitHeads(headNorm(linearForward(h, q_proj, options), layer.qNorm), batch, seq, heads, headDim), rope);
    const k = applyRope(splitHeads(headNorm(linearForward(h, k_proj, options), layer.kNorm), batch, seq, kvHeads, headDim), rope);
    const v = splitHeads(linearForward(h, v_proj, options), batch, seq, kvHeads, headDim);
    const attended = linearForward(causalAttention(q, k, v, mask, geometry), o_proj, options);
    const afterAttention: tf.Tensor2D = tf.add(x, gemmaRmsNorm(attended, layer.norms.post_attention_layernorm, eps));
    const m = gemmaRmsNorm(afterAttention, layer.norms.pre_feedforward_layernorm, eps);
    const gated: tf.Tensor2D = tf.mul(geluTanh(linearForward(m, gate_proj, options)), linearForward(m, up_proj, options));
    return tf.add(afterAttention, gemmaRmsNorm(linearForward(gated, down_proj, options), layer.norms.post_feedforward_layernorm, eps));
  }

  function hidden(inputIds: tf.Tensor2D, options: ForwardOptions): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, seq] = inputIds.shape;
      let x: tf.Tensor2D = tf.mul(lookupRows(embed, tf.reshape(inputIds, [-1])), embedScale);
      for (const layer of layers) {
        const linears = Object.values(layer.linears);
        const variables = layerVariables(
          linears.map((l) => l.path),
          options.adapter,
          [...linears.flatMap((l) => [l.weight, l.bias]), ...Object.values(layer.norms), layer.qNorm, layer.kNorm],
        );
        x = nextLayer((input) => decoderLayer(layer, input, batch, seq, options), x, variables, options);
      }
      return tf.reshape(gemmaRmsNorm(x, finalNorm, eps), [batch, seq, d]);
    });
  }

  return {
    config,
    linearModules: () =>
      layers.flatMap((layer) =>
        GEMMA_LINEARS.map((name) => {
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

/** gemma-3-270m-it's config.json, with these sizes: every key transformers writes for it. */
function randomGemma3Config(dims: RandomCheckpointDims): Record<string, unknown> {
  const headDim = dims.head_dim ?? dims.hidden_size / dims.num_attention_heads;
  const pattern = 6;
  return {
    _sliding_window_pattern: pattern,
    architectures: [ARCHITECTURE],
    attention_bias: false,
    attention_dropout: 0.0,
    attn_logit_softcapping: null,
    bos_token_id: 2,
    eos_token_id: 1,
    final_logit_softcapping: null,
    head_dim: headDim,
    hidden_activation: 'gelu_pytorch_tanh',
    hidden_size: dims.hidden_size,
    initializer_range: 0.02,
    intermediate_size: dims.intermediate_size,
    layer_types: Array.from({ length: dims.num_hidden_layers }, (_, i) =>
      (i + 1) % pattern === 0 ? 'full_attention' : 'sliding_attention',
    ),
    max_position_embeddings: dims.max_position_embeddings ?? 32768,
    model_type: 'gemma3_text',
    num_attention_heads: dims.num_attention_heads,
    num_hidden_layers: dims.num_hidden_layers,
    num_key_value_heads: dims.num_key_value_heads,
    pad_token_id: 0,
    query_pre_attn_scalar: headDim,
    rms_norm_eps: 1e-6,
    rope_local_base_freq: 10000.0,
    rope_scaling: null,
    rope_theta: 1000000.0,
    sliding_window: 512,
    // Gemma3TextConfig ties by default, and transformers writes only what differs from the class defaults.
    ...(dims.tie_word_embeddings === false ? { tie_word_embeddings: false } : {}),
    torch_dtype: 'float32',
    transformers_version: RANDOM_CONFIG_TRANSFORMERS_VERSION,
    use_bidirectional_attention: false,
    use_cache: true,
    vocab_size: dims.vocab_size,
  };
}

export const gemma3: ArchitectureSpec = {
  name: ARCHITECTURE,
  modelType: 'gemma3_text',
  defaultContext: DEFAULTS.context,
  parseConfig: parseGemma3,
  tensorShapes: gemma3TensorShapes,
  canonicalName: (name) => name,
  build: createGemma3,
  defaultLoraTargets: ['q_proj', 'v_proj'],
  linearModuleNames: GEMMA_LINEARS,
  isFanInFanOut: () => false,
  groupedQueryAttention: true,
  randomConfigJson: randomGemma3Config,
};
