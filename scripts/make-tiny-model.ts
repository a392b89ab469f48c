/**
 * Writes a tiny randomly initialised Hugging Face checkpoint (config.json, model.safetensors,
 * tokenizer.json, tokenizer_config.json with a ChatML template) for trying the `dpo` command.
 *
 *   npm run make-tiny-model -- out/tiny [--arch LlamaForCausalLM|MistralForCausalLM|Qwen2ForCausalLM|GPT2LMHeadModel] [--seed 0]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { byteLevelTokenizerFiles } from '../src/core/data/byte-tokenizer';
import { randomCheckpoint } from '../src/core/model/random-checkpoint';
import { serializeSafetensors } from '../src/core/model/safetensors';
import type { Architecture } from '../src/core/model/types';

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith('--'));
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
if (!dir) {
  console.error('usage: npm run make-tiny-model -- DIR [--arch LlamaForCausalLM] [--seed 0]');
  process.exit(2);
}
const arch = (flag('arch') ?? 'LlamaForCausalLM') as Architecture;
const seed = Number(flag('seed') ?? 0);
const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
const { configJson, tensors } = randomCheckpoint(
  arch,
  {
    vocab_size: 259,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    max_position_embeddings: 256,
    tie_word_embeddings: true,
  },
  seed,
);
await mkdir(dir, { recursive: true });
await writeFile(join(dir, 'config.json'), JSON.stringify(configJson, null, 2) + '\n');
await writeFile(join(dir, 'model.safetensors'), serializeSafetensors(tensors, { metadata: { format: 'pt' } }));
await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
await writeFile(join(dir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
console.log(`wrote a random ${arch} (hidden 64, 2 layers, vocabulary 259) to ${dir}`);
