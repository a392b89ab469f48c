/**
 * An independent float64 forward pass of each supported architecture, written from the Hugging Face
 * model definitions (modeling_llama / modeling_mistral / modeling_qwen2 / modeling_qwen3 / modeling_gemma3 /
 * modeling_gpt2) with plain
 * loops over one sequence at a time. It reads config.json keys itself and shares no code with
 * src/core/model, so agreement between the two means something.
 */

export type ReferenceTensors = Map<string, { shape: number[]; data: ArrayLike<number> }>;

type Vec = Float64Array;

function num(config: Record<string, unknown>, key: string, fallback?: number): number {
  const v = config[key];
  if (typeof v === 'number') return v;
  if (fallback !== undefined) return fallback;
  throw new Error(`reference: config key ${key} missing`);
}

class Weights {
  private readonly widened = new Map<string, Vec>();

  constructor(
    private readonly tensors: ReferenceTensors,
    private readonly prefix = '',
  ) {}

  get(name: string): Vec {
    let v = this.widened.get(name);
    if (!v) {
      const t = this.tensors.get(this.prefix + name) ?? this.tensors.get(name);
      if (!t) throw new Error(`reference: tensor ${name} missing`);
      v = Float64Array.from(t.data);
      this.widened.set(name, v);
    }
    return v;
  }
}

/** nn.Linear: y[o] = Σᵢ W[o, i] x[i] + b[o], W stored [out, in]. */
function linear(x: Vec, w: Vec, bias: Vec | null, out: number): Vec {
  const inDim = x.length;
  const y = new Float64Array(out);
  for (let o = 0; o < out; o++) {
    let s = bias ? bias[o] : 0;
    for (let i = 0; i < inDim; i++) s += w[o * inDim + i] * x[i];
    y[o] = s;
  }
  return y;
}

/** transformers' Conv1D: y[o] = Σᵢ x[i] W[i, o] + b[o], W stored [in, out]. */
function conv1d(x: Vec, w: Vec, bias: Vec, out: number): Vec {
  const y = Float64Array.from(bias);
  for (let i = 0; i < x.length; i++) {
    for (let o = 0; o < out; o++) y[o] += x[i] * w[i * out + o];
  }
  return y;
}

function rmsNorm(x: Vec, w: Vec, eps: number): Vec {
  let ms = 0;
  for (const v of x) ms += v * v;
  const r = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, i) => v * r * w[i]);
}

function layerNorm(x: Vec, w: Vec, b: Vec, eps: number): Vec {
  let mean = 0;
  for (const v of x) mean += v;
  mean /= x.length;
  let variance = 0;
  for (const v of x) variance += (v - mean) ** 2;
  variance /= x.length;
  const r = 1 / Math.sqrt(variance + eps);
  return x.map((v, i) => (v - mean) * r * w[i] + b[i]);
}

function softmaxInPlace(x: number[]): void {
  const m = Math.max(...x);
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    x[i] = Math.exp(x[i] - m);
    s += x[i];
  }
  for (let i = 0; i < x.length; i++) x[i] /= s;
}

/**
 * Per-head causal attention over a whole sequence; `visible(t, s)` adds any window on top of s ≤ t.
 * Scores are q·k times `scaling`, 1/√head_dim unless the architecture says otherwise.
 */
function attend(
  q: Vec[],
  k: Vec[],
  v: Vec[],
  heads: number,
  kvHeads: number,
  headDim: number,
  visible: (t: number, s: number) => boolean,
  scaling = 1 / Math.sqrt(headDim),
): Vec[] {
  const perGroup = heads / kvHeads;
  return q.map((qt, t) => {
    const out = new Float64Array(heads * headDim);
    for (let h = 0; h < heads; h++) {
      const kvh = Math.floor(h / perGroup);
      const sources: number[] = [];
      const scores: number[] = [];
      for (let s = 0; s <= t; s++) {
        if (!visible(t, s)) continue;
        let dot = 0;
        for (let j = 0; j < headDim; j++) dot += qt[h * headDim + j] * k[s][kvh * headDim + j];
        sources.push(s);
        scores.push(dot * scaling);
      }
      softmaxInPlace(scores);
      sources.forEach((s, n) => {
        for (let j = 0; j < headDim; j++) out[h * headDim + j] += scores[n] * v[s][kvh * headDim + j];
      });
    }
    return out;
  });
}

/** HF's default RoPE frequencies, then _compute_llama3_parameters when rope_scaling asks for it. */
function ropeFrequencies(config: Record<string, unknown>, headDim: number): number[] {
  const theta = num(config, 'rope_theta', 10000);
  const freqs: number[] = [];
  for (let i = 0; i < headDim; i += 2) freqs.push(1 / theta ** (i / headDim));
  const scaling = config.rope_scaling as Record<string, number | string> | null | undefined;
  if (!scaling) return freqs;
  const type = scaling.rope_type ?? scaling.type;
  const factor = scaling.factor as number;
  if (type === 'linear') return freqs.map((f) => f / factor);
  if (type !== 'llama3') throw new Error(`reference: rope type ${String(type)}`);
  const low = scaling.low_freq_factor as number;
  const high = scaling.high_freq_factor as number;
  const old = scaling.original_max_position_embeddings as number;
  return freqs.map((f) => {
    const wavelen = (2 * Math.PI) / f;
    const scaled = wavelen > old / low ? f / factor : f;
    const smooth = (old / wavelen - low) / (high - low);
    const medium = !(wavelen < old / high) && !(wavelen > old / low);
    return medium ? (1 - smooth) * (scaled / factor) + smooth * scaled : scaled;
  });
}

/** q·cos + rotate_half(q)·sin per head, where rotate_half(x) = cat(−x[d/2:], x[:d/2]). */
function rope(x: Vec, position: number, heads: number, headDim: number, freqs: number[]): Vec {
  const y = new Float64Array(x.length);
  const half = headDim / 2;
  for (let h = 0; h < heads; h++) {
    const base = h * headDim;
    for (let j = 0; j < headDim; j++) {
      const angle = position * freqs[j % half];
      const rotated = j < half ? -x[base + j + half] : x[base + j - half];
      y[base + j] = x[base + j] * Math.cos(angle) + rotated * Math.sin(angle);
    }
  }
  return y;
}

/** RMSNorm applied to each head_dim-wide slice of x (Qwen3's and Gemma 3's q_norm / k_norm). */
function perHead(x: Vec, heads: number, headDim: number, norm: (slice: Vec) => Vec): Vec {
  const y = new Float64Array(x.length);
  for (let h = 0; h < heads; h++) y.set(norm(x.subarray(h * headDim, (h + 1) * headDim)), h * headDim);
  return y;
}

function llamaFamilyLogits(config: Record<string, unknown>, w: Weights, ids: number[]): Vec[] {
  const arch = (config.architectures as string[])[0];
  const qwen3 = arch === 'Qwen3ForCausalLM';
  const d = num(config, 'hidden_size');
  const heads = num(config, 'num_attention_heads');
  const kvHeads = num(config, 'num_key_value_heads', heads);
  // Qwen3Config's head_dim defaults to 128 whatever the hidden size.
  const headDim = num(config, 'head_dim', qwen3 ? 128 : d / heads);
  const ffn = num(config, 'intermediate_size');
  const vocab = num(config, 'vocab_size');
  const eps = num(config, 'rms_norm_eps', 1e-6);
  const layers = num(config, 'num_hidden_layers');
  const qkvBias = arch === 'Qwen2ForCausalLM' || config.attention_bias === true;
  const oBias = (arch === 'LlamaForCausalLM' || qwen3) && config.attention_bias === true;
  const mlpBias = arch === 'LlamaForCausalLM' && config.mlp_bias === true;
  const window = arch === 'MistralForCausalLM' ? ((config.sliding_window as number | null | undefined) ?? null) : null;
  const visible = (t: number, s: number) => window === null || t - s < window;
  const freqs = ropeFrequencies(config, headDim);
  const embed = w.get('model.embed_tokens.weight');
  let h: Vec[] = ids.map((id) => embed.slice(id * d, (id + 1) * d));
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    const proj = (x: Vec, name: string, out: number, bias: boolean) =>
      linear(x, w.get(`${p}.${name}.weight`), bias ? w.get(`${p}.${name}.bias`) : null, out);
    const n = h.map((x) => rmsNorm(x, w.get(`${p}.input_layernorm.weight`), eps));
    // Qwen3 normalises each head of q and k (q_norm, k_norm over head_dim) before RoPE.
    const qkNorm = (x: Vec, name: string, count: number) =>
      qwen3 ? perHead(x, count, headDim, (slice) => rmsNorm(slice, w.get(`${p}.self_attn.${name}.weight`), eps)) : x;
    const q = n.map((x, t) =>
      rope(qkNorm(proj(x, 'self_attn.q_proj', heads * headDim, qkvBias), 'q_norm', heads), t, heads, headDim, freqs),
    );
    const k = n.map((x, t) =>
      rope(qkNorm(proj(x, 'self_attn.k_proj', kvHeads * headDim, qkvBias), 'k_norm', kvHeads), t, kvHeads, headDim, freqs),
    );
    const v = n.map((x) => proj(x, 'self_attn.v_proj', kvHeads * headDim, qkvBias));
    const a = attend(q, k, v, heads, kvHeads, headDim, visible);
    h = h.map((x, t) => {
      const o = proj(a[t], 'self_attn.o_proj', d, oBias);
      return x.map((xi, i) => xi + o[i]);
    });
    h = h.map((x) => {
      const m = rmsNorm(x, w.get(`${p}.post_attention_layernorm.weight`), eps);
      const gate = proj(m, 'mlp.gate_proj', ffn, mlpBias);
      const up = proj(m, 'mlp.up_proj', ffn, mlpBias);
      const act = gate.map((g, i) => (g / (1 + Math.exp(-g))) * up[i]);
      const down = proj(act, 'mlp.down_proj', d, mlpBias);
      return x.map((xi, i) => xi + down[i]);
    });
  }
  const head = config.tie_word_embeddings === true ? embed : w.get('lm_head.weight');
  return h.map((x) => linear(rmsNorm(x, w.get('model.norm.weight'), eps), head, null, vocab));
}

function gelu(x: number, kind: string): number {
  if (kind === 'gelu_new' || kind === 'gelu_pytorch_tanh') {
    return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
  }
  throw new Error(`reference: activation ${kind}`);
}

/** Gemma3RMSNorm: x / √(mean(x²) + ε) · (1 + w). */
function gemmaRmsNorm(x: Vec, w: Vec, eps: number): Vec {
  let ms = 0;
  for (const v of x) ms += v * v;
  const r = 1 / Math.sqrt(ms / x.length + eps);
  return x.map((v, i) => v * r * (1 + w[i]));
}

/**
 * Gemma3ForCausalLM from modeling_gemma3 and Gemma3TextConfig: config keys read here with the config
 * class's defaults; which layers slide comes from layer_types, or else from sliding_window_pattern.
 */
function gemma3Logits(config: Record<string, unknown>, w: Weights, ids: number[]): Vec[] {
  const d = num(config, 'hidden_size');
  const heads = num(config, 'num_attention_heads');
  const kvHeads = num(config, 'num_key_value_heads', 4);
  const headDim = num(config, 'head_dim', 256);
  const ffn = num(config, 'intermediate_size');
  const vocab = num(config, 'vocab_size');
  const eps = num(config, 'rms_norm_eps', 1e-6);
  const layers = num(config, 'num_hidden_layers');
  const bias = config.attention_bias === true;
  const window = num(config, 'sliding_window', 4096);
  const pattern = num(config, 'sliding_window_pattern', 6);
  const layerTypes =
    (config.layer_types as string[] | undefined) ??
    Array.from({ length: layers }, (_, i) => ((i + 1) % pattern !== 0 ? 'sliding_attention' : 'full_attention'));
  // Full-attention layers: rope_theta with rope_scaling; sliding ones: rope_local_base_freq, plain.
  const globalFreqs = ropeFrequencies({ rope_theta: num(config, 'rope_theta', 1e6), rope_scaling: config.rope_scaling }, headDim);
  const localFreqs = ropeFrequencies({ rope_theta: num(config, 'rope_local_base_freq', 1e4) }, headDim);
  const scaling = num(config, 'query_pre_attn_scalar', 256) ** -0.5;
  const embed = w.get('model.embed_tokens.weight');
  // Gemma3TextScaledWordEmbedding: the normaliser √hidden_size is a tensor in the weights' dtype (float32).
  const normaliser = Math.fround(Math.sqrt(d));
  let h: Vec[] = ids.map((id) => embed.slice(id * d, (id + 1) * d).map((v) => v * normaliser));
  for (let l = 0; l < layers; l++) {
    const p = `model.layers.${l}`;
    const norm = (x: Vec, name: string) => gemmaRmsNorm(x, w.get(`${p}.${name}.weight`), eps);
    const proj = (x: Vec, name: string, out: number, biased: boolean) =>
      linear(x, w.get(`${p}.${name}.weight`), biased ? w.get(`${p}.${name}.bias`) : null, out);
    const sliding = layerTypes[l] === 'sliding_attention';
    const freqs = sliding ? localFreqs : globalFreqs;
    const visible = (t: number, s: number) => !sliding || s > t - window;
    const n = h.map((x) => norm(x, 'input_layernorm'));
    const q = n.map((x, t) =>
      rope(
        perHead(proj(x, 'self_attn.q_proj', heads * headDim, bias), heads, headDim, (s) => norm(s, 'self_attn.q_norm')),
        t,
        heads,
        headDim,
        freqs,
      ),
    );
    const k = n.map((x, t) =>
      rope(
        perHead(proj(x, 'self_attn.k_proj', kvHeads * headDim, bias), kvHeads, headDim, (s) => norm(s, 'self_attn.k_norm')),
        t,
        kvHeads,
        headDim,
        freqs,
      ),
    );
    const v = n.map((x) => proj(x, 'self_attn.v_proj', kvHeads * headDim, bias));
    const a = attend(q, k, v, heads, kvHeads, headDim, visible, scaling);
    h = h.map((x, t) => {
      const o = norm(proj(a[t], 'self_attn.o_proj', d, bias), 'post_attention_layernorm');
      return x.map((xi, i) => xi + o[i]);
    });
    h = h.map((x) => {
      const m = norm(x, 'pre_feedforward_layernorm');
      const gate = proj(m, 'mlp.gate_proj', ffn, false);
      const up = proj(m, 'mlp.up_proj', ffn, false);
      const act = gate.map((g, i) => gelu(g, 'gelu_pytorch_tanh') * up[i]);
      const out = norm(proj(act, 'mlp.down_proj', d, false), 'post_feedforward_layernorm');
      return x.map((xi, i) => xi + out[i]);
    });
  }
  const head = config.tie_word_embeddings === false ? w.get('lm_head.weight') : embed;
  return h.map((x) => linear(gemmaRmsNorm(x, w.get('model.norm.weight'), eps), head, null, vocab));
}

function gpt2Logits(config: Record<string, unknown>, w: Weights, ids: number[]): Vec[] {
  const d = num(config, 'n_embd');
  const heads = num(config, 'n_head');
  const headDim = d / heads;
  const ffn = num(config, 'n_inner', 4 * d);
  const vocab = num(config, 'vocab_size');
  const eps = num(config, 'layer_norm_epsilon', 1e-5);
  const act = (config.activation_function as string | undefined) ?? 'gelu_new';
  const wte = w.get('wte.weight');
  const wpe = w.get('wpe.weight');
  let h: Vec[] = ids.map((id, t) => wte.slice(id * d, (id + 1) * d).map((v, i) => v + wpe[t * d + i]));
  for (let l = 0; l < num(config, 'n_layer'); l++) {
    const p = `h.${l}`;
    const c = (x: Vec, name: string, out: number) => conv1d(x, w.get(`${p}.${name}.weight`), w.get(`${p}.${name}.bias`), out);
    const qkv = h.map((x) => c(layerNorm(x, w.get(`${p}.ln_1.weight`), w.get(`${p}.ln_1.bias`), eps), 'attn.c_attn', 3 * d));
    const a = attend(
      qkv.map((x) => x.slice(0, d)),
      qkv.map((x) => x.slice(d, 2 * d)),
      qkv.map((x) => x.slice(2 * d)),
      heads,
      heads,
      headDim,
      () => true,
    );
    h = h.map((x, t) => {
      const o = c(a[t], 'attn.c_proj', d);
      return x.map((xi, i) => xi + o[i]);
    });
    h = h.map((x) => {
      const m = layerNorm(x, w.get(`${p}.ln_2.weight`), w.get(`${p}.ln_2.bias`), eps);
      const hidden = c(m, 'mlp.c_fc', ffn).map((v) => gelu(v, act));
      const out = c(hidden, 'mlp.c_proj', d);
      return x.map((xi, i) => xi + out[i]);
    });
  }
  const head = config.tie_word_embeddings === false ? w.get('lm_head.weight') : wte;
  return h.map((x) => linear(layerNorm(x, w.get('ln_f.weight'), w.get('ln_f.bias'), eps), head, null, vocab));
}

/** Logits [T][vocab] of one sequence. GPT-2 tensors may carry the "transformer." prefix or not. */
export function referenceLogits(config: Record<string, unknown>, tensors: ReferenceTensors, ids: number[]): Float64Array[] {
  const arch = (config.architectures as string[])[0];
  if (arch === 'GPT2LMHeadModel') return gpt2Logits(config, new Weights(tensors, 'transformer.'), ids);
  if (arch === 'Gemma3ForCausalLM') return gemma3Logits(config, new Weights(tensors), ids);
  if (['LlamaForCausalLM', 'MistralForCausalLM', 'Qwen2ForCausalLM', 'Qwen3ForCausalLM'].includes(arch)) {
    return llamaFamilyLogits(config, new Weights(tensors), ids);
  }
  throw new Error(`reference: architecture ${arch}`);
}

export function logSoftmax64(logits: ArrayLike<number>): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < logits.length; i++) m = Math.max(m, logits[i]);
  let s = 0;
  for (let i = 0; i < logits.length; i++) s += Math.exp(logits[i] - m);
  const lse = m + Math.log(s);
  return Float64Array.from(logits, (v) => v - lse);
}

/** max |a − b| / max |b| over all entries: the agreement measure the tests hold to 1e-4. */
export function relativeMaxError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / scale;
}
