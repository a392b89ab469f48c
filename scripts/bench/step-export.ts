/**
 * The bench's DPO step as files another implementation can run (scripts/bench/torch_dpo_step.py):
 * the random SmolLM2-shaped checkpoint (config.json, model.safetensors), the batch and LoRA shape
 * (batch.json), and this engine's reference log-probs of every row on its WebGPU device (logps.json),
 * which the other side must reproduce before its timings count.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { serializeSafetensors } from '../../src/core/model/safetensors';
import { DEFAULT_DPO_CONFIG } from '../../src/core/dpo/config';
import type { StepCase } from './protocol';
import type { BenchSession } from './session';
import { stepBatch, stepCheckpoint } from './step-inputs';

/** The rows of a [rows, T] array. */
function rows(values: ArrayLike<number>, T: number): number[][] {
  return Array.from({ length: values.length / T }, (_, r) => Array.from({ length: T }, (_, t) => values[r * T + t]));
}

export async function exportStep(dir: string, c: StepCase, session: BenchSession, log: (message: string) => void): Promise<void> {
  await mkdir(dir, { recursive: true });
  const { configJson, tensors } = stepCheckpoint(c);
  await writeFile(join(dir, 'config.json'), JSON.stringify(configJson, null, 2) + '\n');
  await writeFile(join(dir, 'model.safetensors'), serializeSafetensors(tensors));
  const batch = stepBatch(c);
  const description = {
    model: c.model,
    dims: c.dims,
    pairs: c.pairs,
    seq_len: c.seqLen,
    // Rows 0..pairs-1 are the chosen completions, pairs..2·pairs-1 the rejected ones; a mask of 1
    // marks a completion token (scored), 0 the prompt.
    input_ids: rows(batch.input_ids, batch.T),
    completion_mask: rows(batch.completion_mask, batch.T),
    lora: c.lora,
    beta: DEFAULT_DPO_CONFIG.beta,
  };
  await writeFile(join(dir, 'batch.json'), JSON.stringify(description) + '\n');
  log(`wrote ${c.model} (${c.dims.num_hidden_layers} layers) and a batch of ${c.pairs}×${c.seqLen} to ${dir}`);
  const logps = await session.measure('logps', c, 30 * 60_000);
  if (!logps.ok) throw new Error(`the reference log-probs could not be computed: ${logps.failure.reason}`);
  const adapter = session.adapter;
  await writeFile(
    join(dir, 'logps.json'),
    JSON.stringify({ logps: logps.value, backend: `${session.version} on ${adapter?.vendor} / ${adapter?.architecture}` }) + '\n',
  );
  log(`reference log-probs of the ${logps.value.length} rows in ${join(dir, 'logps.json')}`);
}
