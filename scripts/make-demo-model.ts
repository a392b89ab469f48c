/**
 * Builds the demo SFT model and the demo preference sets, reproducibly, on tfjs's CPU backend:
 *
 *   npm run make-demo-model [-- --out public/models/demo --datasets public/datasets]
 *
 * 1. writes the preference sets (src/core/demo) to --datasets;
 * 2. trains a small randomly initialised Llama on the demo SFT set (every weight, completion-only loss),
 *    each batch split over two threads (tfjs's CPU backend uses one core per thread);
 * 3. writes the Hugging Face folder to --out, reloads it from disk, and prints the greedy answers'
 *    preferred rate on the held-out colour prompts (about half by design: DPO's room to work).
 *
 * Other modes:
 *   --datasets-only                 step 1 alone
 *   --report-only [--adapter DIR]   step 3's report for the model at --out, with a PEFT adapter if given
 *                                   (how the README's before/after DPO figures were measured)
 *   --threads 1                     train in one thread (same recipe; float sums in another order)
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { fsSource } from '../src/cli/fs-source';
import { byteLevelTokenizerFiles } from '../src/core/data/byte-tokenizer';
import { ChatTokenizer } from '../src/core/data/tokenizer';
import { allColorPrompts } from '../src/core/demo/colors';
import { demoDatasetContents, demoSftExamples } from '../src/core/demo/datasets';
import { greedyBatch, scoreColorPrompts } from '../src/core/demo/evaluate';
import { allTonePrompts, gradeToneAnswer } from '../src/core/demo/tone';
import { parseModelConfig } from '../src/core/model/config';
import { stopTokenIds } from '../src/core/model/generate';
import { createCausalLM, exportWeights, loadCausalLM, type HostWeights } from '../src/core/model/load';
import { loadAdapter } from '../src/core/model/peft';
import { randomCheckpoint } from '../src/core/model/random-checkpoint';
import { serializeSafetensors } from '../src/core/model/safetensors';
import type { SftCollateOptions } from '../src/core/sft/batch';
import { DEFAULT_SFT_CONFIG, type SFTConfig } from '../src/core/sft/config';
import { localGradients, type GradientSource } from '../src/core/sft/gradients';
import { tokenizeSftExamples, type TokenizedSftExample } from '../src/core/sft/tokenize';
import { SFTTrainer } from '../src/core/sft/trainer';

const args = process.argv.slice(2);
const flag = (name: string, fallback: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const num = (name: string, fallback: number) => Number(flag(name, String(fallback)));
const outDir = flag('out', 'public/models/demo');
const datasetsDir = flag('datasets', 'public/datasets');

/** The byte tokenizer's ids: <|endoftext|> is EOS and padding, <|im_end|> ends a chat turn. */
const EOS_ID = 256;
const IM_END_ID = 258;

const DIMS = {
  vocab_size: 259,
  hidden_size: num('hidden', 64),
  intermediate_size: num('intermediate', 192),
  num_hidden_layers: num('layers', 2),
  num_attention_heads: num('heads', 4),
  num_key_value_heads: num('kv-heads', 4),
  max_position_embeddings: 128,
  tie_word_embeddings: true,
};

const SFT: SFTConfig = {
  ...DEFAULT_SFT_CONFIG,
  learning_rate: num('lr', 3e-3),
  per_device_train_batch_size: num('batch', 32),
  max_steps: num('steps', 600),
  warmup_steps: num('warmup', 20),
  lr_scheduler_type: 'cosine',
  weight_decay: 0,
  max_grad_norm: 1,
  logging_steps: num('log', 25),
  seed: num('seed', 0),
  max_length: 128,
};

const COLLATE: SftCollateOptions = { max_length: SFT.max_length, pad_token_id: EOS_ID };

function configJson(): Record<string, unknown> {
  const { configJson: base } = randomCheckpoint('LlamaForCausalLM', DIMS, 0);
  // The random checkpoint's Llama token ids (1, 2) mean nothing to the byte tokenizer.
  return { ...base, bos_token_id: null, eos_token_id: EOS_ID, pad_token_id: EOS_ID };
}

async function useCpuBackend(): Promise<void> {
  await tf.setBackend('cpu');
  // The CPU backend's first use prints an advert for tfjs-node; keep the output to our own lines.
  (tf.backend() as unknown as { firstUse: boolean }).firstUse = false;
}

// ---------------------------------------------------------------------------------------------
// Data parallelism: a worker thread computes the gradient of the second half of every batch.

interface WorkerInit {
  configJson: Record<string, unknown>;
  weights: HostWeights;
}
interface ShardRequest {
  params: Float32Array[];
  examples: TokenizedSftExample[];
}
interface ShardReply {
  lossSum: number;
  tokens: number;
  grads: Float32Array[];
}

/** The worker's side: hold a copy of the model, take the current weights and a shard, answer its gradient. */
async function serveShards(init: WorkerInit): Promise<void> {
  await useCpuBackend();
  const { model, params } = createCausalLM(parseModelConfig(init.configJson, 'demo config'), init.weights, 'demo model (worker)', {
    trainable: true,
  });
  const list = [...params.values()];
  const gradients = localGradients(model, list, null, COLLATE);
  const port = parentPort!;
  port.on('message', async ({ params: values, examples }: ShardRequest) => {
    tf.tidy(() => list.forEach((p, i) => p.assign(tf.tensor(values[i], p.shape))));
    const { lossSum, tokens, grads } = await gradients(examples);
    const arrays = (await Promise.all(grads.map((g) => g.data()))) as Float32Array[];
    tf.dispose(grads);
    const reply: ShardReply = { lossSum, tokens, grads: arrays };
    port.postMessage(
      reply,
      arrays.map((a) => a.buffer as ArrayBuffer),
    );
  });
  port.postMessage('ready');
}

/** Posts a message (if any) and waits for the worker's next one, or for its crash. */
function ask<T>(worker: Worker, message?: ShardRequest): Promise<T> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error) => {
      worker.off('message', onMessage);
      reject(error);
    };
    const onMessage = (reply: T) => {
      worker.off('error', onError);
      resolve(reply);
    };
    worker.once('message', onMessage);
    worker.once('error', onError);
    if (message) worker.postMessage(message);
  });
}

/** Starts a worker running this file (through tsx's loader, which worker threads do not inherit). */
async function startWorker(init: WorkerInit): Promise<Worker> {
  const tsx = import.meta.resolve('tsx/esm/api');
  const self = JSON.stringify(import.meta.url);
  const worker = new Worker(`import(${JSON.stringify(tsx)}).then(({ tsImport }) => tsImport(${self}, ${self}));`, {
    eval: true,
    workerData: init,
  });
  await ask<'ready'>(worker);
  return worker;
}

/** Splits each batch in two: the first half here, the second in the worker, both with the current weights. */
function twoThreadGradients(local: GradientSource, worker: Worker, params: tf.Variable[]): GradientSource {
  return async (examples) => {
    const half = Math.ceil(examples.length / 2);
    const values = (await Promise.all(params.map((p) => p.data()))) as Float32Array[];
    const remote = ask<ShardReply>(worker, { params: values, examples: examples.slice(half) });
    const mine = await local(examples.slice(0, half));
    const theirs = await remote;
    const grads = tf.tidy(() => mine.grads.map((g, i) => tf.add(g, tf.tensor(theirs.grads[i], g.shape))));
    tf.dispose(mine.grads);
    return { lossSum: mine.lossSum + theirs.lossSum, tokens: mine.tokens + theirs.tokens, grads };
  };
}

// ---------------------------------------------------------------------------------------------

async function writeDatasets(): Promise<void> {
  await mkdir(datasetsDir, { recursive: true });
  for (const [file, text] of Object.entries(demoDatasetContents())) await writeFile(join(datasetsDir, file), text);
  console.log(`wrote the demo preference sets to ${datasetsDir}`);
}

async function train(tokenizer: ChatTokenizer, threads: number): Promise<HostWeights> {
  const json = configJson();
  const { tensors } = randomCheckpoint('LlamaForCausalLM', DIMS, SFT.seed);
  const { model, params } = createCausalLM(parseModelConfig(json, 'demo config'), tensors, 'demo model', { trainable: true });
  const list = [...params.values()];
  const worker = threads > 1 ? await startWorker({ configJson: json, weights: tensors }) : null;
  const local = localGradients(model, list, null, COLLATE);
  const examples = tokenizeSftExamples(demoSftExamples(), tokenizer);
  const trainer = new SFTTrainer({
    model,
    params: list,
    adapter: null,
    train: examples,
    config: SFT,
    padTokenId: EOS_ID,
    gradients: worker ? twoThreadGradients(local, worker, list) : local,
  });
  console.log(
    `SFT: ${examples.length} examples, ${trainer.totalSteps} steps of ${SFT.per_device_train_batch_size} ` +
      `(${(trainer.totalSteps / trainer.stepsPerEpoch).toFixed(1)} epochs), hidden ${DIMS.hidden_size}, ` +
      `${DIMS.num_hidden_layers} layers, ${worker ? 2 : 1} thread(s)`,
  );
  const started = performance.now();
  const cpu = process.cpuUsage();
  while (!trainer.done) {
    const entry = await trainer.step();
    if (entry) {
      const seconds = (performance.now() - started) / 1000;
      const { user, system } = process.cpuUsage(cpu);
      console.log(
        `  step ${entry.step}/${trainer.totalSteps}  loss ${entry.loss.toFixed(4)}  grad_norm ${entry.grad_norm.toFixed(3)}  ` +
          `lr ${entry.learning_rate.toExponential(2)}  ${seconds.toFixed(0)} s (${((user + system) / 1e6).toFixed(0)} CPU-s)`,
      );
    }
  }
  await worker?.terminate();
  trainer.dispose();
  const weights = await exportWeights(params);
  model.dispose();
  return weights;
}

async function writeModel(weights: HostWeights): Promise<void> {
  const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
  await mkdir(outDir, { recursive: true });
  await writeFile(join(outDir, 'config.json'), JSON.stringify(configJson(), null, 2) + '\n');
  await writeFile(join(outDir, 'model.safetensors'), serializeSafetensors(weights, { metadata: { format: 'pt' } }));
  await writeFile(join(outDir, 'tokenizer.json'), JSON.stringify(tokenizerJson));
  await writeFile(join(outDir, 'tokenizer_config.json'), JSON.stringify(tokenizerConfig, null, 2) + '\n');
  const generation = { bos_token_id: null, eos_token_id: [IM_END_ID, EOS_ID], pad_token_id: EOS_ID, transformers_version: '4.57.1' };
  await writeFile(join(outDir, 'generation_config.json'), JSON.stringify(generation, null, 2) + '\n');
  console.log(`wrote the demo model to ${outDir}`);
}

const chatIds = (tokenizer: ChatTokenizer, text: string) =>
  tokenizer.encode(tokenizer.applyChatTemplate([{ role: 'user', content: text }], { addGenerationPrompt: true }), false);

/** Loads the folder from disk as the studio will (with an adapter when given) and grades its greedy answers. */
async function report(tokenizer: ChatTokenizer, adapterDir: string | null): Promise<void> {
  const { model } = await loadCausalLM(fsSource(outDir));
  const adapter = adapterDir ? await loadAdapter(fsSource(adapterDir), model) : null;
  const stopIds = stopTokenIds(tokenizer, { eos_token_id: [IM_END_ID, EOS_ID] });
  const options = { adapter, maxNewTokens: 10, stopIds };
  console.log(`greedy answers of ${outDir}${adapterDir ? ` with the adapter ${adapterDir}` : ''}:`);
  const prompts = allColorPrompts().filter((p) => p.heldOut);
  const score = await scoreColorPrompts(model, tokenizer, prompts, options);
  for (const requested of ['upper', 'lower'] as const) {
    const part = score.answers.filter((_, i) => prompts[i].requested === requested);
    const count = (kind: string) => part.filter((a) => a.kind === kind).length;
    console.log(
      `  asking for ${requested}case: ${count('preferred')}/${part.length} preferred, ${count('other-case')} in the other case, ${count('wrong')} wrong`,
    );
  }
  for (const a of score.answers.slice(0, 4)) console.log(`    ${a.prompt} → ${a.answer} (${a.kind})`);
  console.log(
    `held-out colour prompts: preferred-answer rate ${(100 * score.preferredRate).toFixed(1)}% ` +
      `(${score.counts.preferred} preferred, ${score.counts['other-case']} other case, ${score.counts.wrong} wrong of ${prompts.length})`,
  );
  const tone = allTonePrompts();
  const outs = await greedyBatch(
    model,
    tone.map((p) => chatIds(tokenizer, p.text)),
    { ...options, maxNewTokens: 32 },
  );
  const kinds = outs.map((o) => gradeToneAnswer(tokenizer.decode(o, true)));
  const count = (kind: string) => kinds.filter((k) => k === kind).length;
  console.log(`tone prompts: ${count('polite')} polite, ${count('curt')} curt, ${count('other')} other of ${tone.length}`);
  model.dispose();
}

async function main(): Promise<void> {
  await useCpuBackend();
  const { tokenizerJson, tokenizerConfig } = byteLevelTokenizerFiles();
  const tokenizer = ChatTokenizer.fromJSON(tokenizerJson, tokenizerConfig);
  if (args.includes('--report-only')) {
    await report(tokenizer, args.includes('--adapter') ? flag('adapter', '') : null);
    return;
  }
  await writeDatasets();
  if (args.includes('--datasets-only')) return;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await writeModel(await train(tokenizer, num('threads', 2)));
  const { user, system } = process.cpuUsage(cpu);
  console.log(
    `training took ${((performance.now() - started) / 60000).toFixed(1)} minutes (${((user + system) / 6e7).toFixed(1)} CPU-minutes)`,
  );
  await report(tokenizer, null);
}

if (isMainThread) await main();
else await serveShards(workerData as WorkerInit);
