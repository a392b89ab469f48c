/**
 * Writes a randomly initialised checkpoint with the exact config.json shapes of a real small instruct
 * model, stored as BF16 in several shards with an index, as the Hub serves them, plus the byte-level
 * tokenizer files (a ChatML template; ids below every real vocabulary). For loading and training real
 * sizes without downloading real weights.
 *
 *   npm run make-real-shape-model -- DIR --model qwen2.5-0.5b|qwen3-0.6b|gemma-3-270m [--shard_mb 300] [--seed 0]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { byteLevelTokenizerFiles } from '../src/core/data/byte-tokenizer';
import type { RandomCheckpointDims } from '../src/core/model/architectures/spec';
import { randomCheckpoint } from '../src/core/model/random-checkpoint';
import { serializeSafetensors } from '../src/core/model/safetensors';
import type { Architecture } from '../src/core/model/types';

/** The config.json sizes of the real models (their Hub repos' config.json files). */
export const REAL_SHAPES: Record<string, { repo: string; arch: Architecture; dims: RandomCheckpointDims }> = {
  'qwen2.5-0.5b': {
    repo: 'Qwen/Qwen2.5-0.5B-Instruct',
    arch: 'Qwen2ForCausalLM',
    dims: {
      vocab_size: 151936,
      hidden_size: 896,
      intermediate_size: 4864,
      num_hidden_layers: 24,
      num_attention_heads: 14,
      num_key_value_heads: 2,
      max_position_embeddings: 32768,
      tie_word_embeddings: true,
    },
  },
  'qwen3-0.6b': {
    repo: 'Qwen/Qwen3-0.6B',
    arch: 'Qwen3ForCausalLM',
    dims: {
      vocab_size: 151936,
      hidden_size: 1024,
      intermediate_size: 3072,
      num_hidden_layers: 28,
      num_attention_heads: 16,
      num_key_value_heads: 8,
      head_dim: 128,
      max_position_embeddings: 40960,
      tie_word_embeddings: true,
    },
  },
  'gemma-3-270m': {
    repo: 'google/gemma-3-270m-it',
    arch: 'Gemma3ForCausalLM',
    dims: {
      vocab_size: 262144,
      hidden_size: 640,
      intermediate_size: 2048,
      num_hidden_layers: 18,
      num_attention_heads: 4,
      num_key_value_heads: 1,
      head_dim: 256,
      max_position_embeddings: 32768,
      tie_word_embeddings: true,
    },
  },
};

/** Groups tensor names into consecutive shards of at most `maxBytes` each (a larger tensor alone). */
function shardNames(sizes: [string, number][], maxBytes: number): string[][] {
  const shards: string[][] = [[]];
  let bytes = 0;
  for (const [name, size] of sizes) {
    if (bytes > 0 && bytes + size > maxBytes) {
      shards.push([]);
      bytes = 0;
    }
    shards[shards.length - 1].push(name);
    bytes += size;
  }
  return shards;
}

export async function writeRealShapeModel(dir: string, model: string, options: { shardMb?: number; seed?: number } = {}): Promise<void> {
  const shape = REAL_SHAPES[model];
  if (!shape) throw new Error(`unknown model "${model}"; one of: ${Object.keys(REAL_SHAPES).join(', ')}`);
  const { configJson, tensors } = randomCheckpoint(shape.arch, shape.dims, options.seed ?? 0);
  configJson.torch_dtype = 'bfloat16';
  const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
  await mkdir(dir, { recursive: true });
  const sizes: [string, number][] = [...tensors].map(([name, t]) => [name, t.data.length * 2]);
  const shards = shardNames(sizes, (options.shardMb ?? 300) * 2 ** 20);
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (const [i, names] of shards.entries()) {
    const file = `model-${String(i + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const bytes = serializeSafetensors(new Map(names.map((n) => [n, tensors.get(n)!])), { dtype: 'BF16', metadata: { format: 'pt' } });
    await writeFile(join(dir, file), bytes);
    for (const n of names) weightMap[n] = file;
    total += names.reduce((sum, n) => sum + tensors.get(n)!.data.length * 2, 0);
  }
  await writeFile(
    join(dir, 'model.safetensors.index.json'),
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2),
  );
  await writeFile(join(dir, 'config.json'), JSON.stringify(configJson, null, 2) + '\n');
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const dir = args.find((a, i) => !a.startsWith('--') && !args[i - 1]?.startsWith('--'));
  const model = flag('model');
  if (!dir || !model) {
    console.error(`usage: npm run make-real-shape-model -- DIR --model ${Object.keys(REAL_SHAPES).join('|')} [--shard_mb 300] [--seed 0]`);
    process.exit(2);
  }
  const started = Date.now();
  await writeRealShapeModel(dir, model, { shardMb: Number(flag('shard_mb') ?? 300), seed: Number(flag('seed') ?? 0) });
  console.log(`wrote a random ${REAL_SHAPES[model].repo}-shaped checkpoint to ${dir} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
