import type * as tf from '@tensorflow/tfjs';

import type { Architecture } from './architectures/registry';

export type { Architecture };

/** A Hugging Face config.json, normalised across architectures. */
export interface ModelConfig {
  architecture: Architecture;
  model_type: string;
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  max_position_embeddings: number;
  /** RMSNorm (Llama family) or LayerNorm (GPT-2) epsilon. */
  norm_eps: number;
  /** RoPE base; 0 for GPT-2, whose positions are learned embeddings. */
  rope_theta: number;
  /** q/k/v projections carry a bias (Qwen2, or Llama with attention_bias). */
  attention_bias: boolean;
  mlp_bias: boolean;
  tie_word_embeddings: boolean;
  hidden_act: string;
  /** The attention window, when set: every layer's (Mistral), or the sliding layers' (Gemma 3). */
  sliding_window: number | null;
  /**
   * RoPE frequency scaling; null (or absent) for plain RoPE. parseModelConfig always sets it, and only
   * to rope_type "linear" (factor alone) or "llama3" (all four fields present).
   */
  rope_scaling?: RopeScaling | null;
  bos_token_id: number | null;
  eos_token_id: number | number[] | null;
  pad_token_id: number | null;
  /** The raw config.json, kept for export. */
  raw: Record<string, unknown>;
}

/** config.json's rope_scaling (Llama 3.1+ "llama3" frequency scaling). */
export interface RopeScaling {
  rope_type: string;
  factor: number;
  low_freq_factor?: number;
  high_freq_factor?: number;
  original_max_position_embeddings?: number;
}

export type SafetensorsDtype = 'F32' | 'F16' | 'BF16';

/** A tensor read from safetensors, widened to float32. */
export interface HostTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: Float32Array;
}

/**
 * Where model files come from: a folder on disk (Node), File objects (browser), a URL prefix,
 * or browser storage. Paths are relative to the model root ("config.json", "adapter/adapter_config.json").
 * A missing file reads as null; other failures throw.
 */
export interface FileSource {
  /** A human-readable name for messages ("/models/tiny", "demo model"). */
  name: string;
  readText(path: string): Promise<string | null>;
  readBytes(path: string): Promise<Uint8Array | null>;
  /**
   * Bytes [start, end) of a file, without reading the rest (File.slice, an HTTP Range request, a file
   * handle); shorter than asked where the file ends sooner, null when the file is missing. Sources that
   * cannot read part of a file leave it out, and readers fall back to readBytes (./sources readRange).
   */
  readRange?(path: string, start: number, end: number): Promise<Uint8Array | null>;
}

/** PEFT's LoraConfig fields that matter here (adapter_config.json names). */
export interface LoraConfig {
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  /** Module names ("q_proj", "v_proj") or "all-linear". */
  target_modules: string[] | 'all-linear';
  use_rslora: boolean;
}

/** One adapted linear module: y = x W^T + b + scaling · (x A^T) B^T. */
export interface LoraPair {
  /** [r, in_features] */
  A: tf.Variable;
  /** [out_features, r] */
  B: tf.Variable;
}

export interface LoraAdapter {
  config: LoraConfig;
  /** lora_alpha / r, or lora_alpha / sqrt(r) with rsLoRA. */
  scaling: number;
  /** Keyed by the Hugging Face module path, e.g. "model.layers.0.self_attn.q_proj". */
  modules: Map<string, LoraPair>;
}

export interface ForwardOptions {
  /** The adapter to apply; null runs the base weights alone (the reference). */
  adapter: LoraAdapter | null;
  /** Apply lora_dropout (and nothing else: the base model's dropout is always off). Default false. */
  dropout?: boolean;
  /** Seed for dropout masks when dropout is on. */
  dropoutSeed?: number;
  /**
   * Recompute each layer's activations in the backward pass instead of keeping them (./checkpoint).
   * Only matters under a gradient tape; the values are the same either way. Default false.
   */
  gradientCheckpointing?: boolean;
}

/**
 * The LM head [V, d]: one tensor, or consecutive blocks of rows (vocabulary ranges) when it is larger
 * than the device binds at once (./weights).
 */
export type HeadWeight = tf.Tensor2D | readonly tf.Tensor2D[];

/** A decoder-only language model whose base weights are frozen tensors. */
export interface CausalLM {
  config: ModelConfig;
  /** Hugging Face module paths of every linear layer LoRA may adapt, in model order. */
  linearModules(): { path: string; inFeatures: number; outFeatures: number }[];
  /**
   * Final hidden states after the last norm: [rows, T, hidden_size], for int32 input ids [rows, T].
   * Causal attention; positions 0..T-1 (right padding needs no attention mask for real tokens).
   */
  hidden(inputIds: tf.Tensor2D, options: ForwardOptions): tf.Tensor3D;
  /** The LM head weight [vocab_size, hidden_size] (the embedding matrix when tied), whole or in row blocks. */
  headWeight(): HeadWeight;
  /** Logits [rows, T, vocab_size]: hidden · headWeightᵀ. */
  logits(inputIds: tf.Tensor2D, options: ForwardOptions): tf.Tensor3D;
  dispose(): void;
}
