import * as tf from '@tensorflow/tfjs';
import { headGeometry, tokenIds, type ConfigKeys } from '../config-keys';
import { linearForward, type FrozenLinear } from '../linear';
import type { CausalLM, ForwardOptions, ModelConfig } from '../types';
import { layerVariables, LengthCache, nextLayer } from '../checkpoint';
import { headOf, logitsFromHidden, lookupRows, weightReader, type ModelWeights } from '../weights';
import { causalAttention, causalMask } from './llama';
import { RANDOM_CONFIG_TRANSFORMERS_VERSION, type ArchitectureSpec, type RandomCheckpointDims } from './spec';

/**
 * GPT2LMHeadModel: learned positions, pre-LayerNorm blocks, Conv1D projections (weight [in, out]) and a
 * head tied to the token embedding. Tensor and module names carry HF's "transformer." prefix; original
 * OpenAI checkpoints store them without it, which gpt2CanonicalName adds.
 */

const GPT2_LINEARS = ['attn.c_attn', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;
type Gpt2Linear = (typeof GPT2_LINEARS)[number];

const CONV1D_PATH = /^transformer\.h\.\d+\.(attn\.c_attn|attn\.c_proj|mlp\.c_fc|mlp\.c_proj)$/;

/** True for the module path of one of GPT-2's Conv1D layers (fan_in_fan_out in PEFT). */
function isGpt2Conv1DPath(path: string): boolean {
  return CONV1D_PATH.test(path);
}

/** The name a GPT-2 tensor has in a GPT2LMHeadModel state dict. */
function gpt2CanonicalName(name: string): string {
  return name.startsWith('transformer.') || name.startsWith('lm_head.') ? name : `transformer.${name}`;
}

/** [in, out] of each Conv1D. */
function conv1dShape(config: ModelConfig, name: Gpt2Linear): [number, number] {
  const d = config.hidden_size;
  const f = config.intermediate_size;
  switch (name) {
    case 'attn.c_attn':
      return [d, 3 * d];
    case 'attn.c_proj':
      return [d, d];
    case 'mlp.c_fc':
      return [d, f];
    case 'mlp.c_proj':
      return [f, d];
  }
}

/** Every tensor the model reads, with the shape config.json implies. */
function gpt2TensorShapes(config: ModelConfig): Map<string, number[]> {
  const d = config.hidden_size;
  const shapes = new Map<string, number[]>([
    ['transformer.wte.weight', [config.vocab_size, d]],
    ['transformer.wpe.weight', [config.max_position_embeddings, d]],
  ]);
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const block = `transformer.h.${l}`;
    for (const norm of ['ln_1', 'ln_2']) {
      shapes.set(`${block}.${norm}.weight`, [d]);
      shapes.set(`${block}.${norm}.bias`, [d]);
    }
    for (const name of GPT2_LINEARS) {
      const shape = conv1dShape(config, name);
      shapes.set(`${block}.${name}.weight`, shape);
      shapes.set(`${block}.${name}.bias`, [shape[1]]);
    }
  }
  shapes.set('transformer.ln_f.weight', [d]);
  shapes.set('transformer.ln_f.bias', [d]);
  if (!config.tie_word_embeddings) shapes.set('lm_head.weight', [config.vocab_size, d]);
  return shapes;
}

function layerNorm(x: tf.Tensor2D, weight: tf.Tensor1D, bias: tf.Tensor1D, eps: number): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, -1, true);
  return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps))), weight), bias);
}

/** Names transformers gives the tanh approximation of GELU, GPT-2's activation. */
const TANH_GELU_NAMES = ['gelu_new', 'gelu_pytorch_tanh'];

/** 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))); x³ as products, since pow of a negative base is undefined in WGSL. */
function geluTanh(x: tf.Tensor2D): tf.Tensor2D {
  const inner = tf.mul(tf.add(x, tf.mul(tf.mul(tf.mul(x, x), x), 0.044715)), Math.sqrt(2 / Math.PI));
  return tf.mul(tf.mul(x, 0.5), tf.add(tf.tanh(inner), 1));
}

interface Gpt2Block {
  ln1: [tf.Tensor1D, tf.Tensor1D];
  ln2: [tf.Tensor1D, tf.Tensor1D];
  linears: Record<Gpt2Linear, FrozenLinear>;
}

/** Builds the model over validated weights (names and shapes as gpt2TensorShapes). */
function createGpt2(config: ModelConfig, weights: ModelWeights): CausalLM {
  if (!TANH_GELU_NAMES.includes(config.hidden_act)) {
    throw new Error(
      `GPT2LMHeadModel: activation_function "${config.hidden_act}" is not supported (expected one of ${TANH_GELU_NAMES.join(', ')})`,
    );
  }
  const { tensor: get, rows } = weightReader(weights, 'GPT2LMHeadModel');
  const heads = config.num_attention_heads;
  const headDim = config.hidden_size / heads;
  const blocks: Gpt2Block[] = [];
  for (let l = 0; l < config.num_hidden_layers; l++) {
    const block = `transformer.h.${l}`;
    const linears = {} as Record<Gpt2Linear, FrozenLinear>;
    for (const name of GPT2_LINEARS) {
      const path = `${block}.${name}`;
      linears[name] = { path, weight: rows(`${path}.weight`), bias: get<tf.Tensor1D>(`${path}.bias`), fanInFanOut: true };
    }
    blocks.push({
      ln1: [get(`${block}.ln_1.weight`), get(`${block}.ln_1.bias`)],
      ln2: [get(`${block}.ln_2.weight`), get(`${block}.ln_2.bias`)],
      linears,
    });
  }
  const wte = rows('transformer.wte.weight');
  const wpe = rows('transformer.wpe.weight');
  const lnF: [tf.Tensor1D, tf.Tensor1D] = [get('transformer.ln_f.weight'), get('transformer.ln_f.bias')];
  const head = headOf(config.tie_word_embeddings ? wte : rows('lm_head.weight'));
  const eps = config.norm_eps;
  const d = config.hidden_size;

  const masks = new LengthCache(
    (seq) => causalMask(seq, null),
    (mask) => [mask],
  );

  /** One transformer block over x [B·T, d]. */
  function gpt2Block(block: Gpt2Block, x: tf.Tensor2D, batch: number, seq: number, options: ForwardOptions): tf.Tensor2D {
    const geometry = { batch, seq, heads, kvHeads: heads, headDim, scale: 1 / Math.sqrt(headDim), window: null };
    const { 'attn.c_attn': cAttn, 'attn.c_proj': cProj, 'mlp.c_fc': cFc, 'mlp.c_proj': mProj } = block.linears;
    const h = layerNorm(x, ...block.ln1, eps);
    // c_attn's output is [q | k | v], each heads × headDim: one transpose to [3, B, heads, T, hd]
    // separates them and the heads at once, and unstacking along the first axis is a contiguous copy.
    const qkv = tf.transpose(tf.reshape(linearForward(h, cAttn, options), [batch, seq, 3, heads, headDim]), [2, 0, 3, 1, 4]);
    const [q, k, v] = tf.unstack(qkv) as tf.Tensor4D[];
    const context = causalAttention(q, k, v, masks.get(seq), geometry);
    const attended: tf.Tensor2D = tf.add(x, linearForward(context, cProj, options));
    const m = layerNorm(attended, ...block.ln2, eps);
    return tf.add(attended, linearForward(geluTanh(linearForward(m, cFc, options)), mProj, options));
  }

  function hidden(inputIds: tf.Tensor2D, options: ForwardOptions): tf.Tensor3D {
    return tf.tidy(() => {
      const [batch, seq] = inputIds.shape;
      if (seq > config.max_position_embeddings) {
        throw new Error(`GPT2LMHeadModel: sequence length ${seq} exceeds n_positions ${config.max_position_embeddings}`);
      }
      const tokens = tf.reshape(lookupRows(wte, tf.reshape(inputIds, [-1])), [batch, seq, d]);
      let x: tf.Tensor2D = tf.reshape(tf.add(tokens, lookupRows(wpe, tf.range(0, seq, 1, 'int32') as tf.Tensor1D)), [batch * seq, d]);
      for (const block of blocks) {
        const linears = Object.values(block.linears);
        const variables = layerVariables(
          linears.map((l) => l.path),
          options.adapter,
          [...linears.flatMap((l) => [l.weight, l.bias]), ...block.ln1, ...block.ln2],
        );
        x = nextLayer((input) => gpt2Block(block, input, batch, seq, options), x, variables, options);
      }
      return tf.reshape(layerNorm(x, ...lnF, eps), [batch, seq, d]);
    });
  }

  return {
    config,
    linearModules: () =>
      blocks.flatMap((block) =>
        GPT2_LINEARS.map((name) => {
          const [inFeatures, outFeatures] = block.linears[name].weight.shape;
          return { path: block.linears[name].path, inFeatures, outFeatures };
        }),
      ),
    hidden,
    headWeight: () => head,
    logits: (inputIds, options) => tf.tidy(() => logitsFromHidden(hidden(inputIds, options), head)),
    dispose: () => {
      masks.dispose();
      for (const t of new Set(weights.values())) t.dispose();
    },
  };
}

// config.json

/** GPT2Config's default n_positions. */
const GPT2_DEFAULT_CONTEXT = 1024;

function parseGpt2(keys: ConfigKeys): ModelConfig {
  // These switch GPT-2's attention away from softmax(q·k/√d): refuse rather than compute something else.
  if (!keys.bool('scale_attn_weights', true)) throw keys.error('scale_attn_weights', 'is false, which is not supported');
  if (keys.bool('scale_attn_by_inverse_layer_idx', false)) {
    throw keys.error('scale_attn_by_inverse_layer_idx', 'is true, which is not supported');
  }
  const hidden = keys.requiredCount('n_embd');
  const { heads, headDim } = headGeometry(keys, hidden, 'n_head', null);
  return {
    architecture: 'GPT2LMHeadModel',
    model_type: keys.string('model_type', 'gpt2'),
    vocab_size: keys.requiredCount('vocab_size'),
    hidden_size: hidden,
    intermediate_size: keys.count('n_inner', 4 * hidden),
    num_hidden_layers: keys.requiredCount('n_layer'),
    num_attention_heads: heads,
    num_key_value_heads: heads,
    head_dim: headDim,
    max_position_embeddings: keys.count('n_positions', GPT2_DEFAULT_CONTEXT),
    norm_eps: keys.number('layer_norm_epsilon', 1e-5),
    rope_theta: 0,
    rope_scaling: null,
    attention_bias: true,
    mlp_bias: true,
    tie_word_embeddings: keys.bool('tie_word_embeddings', true),
    hidden_act: keys.string('activation_function', 'gelu_new'),
    sliding_window: null,
    ...tokenIds(keys),
    raw: keys.raw,
  };
}

function gpt2Config(dims: RandomCheckpointDims): Record<string, unknown> {
  if (dims.num_key_value_heads !== dims.num_attention_heads) {
    throw new Error(
      `GPT2LMHeadModel has no grouped-query attention: num_key_value_heads (${dims.num_key_value_heads}) must equal num_attention_heads (${dims.num_attention_heads})`,
    );
  }
  const positions = dims.max_position_embeddings ?? 1024;
  return {
    architectures: ['GPT2LMHeadModel'],
    model_type: 'gpt2',
    activation_function: 'gelu_new',
    attn_pdrop: 0.1,
    bos_token_id: dims.vocab_size - 1,
    embd_pdrop: 0.1,
    eos_token_id: dims.vocab_size - 1,
    initializer_range: 0.02,
    layer_norm_epsilon: 1e-5,
    n_ctx: positions,
    n_embd: dims.hidden_size,
    n_head: dims.num_attention_heads,
    n_inner: dims.intermediate_size,
    n_layer: dims.num_hidden_layers,
    n_positions: positions,
    reorder_and_upcast_attn: false,
    resid_pdrop: 0.1,
    scale_attn_by_inverse_layer_idx: false,
    scale_attn_weights: true,
    summary_activation: null,
    summary_first_dropout: 0.1,
    summary_proj_to_labels: true,
    summary_type: 'cls_index',
    summary_use_proj: true,
    tie_word_embeddings: dims.tie_word_embeddings ?? true,
    torch_dtype: 'float32',
    transformers_version: RANDOM_CONFIG_TRANSFORMERS_VERSION,
    use_cache: true,
    vocab_size: dims.vocab_size,
  };
}

export const gpt2: ArchitectureSpec = {
  name: 'GPT2LMHeadModel',
  modelType: 'gpt2',
  defaultContext: GPT2_DEFAULT_CONTEXT,
  parseConfig: parseGpt2,
  tensorShapes: gpt2TensorShapes,
  canonicalName: gpt2CanonicalName,
  build: createGpt2,
  defaultLoraTargets: ['c_attn'],
  // attn.c_proj and mlp.c_proj share a name, and a target "c_proj" adapts both.
  linearModuleNames: [...new Set(GPT2_LINEARS.map((name) => name.slice(name.indexOf('.') + 1)))],
  isFanInFanOut: isGpt2Conv1DPath,
  groupedQueryAttention: false,
  randomConfigJson: gpt2Config,
};
