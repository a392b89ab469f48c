/**
 * Writes a tiny randomly initialised Hugging Face checkpoint (config.json, model.safetensors,
 * tokenizer.json, tokenizer_config.json with a ChatML template) for trying the `dpo` command.
 *
 *   npm run make-tiny-model -- out/tiny [--arch NAME] [--seed 0]
 *
 * NAME is any architecture of the registry (src/core/model/architectures/registry.ts); LlamaForCausalLM by default.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { byteLevelTokenizerFiles } from '../src/core/data/byte-tokenizer';
import { ARCHITECTURE_NAMES, getArchitecture, isSupportedArchitecture } from '../src/core/model/architectures/registry';
import { randomCheckpoint } from '../src/core/model/random-checkpoint';
import { serializeSafetensors } from '../src/core/model/safetensors';

const args = process.argv.slice(2);
const dir = args.find((a) => !a.startsWith('--'));
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
if (!dir) {
  console.error(`usage: npm run make-tiny-model -- DIR [--arch ${ARCHITECTURE_NAMES.join('|')}] [--seed 0]`);
  process.exit(2);
}
const arch = flag('arch') ?? 'LlamaForCausalLM';
if (!isSupportedArchitecture(arch)) {
  console.error(`--arch ${arch} is not supported; supported: ${ARCHITECTURE_NAMES.join(', ')}`);
  process.exit(2);
}
// Two KV heads where the architecture has grouped-query attention; GPT-2 needs one per query head.
const heads = 4;
const kvHeads = getArchitecture(arch).groupedQueryAttention ? 2 : heads;
const seed = Number(flag('seed') ?? 0);
const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
const { configJson, tensors } = randomCheckpoint(
  arch,
  {
    vocab_size: 259,
    hidden_size: 64,
    intermediate_size: 128,
    num_hidden_layers: 2,
    num_attention_heads: heads,
    num_key_value_heads: kvHeads,
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
