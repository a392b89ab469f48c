import { readFileSync } from 'node:fs';
import { byteLevelTokenizerFiles } from '../../src/core/data/byte-tokenizer';
import { parsePreferenceFile } from '../../src/core/data/read';
import { ChatTokenizer } from '../../src/core/data/tokenizer';
import { tokenizePairs } from '../../src/core/data/tokenize';
import type { PreferenceRow, TokenizedPair } from '../../src/core/data/types';
import { createCausalLM } from '../../src/core/model/load';
import { randomCheckpoint } from '../../src/core/model/random-checkpoint';
import type { Architecture, CausalLM } from '../../src/core/model/types';
import { parseModelConfig } from '../../src/core/model/config';

/** A tiny random model with the byte-level tokenizer, built in memory. */
export function tinyModel(arch: Architecture = 'LlamaForCausalLM', seed = 1, hidden = 32): { model: CausalLM; tokenizer: ChatTokenizer } {
  const { configJson, tensors } = randomCheckpoint(
    arch,
    {
      vocab_size: 259,
      hidden_size: hidden,
      intermediate_size: 2 * hidden,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      max_position_embeddings: 128,
      tie_word_embeddings: true,
    },
    seed,
  );
  const config = parseModelConfig(configJson, 'tiny');
  const host = new Map([...tensors].map(([k, t]) => [k, { dtype: 'F32' as const, shape: t.shape, data: t.data }]));
  const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
  return { model: createCausalLM(config, host, 'tiny'), tokenizer: ChatTokenizer.fromJSON(tokenizerJson, tokenizerConfig) };
}

/** The example preference set (shout / whisper), parsed. */
export function examplePairs(): PreferenceRow[] {
  const file = 'examples/shout-whisper.jsonl';
  return parsePreferenceFile(readFileSync(file, 'utf8'), file).rows;
}

export function tokenize(rows: PreferenceRow[], tokenizer: ChatTokenizer, maxLength: number | null = 1024): TokenizedPair[] {
  return tokenizePairs(rows, tokenizer, { max_length: maxLength }).pairs;
}
