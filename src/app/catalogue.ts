/**
 * The Model panel's catalogue: small instruction-tuned models the studio can train, with their sizes.
 *
 * Where the figures come from: `config` is each repo's config.json (the keys that fix the tensor
 * shapes, as published on huggingface.co/<repo>/blob/main/config.json); `parameters` is the count the
 * model card and the Hub's safetensors metadata give, and test/unit/app/catalogue.test.ts recomputes it
 * from `config` through the architecture registry's tensor shapes; `storedParameters` counts what the
 * weights file holds (more than `parameters` where a tied LM head is saved as its own tensor);
 * `weightsBytes` and `tokenizerBytes` are the file sizes the Hub lists, rounded (weights in BF16, two
 * bytes a parameter, plus a small header). Sizes written from memory of the Hub listings are marked
 * `unsure` with what is unsure; the download itself always uses the sizes the Hub reports.
 *
 * The page reads these figures without the architecture registry (which brings tfjs into the page):
 * the test checks the counts and the LoRA module sizes below against the registry's tensor shapes.
 */
import type { Architecture } from '../core/model/types';
import type { EngineInfo, ModelInfo } from '../worker/protocol';
import type { LinearShape } from '../core/train/memory-plan';
import { planStudioMemory, type MemoryPlan } from './memory';
import type { StudioConfig } from './store';

export interface CatalogueModel {
  /** The Hub repo, owner/name. */
  repo: string;
  /** Who publishes it, for the list. */
  publisher: string;
  /** The Hub asks for an accepted license and an access token before it serves the files. */
  gated: boolean;
  parameters: number;
  /** Tensor elements in the weights file (parameters, plus a tied head saved separately). */
  storedParameters: number;
  weightsBytes: number;
  tokenizerBytes: number;
  config: Record<string, unknown>;
  /** The architecture's q/k/v projections carry biases (Qwen2). */
  qkvBias: boolean;
  /** The architecture normalises each head's q and k (Qwen3, Gemma 3). */
  qkNorm: boolean;
  /** What in these figures is not certain. */
  unsure?: string;
}

const MB = 1e6;

function slidingEvery(layers: number, period: number): string[] {
  return Array.from({ length: layers }, (_, i) => ((i + 1) % period === 0 ? 'full_attention' : 'sliding_attention'));
}

export const CATALOGUE: readonly CatalogueModel[] = [
  {
    repo: 'HuggingFaceTB/SmolLM2-135M-Instruct',
    qkvBias: false,
    qkNorm: false,
    publisher: 'Hugging Face',
    gated: false,
    parameters: 134_515_008,
    storedParameters: 134_515_008,
    weightsBytes: 269 * MB,
    tokenizerBytes: 2.1 * MB,
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 576,
      intermediate_size: 1536,
      num_hidden_layers: 30,
      num_attention_heads: 9,
      num_key_value_heads: 3,
      vocab_size: 49152,
      max_position_embeddings: 8192,
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 2,
    },
  },
  {
    repo: 'HuggingFaceTB/SmolLM2-360M-Instruct',
    qkvBias: false,
    qkNorm: false,
    publisher: 'Hugging Face',
    gated: false,
    parameters: 361_821_120,
    storedParameters: 361_821_120,
    weightsBytes: 724 * MB,
    tokenizerBytes: 2.1 * MB,
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 960,
      intermediate_size: 2560,
      num_hidden_layers: 32,
      num_attention_heads: 15,
      num_key_value_heads: 5,
      vocab_size: 49152,
      max_position_embeddings: 8192,
      rms_norm_eps: 1e-5,
      rope_theta: 100000,
      tie_word_embeddings: true,
      bos_token_id: 1,
      eos_token_id: 2,
      pad_token_id: 2,
    },
  },
  {
    repo: 'Qwen/Qwen2.5-0.5B-Instruct',
    qkvBias: true,
    qkNorm: false,
    publisher: 'Qwen',
    gated: false,
    parameters: 494_032_768,
    storedParameters: 494_032_768,
    weightsBytes: 988 * MB,
    tokenizerBytes: 7.0 * MB,
    config: {
      architectures: ['Qwen2ForCausalLM'],
      model_type: 'qwen2',
      hidden_size: 896,
      intermediate_size: 4864,
      num_hidden_layers: 24,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      vocab_size: 151936,
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      sliding_window: 32768,
      use_sliding_window: false,
      max_window_layers: 21,
      tie_word_embeddings: true,
      bos_token_id: 151643,
      eos_token_id: 151645,
    },
  },
  {
    repo: 'Qwen/Qwen3-0.6B',
    qkvBias: false,
    qkNorm: true,
    publisher: 'Qwen',
    gated: false,
    parameters: 596_049_920,
    // The checkpoint saves lm_head.weight beside the tied embedding (the Hub lists 752M parameters).
    storedParameters: 596_049_920 + 151936 * 1024,
    weightsBytes: 1503 * MB,
    tokenizerBytes: 11.4 * MB,
    config: {
      architectures: ['Qwen3ForCausalLM'],
      model_type: 'qwen3',
      hidden_size: 1024,
      intermediate_size: 3072,
      num_hidden_layers: 28,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      head_dim: 128,
      vocab_size: 151936,
      max_position_embeddings: 40960,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      sliding_window: null,
      use_sliding_window: false,
      max_window_layers: 28,
      attention_bias: false,
      tie_word_embeddings: true,
      bos_token_id: 151643,
      eos_token_id: 151645,
    },
    unsure:
      'the weights file size (written from memory of the Hub listing: about 1.5 GB, with the LM head saved separately) and the tokenizer size',
  },
  {
    repo: 'google/gemma-3-270m-it',
    qkvBias: false,
    qkNorm: true,
    publisher: 'Google',
    gated: true,
    parameters: 268_098_176,
    storedParameters: 268_098_176,
    weightsBytes: 536 * MB,
    tokenizerBytes: 33.4 * MB,
    config: {
      architectures: ['Gemma3ForCausalLM'],
      model_type: 'gemma3_text',
      hidden_size: 640,
      intermediate_size: 2048,
      num_hidden_layers: 18,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      head_dim: 256,
      vocab_size: 262144,
      max_position_embeddings: 32768,
      rms_norm_eps: 1e-6,
      rope_theta: 1000000,
      rope_local_base_freq: 10000,
      rope_scaling: null,
      sliding_window: 512,
      layer_types: slidingEvery(18, 6),
      query_pre_attn_scalar: 256,
      hidden_activation: 'gelu_pytorch_tanh',
      attention_bias: false,
      bos_token_id: 2,
      eos_token_id: [1, 106],
      pad_token_id: 0,
    },
    unsure: 'the tokenizer size (tokenizer.json holds a 262k vocabulary; about 33 MB)',
  },
  {
    repo: 'meta-llama/Llama-3.2-1B-Instruct',
    qkvBias: false,
    qkNorm: false,
    publisher: 'Meta',
    gated: true,
    parameters: 1_235_814_400,
    storedParameters: 1_235_814_400,
    weightsBytes: 2471 * MB,
    tokenizerBytes: 9.1 * MB,
    config: {
      architectures: ['LlamaForCausalLM'],
      model_type: 'llama',
      hidden_size: 2048,
      intermediate_size: 8192,
      num_hidden_layers: 16,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      head_dim: 64,
      vocab_size: 128256,
      max_position_embeddings: 131072,
      rms_norm_eps: 1e-5,
      rope_theta: 500000,
      rope_scaling: {
        factor: 32,
        high_freq_factor: 4,
        low_freq_factor: 1,
        original_max_position_embeddings: 8192,
        rope_type: 'llama3',
      },
      attention_bias: false,
      mlp_bias: false,
      tie_word_embeddings: true,
      bos_token_id: 128000,
      eos_token_id: [128001, 128008, 128009],
    },
  },
];

/** The key a downloaded repo is stored under. */
export function hubKey(repo: string): string {
  return `hub:${repo}`;
}

/** The bytes a download of the model's files moves (weights, tokenizer; the small JSON files aside). */
export function downloadBytes(entry: CatalogueModel): number {
  return entry.weightsBytes + entry.tokenizerBytes;
}

/** Every catalogue model has the Llama family's linear layers (Gemma 3 and Qwen3 included). */
const LINEARS = ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'] as const;

/** [in, out] features of each projection from hidden d, intermediate f, q width and k/v width. */
const LINEAR_FEATURES: Record<(typeof LINEARS)[number], (d: number, f: number, q: number, kv: number) => [number, number]> = {
  q_proj: (d, _f, q) => [d, q],
  k_proj: (d, _f, _q, kv) => [d, kv],
  v_proj: (d, _f, _q, kv) => [d, kv],
  o_proj: (d, _f, q) => [q, d],
  gate_proj: (d, f) => [d, f],
  up_proj: (d, f) => [d, f],
  down_proj: (d, f) => [f, d],
};

const LINEAR_ROLES: Record<(typeof LINEARS)[number], LinearShape['role']> = {
  q_proj: 'q',
  k_proj: 'k',
  v_proj: 'v',
  o_proj: 'o',
  gate_proj: 'gate',
  up_proj: 'up',
  down_proj: 'down',
};

function count(config: Record<string, unknown>, key: string): number {
  const value = config[key];
  if (typeof value !== 'number') throw new Error(`catalogue: config.json of this model has no ${key}`);
  return value;
}

/**
 * What the worker would report for the model once loaded, from config.json alone (the tokenizer
 * figures are the config's vocabulary): what memory planning needs before a download.
 */
export function catalogueModelInfo(entry: CatalogueModel): ModelInfo {
  const c = entry.config;
  const d = count(c, 'hidden_size');
  const inter = count(c, 'intermediate_size');
  const layers = count(c, 'num_hidden_layers');
  const heads = count(c, 'num_attention_heads');
  const kvHeads = count(c, 'num_key_value_heads');
  const headDim = typeof c.head_dim === 'number' ? c.head_dim : d / heads;
  // Σ (in + out features) over the layers, per module name: LoRA of rank r trains r times this.
  const perLayer = {
    q_proj: d + heads * headDim,
    k_proj: d + kvHeads * headDim,
    v_proj: d + kvHeads * headDim,
    o_proj: heads * headDim + d,
    gate_proj: d + inter,
    up_proj: d + inter,
    down_proj: inter + d,
  };
  return {
    id: hubKey(entry.repo),
    name: entry.repo,
    architecture: (c.architectures as Architecture[])[0],
    modelType: String(c.model_type),
    hiddenSize: d,
    intermediateSize: inter,
    layers,
    heads,
    kvHeads,
    vocabSize: count(c, 'vocab_size'),
    maxPositions: count(c, 'max_position_embeddings'),
    tiedEmbeddings: c.tie_word_embeddings !== false,
    parameters: entry.parameters,
    linearModuleNames: [...LINEARS],
    linearModuleFeatures: Object.fromEntries(LINEARS.map((m) => [m, layers * perLayer[m]])),
    defaultTargets: ['q_proj', 'v_proj'],
    tokenizer: { vocabSize: count(c, 'vocab_size'), eosToken: null, padTokenId: null, chatTemplate: true },
    startAdapter: null,
    shape: {
      vocabSize: count(c, 'vocab_size'),
      hiddenSize: d,
      intermediateSize: inter,
      layers,
      heads,
      kvHeads,
      headDim,
      parameters: entry.parameters,
      linears: LINEARS.map((name) => {
        const [inFeatures, outFeatures] = LINEAR_FEATURES[name](d, inter, heads * headDim, kvHeads * headDim);
        const mlp = name === 'gate_proj' || name === 'up_proj' || name === 'down_proj';
        const qkv = name === 'q_proj' || name === 'k_proj' || name === 'v_proj';
        return {
          path: `${mlp ? 'mlp' : 'self_attn'}.${name}`,
          role: LINEAR_ROLES[name],
          inFeatures,
          outFeatures,
          bias: entry.qkvBias && qkv,
        };
      }),
      defaultTargets: ['q_proj', 'v_proj'],
      qkNorm: entry.qkNorm,
    },
  };
}

/**
 * The training memory planned for a model under the current settings on this engine: the one place
 * the catalogue asks, so the planner behind it (./memory) can change without touching the panel.
 */
export function plannedTrainingMemory(model: ModelInfo, config: StudioConfig, engine: EngineInfo | null = null): MemoryPlan {
  return planStudioMemory({ model, config, engine });
}
