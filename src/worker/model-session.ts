import { assertTokenizerFitsModel, ChatTokenizer } from '../core/data/tokenizer';
import { loadModelConfig, loadTokenizerFiles } from '../core/model/config';
import { architectureOf } from '../core/model/architectures/registry';
import { modelShapeOf } from '../core/train/memory-plan';
import { loadCausalLM } from '../core/model/load';
import { disposeAdapter, selectTargetModules, variableFrom } from '../core/model/lora';
import { ADAPTER_CONFIG_FILE, ADAPTER_WEIGHTS_FILE, loadAdapter } from '../core/model/peft';
import { fileListSource, memorySource, subSource, urlSource } from '../core/model/sources';
import type { CausalLM, FileSource, LoraAdapter, LoraPair, ModelConfig } from '../core/model/types';
import { storedModelSource } from './persist';
import { gpu } from './backend';
import type { AdapterSummary, ModelInfo, ModelSource, Task } from './protocol';
import { unzipFiles } from './zip';

type Progress = (task: Task, label: string, fraction: number | null) => void;

function parameterCount(config: ModelConfig): number {
  const shapes = architectureOf(config).tensorShapes(config);
  let n = 0;
  for (const shape of shapes.values()) n += shape.reduce((a, b) => a * b, 1);
  return n;
}

function moduleName(path: string): string {
  return path.slice(path.lastIndexOf('.') + 1);
}

function featuresByName(modules: { path: string; inFeatures: number; outFeatures: number }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const m of modules) out[moduleName(m.path)] = (out[moduleName(m.path)] ?? 0) + m.inFeatures + m.outFeatures;
  return out;
}

/** Reports each file as it is read, so a slow download or a big folder shows where it is. */
function reportingSource(src: FileSource, progress: Progress): FileSource {
  let read = 0;
  return {
    name: src.name,
    async readText(path) {
      progress('model', `reading ${path}`, null);
      return src.readText(path);
    },
    async readBytes(path) {
      progress('model', `reading ${path}`, null);
      const bytes = await src.readBytes(path);
      if (bytes) read += bytes.length;
      if (bytes) progress('model', `read ${path} (${(read / 2 ** 20).toFixed(1)} MiB so far)`, null);
      return bytes;
    },
    // Weights stream a tensor at a time where the source reads ranges; progress comes per tensor (onTensor).
    readRange: src.readRange
      ? async (path, start, end) => {
          const bytes = await src.readRange!(path, start, end);
          if (bytes) read += bytes.length;
          return bytes;
        }
      : undefined,
  };
}

async function sourceFor(spec: ModelSource): Promise<FileSource> {
  switch (spec.kind) {
    case 'url':
      return urlSource(spec.baseUrl, spec.name);
    case 'files':
      return fileListSource(spec.files, spec.name);
    case 'stored':
      return storedModelSource(spec.id, spec.name);
  }
}

/** A copy of an adapter whose variables train: the policy of a run that starts from a loaded adapter. */
export function cloneAdapterTrainable(adapter: LoraAdapter): LoraAdapter {
  const modules = new Map<string, LoraPair>();
  for (const [path, { A, B }] of adapter.modules) {
    modules.set(path, { A: variableFrom(A.clone(), true), B: variableFrom(B.clone(), true) });
  }
  return { config: { ...adapter.config }, scaling: adapter.scaling, modules };
}

function summarize(adapter: LoraAdapter, name: string): AdapterSummary {
  let parameters = 0;
  for (const { A, B } of adapter.modules.values()) parameters += A.size + B.size;
  const targets = adapter.config.target_modules === 'all-linear' ? ['all-linear'] : adapter.config.target_modules;
  return {
    name,
    r: adapter.config.r,
    lora_alpha: adapter.config.lora_alpha,
    targetModules: targets,
    modules: adapter.modules.size,
    parameters,
  };
}

/** Adapter files chosen by the user: the two PEFT files, a folder holding them, or a zip of either. */
async function adapterSource(files: File[]): Promise<FileSource> {
  if (files.length === 1 && /\.zip$/i.test(files[0].name)) {
    const entries = await unzipFiles(new Uint8Array(await files[0].arrayBuffer()), files[0].name);
    // A zip may hold the files at its root or inside one folder.
    const config = [...entries.keys()].find((k) => k === ADAPTER_CONFIG_FILE || k.endsWith(`/${ADAPTER_CONFIG_FILE}`));
    const src = memorySource(entries, files[0].name);
    return config && config.includes('/') ? subSource(src, config.slice(0, -ADAPTER_CONFIG_FILE.length - 1)) : src;
  }
  return fileListSource(files, files.length === 1 ? files[0].name : 'chosen adapter files');
}

/**
 * The loaded model, its tokenizer and an optional starting adapter. Owns their tensors: loading
 * another model disposes this one.
 */
export class ModelSession {
  private constructor(
    readonly model: CausalLM,
    readonly tokenizer: ChatTokenizer,
    readonly generationConfig: unknown,
    readonly source: ModelSource,
    private startAdapter: { adapter: LoraAdapter; name: string } | null,
  ) {}

  static async load(spec: ModelSource, progress: Progress): Promise<ModelSession> {
    const src = reportingSource(await sourceFor(spec), progress);
    progress('model', 'reading the tokenizer', null);
    const files = await loadTokenizerFiles(src);
    const template = (await src.readText('chat_template.jinja')) ?? undefined;
    const tokenizer = ChatTokenizer.fromJSON(files.tokenizerJson, files.tokenizerConfig, template);
    if (tokenizer.padTokenId === null)
      throw new Error(`${spec.name}: the tokenizer has neither a pad nor an EOS token to pad batches with`);
    assertTokenizerFitsModel(tokenizer, (await loadModelConfig(src)).vocab_size, spec.name);
    progress('model', 'reading config.json and the weights', null);
    const { model } = await loadCausalLM(src, {
      guard: gpu(),
      onTensor: (name, done, total) => progress('model', `loaded ${done} of ${total} tensors (${name})`, done / total),
    });
    try {
      // A folder may carry a PEFT adapter beside the weights (in adapter/ or at its root).
      let startAdapter: { adapter: LoraAdapter; name: string } | null = null;
      for (const folder of ['adapter', '']) {
        const adapterSrc = subSource(src, folder);
        if ((await adapterSrc.readText(ADAPTER_CONFIG_FILE)) === null) continue;
        if ((await adapterSrc.readBytes(ADAPTER_WEIGHTS_FILE)) === null) continue;
        progress('model', 'reading the adapter', null);
        startAdapter = { adapter: await loadAdapter(adapterSrc, model), name: folder ? `${spec.name}/${folder}` : spec.name };
        break;
      }
      return new ModelSession(model, tokenizer, files.generationConfig, spec, startAdapter);
    } catch (e) {
      model.dispose();
      throw e;
    }
  }

  get name(): string {
    return this.source.name;
  }

  /**
   * What PEFT's adapter_config.json and export names call the base model: the Hub repo id or the
   * folder's name as loaded; a model this page serves by its folder (the demo's is "demo").
   */
  get baseModelId(): string {
    if (this.source.kind !== 'url') return this.source.name;
    const segments = new URL(this.source.baseUrl).pathname.split('/').filter(Boolean);
    return segments.at(-1) ?? this.source.name;
  }

  /** The model's files again (exports re-read the base weights rather than keep a host copy). */
  files(): Promise<FileSource> {
    return sourceFor(this.source);
  }

  /** The adapter training starts from (TRL: a PeftModel's adapter, with a frozen copy as reference). */
  get start(): { adapter: LoraAdapter; name: string } | null {
    return this.startAdapter;
  }

  async loadStartAdapter(files: File[]): Promise<void> {
    const src = await adapterSource(files);
    const adapter = await loadAdapter(src, this.model);
    if (this.startAdapter) disposeAdapter(this.startAdapter.adapter);
    this.startAdapter = { adapter, name: src.name };
  }

  info(): ModelInfo {
    const c = this.model.config;
    const names = (paths: string[]) => [...new Set(paths.map(moduleName))];
    return {
      id: this.source.id,
      name: this.source.name,
      architecture: c.architecture,
      modelType: c.model_type,
      hiddenSize: c.hidden_size,
      intermediateSize: c.intermediate_size,
      layers: c.num_hidden_layers,
      heads: c.num_attention_heads,
      kvHeads: c.num_key_value_heads,
      vocabSize: c.vocab_size,
      maxPositions: c.max_position_embeddings,
      tiedEmbeddings: c.tie_word_embeddings,
      parameters: parameterCount(c),
      linearModuleNames: names(this.model.linearModules().map((m) => m.path)),
      linearModuleFeatures: featuresByName(this.model.linearModules()),
      defaultTargets: names(selectTargetModules(this.model, [])),
      tokenizer: {
        vocabSize: this.tokenizer.vocabSize,
        eosToken: this.tokenizer.eosToken,
        padTokenId: this.tokenizer.padTokenId,
        chatTemplate: this.tokenizer.hasChatTemplate,
      },
      startAdapter: this.startAdapter ? summarize(this.startAdapter.adapter, this.startAdapter.name) : null,
      shape: modelShapeOf(c, architectureOf(c)),
    };
  }

  dispose(): void {
    if (this.startAdapter) disposeAdapter(this.startAdapter.adapter);
    this.model.dispose();
  }
}
